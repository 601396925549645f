"""Checks for exercises/15_measuring.ipynb: the arithmetic of a run, its bottleneck, a pool's size.

Every input is made up afresh for each check (random delays, levels, pools and CPU costs), so an
answer typed in from an earlier run, or read off a configuration's name, does not pass.
"""

import math
import random
from dataclasses import dataclass

from ..load import LoadResult, Record, fire
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_sync

DELAY = 0.1  # the real run's view waits this long
_random = random.SystemRandom()  # not seedable from a notebook: the cases cannot be replayed


# --- 1. throughput and its ratio to the ideal -----------------------------------------------


class _WatchedResult(LoadResult):
    """A LoadResult that notices when its ready-made figures (throughput, or the count of
    errors to subtract) are read instead of counted from the records."""

    read_shortcut = False

    @property
    def throughput(self):
        self.read_shortcut = True
        return super().throughput

    @property
    def errors(self):
        self.read_shortcut = True
        return super().errors


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
    """(result, delay) pairs, fresh each time, whose right answers differ from the usual wrong ones."""
    runs = []
    for _ in range(3):
        ok, failed = _random.randint(4, 40), _random.randint(1, 9)
        outcomes = ["ok"] * ok + _random.choices(["error", 500, 404, 503], k=failed)
        _random.shuffle(outcomes)
        concurrency = _random.choice([3, 4, 6, 7])
        result = _WatchedResult(f"http://127.0.0.1/{len(runs)}/", concurrency, _records(outcomes),
                                elapsed=round(_random.uniform(0.7, 3.3), 2))  # fmt: skip
        # never C / delay == 10: an upside-down ideal would then equal the percentage answer
        runs.append((result, _random.choice([0.15, 0.2, 0.25, 0.5])))
    return runs


def _right(result, delay):
    throughput = sum(record.ok for record in result.records) / result.elapsed
    return throughput, throughput / (result.concurrency / delay)


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _diagnose(result, delay, throughput, ratio):
    """Name the wrong answer when it is a common one; otherwise say what was expected."""
    right_throughput, right_ratio = _right(result, delay)
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


def _no_shortcut(result):
    if result.read_shortcut:
        fail(
            "You read `result.throughput` or `result.errors`, ready-made figures: count the "
            "successful records yourself — that is the arithmetic every benchmark figure rests on."
        )


@exercise(
    "15",
    "throughput_and_ratio",
    hints=(
        "The lesson's first section defines both numbers: which requests count towards "
        "throughput, over what time, and what the ideal is for C requests that each wait "
        "`delay` seconds.",
        "Throughput: the records whose `.ok` is true, divided by `result.elapsed`. Ideal: "
        "`result.concurrency / delay`. The ratio is one over the other.",
    ),
)
async def throughput_and_ratio(throughput_and_ratio, site):
    """Check that throughput_and_ratio(result, delay) returns successful requests per second and that figure as a fraction of the ideal C / delay."""
    for result, delay in _made_up_runs():
        answer = _as_pair(call_sync(throughput_and_ratio, result, delay))
        _no_shortcut(result)
        _diagnose(result, delay, *answer)
    real = await fire(f"{site.url}/async/sleep/?delay={DELAY}", n=20, concurrency=10)
    real = _WatchedResult(real.url, real.concurrency, real.records, real.elapsed)
    answer = _as_pair(call_sync(throughput_and_ratio, real, DELAY))
    _no_shortcut(real)
    _diagnose(real, DELAY, *answer)


# --- 2. name a run's bottleneck -------------------------------------------------------------

BOTTLENECKS = ("none", "loop", "threads", "cpu")
LEVELS = (1, 50, 200, 1000)


@dataclass(frozen=True)
class Row:
    """One configuration at one level, with the figures a benchmark table has (benchmarks.stats.Result)."""

    config: str
    concurrency: int
    throughput: float  # req/s
    ratio: float  # throughput ÷ (concurrency / delay)
    p50: float  # seconds
    p99: float
    cpu_ms: float  # server CPU per request
    peak_threads: int
    peak_rss_mb: float


def _row(label, concurrency, delay, throughput, cpu_ms, threads):
    ideal = concurrency / delay
    throughput = min(throughput, ideal * _random.uniform(0.93, 0.99))
    waiting = concurrency / throughput  # Little's law: time a request spends in the system
    return Row(label, concurrency, throughput, throughput / ideal, waiting,
               waiting * _random.uniform(1.1, 1.6), cpu_ms, threads,
               _random.uniform(60, 300))  # fmt: skip


