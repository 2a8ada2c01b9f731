"""The command line, run end to end as the installed ``lyra-mavera`` in a subprocess
against a FakeServer, the way a user runs it.

The helpers here (``cli``, ``start``, ``lines``, ``one_error_line`` and the ``fake`` /
``env`` fixtures) are shared by the other ``test_cli_*.py`` files.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from lyra_mavera.testing import FakeServer

pytest.importorskip("click")
pytest.importorskip("rich")

SCRIPT = Path(sys.executable).with_name("lyra-mavera")
#: The installed console script (what users run); `python -m` only if it is missing.
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "lyra_mavera"]
KEY_NAMES = ("LYRA_API_KEY", "MAVERA_API_KEY")

#: Strings that rich markup would eat or choke on, and text beyond ASCII.
TRICKY_TITLES = ["Q3 [/internal] sync", "[wip] planning", "[bold]x[/bold]", "Réunion 東京 🎉"]


def full_env(env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8", **(env or {})}


async def start(
    *args: str, env: dict[str, str] | None = None, shell_prefix: str | None = None
) -> asyncio.subprocess.Process:
    """Start ``lyra-mavera ARGS`` (optionally behind a ``sh -c`` prefix such as
    ``trap "" INT;``) with pipes for stdout and stderr."""
    command = list(COMMAND) + list(args)
    if shell_prefix is not None:
        quoted = " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)
        command = ["sh", "-c", f"{shell_prefix} exec {quoted}"]
    return await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env(env),
    )


async def finish(proc: asyncio.subprocess.Process, timeout: float = 60) -> tuple[str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out.decode(), err.decode()


async def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """Run ``lyra-mavera ARGS``; returns (exit code, stdout, stderr). Fails the test if
    an API key from the environment shows up in either stream."""
    proc = await start(*args, env=env)
    out, err = await finish(proc, timeout)
    assert proc.returncode is not None
    for name in KEY_NAMES:
        key = full_env(env).get(name)
        if key:
            assert key not in out and key not in err, "an API key leaked"
    return proc.returncode, out, err


def lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def error_line(err: str) -> str:
    """The one error line of a command that may also have reported progress on stderr:
    the last line, and no traceback."""
    assert "Traceback" not in err, err
    shown = [line for line in err.splitlines() if line.strip()]
    assert [line for line in shown if line.startswith("error (")] == shown[-1:], err
    return shown[-1]


def one_error_line(err: str) -> str:
    """The single line a failing command wrote on stderr (no traceback, nothing else)."""
    assert "Traceback" not in err, err
    shown = [line for line in err.splitlines() if line.strip()]
    assert len(shown) == 1, err
    return shown[0]


pytestmark = pytest.mark.fake(rpm=None, time_scale=500)


def settings(server: FakeServer) -> dict[str, str]:
    """The environment that points the CLI at ``server``."""
    return {
        "LYRA_BASE_URL": server.lyra_base_url,
        "MAVERA_BASE_URL": server.mavera_base_url,
        "LYRA_API_KEY": server.lyra_api_key,
        "MAVERA_API_KEY": server.mavera_api_key,
    }


@pytest.fixture
def env(fake: FakeServer) -> dict[str, str]:
    return settings(fake)


# -- the happy path -----------------------------------------------------------------


async def test_demo_runs_the_whole_flow() -> None:
    """demo needs no keys, exits 0 and reports every item, the request counts and where
    its retries came from."""
    code, out, err = await cli("demo", "--json", env={"LYRA_API_KEY": "", "MAVERA_API_KEY": ""})
    assert code == 0, err
    (summary,) = lines(out)
    assert summary["lyra_meetings"] == {"ok": 200, "failed": 0}
    assert summary["mavera_bots"] == {"ok": 50, "failed": 0}
    assert summary["bots_followed"] == {"done": 50}
    assert summary["requests"] > 250 and summary["rate_limited_429"] == 0
    assert summary["injected_503s"] >= summary["retries"] > 0
    assert "Traceback" not in err


async def test_demo_teaches() -> None:
    """The human demo says the 503s are injected, previews the transcript in whole words
    on real lines, and ends with the next steps: real keys, fake-server, the docs."""
    code, out, _ = await cli("demo", "--meetings", "20", "--bots", "5")
    assert code == 0
    assert "Lyra key verified" in out and "Summary: 20/20 Lyra meetings, 5/5 Mavera bots" in out
    assert "503 on purpose" in out and "injected 503s" in out
    assert "\\n" not in out
    assert "     Alex: Thanks everyone for joining" in out
    assert "     Sam: let us review the" in out
    tail = out[out.index("Next steps") :]
    for words in ("export LYRA_API_KEY=", "lyra-mavera fake-server", "--help", "README"):
        assert words in tail


def test_transcript_preview_cuts_at_words() -> None:
    """A long transcript line is cut at a word boundary and marked with an ellipsis."""
    from lyra_mavera.cli._demo import preview

    long = "Alex: " + "budget " * 20
    (line,) = preview(long + "\n\nSam: ok\n", lines=1, width=30)
    assert line == "Alex: budget budget budget…"
    assert preview("a\n\n b \nc", lines=2) == ["a", "b"]


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
        "--time-scale",
        "500",
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
    assert code == 4 and "BotFailedError" in error_line(err)


async def test_create_bot_wait_uses_the_time_scale(env: dict[str, str], fake: FakeServer) -> None:
    """create-bot --wait --time-scale scales the polling too: a bot denied recording
    fails once the (scaled) grace period passes, long before a real-time grace would."""
    link = "https://zoom.us/j/85000004242"
    fake.script(link, permission_denied=True, permission_denied_for=None)
    code, out, err = await cli(
        "mavera", "create-bot", link, "--wait", "--time-scale", "500", "--timeout", "20",
        "--json", env=env,
    )  # fmt: skip
    assert code == 4, err
    error = lines(out)[-1]["error"]
    assert error["type"] == "BotFailedError"  # not WaitTimeoutError: the grace was scaled
    assert error["meeting"]["status"] == "recording_permission_denied"


async def test_segments_transcript_keeps_speakers(env: dict[str, str], fake: FakeServer) -> None:
    """transcript --format segments prints each segment's start time and speaker."""
    async with fake.session() as s:
        bot = await s.mavera.meetings.create("https://zoom.us/j/850000077")
        fake.clock.advance(3600)
    code, out, err = await cli("mavera", "transcript", bot.id, "--format", "segments", env=env)
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "00:00:00  Alex: Thanks everyone for joining",
        "00:00:05  Sam: let us review the",
    ]


