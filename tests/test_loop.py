"""The command line runs on uvloop when it can be imported and on asyncio's loop when
not; the SDK itself never sets a loop policy (which loop, not how fast)."""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from lyra_mavera import _loop

click = pytest.importorskip("click")
from click.testing import CliRunner  # noqa: E402

from lyra_mavera.cli._runner import run  # noqa: E402


class MarkedLoop(asyncio.SelectorEventLoop):
    """The loop the stand-in uvloop makes: recognisable by its type."""


def _probe_command(seen: list[type[asyncio.AbstractEventLoop]]) -> click.Command:
    @click.command()
    @click.pass_context
    def probe(ctx: click.Context) -> None:
        async def work(_: object) -> int:
            seen.append(type(asyncio.get_running_loop()))
            return 0

        run(ctx, work)

    return probe


def _invoke() -> type[asyncio.AbstractEventLoop]:
    seen: list[type[asyncio.AbstractEventLoop]] = []
    result = CliRunner().invoke(_probe_command(seen), [])
    assert result.exit_code == 0, result.output
    (loop_type,) = seen
    return loop_type


def test_cli_runs_on_uvloop_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in = types.ModuleType("uvloop")
    stand_in.new_event_loop = MarkedLoop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uvloop", stand_in)
    assert _loop.loop_factory() is MarkedLoop
    assert _invoke() is MarkedLoop


def test_cli_runs_on_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert _loop.loop_factory() is asyncio.new_event_loop
    loop_type = _invoke()
    assert issubclass(loop_type, asyncio.BaseEventLoop)
    assert loop_type.__module__.startswith("asyncio")


def test_the_real_uvloop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert _invoke() is uvloop.Loop


def test_importing_the_sdk_leaves_the_loop_policy_alone() -> None:
    """Importing lyra_mavera (and its CLI runner) sets no event loop policy."""
    import subprocess

    code = (
        "import asyncio, lyra_mavera, lyra_mavera.cli._runner, lyra_mavera._loop;"
        "print(type(asyncio.get_event_loop_policy()).__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().startswith("asyncio")
