"""Checks for exercises/15_measuring.ipynb: throughput and its ratio to the ideal, from records."""

import math

from ..load import LoadResult, Record, fire
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_sync

DELAY = 0.1  # the real run's view waits this long


def _records(outcomes):
    """Records from a compact description: "ok", "error" (no answer) or an HTTP status."""
    records = []
    for index, outcome in enumerate(outcomes):
        record = Record(index, start=index * 0.01, end=index * 0.01 + DELAY)
        if outcome == "ok":
            record.status = 200
        elif outcome == "error":
            record.error = "ReadTimeout"
        else:
            record.status = outcome
        records.append(record)
    return records


def _made_up_runs():
    """(result, delay) pairs whose right answers differ from every usual wrong one.

    E.g. the first: 10 successes in 2 s = 5 req/s; ideal 4 / 0.5 s = 8 req/s; ratio 0.625
    (a percentage would say 62.5, an upside-down ideal 40 or 2.5).
    """
    all_ok = LoadResult("http://127.0.0.1/a/", 4, _records(["ok"] * 10), elapsed=2.0)
    mixed = LoadResult("http://127.0.0.1/b/", 4, _records(["ok"] * 5 + ["error"] * 2 + [500]),
                       elapsed=1.0)  # fmt: skip
    return [(all_ok, 0.5), (mixed, 0.2)]


def expected(result, delay):
    """The right answer: successful requests per second, and that over C / delay."""
    throughput = sum(record.ok for record in result.records) / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _diagnose(result, delay, throughput, ratio):
    """Name the wrong answer when it is a common one; otherwise say what was expected."""
    right_throughput, right_ratio = expected(result, delay)
    everything = len(result.records) / result.elapsed
    if not _close(throughput, right_throughput):
        if _close(throughput, everything):
            fail(
                "Your throughput counts every request, failed ones too: "
                "count only those whose `record.ok` is true."
            )
        fail(
            f"For {len(result.records)} requests ({sum(r.ok for r in result.records)} "
            f"successful) in {result.elapsed:g} s, throughput should be "
            f"{right_throughput:g} req/s, not {throughput!r}."
        )
    if _close(ratio, right_ratio * 100):
        fail("The ratio is a fraction of the ideal (0.5 for half), not a percentage.")
    if _close(ratio, throughput / (delay / result.concurrency)) or _close(
        ratio, throughput / (result.concurrency * delay)
    ):
        fail(
            "Your ideal is upside down: C requests that each take `delay` seconds finish "
            "C / delay per second."
        )
    if not _close(ratio, right_ratio):
        fail(
            f"At concurrency {result.concurrency} and delay {delay:g} s the ratio should be "
            f"{right_ratio:g}, not {ratio!r}."
        )


def _as_pair(answer):
    if isinstance(answer, dict) or not isinstance(answer, (tuple, list)) or len(answer) != 2:
        fail(f"Return a tuple (throughput, ratio), got {type(answer).__name__}: {answer!r:.80}")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in answer):
        fail(f"Both values must be numbers, got {answer!r:.80}")
    return answer


@exercise(
    "15",
    "throughput_and_ratio",
    hint="Lesson 15 defines both numbers: which requests count towards throughput, over what "
    "time, and what the ideal is for C requests that each wait `delay` seconds.",
)
async def throughput_and_ratio(throughput_and_ratio, site):
    """Check that throughput_and_ratio(result, delay) returns successful requests per second and that figure as a fraction of the ideal C / delay."""
    for result, delay in _made_up_runs():
        answer = _as_pair(call_sync(throughput_and_ratio, result, delay))
        _diagnose(result, delay, *answer)
    real = await fire(f"{site.url}/async/sleep/?delay={DELAY}", n=20, concurrency=10)
    answer = _as_pair(call_sync(throughput_and_ratio, real, DELAY))
    _diagnose(real, DELAY, *answer)
