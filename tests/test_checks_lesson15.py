"""The lesson 15 checks accept the right method and name each usual wrong one, shortcuts included.

The checks make up fresh inputs on every call, so each wrong answer below is tried against
several random runs (REPEAT) and must fail every time.
"""

import asyncio
import math

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson15 as checks
from tutorial.site import start_site

REPEAT = 5


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def failure(check, answer, *args):
    with pytest.raises(ExerciseFailed) as caught:
        result = check(answer, *args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return caught.value


def assert_refused(check, answer, *args, kind="wrong", phrase=""):
    for _ in range(REPEAT if not args else 1):
        error = failure(check, answer, *args)
        assert error.kind == kind, error.hint
        assert phrase in error.hint
        if kind == "wrong":
            assert "Hint" in error.hint or "worked answer" in error.hint
        assert len(error.hint.splitlines()) <= 5


# --- 1. throughput and ratio: the right answer is what the solution notebook does -----------


def throughput_and_ratio(result, delay):
    successes = sum(record.ok for record in result.records)
    throughput = successes / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


def test_the_right_throughput_passes(site, capsys):
    asyncio.run(checks.throughput_and_ratio(throughput_and_ratio, site))
    assert "✓" in capsys.readouterr().out


def test_the_made_up_runs_change_from_call_to_call():
    first, second = checks._made_up_runs(), checks._made_up_runs()
    assert [(len(r.records), r.elapsed, d) for r, d in first] != [
        (len(r.records), r.elapsed, d) for r, d in second
    ]


def test_no_made_up_run_lets_two_wrong_ratios_look_alike():
    # Each wrong ratio gets its own hint, so no draw may make two of them (or one and the right
    # one) equal: an upside-down ideal equals the percentage when C / delay is 10.
    for _ in range(200):
        for result, delay in checks._made_up_runs():
            throughput, right = checks._right(result, delay)
            ratios = [
                right,
                right * 100,
                throughput / (delay / result.concurrency),
                throughput / (result.concurrency * delay),
            ]
            for i, a in enumerate(ratios):
                assert not any(checks._close(a, b) for b in ratios[i + 1 :]), (result, delay)


def test_untouched_throughput_fails_with_not_started(site):
    def untouched(result, delay):
        raise NotImplementedError

    assert failure(checks.throughput_and_ratio, untouched, site).kind == "not_started"


def counts_failures_too(result, delay):
    throughput = len(result.records) / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


def percentage(result, delay):
    throughput, ratio = throughput_and_ratio(result, delay)
    return throughput, 100 * ratio


def upside_down_ideal(result, delay):
    throughput, _ = throughput_and_ratio(result, delay)
    return throughput, throughput / (delay / result.concurrency)


def ideal_times(result, delay):
    throughput, _ = throughput_and_ratio(result, delay)
    return throughput, throughput / (result.concurrency * delay)


def from_latencies(result, delay):
    durations = [r.duration for r in result.records if r.ok]
    throughput = len(durations) / sum(durations)  # one client's rate, not the server's
    return throughput, throughput / (result.concurrency / delay)


def a_dict(result, delay):
    throughput, ratio = throughput_and_ratio(result, delay)
    return {"throughput": throughput, "ratio": ratio}


def ready_made(result, delay):  # the shortcut: LoadResult already has the figure
    return result.throughput, result.throughput / (result.concurrency / delay)


def all_but_the_ready_made_errors(result, delay):  # the shortcut: LoadResult counts errors too
    throughput = (len(result.records) - result.errors) / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (counts_failures_too, "record.ok"),
        (percentage, "not a percentage"),
        (upside_down_ideal, "upside down"),
        (ideal_times, "upside down"),
        (from_latencies, "throughput should be"),
        (a_dict, "Return a tuple"),
        (ready_made, "ready-made"),
        (all_but_the_ready_made_errors, "ready-made"),
    ],
)
def test_each_wrong_throughput_is_named(answer, phrase, site):
    assert_refused(checks.throughput_and_ratio, answer, site, phrase=phrase)


def test_async_def_throughput_is_refused(site):
    async def throughput_and_ratio(result, delay):
        return 1.0, 1.0

    assert failure(checks.throughput_and_ratio, throughput_and_ratio, site).kind == "not_sync"


def test_a_crash_shows_the_learners_line(site):
    def throughput_and_ratio(result, delay):
        return result.throughput_of_everything, 0.0

    error = failure(checks.throughput_and_ratio, throughput_and_ratio, site)
    assert error.kind == "exception" and "AttributeError" in error.hint


# --- 2. the bottleneck: the method the lesson teaches ----------------------------------------


def bottleneck(rows, facts):
    top = max(rows, key=lambda r: r.concurrency)
    if top.ratio >= 0.8:
        return "none"
    if top.throughput <= 1.2 / facts["delay"]:
        return "loop"
    pool = facts["threads"]
    if pool and pool < top.concurrency and top.throughput >= 0.8 * pool / facts["delay"]:
        return "threads"
    if top.throughput * top.cpu_ms / 1000 >= 0.75 * facts["processes"]:
        return "cpu"
    return "unknown"


def test_the_right_bottleneck_passes_every_time(capsys):
    for _ in range(20):
        checks.bottleneck(bottleneck)
    assert capsys.readouterr().out.count("✓") == 20


