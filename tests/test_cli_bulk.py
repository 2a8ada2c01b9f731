"""``lyra-mavera bulk`` as a user drives it: files edited between runs, runs stopped
with Ctrl-C, rows that may exist settled by hand, and every way a file can be wrong.
Server-side counts prove that nothing is created twice and no row is skipped."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lyra_mavera.testing import FakeServer
from tests.test_cli import (  # the shared subprocess helpers and fixtures
    TRICKY_TITLES,
    cli,
    env,  # noqa: F401 -- a fixture
    finish,
    lines,
    one_error_line,
    settings,
    start,
)

pytestmark = pytest.mark.fake(rpm=None, time_scale=500)

HANG = 3600.0  # a request that never gets its answer while the test runs


def csv_file(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def link(n: int) -> str:
    return f"https://zoom.us/j/{850001000 + n}"


def journal(out_file: Path) -> list[dict[str, Any]]:
    path = out_file.with_name(out_file.name + ".journal")
    return lines(path.read_text()) if path.exists() else []


def results(out_file: Path) -> list[dict[str, Any]]:
    return lines(out_file.read_text()) if out_file.exists() else []


def sent_keys(out_file: Path) -> set[str]:
    return {e["sent"] for e in journal(out_file) if "sent" in e}


async def until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.02)


@pytest.fixture
async def slow_fake() -> AsyncIterator[FakeServer]:
    """A fake on real time: its creation times compare with the CLI's clock."""
    async with FakeServer(rpm=None, time_scale=1) as server:
        yield server


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = await finish(proc, 30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    return out, err


# -- results and basic reporting ----------------------------------------------------


async def test_bulk_lyra_reports_bad_rows(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Rows that cannot be used are reported with their file line (never a list
    position); the rest are created, and the summary says how to retry."""
    source = csv_file(
        tmp_path / "meetings.csv",
        "title,start,attendees",
        [
            "Kickoff,2030-01-01T10:00:00Z,a@b.co;c@d.co",
            ",2030-01-01T10:00:00Z,",
            "Review,tomorrow,",
            "Retro,,not-an-email",
            "[wip] planning,,x@y.co",
        ],
    )
    out_file = tmp_path / "out.jsonl"
    code, out, err = await cli(
        "bulk", "lyra", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 5, err
    rows = results(out_file)
    assert [r["ok"] for r in rows] == [True, False, False, False, True]
    assert rows[1]["error"].startswith("line 3:") and "title" in rows[1]["error"]
    assert rows[2]["error"].startswith("line 4:") and "start" in rows[2]["error"]
    assert rows[3]["error"] == "line 5: attendees[0]: 'not-an-email' is not an email address"
    assert not any("requests[" in r.get("error", "") for r in rows)
    assert sorted(m["title"] for m in fake.lyra_meetings.values()) == ["Kickoff", "[wip] planning"]
    summary = lines(out)[-1]
    assert summary["ok"] == 2 and summary["failed_lines"] == [3, 4, 5]
    assert "--retry-failed" in err and "lines 3, 4, 5" in err

    # A row added on top moves the others down: their results say where they are now.
    text = source.read_text().splitlines()
    source.write_text("\n".join([text[0], "Standup", *text[1:]]) + "\n")
    code, out, err = await cli(
        "bulk", "lyra", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 5, err
    assert lines(out)[-1]["failed_lines"] == [4, 5, 6] and lines(out)[-1]["sent"] == 1
    assert results(out_file)[4]["error"].startswith("line 6: attendees[0]")
    assert len(fake.lyra_meetings) == 3


async def test_bulk_prints_tricky_text_exactly(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Titles with brackets and beyond ASCII reach Mavera and the results file as they
    are, and a file whose name has brackets gets a progress line and summary."""
    source = tmp_path / "[wip] bots.jsonl"
    source.write_text(
        "".join(
            json.dumps({"meeting_url": link(n), "title": title}, ensure_ascii=False) + "\n"
            for n, title in enumerate(TRICKY_TITLES)
        ),
        encoding="utf-8",
    )
    code, out, err = await cli("bulk", "mavera", str(source), env=env)
    assert code == 0, err
    assert "Traceback" not in err
    out_file = tmp_path / "[wip] bots.results.jsonl"
    assert out == f"4 ok, 0 failed, 0 may exist (of 4 rows); results in {out_file}\n"
    assert [r["row"]["title"] for r in results(out_file)] == TRICKY_TITLES
    assert sorted(b.title or "" for b in fake.bots) == sorted(TRICKY_TITLES)


async def test_retry_failed_sends_only_rows_that_failed_for_sure(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Rows refused by the server are kept as failed; --retry-failed --line N sends one
    of them again, --retry-failed the rest, and each meeting is created once."""
    source = csv_file(tmp_path / "m.csv", "title", ["Alpha", "Beta", "Gamma"])
    args = ("bulk", "lyra", str(source), "--json")
    fake.inject("status", status=400, route="POST /meeting")
    code, out, err = await cli(*args, env=env)
    assert code == 5 and lines(out)[-1]["failed_lines"] == [2, 3, 4]
    assert "BadRequestError" in results(tmp_path / "m.results.jsonl")[0]["error_type"]
    fake.clear_faults()
    code, out, _ = await cli(*args, env=env)
    assert code == 5 and lines(out)[-1]["sent"] == 0  # failed rows wait for the user
    code, out, _ = await cli(*args, "--retry-failed", "--line", "3", env=env)
    assert code == 5 and lines(out)[-1]["failed_lines"] == [2, 4]
    assert [m["title"] for m in fake.lyra_meetings.values()] == ["Beta"]
    code, out, err = await cli(*args, "--retry-failed", env=env)
    assert code == 0, err
    assert sorted(m["title"] for m in fake.lyra_meetings.values()) == ["Alpha", "Beta", "Gamma"]


# -- a file edited between runs -----------------------------------------------------


async def test_edited_file_sends_new_rows_and_keeps_done_ones(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Add a row at the top and delete one, then run again: the new row is sent once,
    no existing link gets a second bot, and the removed row leaves the summary."""
    rows = [f"{link(n)},Bot {n}" for n in range(5)]
    source = csv_file(tmp_path / "bots.csv", "meeting_url,title", rows)
    out_file = tmp_path / "bots.out.jsonl"
    code, _, err = await cli("bulk", "mavera", str(source), "--out", str(out_file), env=env)
    assert code == 0, err
    first_ids = {r["row"]["meeting_url"]: r["id"] for r in results(out_file)}

    csv_file(source, "meeting_url,title", [f"{link(9)},New on top", *rows[:2], *rows[3:]])
    code, out, err = await cli(
        "bulk", "mavera", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 0, err
    assert "changed since the last run: 4 rows keep their results, 1 new row will" in err
    summary = lines(out)[-1]
    assert (summary["rows"], summary["ok"], summary["sent"]) == (5, 5, 1)
    assert (summary["new"], summary["removed"], summary["input_changed"]) == (1, 1, True)
    assert all(fake.bots_for_link(link(n)) == 1 for n in (0, 1, 2, 3, 4, 9))
    assert len(fake.bots) == 6
    after = results(out_file)
    assert [r["line"] for r in after] == [2, 3, 4, 5, 6]
    assert [r["row"]["meeting_url"] for r in after] == [link(n) for n in (9, 0, 1, 3, 4)]
    for record in after[1:]:
        assert record["id"] == first_ids[record["row"]["meeting_url"]]

    csv_file(source, "meeting_url,title", [f"{link(9)},New on top", *rows])
    code, out, err = await cli(
        "bulk", "mavera", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 0, err
    assert lines(out)[-1]["sent"] == 0  # the deleted row, put back, kept its bot
    assert fake.bots_for_link(link(2)) == 1 and len(fake.bots) == 6
    assert results(out_file)[3]["id"] == first_ids[link(2)]


async def test_identical_rows_are_told_apart_by_occurrence(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Two identical rows are two meetings; deleting one and putting it back sends
    nothing, and nothing is created twice."""
    source = csv_file(tmp_path / "m.csv", "title", ["Standup", "Retro", "Standup"])
    code, _, err = await cli("bulk", "lyra", str(source), env=env)
    assert code == 0, err
    assert len(fake.lyra_meetings) == 3
    keys = [r["key"] for r in results(tmp_path / "m.results.jsonl")]
    assert keys[0].endswith("-1") and keys[2].endswith("-2") and keys[0][:-2] == keys[2][:-2]
    for edit in (["Standup", "Retro"], ["Retro", "Standup", "Standup"]):
        csv_file(source, "title", edit)
        code, out, err = await cli("bulk", "lyra", str(source), "--json", env=env)
        assert code == 0, err
        assert lines(out)[-1]["sent"] == 0
    assert len(fake.lyra_meetings) == 3


async def test_edited_row_is_not_sent_again_without_send_edited(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Editing a done row (same link, new title) stops with one line naming
    --send-edited; with it, the link gets its second bot on purpose."""
    source = csv_file(tmp_path / "b.csv", "meeting_url,title", [f"{link(1)},Weekly"])
    assert (await cli("bulk", "mavera", str(source), env=env))[0] == 0
    csv_file(source, "meeting_url,title", [f"{link(1)},Weekly sync"])
    code, out, err = await cli("bulk", "mavera", str(source), "--json", env=env)
    assert code == 2
    line = one_error_line(err)
    assert "line 2" in line and link(1) in line and "--send-edited" in line
    assert lines(out)[-1]["error"]["type"] == "InputError"
    assert fake.bots_for_link(link(1)) == 1
    code, _, err = await cli("bulk", "mavera", str(source), "--send-edited", env=env)
    assert code == 0, err
    assert fake.bots_for_link(link(1)) == 2


@pytest.mark.parametrize("parent", ["default", "ignores SIGINT"])
async def test_interrupted_then_edited_run_creates_each_bot_once(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
    parent: str,
) -> None:
    """Ctrl-C mid-run (with requests in flight), edit the file, run again: every row of
    the edited file has exactly one bot, a deleted unsent row none, and the interrupted
    run still printed its JSON summary. Also when the parent ignores SIGINT."""
    count = 30
    rows = [f"{link(n)},Bot {n}" for n in range(count)]
    source = csv_file(tmp_path / "bots.csv", "meeting_url,title", rows)
    out_file = tmp_path / "bots.out.jsonl"
    # The first ten creates are answered; every later one hangs, so three rows are in
    # flight (sent, never answered) when Ctrl-C comes.
    fake.inject("latency", delay=0.0, times=10, route="POST /meetings")
    fake.inject("latency", delay=HANG, route="POST /meetings")
    prefix = 'trap "" INT;' if parent == "ignores SIGINT" else None
    proc = await start(
        "bulk", "mavera", str(source), "--out", str(out_file), "--concurrency", "3", "--json",
        env=env, shell_prefix=prefix,
    )  # fmt: skip
    await until(lambda: len(results(out_file)) == 10 and len(sent_keys(out_file)) == 13)
    out, _ = await interrupt(proc)
    summary = lines(out)[-1]
    assert summary["interrupted"] is True and summary["rows"] == count
    assert summary["ok"] == 10 and summary["not_sent"] == count - 10
    done = results(out_file)
    assert len(done) == 10
    fake.clear_faults()

    done_urls = {r["row"]["meeting_url"] for r in done}
    deleted_done = rows[0]
    assert link(0) in done_urls
    deleted_unsent = rows[-1]  # never sent: the run stopped at row 13
    edited = [
        f"{link(99)},New first row",
        *[r for r in rows if r not in (deleted_done, deleted_unsent)],
    ]
    csv_file(source, "meeting_url,title", edited)
    code, out, err = await cli(
        "bulk", "mavera", str(source), "--out", str(out_file), "--json", env=env
    )
    assert code == 0, err
    final = results(out_file)
    assert len(final) == len(edited) and all(r["ok"] for r in final)
    assert len({r["id"] for r in final}) == len(edited)
    for row in edited:
        assert fake.bots_for_link(row.split(",")[0]) == 1, row
    assert fake.bots_for_link(link(0)) == 1  # deleted after its bot was made: still one
    assert fake.bots_for_link(link(count - 1)) == 0  # deleted before it was sent
    assert len(fake.bots) == len(edited) + 1
    assert not any(e.get("sent") for e in journal(out_file))  # nothing left in flight


# -- rows in flight and rows that may exist -----------------------------------------


async def test_lyra_rows_in_flight_are_settled_by_the_user(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Lyra rows in flight at Ctrl-C become may_exist (never re-sent blindly); the user
    settles them with --mark-done --line and --resend-may-exist; then runs exit 0."""
    source = csv_file(tmp_path / "m.csv", "title", ["First", "Second", "Third"])
    out_file = tmp_path / "m.out.jsonl"
    args = ("bulk", "lyra", str(source), "--out", str(out_file))
    fake.inject("latency", delay=HANG, route="POST /meeting")
    proc = await start(*args, "--concurrency", "2", env=env)
    await until(lambda: len(sent_keys(out_file)) == 2)
    code, _, err = await cli(*args, env=env)  # a second run at the same time
    assert code == 2 and "another lyra-mavera run" in one_error_line(err)
    await interrupt(proc)
    fake.clear_faults()

    code, out, err = await cli(*args, "--json", env=env)
    assert code == 5, err
    summary = lines(out)[-1]
    assert summary["may_exist_lines"] == [2, 3] and summary["ok"] == 1
    assert "--mark-done" in err and "--resend-may-exist" in err
    assert [m["title"] for m in fake.lyra_meetings.values()] == ["Third"]
    code, _, err = await cli(*args, env=env)
    assert code == 5 and len(fake.lyra_meetings) == 1  # still waiting for the user

    code, _, err = await cli(*args, "--mark-done", "--line", "99", env=env)
    assert code == 2 and "no row on line 99" in one_error_line(err)
    code, _, err = await cli(*args, "--mark-done", "--line", "4", env=env)
    assert code == 2 and "line 4: that row is ok" in one_error_line(err)
    code, _, err = await cli(*args, "--mark-done", "--resend-may-exist", env=env)
    assert code == 2 and "contradict" in one_error_line(err)

    code, out, err = await cli(*args, "--mark-done", "--line", "2", "--json", env=env)
    assert code == 5, err
    assert lines(out)[-1]["may_exist_lines"] == [3]
    assert len(fake.lyra_meetings) == 1
    code, out, err = await cli(*args, "--resend-may-exist", "--json", env=env)
    assert code == 0, err
    assert sorted(m["title"] for m in fake.lyra_meetings.values()) == ["Second", "Third"]
    first = results(out_file)[0]
    assert first["ok"] is True and first["settled"] == "marked done with --mark-done"
    code, out, _ = await cli(*args, "--json", env=env)
    assert code == 0 and lines(out)[-1]["sent"] == 0 and len(fake.lyra_meetings) == 2


async def test_dropped_answers_never_double_or_skip(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """When the server creates but the answer is lost (a dropped connection), Mavera
    rows end with exactly one bot each, and Lyra rows become may_exist: never sent
    again, and --mark-done settles them without a second meeting."""
    bots = csv_file(tmp_path / "b.csv", "meeting_url", [link(n) for n in range(20)])
    fake.inject("drop", rate=0.3, route="POST /meetings")
    code, out, err = await cli("bulk", "mavera", str(bots), "--json", env=env)
    assert code == 0, err
    assert fake.faults.counts["drop"] > 0
    assert all(fake.bots_for_link(link(n)) == 1 for n in range(20))
    assert len({r["id"] for r in results(tmp_path / "b.results.jsonl")}) == 20

    meetings = csv_file(tmp_path / "m.csv", "title", [f"Meeting {n}" for n in range(20)])
    fake.clear_faults()
    fake.inject("drop", rate=0.3, route="POST /meeting")
    code, out, err = await cli("bulk", "lyra", str(meetings), "--json", env=env)
    assert code == 5, err
    summary = lines(out)[-1]
    assert summary["may_exist"] > 0 and summary["ok"] + summary["may_exist"] == 20
    assert len(fake.lyra_meetings) == 20  # every request was carried out once
    fake.clear_faults()
    code, out, err = await cli("bulk", "lyra", str(meetings), "--mark-done", "--json", env=env)
    assert code == 0, err
    assert lines(out)[-1]["sent"] == 0 and len(fake.lyra_meetings) == 20


async def _stop_with_one_row_in_flight(server: FakeServer, source: Path, out_file: Path) -> float:
    """Run bulk mavera until its one row is sent (and never answered), then Ctrl-C;
    returns when the row was first sent."""
    server.inject("latency", delay=HANG, route="POST /meetings")
    proc = await start("bulk", "mavera", str(source), "--out", str(out_file), env=settings(server))
    await until(lambda: len(sent_keys(out_file)) == 1)
    await interrupt(proc)
    server.clear_faults()
    (entry,) = [e for e in journal(out_file) if "sent" in e]
    return float(entry["at"])


async def test_row_in_flight_adopts_the_bot_it_made(slow_fake: FakeServer, tmp_path: Path) -> None:
    """A Mavera row whose answer was lost when the run stopped is found on resume and
    adopted, not sent again."""
    url = link(7)
    source = csv_file(tmp_path / "b.csv", "meeting_url,title", [f"{url},Ours"])
    out_file = tmp_path / "b.out.jsonl"
    sent_at = await _stop_with_one_row_in_flight(slow_fake, source, out_file)
    await until(lambda: time.time() >= sent_at + 1.1)  # creation times are whole seconds
    async with slow_fake.session() as s:  # what Mavera did with the lost request
        made = await s.mavera.meetings.create(url, title="Ours")
    code, out, err = await cli(
        "bulk", "mavera", str(source), "--out", str(out_file), "--json",
        env=settings(slow_fake),
    )  # fmt: skip
    assert code == 0, err
    assert lines(out)[-1]["adopted_after_interruption"] == 1
    (record,) = results(out_file)
    assert record["id"] == made.id and record["adopted"] is True
    assert slow_fake.bots_for_link(url) == 1


async def test_row_in_flight_never_adopts_an_older_bot(
    slow_fake: FakeServer, tmp_path: Path
) -> None:
    """A bot made for the same link before the row was first sent is never adopted for
    it: the row is reported may_exist, and --resend-may-exist gives it its own bot."""
    url = link(8)
    async with slow_fake.session() as s:
        older = await s.mavera.meetings.create(url, title="Ours")
    await asyncio.sleep(1.1)  # creation times are whole seconds
    source = csv_file(tmp_path / "b.csv", "meeting_url,title", [f"{url},Ours"])
    out_file = tmp_path / "b.out.jsonl"
    await _stop_with_one_row_in_flight(slow_fake, source, out_file)
    args = ("bulk", "mavera", str(source), "--out", str(out_file), "--json")
    code, _, err = await cli(*args, env=settings(slow_fake))
    assert code == 5, err
    (record,) = results(out_file)
    assert record["ok"] is False and record["may_exist"] is True
    assert older.id in record["error"] and "before this row was first sent" in record["error"]
    assert slow_fake.bots_for_link(url) == 1
    code, _, err = await cli(*args, "--resend-may-exist", env=settings(slow_fake))
    assert code == 0, err
    (record,) = results(out_file)
    assert record["ok"] is True and record["id"] != older.id
    assert slow_fake.bots_for_link(url) == 2


# -- files and folders that cannot be used ------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "extra", "words"),
    [
        ("excel.csv", "title\nRéunion\n".encode("cp1252"), [], ["excel.csv", "--encoding cp1252"]),
        ("m.csv", b"title\nKickoff\n", ["--encoding", "klingon"], ["--encoding 'klingon'"]),
        ("m.csv", b"name,when\nKickoff,\n", [], ["'name'", "title (required), start, attendees"]),
        ("m.csv", b"start\n2030-01-01T10:00:00Z\n", [], ["no 'title' column", "title (required)"]),
        ("m.csv", b"title,title\nA,B\n", [], ["'title' appears twice"]),
        ("m.csv", b"", [], ["m.csv has no rows", "title (required), start, attendees"]),
        ("m.csv", b"title\n\n", [], ["m.csv has no rows"]),
        (
            "m.jsonl",
            b'{"name": "A"}\n{"name": "B"}\n',
            [],
            ["unknown field 'name'", "title (required)"],
        ),
        (
            "m.json",
            b'[\n  {"title": "A"},\n  {"title": "B"}\n]\n',
            [],
            ["m.json is a JSON array", "one JSON object per line", "jq -c"],
        ),
        (
            "m.jsonl",
            b'"A"\n{"title": 1,\n',
            [],
            ["m.jsonl: no line is a lyra row", "each line must be a JSON object"],
        ),
        ("m.csv", b"title\nA\n", ["--out", "@MISSING/out.jsonl"], ["does not exist", "mkdir -p"]),
        ("m.csv", b"title\nA\n", ["--out", "@SOURCE"], ["is the input file"]),
        ("m.csv", b"title\nA\n", ["--out", "@NOTES"], ["notes.txt line 1", "choose another --out"]),
        ("m.csv", b"title\nA\n", ["--line", "2"], ["--line picks rows"]),
    ],
)
async def test_unusable_input_is_one_up_front_line(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
    name: str,
    content: bytes,
    extra: list[str],
    words: list[str],
) -> None:
    """An undecodable file, a wrong header, an empty file, a bad --out: one stderr line
    naming the file and the fix, exit 2, and nothing sent or overwritten."""
    source = tmp_path / name
    source.write_bytes(content)
    notes = tmp_path / "notes.txt"
    notes.write_text("my own notes\n")
    swap = {
        "@MISSING": str(tmp_path / "missing"),
        "@SOURCE": str(source),
        "@NOTES": str(notes),
    }
    extra = [next((a.replace(k, v) for k, v in swap.items() if k in a), a) for a in extra]
    code, out, err = await cli("bulk", "lyra", str(source), *extra, "--json", env=env)
    assert code == 2, err
    line = one_error_line(err)
    for word in words:
        assert word in line
    assert lines(out)[-1]["error"]["message"] in line
    assert not fake.requests_to("POST", "/meeting")
    assert notes.read_text() == "my own notes\n"
    assert source.read_bytes() == content


async def test_excel_files_work_with_encoding_and_semicolons(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """A cp1252 file saved by Excel (semicolon-separated, capitalised header) is read
    with --encoding cp1252 and its text arrives intact."""
    source = tmp_path / "excel.csv"
    source.write_bytes('Title;Attendees\r\nRéunion 3€;"a@b.co; c@d.co"\r\n'.encode("cp1252"))
    code, _, err = await cli("bulk", "lyra", str(source), "--encoding", "cp1252", env=env)
    assert code == 0, err
    (meeting,) = fake.lyra_meetings.values()
    assert meeting["title"] == "Réunion 3€" and meeting["attendees"] == ["a@b.co", "c@d.co"]


async def test_results_of_the_other_provider_are_not_mixed(
    env: dict[str, str],  # noqa: F811
    fake: FakeServer,
    tmp_path: Path,
) -> None:
    """Pointing bulk lyra at a bulk mavera --out fails in one line and sends nothing."""
    bots = csv_file(tmp_path / "b.csv", "meeting_url", [link(1)])
    meetings = csv_file(tmp_path / "m.csv", "title", ["A"])
    out_file = tmp_path / "shared.jsonl"
    assert (await cli("bulk", "mavera", str(bots), "--out", str(out_file), env=env))[0] == 0
    code, _, err = await cli("bulk", "lyra", str(meetings), "--out", str(out_file), env=env)
    assert code == 2 and "bulk mavera" in one_error_line(err)
    assert not fake.lyra_meetings


# -- rate limits ----------------------------------------------------------------------


async def test_rate_limit_pauses_are_explained(tmp_path: Path) -> None:
    """When the key's budget is spent, the run says it is waiting for the rate-limit
    window instead of freezing silently, and still sends each row once."""
    async with FakeServer(rpm=3, window=2.0, time_scale=500) as server:
        source = csv_file(
            tmp_path / "b.csv", "meeting_url,title", [f"{link(n)},Bot {n}" for n in range(7)]
        )
        code, _, err = await cli("bulk", "mavera", str(source), env=settings(server))
        assert code == 0, err
        assert "waiting" in err and "for the key's rate-limit window (3 requests per window)" in err
        assert all(server.bots_for_link(link(n)) == 1 for n in range(7))
