"""Pure arithmetic on one load run: throughput, latency percentiles, the ratio to the ideal."""

import math
import statistics
from dataclasses import asdict, dataclass, field, replace


def ideal_throughput(concurrency, delay):
    """Requests/s if every request took exactly `delay` seconds and none waited: C / delay."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if not delay > 0:
        raise ValueError(f"delay must be positive to have an ideal, got {delay}")
    return concurrency / delay


def percentile(values, p):
    """The nearest-rank `p`-th percentile (0-100) of `values`; nan when there are none."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Result:
    """One configuration at one concurrency level, ready for the table and the plot."""

    config: str
    concurrency: int
    ok: int
    elapsed: float
    throughput: float
    p50: float
    p99: float
    errors: int
    unfinished: int | None  # None: the generator cannot tell (wrk)
    ratio: float | None  # throughput / ideal; None where there is no ideal (trivial views)
    peak_rss_mb: float = math.nan
    peak_threads: int = 0
    cpu_ms: float = math.nan  # server CPU per successful request, ms (robust to a busy machine)
    note: str = ""
    db_connections: float | None = None  # peak PostgreSQL client connections (pg_stat_activity)
    repeats: int = 1  # how many runs this row is the median of
    spread: dict = field(default_factory=dict)  # {figure: (lowest, highest)} over the repeats

    def low_high(self, figure):
        """(lowest, highest) of `figure` over the repeats; the value itself for a single run."""
        value = getattr(self, figure)
        return tuple(self.spread.get(figure, (value, value)))

    def as_dict(self):
        return asdict(self)


def summarize(config, outcome, *, delay=None):
    """A Result from a generator's raw outcome (see benchmarks.loadgen).

    `delay`: the view's I/O delay in seconds, giving the ideal C / delay; None for views that
    do no I/O (their figures are compared with the Starlette peer instead).
    """
    elapsed = outcome["elapsed"]
    if elapsed <= 0:
        raise ValueError(f"elapsed must be positive, got {elapsed}")
    concurrency = outcome["concurrency"]
    if "latencies" in outcome:
        latencies = outcome["latencies"]
        ok, p50, p99 = len(latencies), percentile(latencies, 50), percentile(latencies, 99)
    else:  # wrk reports percentiles, not each request
        ok = outcome["ok"]
        p50 = outcome["percentiles"].get(50, math.nan)
        p99 = outcome["percentiles"].get(99, math.nan)
    # Successes within the load window, over the window: the drain after it sends nothing new.
    throughput = outcome["in_window"] / outcome["window"] if "window" in outcome else ok / elapsed
    ratio = throughput / ideal_throughput(concurrency, delay) if delay else None
    return Result(config, concurrency, ok, elapsed, throughput, p50, p99,
                  outcome["errors"], outcome["unfinished"], ratio)  # fmt: skip


# Figures summarised by their median over repeats, each with its spread (lowest, highest).
MEDIAN_FIGURES = ("throughput", "ratio", "p50", "p99", "cpu_ms", "peak_rss_mb", "peak_threads",
                  "elapsed")  # fmt: skip


def _median(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def aggregate(runs):
    """One Result for several runs of one configuration at one level: medians, and the spread.

    Counts (ok, errors, unfinished) are totals over the runs, so an error in any run shows.
    """
    if not runs:
        raise ValueError("nothing to aggregate")
    if len({(r.config, r.concurrency) for r in runs}) != 1:
        raise ValueError("runs of different configurations or levels cannot be aggregated")
    first = runs[0]
    medians, spread = {}, {}
    for figure in MEDIAN_FIGURES:
        values = [getattr(r, figure) for r in runs]
        if figure == "ratio" and first.ratio is None:
            continue
        medians[figure] = _median(values)
        finite = [v for v in values if v is not None and not math.isnan(v)]
        if finite:
            spread[figure] = (min(finite), max(finite))
    if all(r.db_connections is not None for r in runs):
        values = [r.db_connections for r in runs]
        medians["db_connections"] = statistics.median(values)
        spread["db_connections"] = (min(values), max(values))
    unfinished = [r.unfinished for r in runs]
    notes = list(dict.fromkeys(r.note for r in runs if r.note))
    medians["peak_threads"] = round(medians["peak_threads"])
    return replace(
        first,
        **medians,
        ok=sum(r.ok for r in runs),
        errors=sum(r.errors for r in runs),
        unfinished=None if None in unfinished else sum(unfinished),
        note="; ".join(notes),
        repeats=len(runs),
        spread=spread,
    )


def aggregate_all(runs):
    """aggregate() per (configuration, level), in the order each first appears in `runs`."""
    groups = {}
    for r in runs:
        groups.setdefault((r.config, r.concurrency), []).append(r)
    return [aggregate(group) for group in groups.values()]
