"""``python -m benchmarks [--quick] [--json FILE] [--only NAME ...]``: run the benchmarks
and print a table (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
from typing import Any

from lyra_mavera.testing import set_testing

from . import cases
from .server import RawServer

CASES = ("create", "poll", "many_bots", "rate_limited", "parsing")


def _ratio_rows(rows: list[dict[str, Any]], base: str) -> None:
    reference = {r["concurrency"]: r for r in rows if r["impl"] == base and "rps" in r}
    for r in rows:
        ref = reference.get(r.get("concurrency"))
        if ref and "rps" in r:
            r["rps_ratio"] = r["rps"] / ref["rps"]
            r["cpu_ratio"] = r["cpu_us_per_req"] / ref["cpu_us_per_req"]


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
        print("| " + " | ".join(cells) + " |")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
    }
    n = 1_000 if args.quick else 5_000
    repeats = 3 if args.quick else 5
    only = set(args.only or CASES)
    cases.pin_client(0)
    with RawServer(core=1) as server:
        if "create" in only:
            rows: list[dict[str, Any]] = []
            impls = {
                "raw aiohttp + json": cases.raw_post,
                "sdk gather(create)": cases.sdk_gather,
                "sdk create_many": cases.sdk_create_many,
                "httpx + pydantic": cases.httpx_pydantic,
            }
            for c in (1, 50, 500):
                chosen = impls if c == 50 else {k: v for k, v in impls.items() if "httpx" not in k}
                rows += await cases.throughput(server, chosen, n if c > 1 else n // 5, c, repeats)
            _ratio_rows(rows, "raw aiohttp + json")
            report["create"] = rows
            _print_table(f"1. Lyra POST /meeting, {n:,} requests (c=1: {n // 5:,})", rows)
        if "poll" in only:
            impls = {"raw aiohttp + json": cases.raw_get, "sdk meetings.get": cases.sdk_get}
            rows = await cases.throughput(server, impls, n, 50, repeats)
            _ratio_rows(rows, "raw aiohttp + json")
            report["poll"] = rows
            _print_table(f"2. Mavera GET /meetings/{{id}} into models, {n:,} requests", rows)
    if "many_bots" in only:
        bots = 2_000 if args.quick else 10_000
        # 5x: a bot lives ~30 s, so creating 10,000 of them (~5 s) leaves most to follow.
        rows = await cases.many_bots(bots, time_scale=5.0)
        report["many_bots"] = rows
        _print_table(
            f"3. Following {bots:,} bots to done (FakeServer in another process, 5x clock)", rows
        )
    if "rate_limited" in only:
        rows = [await cases.rate_limited(600, 600, 60.0), await cases.rate_limited(240, 60, 6.0)]
        report["rate_limited"] = rows
        _print_table(
            "4. Rate-limited bulk creates (FakeServer, limiter learning from headers)", rows
        )
    if "parsing" in only:
        row = cases.parsing()
        report["parsing"] = [row]
        _print_table("5. Parsing one full Mavera meeting (µs per object)", [row])
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", nargs="*", choices=CASES)
    arguments = parser.parse_args()
    set_testing(False)
    result = asyncio.run(main(arguments))
    if arguments.json:
        with open(arguments.json, "w") as fh:
            json.dump(result, fh, indent=2)
