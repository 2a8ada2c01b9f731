"""Worker processes for the fleet tests (arq and Temporal): started with their output in
a log file, stopped politely and then for sure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(__file__))


def start_worker(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m module`` from the checkout, with ``env`` added, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def stop_workers(workers: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGINT every worker still running, then wait for each (15 s) or kill it."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)
    for worker in workers:
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def log_tails(logs: Sequence[Path]) -> str:
    """The last 2,000 characters of each worker's log, for a failure message."""
    return "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
