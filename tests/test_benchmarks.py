"""The benchmark harness: its arithmetic, its refusals, and a tiny end-to-end run (no timing asserted)."""

import asyncio
import math
import os
import shutil
import socket
import time

import pytest

from benchmarks import configs, database, held, loadgen, report, run
from benchmarks.sampler import PeakSampler
from benchmarks.stats import aggregate, aggregate_all, ideal_throughput, percentile, summarize
from tutorial import probe
from tutorial.site import start_site

WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:8000/sleep/?delay=0.1
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   101.20ms    1.10ms 110.00ms   90.00%
  Latency Distribution
     50%  100.90ms
     75%  101.50ms
     90%  102.40ms
     99%  105.70ms
  980 requests in 2.01s, 150.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 10
Requests/sec:    487.56
Transfer/sec:     74.62KB
"""


def outcome(latencies, *, concurrency=10, elapsed=2.0, errors=0, unfinished=0, **window):
    return {
        "concurrency": concurrency,
        "elapsed": elapsed,
        "latencies": latencies,
        "errors": errors,
        "error_kinds": {},
        "unfinished": unfinished,
        **window,
    }


# Locally a missing wrk skips its test with the reason; in CI (.ci/run installs it) it fails.
needs_wrk = pytest.mark.skipif(
    not shutil.which("wrk") and not os.environ.get("CI"),
    reason="wrk is not installed: apt-get install wrk (.ci/run installs it)",
)


# --- pure arithmetic ------------------------------------------------------------------------


def test_ideal_is_concurrency_over_delay():
    assert ideal_throughput(200, 0.1) == pytest.approx(2000)
    assert ideal_throughput(1, 0.5) == pytest.approx(2)


@pytest.mark.parametrize(("concurrency", "delay"), [(0, 0.1), (10, 0), (10, -1), (10, math.nan)])
def test_ideal_refuses_what_has_no_ideal(concurrency, delay):
    with pytest.raises(ValueError):
        ideal_throughput(concurrency, delay)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input


def test_percentile_of_nothing_is_nan_and_bad_ranks_are_refused():
    assert math.isnan(percentile([], 50))
    for bad in (-1, 101):
        with pytest.raises(ValueError):
            percentile([1.0], bad)


def test_summarize_counts_only_successes_and_compares_with_the_ideal():
    result = summarize("x", outcome([0.1] * 90 + [0.3] * 10, errors=5, unfinished=2), delay=0.1)
    assert result.ok == 100
    assert result.throughput == pytest.approx(50.0)  # 100 requests in 2 s
    assert result.ratio == pytest.approx(50.0 / 100.0)  # ideal: 10 / 0.1 s
    assert (result.p50, result.p99) == (0.1, 0.3)
    assert (result.errors, result.unfinished) == (5, 2)


def test_throughput_counts_only_what_ended_within_the_load_window():
    # 100 successes, of which 80 ended within the 1.5 s window; the drain took the run to 2.5 s.
    raw = outcome([0.1] * 100, elapsed=2.5, window=1.5, in_window=80)
    result = summarize("x", raw, delay=0.1)
    assert result.ok == 100
    assert result.throughput == pytest.approx(80 / 1.5)
    assert result.ratio == pytest.approx(80 / 1.5 / 100)


def test_a_request_counts_by_the_share_of_its_time_inside_the_window():
    assert loadgen.window_share(0.0, 1.0, 0.5, 2.0) == pytest.approx(0.5)  # half inside
    assert loadgen.window_share(1.0, 1.5, 0.5, 2.0) == 1.0  # wholly inside
    assert loadgen.window_share(0.0, 4.0, 1.0, 2.0) == pytest.approx(0.25)  # longer than it
    assert loadgen.window_share(2.5, 3.0, 0.5, 2.0) == 0.0  # after it
    # A closed loop of 10 clients, requests of 0.7 s, a 0.5 s window: 10 / 0.7 req/s, not 0 or 20.
    shares = [loadgen.window_share(k * 0.7 + c * 0.07, (k + 1) * 0.7 + c * 0.07, 2.0, 2.5)
              for c in range(10) for k in range(10)]  # fmt: skip
    assert sum(shares) / 0.5 == pytest.approx(10 / 0.7, rel=0.01)


def test_summarize_without_delay_has_no_ratio_and_refuses_zero_elapsed():
    assert summarize("hello", outcome([0.001] * 10)).ratio is None
    with pytest.raises(ValueError):
        summarize("x", outcome([0.1], elapsed=0.0), delay=0.1)


def test_repeats_are_summarised_by_their_median_with_the_spread_and_total_counts():
    runs = [
        summarize("x", outcome([0.1] * n, errors=e), delay=0.1)
        for n, e in ((60, 0), (100, 1), (80, 0))
    ]
    for r, cpu in zip(runs, (0.5, 0.9, 0.7), strict=True):
        r.cpu_ms = cpu
    row = aggregate(runs)
    assert row.repeats == 3
    assert row.throughput == pytest.approx(40.0)  # the median of 30, 50, 40 req/s
    assert row.low_high("throughput") == pytest.approx((30.0, 50.0))
    assert row.cpu_ms == pytest.approx(0.7) and row.low_high("cpu_ms") == pytest.approx((0.5, 0.9))
    assert row.ok == 240 and row.errors == 1  # totals: an error in any run shows
    single = summarize("y", outcome([0.1] * 10), delay=0.1)
    assert aggregate([single]).low_high("ratio") == (single.ratio, single.ratio)


def test_aggregating_refuses_to_mix_configurations_and_keeps_the_order():
    a1, a2 = (summarize("a", outcome([0.1] * 4), delay=0.1) for _ in range(2))
    b = summarize("b", outcome([0.1] * 4), delay=0.1)
    with pytest.raises(ValueError):
        aggregate([a1, b])
    with pytest.raises(ValueError):
        aggregate([])
    assert [(r.config, r.repeats) for r in aggregate_all([a1, b, a2])] == [("a", 2), ("b", 1)]


def test_the_fair_thread_pools_are_sized_for_the_levels_measured():
    pools = {threads * configs.CORES for threads in configs.FAIR_THREADS}
    assert max(pools) >= max(configs.LEVELS) and min(pools) >= 200  # workers × threads ≥ C
    names = [c.name for c in configs.CONFIGURATIONS]
    for threads in (configs.GTHREAD_THREADS, *configs.FAIR_THREADS):
        assert f"django sync (gunicorn gthread {configs.CORES}×{threads})" in names
    blocking = next(c for c in configs.CONFIGURATIONS if c.own_levels)
    assert blocking.levels([1, 50, 200, 1000]) == list(blocking.own_levels)
    capped = next(c for c in configs.CONFIGURATIONS if c.max_concurrency)
    assert capped.levels([1, 50, 200, 1000]) == [
        c for c in (1, 50, 200, 1000) if c <= capped.max_concurrency
    ]


def test_wrk_output_is_parsed_into_the_same_outcome():
    parsed = loadgen.parse_wrk(WRK_OUTPUT, 50)
    assert parsed["ok"] == 970 and parsed["errors"] == 15
    assert parsed["percentiles"][50] == pytest.approx(0.1009)
    assert parsed["percentiles"][99] == pytest.approx(0.1057)
    assert parsed["elapsed"] == pytest.approx(2.01)
    result = summarize("wrk", parsed, delay=0.1)
    assert result.ratio == pytest.approx(970 / 2.01 / 500)


def test_wrk_with_nothing_answered_has_no_latencies_rather_than_zero():
    nothing = (
        WRK_OUTPUT.replace("980 requests in", "0 requests in")
        .replace("100.90ms", "0.00us")
        .replace("  Non-2xx or 3xx responses: 10\n", "")
    )
    result = summarize("wrk", loadgen.parse_wrk(nothing, 50), delay=0.1)
    assert result.ok == 0 and result.throughput == 0
    assert math.isnan(result.p50) and math.isnan(result.p99)


def test_merging_processes_adds_counts_and_keeps_the_longest_elapsed():
    merged = loadgen.merge(
        [
            outcome([0.1] * 3, concurrency=5, elapsed=1.0, errors=1, in_window=3),
            outcome([0.2] * 2, concurrency=5, elapsed=1.5, unfinished=1, in_window=1),
        ]
    )
    assert merged["concurrency"] == 10 and merged["elapsed"] == 1.5
    assert merged["in_window"] == 4
    assert sorted(merged["latencies"]) == [0.1, 0.1, 0.1, 0.2, 0.2]
    assert (merged["errors"], merged["unfinished"], merged["processes"]) == (1, 1, 2)


def test_request_budget_follows_the_ideal_and_stays_under_the_cap():
    assert run.request_budget(50, 0.1, 2.0) == math.ceil(1.5 * 500 * 2.0) + 50
    assert run.request_budget(5000, 0.001, 60) == loadgen.MAX_REQUESTS


def test_markdown_report_has_the_machine_the_ratio_and_a_reason_below_half():
    results = [
        summarize("slow", outcome([0.1] * 10), delay=0.1),  # 5 req/s of 100: 0.05
        summarize("hello: starlette", outcome([0.001] * 100)),
        summarize("by wrk", loadgen.parse_wrk(WRK_OUTPUT, 50), delay=0.1),
    ]
    text = report.markdown(
        results,
        info=report.machine(),
        generator="asyncio",
        ceiling=1234.0,
        delay=0.1,
        whys={"slow": "because it is slow"},
    )
    assert "cores" in text and "django" in text and "1234 req/s" in text
    assert "| slow | 10 | — | 0.05 | 5 | 100 |" in text  # CPU ms/req first: none measured here
    assert "| by wrk | 50 | — | 0.97 | 483 | 500 | 101 | 106 | 15 | n/a |" in text  # wrk: unknown
    assert "**slow**: because it is slow" in text
    assert "Trivial views" in text
    repeated = aggregate([summarize("twice", outcome([0.1] * n), delay=0.1) for n in (10, 30)])
    info = {**report.machine(), "note": "shared with other work"}
    text = report.markdown([repeated], info=info, generator="asyncio", ceiling=None, delay=0.1)
    assert "| twice | 10 | — | 0.10 (0.05–0.15) | 10 (5–15) |" in text  # median (lowest–highest)
    assert "**shared with other work**" in text and "median of 2 runs" in text


# --- bounded, local only --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("http://example.com/", {}),
        ("http://10.0.0.1/", {}),
        ("http://127.0.0.1:1/", {"concurrency": 0}),
        ("http://127.0.0.1:1/", {"concurrency": loadgen.MAX_CONCURRENCY + 1}),
        ("http://127.0.0.1:1/", {"duration": 0}),
        ("http://127.0.0.1:1/", {"duration": loadgen.MAX_DURATION + 1}),
        ("http://127.0.0.1:1/", {"max_requests": 0}),
    ],
)
def test_load_must_be_local_and_bounded(url, kwargs):
    bounds = {"concurrency": 1, "duration": 1.0, "max_requests": 10, **kwargs}
    with pytest.raises(ValueError):
        loadgen.validate(url, **bounds)


def test_unknown_generator_and_missing_wrk_are_clear(monkeypatch):
    with pytest.raises(ValueError, match="unknown generator"):
        loadgen.choose("ab")
    monkeypatch.setattr(loadgen.shutil, "which", lambda name: None)
    assert loadgen.choose("auto")[0] == "asyncio"
    with pytest.raises(loadgen.GeneratorMissing, match="apt-get install wrk"):
        loadgen.choose("wrk")


def test_nothing_listening_gives_connect_errors_not_a_crash():
    # Port 1 on 127.0.0.1: nothing listens there, so every connection is refused.
    raw = asyncio.run(
        loadgen.drive("http://127.0.0.1:1/", concurrency=2, duration=0.2, max_requests=4)
    )
    assert raw["latencies"] == [] and raw["errors"] >= 2 and raw["unfinished"] == 0


def test_unknown_configuration_names_the_known_ones():
    with pytest.raises(ValueError, match="django async"):
        configs.select(["no such thing"])
    quick = configs.select(quick=True)
    assert [c.name for c in quick] == list(configs.QUICK)


# --- against real servers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def peer():
    """The starlette peer, started through start_site once for the tests below (a start is
    ~0.45 s CPU): each sends its own requests and reads only their answers."""
    with start_site("uvicorn", app=configs.PEER_APP) as site:
        yield site


def test_the_starlette_peer_starts_through_start_site_and_answers(peer):
    raw = asyncio.run(
        loadgen.drive(peer.url + "/sleep/?delay=0.01", concurrency=3, duration=0.3, max_requests=9)
    )
    bad = asyncio.run(
        loadgen.drive(peer.url + "/sleep/?delay=nope", concurrency=1, duration=0.2, max_requests=1)
    )
    assert len(raw["latencies"]) == 9 and raw["errors"] == 0
    assert bad["error_kinds"] == {"HTTP 400": 1}


@needs_wrk
def test_wrk_drives_a_real_server_within_its_budget_and_its_report_is_read(peer):
    url = peer.url + "/sleep/?delay=0.01"
    capped = loadgen.run_wrk(url, concurrency=4, duration=1, max_requests=20)
    free = loadgen.run_wrk(url, concurrency=4, duration=1, max_requests=100_000)
    bad = loadgen.run_wrk(
        peer.url + "/sleep/?delay=nope", concurrency=1, duration=1, max_requests=100
    )
    # wrk stops the thread at its 20th answer; answers it had already read in the same pass of
    # its event loop (at most one per other connection) still count: 23 was seen under load.
    assert 20 <= capped["ok"] <= 20 + 3 and capped["budget_reached"] and capped["errors"] == 0
    assert free["ok"] > 20 and not free["budget_reached"] and free["errors"] == 0
    assert 0 < free["percentiles"][50] <= free["percentiles"][99]
    result = summarize("wrk", free, delay=0.01)
    assert result.ok == free["ok"] and result.unfinished is None  # wrk cannot tell
    assert bad["ok"] == 0 and bad["error_kinds"]["non-2xx"] == bad["errors"] > 0


def test_after_wrk_a_server_that_does_not_answer_a_probe_is_restarted(peer):
    class Site:
        def __init__(self, url):
            self.url = url

    counted = summarize("asyncio", outcome([0.1]), delay=0.1)
    by_wrk = summarize("wrk", loadgen.parse_wrk(WRK_OUTPUT, 50), delay=0.1)
    with socket.socket() as busy:  # listens, never answers: a server deep in queued requests
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stuck = Site(f"http://127.0.0.1:{busy.getsockname()[1]}")
        assert not run.answers_promptly(stuck, by_wrk, timeout=0.3)
        assert run.answers_promptly(stuck, counted)  # a generator that counts needs no probe
    assert run.answers_promptly(peer, by_wrk)  # a server that is free answers the probe


def test_sampler_lists_the_tree_at_both_ends_and_a_few_times_a_second_between():
    listed = []

    def pids():
        listed.append(time.monotonic())
        return [os.getpid()]

    with PeakSampler(pids, interval=0.01) as peak:
        time.sleep(0.5)  # ~50 samples
        ended = time.monotonic()
    assert peak.samples >= 20 and peak.threads >= 1
    assert 2 <= len(listed) <= 2 + 0.5 / probe.PIDS_EVERY + 1  # not once per sample
    assert listed[-1] >= ended  # the sample at exit lists the tree again


def test_sampler_sees_the_servers_threads_memory_and_cpu(peer):
    with PeakSampler(peer.pids) as peak:
        # Enough requests to use well over the 10 ms resolution of the kernel's CPU clock.
        asyncio.run(
            loadgen.drive(peer.url + "/hello/", concurrency=4, duration=1.0, max_requests=2000)
        )
    assert peak.threads >= 2 and peak.rss > 10 * 2**20 and peak.cpu > 0 and peak.samples >= 2


def test_tiny_run_writes_a_report_and_leaves_no_server(tmp_path, capsys):
    before = {p.pid for p in run.live_children()}  # this process's own, e.g. PostgreSQL
    names = ["starlette async (uvicorn)", "django async (uvicorn)"]
    results, failures = run.main(
        [
            "--configs",
            *names,
            "--levels",
            "2",
            "--duration",
            "0.3",
            "--max-requests",
            "6",
            "--no-hops",
            "--no-ceiling",
            "--generator",
            "asyncio",  # wrk has no request budget: this run counts its requests
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-held",
            "--no-database",
            "--output",
            str(tmp_path),
        ]
    )
    assert failures == []
    assert [(r.config, r.concurrency, r.ok, r.repeats) for r in results] == [
        (n, 2, 6, 1) for n in names
    ]
    assert all(r.ratio is not None and r.peak_threads > 0 for r in results)
    text = (tmp_path / "full.md").read_text()
    assert all(name in text for name in names)
    assert (tmp_path / "full.png").stat().st_size > 10_000
    assert "No server left behind." in capsys.readouterr().out
    assert not run.leftover_servers(before)


def test_a_failing_server_and_a_missing_generator_are_one_line_each(tmp_path, monkeypatch, capsys):
    before = {p.pid for p in run.live_children()}  # this process's own, e.g. PostgreSQL
    broken = configs.Configuration(
        "broken", "uvicorn", "/", "never starts",
        site={"app": "benchmarks.no_such_module:app", "timeout": 5},
    )  # fmt: skip
    monkeypatch.setattr(configs, "CONFIGURATIONS", (broken, *configs.CONFIGURATIONS))
    monkeypatch.setattr(loadgen.shutil, "which", lambda name: None)  # no wrk here
    argv = ["--configs", "broken", "starlette async (uvicorn)", "--generator", "wrk",
            "--levels", "1", "--duration", "0.2", "--max-requests", "2", "--no-hops",
            "--no-ceiling", "--no-held", "--no-database", "--repeats", "2", "--warmup", "0",
            "--output", str(tmp_path)]  # fmt: skip
    results, failures = run.main(argv)
    assert len(failures) == 2  # the broken one is not tried again in the second round
    assert "wrk is not installed" in failures[0]
    assert failures[1].startswith("broken: SiteFailedToStart")
    assert "Load generator: asyncio (wrk is not installed" in capsys.readouterr().out
    assert [(r.config, r.repeats) for r in results] == [("starlette async (uvicorn)", 2)]
    assert "broken: SiteFailedToStart" in (tmp_path / "full.md").read_text()
    assert not run.leftover_servers(before)


def test_an_unknown_configuration_stops_before_anything_starts(capsys):
    with pytest.raises(SystemExit, match="unknown configuration"):
        run.main(["--configs", "no such thing", "--output", "/nonexistent"])


# --- long-lived connections -----------------------------------------------------------------


def test_streams_that_never_get_an_event_are_not_counted_as_served():
    with socket.socket() as silent:  # accepts connections, never answers: a full thread pool
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/stream/"
        served, errors, seconds, seen = asyncio.run(
            held.hold(url, 3, settle=0.3, timeout=5, while_held=lambda: asyncio.sleep(0, "held"))
        )
    assert (served, errors, seen) == (0, 0, "held") and math.isnan(seconds)


def test_held_streams_are_counted_and_refused_beyond_bounds():
    with pytest.raises(ValueError):
        asyncio.run(held.hold("http://127.0.0.1:1/", held.MAX_HELD + 1))
    with pytest.raises(ValueError):
        asyncio.run(held.hold("http://example.com/", 1))
    peer = next(c for c in held.CONFIGURATIONS if "starlette" in c.name)
    result = held.measure(peer, 5, settle=1.0)
    assert (result.held, result.served, result.connect_errors) == (5, 5, 0)
    assert result.threads == result.idle_threads  # coroutines, not threads
    assert result.probe_ms is not None
    text = held.markdown([result], settle=1.0)
    assert "| starlette async (uvicorn) | sse | 5 | 5 |" in text and "0.00" in text


def test_the_held_table_names_the_pool_a_sync_server_has():
    pool = next(c for c in held.CONFIGURATIONS if c.threads())
    assert pool.threads() == configs.CORES * configs.FAIR_THREADS[0]
    assert "/stream/sync/" in pool.path  # a sync generator: under WSGI an async one is buffered


# --- a database in the loop ------------------------------------------------------------------


def tiny_options():
    options = run._args(["--duration", "0.3", "--warmup", "0", "--max-requests", "8"])
    options.timeout, options.grace = 10.0, 3.0
    return options


def test_the_database_section_counts_the_connections_postgres_saw():
    before = {p.pid for p in run.live_children()}  # this process's own, e.g. PostgreSQL
    pooled = next(
        c for c in database.CONFIGURATIONS if c.name == "db: django async, pool (uvicorn)"
    )
    failures = []
    runs = database.run([pooled], [4], repeats=1, options=tiny_options(),
                        generator=loadgen.run_inline, failures=failures)  # fmt: skip
    assert failures == [] and [r.ok for r in runs] == [8]
    assert 1 <= runs[0].db_connections <= 4  # psycopg's pool: 4 connections per process at most
    text = database.markdown(runs, delay=0.1, whys={pooled.name: "why"})
    assert f"| {pooled.name} | 4 |" in text and "**db: django async, pool (uvicorn)**: why" in text
    assert not run.leftover_servers(before)


def test_without_postgresql_the_database_section_is_one_line(monkeypatch, capsys):
    def unavailable():
        raise RuntimeError("no PostgreSQL server binaries on this machine")

    monkeypatch.setattr(database, "start_postgres", unavailable)
    failures = []
    runs = database.run(database.CONFIGURATIONS, [4], repeats=1, options=tiny_options(),
                        generator=loadgen.run_inline, failures=failures)  # fmt: skip
    assert runs == [] and len(failures) == 1
    assert failures[0].startswith("database in the loop: PostgreSQL not available: RuntimeError")
    assert "✗ database in the loop" in capsys.readouterr().out


def test_another_kind_of_held_connection_can_join_the_table(monkeypatch):
    async def open_nothing(url, first_event, *, timeout):
        first_event.set()

    extra = held.HeldConfiguration("websocket thing", "uvicorn", "/ws/", kind="websocket")
    monkeypatch.setattr(held, "OPENERS", dict(held.OPENERS))
    monkeypatch.setattr(held, "CONFIGURATIONS", held.CONFIGURATIONS)
    monkeypatch.setattr(held, "QUICK", held.QUICK)
    monkeypatch.setattr(held, "FULL", held.FULL)
    held.register("websocket", open_nothing, [extra], quick=[extra.name])
    assert held.OPENERS["websocket"] is open_nothing
    assert extra in held.select(quick=True) and extra in held.select()
