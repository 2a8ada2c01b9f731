"""Serve the fake Lyra + Mavera APIs on loopback until interrupted:
``python -m lyra_mavera.testing [--port N] [--rpm N] [--time-scale X]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ._server import FakeServer


async def serve(port: int, rpm: int | None, time_scale: float) -> None:
    async with FakeServer(port=port, rpm=rpm, time_scale=time_scale) as fake:
        print(f"LYRA_BASE_URL={fake.lyra_base_url}")
        print(f"MAVERA_BASE_URL={fake.mavera_base_url}")
        print(f"LYRA_API_KEY={fake.lyra_api_key}")
        print(f"MAVERA_API_KEY={fake.mavera_api_key}")
        print("Fake keys only: they work against this server and nowhere else. Ctrl-C stops.")
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lyra_mavera.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--rpm", type=int, default=60, help="Mavera requests per minute per key")
    parser.add_argument("--time-scale", type=float, default=1.0, help="bot clock speed-up")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.rpm, args.time_scale))


if __name__ == "__main__":
    main()