def _made_up_bottleneck(kind, decoy=False, lowest_first=True):
    """(rows, facts) of a run whose limit at its highest level is `kind`.

    The highest level is never first or last, and C=1 is at one end (`lowest_first`): an
    answer that reads rows[0] or rows[-1] meets a run where that row is not the one to read.
    `decoy`: a "cpu" run that has a thread pool, smaller than C but far from full — the pool
    would allow twice the req/s the CPU lets through — so a pool smaller than C alone does not
    make "threads".
    """
    delay = _random.choice([0.05, 0.1, 0.2])
    cores = _random.choice([2, 4, 8])
    processes = _random.randint(1, cores)
    cpu_base = _random.uniform(0.6, 2.5) if kind == "cpu" else _random.uniform(0.05, 0.2)
    # A pool only where the case has one; for "cpu" a decoy (see above). Without the decoy,
    # "cpu" is an async server: as few threads as a blocked loop has, so a thread count alone
    # does not tell the two apart.
    pool = {"threads": _random.choice([16, 40, 100])}.get(kind)
    if kind == "cpu" and decoy:
        fewest = math.ceil(2 * processes * 1000 / cpu_base * delay)  # twice the CPU's req/s
        if fewest >= max(LEVELS):
            return _made_up_bottleneck(kind, decoy, lowest_first)  # no such pool below C: again
        pool = _random.randint(fewest, max(LEVELS) - 1)
    label, rows = f"configuration {_random.randint(1, 99)}", []
    for c in LEVELS:
        if kind == "none":
            throughput = c / delay
        elif kind == "loop":
            throughput = 1 / delay * _random.uniform(0.85, 1.0)
        elif kind == "threads":
            throughput = min(c, pool) / delay * _random.uniform(0.92, 1.0)
        else:  # the processes' cores are used up
            throughput = processes * 1000 / cpu_base * _random.uniform(0.9, 0.98)
        cpu_ms = cpu_base * _random.uniform(0.95, 1.05)
        if kind != "cpu":  # cheap enough that CPU is never what limits it
            cpu_ms = min(cpu_ms, 0.4 * processes * 1000 / min(throughput, c / delay))
        threads = (min(c, pool) if pool else c if kind in ("none", "threads") else 1) + 3
        rows.append(_row(label, c, delay, throughput, cpu_ms, threads))
    if max(rows, key=lambda r: r.concurrency).ratio > 0.7 and kind == "cpu":
        return _made_up_bottleneck(kind, decoy, lowest_first)  # the top must be held back
    low, *others, top = rows  # LEVELS ascend
    _random.shuffle(others)
    middle = [others.pop(), top]
    _random.shuffle(middle)
    rows = [low, *middle, *others]
    return rows if lowest_first else rows[::-1], {
        "delay": delay,
        "cores": cores,
        "processes": processes,
        "threads": pool,
    }


def _bottleneck_hint(kind, answer, rows, facts):
    top = max(rows, key=lambda r: r.concurrency)
    used = top.throughput * top.cpu_ms / 1000
    if answer not in BOTTLENECKS:
        fail(f"Return one of {', '.join(map(repr, BOTTLENECKS))}, got {answer!r:.60}")
    lowest = min(rows, key=lambda r: r.concurrency)
    if answer == "none" and lowest.ratio > 0.8 and top.ratio < 0.8:
        fail(
            f"That is true at C={lowest.concurrency}; at the highest level, C={top.concurrency}, "
            f"the ratio is {top.ratio:.2f}. Read the row with the largest concurrency."
        )
    if answer == "threads" and kind == "cpu":
        pool = facts["threads"]
        if pool:
            fail(
                f"The pool of {pool} threads allows {pool / facts['delay']:.0f} req/s; the run "
                f"reached {top.throughput:.0f}: something else holds it back first. Look at "
                f"req/s × CPU ms per request — {used:.1f} cores' worth, with "
                f"{facts['processes']} server process(es)."
            )
        fail(
            f"This server has no thread pool: look at req/s × CPU ms per request — "
            f"{used:.1f} cores' worth of CPU, with {facts['processes']} server process(es)."
        )
    if answer == "cpu" and kind != "cpu":
        fail(
            f"req/s × CPU per request is {used:.2f} cores' worth here, far from the "
            f"{facts['processes']} process(es) it could use: CPU is not what holds it back."
        )
    if answer == "loop" and kind == "threads":
        fail(
            f"{top.throughput:.0f} req/s is more than one request at a time "
            f"(1 / {facts['delay']:g} s = {1 / facts['delay']:.0f} req/s): compare with the pool."
        )
    if answer == "loop":
        fail(
            f"{top.throughput:.0f} req/s is far more than one request at a time "
            f"(1 / {facts['delay']:g} s = {1 / facts['delay']:.0f} req/s), however few threads "
            "the server has: compare req/s with each limit, not the thread count."
        )
    fail(f"Not {answer!r}: compare the highest level's req/s with each limit the lesson names.")


