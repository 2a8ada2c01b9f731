"""The benchmark cases. Each returns rows of measurements; ``__main__`` prints them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

import lyra_mavera as lm
from lyra_mavera._convert import structure
from lyra_mavera.testing import FakeServer

from .server import MAVERA_BODY, RawServer

LYRA_KEY = "lyra_bench_" + "k" * 24
MAVERA_KEY = "mvra_live_bench" + "k" * 24
BODY = {"title": "Customer kickoff", "attendees": ["alex@acme.com"]}

Run = Callable[[], Awaitable[int]]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(run: Run) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds and item count of one run."""
    cpu, wall = time.process_time(), time.perf_counter()
    items = await run()
    return time.perf_counter() - wall, time.process_time() - cpu, items


async def _bounded(n: int, concurrency: int, one: Callable[[int], Awaitable[Any]]) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def guarded(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(guarded(i) for i in range(n)))
    return n


# -- implementations of "POST /meeting n times" and "GET /meetings/{id} n times" ------


def raw_post(url: str, n: int, c: int) -> Run:
    async def run() -> int:
        connector = aiohttp.TCPConnector(limit=c)
        headers = {"Authorization": f"Bearer {LYRA_KEY}"}
        async with aiohttp.ClientSession(connector=connector) as s:

            async def one(_: int) -> None:
                async with s.post(f"{url}/api/v1/meeting", json=BODY, headers=headers) as r:
                    await r.json()

            return await _bounded(n, c, one)

    return run


def sdk_session(url: str, c: int) -> lm.AsyncSession:
    return lm.AsyncSession(
        lyra_api_key=LYRA_KEY,
        mavera_api_key=MAVERA_KEY,
        lyra_base_url=f"{url}/api/v1",
        mavera_base_url=f"{url}/api/v1",
        max_connections=c,
    )


def sdk_gather(url: str, n: int, c: int) -> Run:
    async def run() -> int:
        async with sdk_session(url, c) as s:
            return await _bounded(
                n, c, lambda _: s.lyra.meetings.create(BODY["title"], attendees=BODY["attendees"])
            )

    return run


def sdk_create_many(url: str, n: int, c: int) -> Run:
    async def run() -> int:
        async with sdk_session(url, c) as s:
            requests = [lm.lyra.MeetingRequest(BODY["title"], attendees=BODY["attendees"])] * n
            results = await s.lyra.meetings.create_many(requests, concurrency=c)
            assert all(r.ok for r in results)
            return n

    return run


def httpx_pydantic(url: str, n: int, c: int) -> Run | None:
    try:
        import httpx
        import pydantic
    except ImportError:
        return None

    class Meeting(pydantic.BaseModel):
        type: str
        id: str
        password: str = ""
        url: str

    async def run() -> int:
        limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
        headers = {"Authorization": f"Bearer {LYRA_KEY}"}
        async with httpx.AsyncClient(limits=limits, headers=headers) as client:

            async def one(_: int) -> None:
                r = await client.post(f"{url}/api/v1/meeting", json=BODY)
                r.raise_for_status()
                Meeting.model_validate(r.json())

            return await _bounded(n, c, one)

    return run


def raw_get(url: str, n: int, c: int) -> Run:
    async def run() -> int:
        connector = aiohttp.TCPConnector(limit=c)
        headers = {"Authorization": f"Bearer {MAVERA_KEY}"}
        async with aiohttp.ClientSession(connector=connector) as s:

            async def one(_: int) -> None:
                async with s.get(f"{url}/api/v1/meetings/meeting_123", headers=headers) as r:
                    await r.json()

            return await _bounded(n, c, one)

    return run


def sdk_get(url: str, n: int, c: int) -> Run:
    async def run() -> int:
        async with sdk_session(url, c) as s:
            return await _bounded(n, c, lambda _: s.mavera.meetings.get("meeting_123"))

    return run


def raw_post_workers(url: str, n: int, c: int) -> Run:
    """Raw aiohttp shaped like ``create_many``: ``c`` long-lived workers share the work."""

    async def run() -> int:
        connector = aiohttp.TCPConnector(limit=c)
        headers = {"Authorization": f"Bearer {LYRA_KEY}"}
        left = iter(range(n))
        async with aiohttp.ClientSession(connector=connector) as s:

            async def worker() -> None:
                for _ in left:
                    async with s.post(f"{url}/api/v1/meeting", json=BODY, headers=headers) as r:
                        await r.json()

            await asyncio.gather(*(worker() for _ in range(c)))
        return n

    return run