async def test_bare_group_shows_its_help() -> None:
    """A group run without a command prints its help on stdout and exits 0."""
    for args in ([], ["bulk"]):
        code, out, err = await cli(*args)
        assert code == 0 and "Commands:" in out and not err


async def test_help_and_module_entry() -> None:
    """python -m lyra_mavera --help lists the commands and the exit codes."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lyra_mavera", "--help", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    for word in ("demo", "lyra", "mavera", "bulk", "fake-server", "Exit codes"):
        assert word in out.decode()


# -- data printed exactly -----------------------------------------------------------


@pytest.mark.parametrize("title", TRICKY_TITLES)
async def test_titles_are_printed_exactly(env: dict[str, str], title: str) -> None:
    """A title full of brackets or beyond ASCII comes back byte for byte from create-bot,
    get and list, in human and JSON output."""
    code, out, err = await cli(
        "mavera", "create-bot", "https://zoom.us/j/850000031", "--title", title, env=env
    )
    assert code == 0, err
    bot_id, _status, shown = out.rstrip("\n").split("  ", 2)
    assert shown == title
    code, out, err = await cli("mavera", "get", bot_id, env=env)
    assert code == 0, err
    assert f"title              {title}\n" in out
    code, out, _ = await cli("mavera", "list", env=env)
    assert out.startswith(f"{bot_id}  ") and out.endswith(f"  {title}\n")
    assert out.count("\n") == 1
    code, out, _ = await cli("mavera", "list", "--json", env=env)
    assert lines(out)[0]["title"] == title


async def test_one_tricky_title_does_not_break_list(env: dict[str, str], fake: FakeServer) -> None:
    """Listing a key whose meetings include every tricky title shows them all."""
    async with fake.session() as s:
        for n, title in enumerate(TRICKY_TITLES):
            await s.mavera.meetings.create(f"https://zoom.us/j/85000005{n}", title=title)
        await s.lyra.meetings.create("[wip] planning")
    code, out, err = await cli("mavera", "list", env=env)
    assert code == 0, err
    assert [line.split("  ", 2)[2] for line in out.splitlines()] == TRICKY_TITLES[::-1]
    code, out, err = await cli("lyra", "create-meeting", "--title", "Q3 [/internal] sync", env=env)
    assert code == 0, err
    (meeting_id,) = [m for m in fake.lyra_meetings if out.startswith(m)]
    assert fake.lyra_meetings[meeting_id]["title"] == "Q3 [/internal] sync"


async def test_transcript_with_brackets_is_printed_exactly(
    env: dict[str, str], fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transcript line like 'so [inaudible] the budget' is printed as said, in every
    format and in JSON."""
    from lyra_mavera.testing import _mavera_results

    words = ["so", "[inaudible]", "the", "budget", "[bold]x[/bold]", "Réunion", "東京", "🎉"]
    monkeypatch.setattr(_mavera_results, "_WORDS", words)
    async with fake.session() as s:
        bot = await s.mavera.meetings.create("https://zoom.us/j/850000088")
        fake.clock.advance(3600)
    code, out, _ = await cli("mavera", "transcript", bot.id, env=env)
    assert code == 0
    assert out == "Alex: so [inaudible] the budget\nSam: [bold]x[/bold] Réunion 東京 🎉\n"
    code, out, _ = await cli("mavera", "transcript", bot.id, "--format", "segments", env=env)
    assert "00:00:00  Alex: so [inaudible] the budget\n" in out
    assert "00:00:05  Sam: [bold]x[/bold] Réunion 東京 🎉\n" in out
    code, out, _ = await cli("mavera", "transcript", bot.id, "--format", "srt", env=env)
    assert "\nso [inaudible] the budget\n" in out
    code, out, _ = await cli("mavera", "transcript", bot.id, "--json", env=env)
    assert lines(out)[0]["content"].startswith("Alex: so [inaudible] the budget")


