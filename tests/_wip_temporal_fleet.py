"""Work in progress for issue 17, not collected by pytest (the name does not start with
``test_``): the Temporal fleet test -- 48 bots, 3 worker processes, one SIGKILLed,
stale answers, 503s, dropped creates, double starts. Its last run ended with 46 of 48
hooks written inside its guard; finish it (find the two missing bots in the worker
logs) and move it into tests/test_temporal.py once it passes three runs in a row."""
# ruff: noqa
# -- a fleet of worker processes -------------------------------------------------------

FLEET_BOTS = 48
RPS = 20.0  # the fleet's activity rate: 40 per 2 s window, under the key's 100


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.temporal_worker"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=os.path.dirname(os.path.dirname(__file__)),
        )


def _lines(path: Path) -> list[Any]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def _until(what: str, done: Any, started: float, logs: list[Path]) -> None:
    while not done():
        if time.monotonic() - started > HANG_GUARD:
            tails = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            pytest.fail(f"hung waiting for {what}\n{tails}")
        await asyncio.sleep(0.05)


async def test_fleet_survives_a_killed_worker(env: WorkflowEnvironment, tmp_path: Path) -> None:
    """48 bots on 3 worker processes, one SIGKILLed mid-run, with stale answers, 503s,
    dropped creates and a per-key limit; some workflows started twice: no bot lost, no
    bot created twice, each hook once (but for the killed worker's hook), outcomes as
    the server says, and no 429."""
    started = time.monotonic()
    client, queue = env.client, _queue()
    hooks, ready = tmp_path / "hooks.jsonl", tmp_path / "ready"
    policy = lm.PollPolicy(time_scale=SCALE)
    async with FakeServer(rpm=100, window=2.0, time_scale=SCALE, seed=3) as fake:
        fleet_key = fake.add_key("mavera", rpm=100, window=2.0)
        links = [f"https://zoom.us/j/8700000{i:02d}" for i in range(FLEET_BOTS)]
        for i, link in enumerate(links):
            if i % 6 == 1:
                fake.script(link, fatal_at="in_waiting_room")
            elif i % 6 == 2:
                fake.script(link, stuck_in_waiting_room=True)
        fake.inject("stale", 0.2, route="GET /meetings/{id}")
        fake.inject("status", 0.05, status=503, route="GET /meetings/{id}")
        fake.inject("drop", 0.2, route="POST /meetings")
        env_vars = {
            "LM_TEMPORAL": client.service_client.config.target_host,
            "LM_QUEUE": queue,
            "LM_RPS": str(RPS),
            "LM_HOOK_LOG": str(hooks),
            "LM_READY": str(ready),
            "MAVERA_API_KEY": fleet_key,
            "MAVERA_BASE_URL": fake.mavera_base_url,
        }
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        workers = [_start_worker(env_vars, log) for log in logs]
        killed: int | None = None
        try:
            await _until("the workers", lambda: len(_lines(ready)) == 3, started, logs)
            handles = []
            for i, link in enumerate(links):
                timeout = 8.0 if i % 6 == 2 else None  # the stuck ones end in timeout
                request = lm.mavera.BotRequest(link)
                for _ in range(2 if i % 4 == 0 else 1):  # some started twice
                    handles.append(
                        await temporal.create_bot(
                            client,
                            f"fleet-{i}",
                            request,
                            task_queue=queue,
                            poll=policy,
                            timeout=timeout,
                            hook="record_final",
                            activity_timeout=8.0,
                        )
                    )
            await _until("a few finals", lambda: len(_lines(hooks)) >= 5, started, logs)
            workers[0].send_signal(signal.SIGKILL)  # no polite shutdown
            killed = workers[0].pid
            async with asyncio.timeout(HANG_GUARD - (time.monotonic() - started)):
                created = [await h.result() for h in handles]
                ids = {c["meeting"]["id"] for c in created}
                assert len(ids) == FLEET_BOTS
                twice = await temporal.follow(client, next(iter(ids)), task_queue=queue)
                results = [
                    await client.get_workflow_handle(temporal.follow_id(i)).result() for i in ids
                ]
                assert (await twice.result())["meeting_id"] == next(iter(ids))
            await _until(
                "every hook",
                lambda: len({f[0] for f in _lines(hooks)}) == FLEET_BOTS,
                started,
                logs,
            )
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGINT)
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        now = fake.clock.now()
        truth = {bot.id: bot.status(now) for bot in fake.bots}
        duplicates = [link for link in links if fake.bots_for_link(link) != 1]
        counters, faults = fake.counters.copy(), fake.faults.counts.copy()
    finals = _lines(hooks)
    outcomes = collections.Counter(r["outcome"] for r in results)
    print(
        f"\ntemporal fleet: {FLEET_BOTS} bots, 3 workers (one killed), outcomes {dict(outcomes)}, "
        f"polls {counters['GET /meetings/{id}']}, creates {counters['POST /meetings']}, "
        f"dropped creates {faults['drop']}, stale {faults['stale']}, 429s {counters['rate_limited']}, "
        f"hooks {len(finals)}, {time.monotonic() - started:.1f}s"
    )
    assert duplicates == []
    assert set(truth) == {r["meeting_id"] for r in results}
    for r in results:
        want = {"done": "done", "fatal": "failed", "in_waiting_room": "timeout"}[
            truth[r["meeting_id"]]
        ]
        assert r["outcome"] == want, r
    per_bot = collections.Counter(f[0] for f in finals)
    for meeting_id, count in per_bot.items():
        if count > 1:  # the documented case: the hook was running on the killed worker
            pids = [f[3] for f in finals if f[0] == meeting_id]
            assert count == 2 and killed in pids, (meeting_id, pids)
    assert counters["rate_limited"] == 0
    assert faults["drop"] >= 1 and faults["stale"] >= 1
