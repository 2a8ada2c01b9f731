"""``python -m benchmarks [--quick] [--json FILE] [--only NAME ...]``: run the benchmarks
and print a table (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import time
from typing import Any

import aiohttp

from lyra_mavera.testing import set_testing

from . import cases, memory
from .server import RawServer

CASES = ("throughput", "many_bots", "memory", "rate_limited", "parsing")
RAW_GATED = ("raw aiohttp, gathered", cases.raw_post)
RAW_WORKERS = ("raw aiohttp, c workers", cases.raw_post_workers)
RAW_GET = ("raw aiohttp GET + json", cases.raw_get)
#: The order of the throughput table: the headline rows first.
ORDER = (
    ("sdk gather(create)", 50),
    ("sdk gather(create)", 500),
    ("sdk meetings.get", 50),
    ("sdk create_many", 50),
    ("sdk create_many", 500),
    ("httpx + pydantic (peer)", 50),
    ("sdk gather(create) on uvloop", 50),
    ("sdk meetings.get on uvloop", 50),
)


def _pairs(c: int) -> list[cases.Pair]:
    pairs = [
        cases.Pair("sdk gather(create)", RAW_GATED, cases.sdk_gather),
        cases.Pair("sdk create_many", RAW_WORKERS, cases.sdk_create_many),
    ]
    if c == 50:
        pairs += [
            cases.Pair("sdk meetings.get", RAW_GET, cases.sdk_get),
            # 250 rps: a tenth of the requests keeps a round short.
            cases.Pair("httpx + pydantic (peer)", RAW_GATED, cases.httpx_pydantic, share=0.1),
            # SDK on uvloop against raw aiohttp on asyncio's loop.
            cases.Pair("sdk gather(create) on uvloop", RAW_GATED, cases.sdk_gather, "uvloop"),
            cases.Pair("sdk meetings.get on uvloop", RAW_GET, cases.sdk_get, "uvloop"),
        ]
    return pairs


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, int, str]:
        spot = (row["impl"], row["c"])
        return (ORDER.index(spot) if spot in ORDER else len(ORDER), row["c"], row["impl"])

    return sorted(rows, key=key)


def _print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}\n")
    if not rows:
        return
    columns = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c, "")
            cells.append(f"{v:,.2f}" if isinstance(v, float) else str(v))
        print("| " + " | ".join(cells) + " |", flush=True)


def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "uvloop": cases.uvloop_installed(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "quick": args.quick,
    }
    n = 1_000 if args.quick else 5_000
    rounds = 3 if args.quick else 5
    only = set(args.only or CASES)
    cases.pin_client(0)
    if "throughput" in only:
        rows: list[dict[str, Any]] = []
        with RawServer(core=1) as server:
            for c in (50, 500):
                rows += cases.throughput(server, _pairs(c), n, c, rounds)
        rows = _sorted(rows)
        report["throughput"] = rows
        _print_table(
            f"1. Throughput: {n:,} requests a run, {rounds} rounds, medians of per-round ratios",
            rows,
        )
    if "many_bots" in only:
        bots, scale = (1_000, 50.0) if args.quick else (10_000, 5.0)
        # 5x: a bot lives ~30 s, so creating 10,000 of them (~5 s) leaves most to follow.
        rows = asyncio.run(cases.many_bots(bots, time_scale=scale))
        report["many_bots"] = rows
        _print_table(
            f"2. Following {bots:,} bots to done (FakeServer in another process, {scale:g}x)",
            rows,
        )
    if "memory" in only:
        row = asyncio.run(memory.measure(2_000 if args.quick else 10_000))
        report["memory"] = [row]
        _print_table("3. What wait_many holds per bot (tracemalloc, no network)", [row])
    if "rate_limited" in only and not args.quick:
        rows = [
            asyncio.run(cases.rate_limited(600, 600, 60.0)),
            asyncio.run(cases.rate_limited(240, 60, 6.0)),
        ]
        report["rate_limited"] = rows
        _print_table(
            "4. Rate-limited bulk creates (FakeServer, limiter learning from headers)", rows
        )
    if "parsing" in only:
        row = cases.parsing(5_000 if args.quick else 20_000)
        report["parsing"] = [row]
        _print_table("5. Parsing one full Mavera meeting (µs per object)", [row])
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="day-to-day check, under a minute: fewer requests and bots, no rate-limit case",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", nargs="*", choices=CASES)
    arguments = parser.parse_args()
    set_testing(False)
    started = time.perf_counter()
    result = main(arguments)
    result["wall_s"] = time.perf_counter() - started
    print(f"\n(total {result['wall_s']:.0f} s)")
    if arguments.json:
        with open(arguments.json, "w") as fh:
            json.dump(result, fh, indent=2)