@exercise(
    "15",
    "bottleneck",
    hints=(
        "The lesson's section on reading a run: at the highest concurrency, compare req/s with "
        "the ideal, with one request at a time (1 / delay), with the pool (threads / delay), and "
        "with what the CPU allows (processes × 1000 / CPU ms per request).",
        "Take the row with the largest `concurrency`, not the first row. 'none' if its ratio is "
        "at least 0.8; 'loop' if req/s is about 1 / delay; 'threads' if a pool smaller than C "
        "caps it at threads / delay; 'cpu' if req/s × cpu_ms / 1000 uses the processes' cores.",
    ),
)
def bottleneck(bottleneck):
    """Check that bottleneck(rows, facts) names what limits a run at its highest level: 'none', 'loop', 'threads' or 'cpu'."""
    cases = [(kind, decoy) for kind in BOTTLENECKS for decoy in (False, True)]
    _random.shuffle(cases)
    for kind, decoy in cases:
        rows, facts = _made_up_bottleneck(kind, decoy, lowest_first=decoy)
        answer = call_sync(bottleneck, list(rows), dict(facts))
        if answer != kind:
            _bottleneck_hint(kind, answer, rows, facts)


# --- 3. size a thread pool from a measurement -----------------------------------------------


def _made_up_sizing():
    """(row, facts, concurrency, right answer) for one sizing question; about one in four has none."""
    delay = _random.choice([0.05, 0.1, 0.2, 0.5])
    cores = _random.choice([2, 4, 8, 16])
    concurrency = _random.choice([100, 200, 300, 500, 1000, 2000])
    cpu_ms = round(_random.uniform(0.2, 3.0), 2)
    measured_at = _random.choice([50, 100, 200])
    throughput = measured_at / delay * _random.uniform(0.6, 0.98)
    row = _row("measured", measured_at, delay, throughput, cpu_ms, measured_at + 5)
    needed = concurrency / delay * cpu_ms / 1000  # cores busy at the ideal rate
    if needed > cores:
        right = None
    else:
        workers = max(1, math.ceil(needed))
        right = (workers, math.ceil(concurrency / workers))
    return row, {"delay": delay, "cores": cores}, concurrency, right


def _sizing_cases(count=12):
    """`count` questions with, among them, two that no pool serves, two that need several
    workers and one that needs a single one — so each usual wrong rule meets a case it gets wrong."""
    while True:
        cases = [_made_up_sizing() for _ in range(count)]
        answers = [right for *_, right in cases]
        none = sum(right is None for right in answers)
        several = sum(right is not None and right[0] > 1 for right in answers)
        single = sum(right is not None and right[0] == 1 for right in answers)
        if none >= 2 and several >= 2 and single >= 1:
            return cases


def _sizing_hint(answer, right, row, facts, concurrency):
    needed = concurrency / facts["delay"] * row.cpu_ms / 1000
    if answer is not None and (not isinstance(answer, (tuple, list)) or len(answer) != 2):
        fail(f"Return (workers, threads per worker) or None, got {answer!r:.60}")
    rule_of_thumb = 2 * facts["cores"] + 1
    if answer is not None and answer[0] == rule_of_thumb:
        fail(
            "2 × cores + 1 is gunicorn's starting point for sync workers, not a measurement: "
            "size the workers from the CPU the load needs (req/s at the ideal × CPU per request)."
        )
    if right is None:
        fail(
            f"At C={concurrency} the ideal is {concurrency / facts['delay']:.0f} req/s × "
            f"{row.cpu_ms} ms = {needed:.1f} cores of CPU, more than the {facts['cores']} here: "
            "no pool serves it. Return None."
        )
    if answer is None:
        fail(f"{needed:.2f} cores of CPU fit in {facts['cores']}: this one can be served.")
    workers, threads = answer
    if workers != right[0]:
        fail(
            f"The load needs {needed:.2f} cores of CPU ({concurrency / facts['delay']:.0f} req/s × "
            f"{row.cpu_ms} ms): one worker process uses at most one, so {right[0]} worker(s), "
            f"not {workers}."
        )
    if workers * threads < concurrency:
        fail(f"{workers} × {threads} threads serve {workers * threads} at once, fewer than C.")
    fail(
        f"{workers} × {threads} threads is more than needed: {right[1]} per worker already "
        f"serve C={concurrency} at once."
    )


@exercise(
    "15",
    "size_pool",
    hints=(
        "The lesson's section on sizing: a request waits `delay` seconds holding a thread, and "
        "costs `cpu_ms` of CPU; at the ideal rate C / delay, how many cores is that?",
        "workers = that many cores rounded up (at least 1; None when it exceeds `cores`), "
        "threads per worker = C ÷ workers rounded up — take cpu_ms from the measured row.",
    ),
)
def size_pool(size_pool):
    """Check that size_pool(row, facts, concurrency) sizes gunicorn gthread workers × threads from a measured CPU cost, or returns None when the machine cannot serve it."""
    for row, facts, concurrency, right in _sizing_cases():
        answer = call_sync(size_pool, row, dict(facts), concurrency)
        if answer is not None and isinstance(answer, (tuple, list)):
            answer = tuple(answer)
        if answer != right:
            _sizing_hint(answer, right, row, facts, concurrency)