Make = Callable[[str, int, int], Run | None]


@dataclasses.dataclass(frozen=True)
class Pair:
    """An SDK (or peer) implementation and the raw one it is measured against, run
    back to back in every round. ``share`` scales the request count (slow peers)."""

    label: str
    raw: tuple[str, Make]
    sdk: Make
    loop: str = "asyncio"
    share: float = 1.0


def _loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop


def run_once(
    server: RawServer, make: Make, n: int, c: int, loop: str = "asyncio"
) -> tuple[float, float, float] | None:
    """One run on a fresh loop of its own: wall seconds, client CPU seconds, server CPU
    seconds; ``None`` when the implementation is not installed."""
    run = make(server.url, n, c)
    if run is None:
        return None
    before = server.cpu_seconds()
    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        wall, cpu, _ = runner.run(measure(run))
    return wall, cpu, server.cpu_seconds() - before


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def throughput(
    server: RawServer, pairs: list[Pair], n: int, c: int, rounds: int
) -> list[dict[str, Any]]:
    """Every round runs each pair raw then SDK; the ratios are medians of the per-round
    ratios (SDK / raw of the same round), the absolute figures medians of the runs."""
    raw_runs: dict[str, list[tuple[float, float, float, int]]] = {}
    sdk_runs: dict[str, list[tuple[float, float, float, int] | None]] = {}
    ratios: dict[str, list[tuple[float, float]]] = {p.label: [] for p in pairs}
    for pair in pairs:  # warm-up: imports, caches, the server's first connections
        if pair.loop == "uvloop" and not uvloop_installed():
            continue
        run_once(server, pair.raw[1], min(n, 200), c)
        run_once(server, pair.sdk, max(1, int(min(n, 200) * pair.share)), c, pair.loop)
    for _ in range(rounds):
        for pair in pairs:
            if pair.loop == "uvloop" and not uvloop_installed():
                sdk_runs.setdefault(pair.label, []).append(None)
                continue
            size = max(1, int(n * pair.share))
            raw = run_once(server, pair.raw[1], size, c)
            sdk = run_once(server, pair.sdk, size, c, pair.loop)
            assert raw is not None
            raw_runs.setdefault(pair.raw[0], []).append((*raw, size))
            sdk_runs.setdefault(pair.label, []).append(None if sdk is None else (*sdk, size))
            if sdk is not None:
                # rps ratio = raw wall / sdk wall (same size); cpu ratio likewise.
                ratios[pair.label].append((raw[0] / sdk[0], sdk[1] / raw[1]))
    rows = [_row(name, "asyncio", c, runs) for name, runs in raw_runs.items()]
    for pair in pairs:
        samples = [s for s in sdk_runs.get(pair.label, []) if s is not None]
        if not samples:
            why = "uvloop not installed" if pair.loop == "uvloop" else "not installed"
            rows.append({"impl": pair.label, "loop": pair.loop, "c": c, "skipped": why})
            continue
        row = _row(pair.label, pair.loop, c, samples)
        per_round = ratios[pair.label]
        row["vs"] = pair.raw[0]
        row["rps_ratio"] = statistics.median(r[0] for r in per_round)
        row["cpu_ratio"] = statistics.median(r[1] for r in per_round)
        row["rps_ratio_range"] = (
            f"{min(r[0] for r in per_round):.2f}-{max(r[0] for r in per_round):.2f}"
        )
        rows.append(row)
    return rows


def _row(
    name: str, loop: str, c: int, runs: list[tuple[float, float, float, int]]
) -> dict[str, Any]:
    return {
        "impl": name,
        "loop": loop,
        "c": c,
        "n": runs[0][3],
        "runs": len(runs),
        "rps": statistics.median(size / wall for wall, _, _, size in runs),
        "cpu_us_per_req": statistics.median(cpu / size * 1e6 for _, cpu, _, size in runs),
        "server_cpu_share": sum(r[2] for r in runs) / sum(r[0] for r in runs),
    }


# -- many bots: wait_many versus a task per bot ------------------------------------------