async def test_api_errors_keep_param_and_request_id(env: dict[str, str], fake: FakeServer) -> None:
    """An API error is one line that keeps its [param: ...] and [request id: ...]."""
    fake.script("https://zoom.us/j/850000066", stuck_in_waiting_room=True)
    async with fake.session() as s:
        bot = await s.mavera.meetings.create("https://zoom.us/j/850000066")
    code, _out, err = await cli("mavera", "transcript", bot.id, env=env)
    line = one_error_line(err)
    assert code == 1
    assert "(meeting_not_ready)" in line and "[param: id]" in line and "[request id: req_" in line
    code, out, err = await cli("mavera", "transcript", bot.id, "--json", env=env)
    error = lines(out)[0]["error"]
    assert error["param"] == "id" and error["request_id"].startswith("req_")
    assert error["message"] == one_error_line(err).split(": ", 1)[1]


async def test_output_survives_a_narrow_encoding(env: dict[str, str]) -> None:
    """On a stdout that cannot encode a title, the CLI prints an escape, not a traceback."""
    code, out, err = await cli(
        "mavera", "create-bot", "https://zoom.us/j/850000032", "--title", "Réunion 東京 🎉",
        env={**env, "PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert code == 0 and "Traceback" not in err
    assert "R\\xe9union \\u6771\\u4eac \\U0001f389" in out


# -- errors ---------------------------------------------------------------------------


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
        (["lyra", "create-meeting", "--title", "T", "--start", "[bold]soon"], 2, "'[bold]soon'"),
        (["lyra", "create-meeting"], 2, "--title"),
        (["mavera", "wait", "x", "--timeout", "soon"], 2, "timeout"),
        (["mavera", "create-bot", "https://zoom.us/j/85000001", "--timeout", "5"], 2, "add --wait"),
        (
            ["mavera", "create-bot", "https://zoom.us/j/85000001", "--time-scale", "5"],
            2,
            "add --wait",
        ),
        (["mavera", "nosuch"], 2, "No such command 'nosuch'"),
        (["--bogus"], 2, "No such option '--bogus'"),
        (["bulk", "lyra", "missing.csv"], 2, "missing.csv"),
    ],
)
async def test_errors_are_one_line_with_exit_codes(
    env: dict[str, str], args: list[str], code: int, words: str
) -> None:
    """Errors, usage errors included, print one line naming the cause (no traceback, no
    usage block) and a documented exit code."""
    got, _out, err = await cli(*args, env=env)
    assert got == code, err
    assert words in one_error_line(err)