def test_each_bottleneck_appears_with_a_decoy_pool_and_the_top_level_hidden_in_the_middle():
    for _ in range(20):
        for lowest_first in (True, False):
            rows, facts = checks._made_up_bottleneck("cpu", decoy=True, lowest_first=lowest_first)
            top = max(rows, key=lambda r: r.concurrency)
            # A pool smaller than C that is not the limit: it would allow twice the req/s.
            assert facts["threads"] < top.concurrency
            assert facts["threads"] / facts["delay"] >= 2 * top.throughput
            assert rows[0] is not top and rows[-1] is not top
            assert (rows[0] if lowest_first else rows[-1]).concurrency == 1


def reads_the_first_row(rows, facts):
    return bottleneck(rows[:1] * 2, facts)


def reads_the_last_row(rows, facts):
    return bottleneck(rows[-1:], facts)


def pool_means_threads(rows, facts):  # the shortcut: judge by the configuration, not the figures
    answer = bottleneck(rows, facts)
    return "threads" if facts["threads"] and answer == "cpu" else answer


def a_pool_below_c_means_threads(rows, facts):  # the shortcut: the pool's size, not its req/s
    top = max(rows, key=lambda r: r.concurrency)
    pool = facts["threads"]
    if (
        top.ratio < 0.8
        and top.throughput > 1.2 / facts["delay"]
        and pool
        and pool < top.concurrency
    ):
        return "threads"
    return bottleneck(rows, facts)


def few_threads_means_loop(rows, facts):  # the shortcut: judge by the thread count, not req/s
    top = max(rows, key=lambda r: r.concurrency)
    return "loop" if top.ratio < 0.8 and top.peak_threads <= 4 else bottleneck(rows, facts)


def always_cpu(rows, facts):
    return "cpu"


def a_description(rows, facts):
    return "the CPU is the limit"


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (reads_the_first_row, ""),
        (reads_the_last_row, ""),
        (pool_means_threads, "CPU"),
        (few_threads_means_loop, "not the thread count"),
        (a_pool_below_c_means_threads, "holds it back first"),
        (always_cpu, ""),
        (a_description, "Return one of"),
    ],
)
def test_each_wrong_bottleneck_is_refused(answer, phrase):
    assert_refused(checks.bottleneck, answer, phrase=phrase)


def test_reading_the_lowest_level_is_named():
    def lowest(rows, facts):
        return bottleneck([min(rows, key=lambda r: r.concurrency)], facts)

    hints = []
    for _ in range(REPEAT):
        hints.append(failure(checks.bottleneck, lowest).hint)
    assert any("largest concurrency" in h for h in hints)


def test_learner_mistakes_in_bottleneck():
    def untouched(rows, facts):
        raise NotImplementedError

    async def as_async(rows, facts):
        return "cpu"

    def crashes(rows, facts):
        return rows["C=1000"]

    assert failure(checks.bottleneck, untouched).kind == "not_started"
    assert failure(checks.bottleneck, as_async).kind == "not_sync"
    assert failure(checks.bottleneck, crashes).kind == "exception"


# --- 3. sizing a pool ------------------------------------------------------------------------


def size_pool(row, facts, concurrency):
    needed = concurrency / facts["delay"] * row.cpu_ms / 1000
    if needed > facts["cores"]:
        return None
    workers = max(1, math.ceil(needed))
    return workers, math.ceil(concurrency / workers)


def test_the_right_size_passes_every_time(capsys):
    for _ in range(20):
        checks.size_pool(size_pool)
    assert capsys.readouterr().out.count("✓") == 20


def gunicorns_rule(row, facts, concurrency):  # the shortcut: a rule of thumb, no measurement
    workers = 2 * facts["cores"] + 1
    return workers, math.ceil(concurrency / workers)


def every_core(row, facts, concurrency):
    return size_pool(row, facts, concurrency) and (
        facts["cores"],
        math.ceil(concurrency / facts["cores"]),
    )


def threads_equal_c(row, facts, concurrency):
    answer = size_pool(row, facts, concurrency)
    return answer and (answer[0], concurrency)


def never_none(row, facts, concurrency):
    needed = concurrency / facts["delay"] * row.cpu_ms / 1000
    workers = min(facts["cores"], max(1, math.ceil(needed)))
    return workers, math.ceil(concurrency / workers)


def a_number_from_the_lesson(row, facts, concurrency):  # typed in, not read from the row
    fixed = type(row)(**{**row.__dict__, "cpu_ms": 0.63})
    return size_pool(fixed, facts, concurrency)


def from_measured_throughput(row, facts, concurrency):  # the rate measured, not the rate needed
    needed = row.throughput * row.cpu_ms / 1000
    workers = max(1, math.ceil(needed))
    return workers, math.ceil(concurrency / workers)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (gunicorns_rule, "2 × cores + 1"),
        (every_core, ""),
        (threads_equal_c, "more than needed"),
        (never_none, "no pool serves it"),
        (a_number_from_the_lesson, ""),
        (from_measured_throughput, ""),
    ],
)
def test_each_wrong_size_is_refused(answer, phrase):
    assert_refused(checks.size_pool, answer, phrase=phrase)


def test_learner_mistakes_in_size_pool():
    def untouched(row, facts, concurrency):
        raise NotImplementedError

    async def as_async(row, facts, concurrency):
        return 1, concurrency

    def a_string(row, facts, concurrency):
        return "2 workers × 100 threads"

    assert failure(checks.size_pool, untouched).kind == "not_started"
    assert failure(checks.size_pool, as_async).kind == "not_sync"
    assert "Return (workers" in failure(checks.size_pool, a_string).hint


def test_no_answer_is_importable_from_the_checks():
    public = [name for name in vars(checks) if not name.startswith("_")]
    for name in public:
        value = getattr(checks, name)
        assert not (callable(value) and name in {"expected", "answer", "solve", "solution"})
