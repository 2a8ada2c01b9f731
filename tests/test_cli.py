"""The command line, run end to end as a subprocess against a FakeServer."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lyra_mavera.testing import FakeServer

pytest.importorskip("click")
pytest.importorskip("rich")


async def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lyra_mavera",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with FakeServer(rpm=None, time_scale=500) as server:
        yield server


@pytest.fixture
def env(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return {
        "LYRA_BASE_URL": fake.lyra_base_url,
        "MAVERA_BASE_URL": fake.mavera_base_url,
        "LYRA_API_KEY": fake.lyra_api_key,
        "MAVERA_API_KEY": fake.mavera_api_key,
    }


def lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_demo_runs_the_whole_flow() -> None:
    """demo needs no keys, exits 0 and reports every item and the request counts."""
    code, out, err = await cli("demo", "--json", env={"LYRA_API_KEY": "", "MAVERA_API_KEY": ""})
    assert code == 0, err
    (summary,) = lines(out)
    assert summary["lyra_meetings"] == {"ok": 200, "failed": 0}
    assert summary["mavera_bots"] == {"ok": 50, "failed": 0}
    assert summary["bots_followed"] == {"done": 50}
    assert summary["requests"] > 250 and summary["rate_limited_429"] == 0


async def test_demo_human_output() -> None:
    """The human demo prints its steps and a summary line."""
    code, out, _ = await cli("demo", "--meetings", "20", "--bots", "5")
    assert code == 0
    assert "Lyra key verified" in out and "Summary: 20/20 Lyra meetings, 5/5 Mavera bots" in out


async def test_lyra_commands(env: dict[str, str], fake: FakeServer) -> None:
    """verify and create-meeting work and print JSON with --json anywhere."""
    code, out, _ = await cli("lyra", "verify", "--json", env=env)
    assert code == 0 and lines(out)[0]["valid"] is True
    code, out, _ = await cli(
        "--json",
        "lyra",
        "create-meeting",
        "--title",
        "Kickoff",
        "--start",
        "2030-01-01T10:00:00+02:00",
        "--attendee",
        "a@b.co",
        "--attendee",
        "c@d.co",
        env=env,
    )
    assert code == 0
    meeting = lines(out)[0]
    assert fake.lyra_meetings[meeting["id"]] == {
        "title": "Kickoff",
        "start": "2030-01-01T08:00:00.000Z",
        "attendees": ["a@b.co", "c@d.co"],
    }


async def test_mavera_commands(env: dict[str, str], fake: FakeServer) -> None:
    """create-bot --wait, get, list, transcript and cancel, end to end."""
    code, out, err = await cli(
        "mavera",
        "create-bot",
        "https://zoom.us/j/8500000123",
        "--title",
        "Sync",
        "--wait",
        "--json",
        env=env,
    )
    assert code == 0, err
    bot = lines(out)[0]
    assert bot["status"] == "done" and bot["title"] == "Sync"
    code, out, _ = await cli("mavera", "get", bot["id"], env=env)
    assert code == 0 and "done" in out and bot["id"] in out
    code, out, _ = await cli("mavera", "transcript", bot["id"], env=env)
    assert code == 0 and "Thanks everyone" in out
    code, out, _ = await cli("mavera", "list", "--json", env=env)
    assert [m["id"] for m in lines(out)] == [bot["id"]]
    fake.script("https://zoom.us/j/85000009", stuck_in_waiting_room=True)
    code, out, _ = await cli(
        "mavera", "create-bot", "https://zoom.us/j/85000009", "--json", env=env
    )
    second = lines(out)[0]["id"]
    code, out, _ = await cli("mavera", "cancel", second, "--reason", "moved", env=env)
    assert code == 0 and "cancelled" in out
    code, out, err = await cli("mavera", "wait", second, "--time-scale", "500", env=env)
    assert code == 4 and "BotFailedError" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["mavera", "get", "meeting_missing"], 1, "NotFoundError"),
        (["mavera", "create-bot", "https://zoom.us.evil.example/j/1"], 2, "meeting_url"),
        (
            ["lyra", "create-meeting", "--title", "T", "--start", "2030-01-01T10:00:00"],
            2,
            "UTC offset",
        ),
        (["lyra", "create-meeting"], 2, "--title"),
        (["mavera", "wait", "x", "--timeout", "soon"], 2, "timeout"),
    ],
)
async def test_errors_are_one_line_with_exit_codes(
    env: dict[str, str], args: list[str], code: int, words: str
) -> None:
    """Errors print one line naming the cause (no traceback) and a documented exit code."""
    got, _out, err = await cli(*args, env=env)
    assert got == code, err
    assert words in err and "Traceback" not in err


async def test_missing_key_is_a_configuration_error(env: dict[str, str]) -> None:
    """Without a key: exit 3 and the variable to set, as JSON too."""
    code, out, err = await cli("--json", "mavera", "list", env={**env, "MAVERA_API_KEY": ""})
    assert code == 3 and "MAVERA_API_KEY" in err
    assert lines(out)[0]["error"]["type"] == "ConfigurationError"


async def test_bulk_lyra_reports_bad_rows(
    env: dict[str, str], fake: FakeServer, tmp_path: Path
) -> None:
    """CSV rows that cannot be used are reported with their line number; the rest are created."""
    source = tmp_path / "meetings.csv"
    source.write_text(
        "title,start,attendees\n"
        "Kickoff,2030-01-01T10:00:00Z,a@b.co;c@d.co\n"
        ",2030-01-01T10:00:00Z,\n"
        "Review,tomorrow,\n"
        "Retro,,x@y.co\n"
    )
    out_file = tmp_path / "out.jsonl"
    code, out, err = await cli(
        "bulk", "lyra", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 5, err
    results = lines(out_file.read_text())
    assert [r["ok"] for r in results] == [True, False, False, True]
    assert results[1]["error"].startswith("line 3:") and "title" in results[1]["error"]
    assert results[2]["error"].startswith("line 4:") and "start" in results[2]["error"]
    assert len(fake.lyra_meetings) == 2
    assert lines(out)[-1]["ok"] == 2


async def test_bulk_mavera_interrupted_and_resumed(
    env: dict[str, str], fake: FakeServer, tmp_path: Path
) -> None:
    """Ctrl-C half-way, then the same command again: every row created exactly once."""
    rows = 120
    source = tmp_path / "bots.jsonl"
    source.write_text(
        "".join(
            json.dumps({"meeting_url": f"https://zoom.us/j/8500000{i}", "title": f"Bot {i}"}) + "\n"
            for i in range(rows)
        )
    )
    out_file = tmp_path / "bots.out.jsonl"
    fake.inject("latency", delay=0.05, route="POST /meetings")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lyra_mavera",
        "bulk",
        "mavera",
        str(source),
        "--out",
        str(out_file),
        "--concurrency",
        "4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    for _ in range(400):
        await asyncio.sleep(0.025)
        if out_file.exists() and len(out_file.read_text().splitlines()) >= 30:
            break
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    first = len(out_file.read_text().splitlines())
    assert 30 <= first < rows
    fake.clear_faults()
    code, out, err2 = await cli(
        "bulk", "mavera", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 0, err2
    assert "resuming" in err2 or lines(out)[-1]["rows"] == rows
    results = lines(out_file.read_text())
    assert [r["index"] for r in results] == list(range(rows))
    assert all(r["ok"] for r in results)
    assert all(fake.bots_for_link(f"https://zoom.us/j/8500000{i}") == 1 for i in range(rows))
    assert len({r["id"] for r in results}) == rows
    assert not out_file.with_name(out_file.name + ".inflight").exists()
    print(
        f"\ninterrupted after {first} rows; resumed; adopted {lines(out)[-1]['adopted_after_interruption']}"
    )


async def test_fake_server_command() -> None:
    """fake-server prints working settings and stops cleanly on Ctrl-C."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lyra_mavera",
        "fake-server",
        "--port",
        "0",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    settings = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    code, _out, err = await cli("mavera", "list", env=settings)
    assert code == 0, err
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_help_and_module_entry() -> None:
    """python -m lyra_mavera --help lists the commands."""
    code, out, _ = await cli("--help")
    assert code == 0
    for word in ("demo", "lyra", "mavera", "bulk", "fake-server", "Exit codes"):
        assert word in out


async def test_interrupted_lyra_rows_are_reported_not_resent(tmp_path: Path) -> None:
    """A Lyra row that was in flight when a run stopped gets a may_exist result and no request."""
    import lyra_mavera as lm
    from lyra_mavera.cli._bulkfile import Journal, read_rows
    from lyra_mavera.cli._bulkrun import _settle_interrupted

    source = tmp_path / "m.csv"
    source.write_text("title\nFirst\nSecond\n")
    out = tmp_path / "m.out.jsonl"
    rows = read_rows(source, "lyra")
    journal = Journal(out)
    journal.start(1)  # row 1 was sent, then the process died
    journal.close(complete=False)
    journal = Journal(out)
    async with lm.AsyncSession(
        lyra_api_key="lyra_" + "k" * 24, lyra_base_url="http://127.0.0.1:9/v1"
    ) as s:
        assert await _settle_interrupted(s, "lyra", journal, rows) == 1
    journal.close(complete=False)
    (record,) = lines(out.read_text())
    assert record["index"] == 1 and record["line"] == 3 and record["ok"] is False
    assert record["may_exist"] is True and record["error_type"] == "AmbiguousCreateError"
    assert record["error"].startswith("line 3: lyra: this row was being sent")