@contextlib.contextmanager
def fake_server_process(time_scale: float) -> Any:
    """A FakeServer in its own process (so the client's memory is the client's)."""
    proc = subprocess.Popen(  # noqa: S603  (this interpreter, the SDK's own module)
        [
            sys.executable,
            "-m",
            "lyra_mavera.testing",
            "--port",
            "0",
            "--rpm",
            "1000000000",
            "--time-scale",
            str(time_scale),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        settings: dict[str, str] = {}
        assert proc.stdout is not None
        while len(settings) < 4:
            line = proc.stdout.readline()
            if "=" in line:
                key, _, value = line.strip().partition("=")
                settings[key] = value
        yield settings
    finally:
        proc.terminate()
        proc.wait(10)


async def _sampling_peak(stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def many_bots(n: int, time_scale: float) -> list[dict[str, Any]]:
    rows = []
    with fake_server_process(time_scale) as env:
        session = lm.AsyncSession(
            lyra_api_key=env["LYRA_API_KEY"],
            mavera_api_key=env["MAVERA_API_KEY"],
            lyra_base_url=env["LYRA_BASE_URL"],
            mavera_base_url=env["MAVERA_BASE_URL"],
            # The fake allows any rate; the SDK would pace its absurd limit as 10,000 a
            # minute, which the task-per-bot loop (~3 polls a bot) would run into.
            rate_limit=False,
        )
        async with session as s:
            for mode in ("wait_many", "task per bot"):
                created = await s.mavera.meetings.create_many(
                    [
                        lm.mavera.BotRequest(f"https://zoom.us/j/{8500 + len(mode)}000{i}")
                        for i in range(n)
                    ],
                    concurrency=100,
                )
                ids = [r.value.id for r in created if r.value]
                before_requests = s.stats.attempts
                baseline = rss_mb()
                peak = [baseline]
                stop = asyncio.Event()
                sampler = asyncio.create_task(_sampling_peak(stop, peak))
                started = time.perf_counter()
                if mode == "wait_many":
                    results = await s.mavera.meetings.wait_many(
                        ids, poll=lm.PollPolicy(time_scale=time_scale)
                    )
                    done = sum(isinstance(v, lm.mavera.Meeting) for v in results.values())
                else:
                    done = sum(await asyncio.gather(*(_naive(s, i, 5.0 / time_scale) for i in ids)))
                wall = time.perf_counter() - started
                stop.set()
                await sampler
                rows.append(
                    {
                        "impl": mode,
                        "bots": len(ids),
                        "done": done,
                        "requests_per_bot": (s.stats.attempts - before_requests) / len(ids),
                        "peak_rss_growth_mb": peak[0] - baseline,
                        "rss_bytes_per_bot": (peak[0] - baseline) * 2**20 / len(ids),
                        "wall_s": wall,
                    }
                )
    return rows


async def _naive(s: lm.AsyncSession, meeting_id: str, every: float) -> int:
    while True:
        meeting = await s.mavera.meetings.get(meeting_id)
        if meeting.is_terminal:
            return int(meeting.status == "done")
        await asyncio.sleep(every)


# -- rate-limited bulk -------------------------------------------------------------------


async def rate_limited(items: int, limit: int, window: float) -> dict[str, Any]:
    async with FakeServer(rpm=limit, window=window) as fake:
        fake.record_requests = False
        async with fake.session() as s:
            started = time.perf_counter()
            results = await s.mavera.meetings.create_many(
                [lm.mavera.BotRequest(f"https://zoom.us/j/8500000{i}") for i in range(items)],
                concurrency=50,
            )
            wall = time.perf_counter() - started
    rate = limit / window
    return {
        "items": items,
        "limit": f"{limit} per {window:g}s",
        "ok": sum(r.ok for r in results),
        "wall_s": wall,
        "ideal_s": items / rate,
        "ideal_after_burst_s": max(items - limit, 0) / rate,
        "429s": fake.counters["rate_limited"],
    }


# -- model parsing -------------------------------------------------------------------------


def parsing(number: int = 20_000) -> dict[str, Any]:
    body = MAVERA_BODY
    loads = min(timeit.repeat(lambda: json.loads(body), number=number, repeat=5)) / number
    full = (
        min(
            timeit.repeat(
                lambda: structure(json.loads(body), lm.mavera.Meeting, provider="mavera"),
                number=number,
                repeat=5,
            )
        )
        / number
    )
    return {
        "json_loads_us": loads * 1e6,
        "loads_plus_structure_us": full * 1e6,
        "structure_only_us": (full - loads) * 1e6,
    }


def pin_client(core: int = 0) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
