"""The lesson 15 check accepts the right arithmetic and names each usual wrong one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson15 as checks
from tutorial.site import start_site


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def run(answer, site):
    asyncio.run(checks.throughput_and_ratio(answer, site))


def failure(answer, site):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer, site)
    return caught.value


# The right answer: what the solution notebook does.


def throughput_and_ratio(result, delay):
    successes = sum(record.ok for record in result.records)
    throughput = successes / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


def test_the_right_answer_passes(site, capsys):
    run(throughput_and_ratio, site)
    assert "✓" in capsys.readouterr().out


def test_the_check_knows_the_answers_it_expects():
    for result, delay in checks._made_up_runs():
        assert checks.expected(result, delay) == pytest.approx(throughput_and_ratio(result, delay))


def test_untouched_exercise_fails_with_not_started(site):
    def untouched(result, delay):
        raise NotImplementedError

    assert failure(untouched, site).kind == "not_started"


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


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (counts_failures_too, "record.ok"),
        (percentage, "not a percentage"),
        (upside_down_ideal, "upside down"),
        (ideal_times, "upside down"),
        (from_latencies, "throughput should be"),
        (a_dict, "Return a tuple"),
    ],
)
def test_each_wrong_answer_is_named(answer, phrase, site):
    error = failure(answer, site)
    assert error.kind == "wrong"
    assert phrase in error.hint
    assert "Hint:" in error.hint


def test_async_def_is_refused(site):
    async def throughput_and_ratio(result, delay):
        return 1.0, 1.0

    assert failure(throughput_and_ratio, site).kind == "not_sync"


def test_a_crash_shows_the_learners_line(site):
    def throughput_and_ratio(result, delay):
        return result.throughput_of_everything, 0.0

    error = failure(throughput_and_ratio, site)
    assert error.kind == "exception" and "AttributeError" in error.hint