async def test_advice_names_cli_flags_and_exports(env: dict[str, str]) -> None:
    """Advice names what a shell user can do (a flag, an export line), never an SDK
    argument."""
    _, _, err = await cli("mavera", "create-bot", "https://meet.example.com/x", env=env)
    line = one_error_line(err)
    assert "--skip-link-check" in line and "skip_link_check=True" not in line
    for args, name in (
        (["lyra", "verify"], "LYRA_API_KEY"),
        (["mavera", "list"], "MAVERA_API_KEY"),
    ):
        _, _, err = await cli(*args, env={**env, name: ""})
        line = one_error_line(err)
        assert f"export {name}=" in line and "_api_key=" not in line and "AsyncSession" not in line


async def test_skip_link_check_sends_the_link(env: dict[str, str], fake: FakeServer) -> None:
    """create-bot --skip-link-check leaves the link to Mavera, as its advice says."""
    code, _out, err = await cli(
        "mavera", "create-bot", "https://meet.example.com/x", "--skip-link-check", "--json",
        env=env,
    )  # fmt: skip
    assert code in (0, 1), err  # what Mavera says about the link is Mavera's call
    assert fake.requests_to("POST", "/meetings")


async def test_missing_key_is_a_configuration_error(env: dict[str, str]) -> None:
    """Without a key: exit 3 and the variable to set, as JSON too."""
    code, out, err = await cli("--json", "mavera", "list", env={**env, "MAVERA_API_KEY": ""})
    assert code == 3 and "MAVERA_API_KEY" in one_error_line(err)
    assert lines(out)[0]["error"]["type"] == "ConfigurationError"


async def test_busy_port_is_one_line() -> None:
    """fake-server on a port already taken fails in one line naming the port and --port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await cli("fake-server", "--port", str(port), "--json")
    assert code == 2
    line = one_error_line(err)
    assert f"port {port}" in line and "--port" in line and "in use" in line
    assert lines(out)[0]["error"]["param"] == "--port"


# -- --json everywhere ----------------------------------------------------------------


def _json_cases() -> list[tuple[list[str], int]]:
    return [
        (["lyra", "verify"], 0),
        (["lyra", "create-meeting", "--title", "[x] T"], 0),
        (["lyra", "create-meeting"], 2),
        (["mavera", "create-bot", "https://zoom.us/j/85000001"], 0),
        (["mavera", "create-bot"], 2),
        (["mavera", "get", "meeting_missing"], 1),
        (["mavera", "list"], 0),
        (["mavera", "cancel", "meeting_missing"], 1),
        (["mavera", "transcript", "meeting_missing"], 1),
        (["mavera", "wait", "meeting_missing"], 1),
        (["mavera", "nosuch"], 2),
        (["bulk", "lyra", "@FILE"], 0),
        (["bulk", "mavera", "@FILE"], 2),
        (["bulk", "lyra"], 2),
    ]


@pytest.mark.parametrize(("args", "code"), _json_cases())
@pytest.mark.parametrize("where", ["first", "after group", "last"])
async def test_json_everywhere(
    env: dict[str, str], fake: FakeServer, tmp_path: Path, args: list[str], code: int, where: str
) -> None:
    """--json before the group, after it or at the end: stdout is JSON lines only, and a
    failure (usage errors too) is an error object plus one stderr line."""
    async with fake.session() as s:
        await s.mavera.meetings.create("https://zoom.us/j/85000002", title="[x] listed")
    source = tmp_path / "rows.csv"
    source.write_text("title\nKickoff\n")
    args = [str(source) if a == "@FILE" else a for a in args]
    position = {"first": 0, "after group": 1, "last": len(args)}[where]
    got, out, err = await cli(*args[:position], "--json", *args[position:], env=env)
    assert got == code, err
    data = lines(out)
    assert data
    if code:
        assert set(data[-1]) == {"error"} and data[-1]["error"]["type"]
        assert data[-1]["error"]["message"] in one_error_line(err)
    else:
        assert "error" not in data[-1]


# -- Ctrl-C ---------------------------------------------------------------------------


@pytest.mark.parametrize("parent", ["default", "ignores SIGINT"])
async def test_fake_server_command(parent: str) -> None:
    """fake-server prints working settings and stops cleanly on Ctrl-C, also when its
    parent ignores SIGINT (children inherit SIG_IGN; the CLI resets it)."""
    prefix = 'trap "" INT;' if parent == "ignores SIGINT" else None
    proc = await start("fake-server", "--port", "0", "--json", shell_prefix=prefix)
    try:
        assert proc.stdout is not None
        settings = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        code, _out, err = await cli("mavera", "list", env=settings)
        assert code == 0, err
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
