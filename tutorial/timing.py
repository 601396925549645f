"""Record what ran when, and how long the event loop was kept from running.

    timeline = Timeline()
    async def job(n):
        with timeline.span(f"job {n}"):
            await asyncio.sleep(0.2)
    await asyncio.gather(job(1), job(2))
    timeline.max_overlap()          # 2: both were running at the same moment
    plot_timeline(timeline.spans)   # tutorial.plots

    async with watch_loop() as lag:
        await something()
    lag.worst                       # longest time the loop could not run anything else

Concurrency is judged from recorded start/end times (did the spans overlap?), never from a
wall-clock threshold: that works the same on a fast laptop and a loaded CI machine.
"""

import asyncio
import contextlib
import logging
import threading
import time
from typing import NamedTuple


class Span(NamedTuple):
    """One piece of work: its label, start and end (seconds since the Timeline began), how it
    ended ("done", "cancelled" or "error") and the thread it ran in."""

    label: str
    start: float
    end: float
    outcome: str
    thread: str


class Timeline:
    """Collects Spans; `plot_timeline(timeline.spans)` draws them."""

    def __init__(self):
        self.origin = time.perf_counter()
        self.spans: list[Span] = []
        self._running: dict[int, tuple[str, float, asyncio.Task | None]] = {}
        self._lock = threading.Lock()  # spans may be recorded from worker threads

    def now(self):
        """Seconds since this Timeline was created."""
        return time.perf_counter() - self.origin

    @contextlib.contextmanager
    def span(self, label):
        """Record the time spent inside the `with` block as one span labelled `label`.

        Works in coroutines and in plain functions run in threads. A CancelledError or other
        exception is recorded as the outcome and passes through unchanged.
        """
        start, key = self.now(), object()
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop: a worker thread
            task = None
        with self._lock:
            self._running[id(key)] = (label, start, task)
        outcome = "done"
        try:
            yield
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            end = self.now()
            with self._lock:
                del self._running[id(key)]
                self.spans.append(Span(label, start, end, outcome, threading.current_thread().name))

    def track(self, label, awaitable):
        """Await `awaitable` inside a span: `await timeline.track("fetch", fetch())`."""

        async def tracked():
            with self.span(label):
                return await awaitable

        return tracked()

    @property
    def running(self):
        """Labels of spans that started and have not ended yet."""
        with self._lock:
            return [label for label, _, _ in self._running.values()]

    def cancel_running(self):
        """Cancel the tasks of spans still running (clean-up after someone forgot to)."""
        with self._lock:
            tasks = [task for _, _, task in self._running.values() if task is not None]
        for task in tasks:
            task.cancel()
        return len(tasks)

    def max_overlap(self):
        """Most spans running at one instant: 1 means one after the other, N means all at once."""
        return max_overlap(self.spans)

    def outcomes(self):
        """{label: outcome} of the finished spans."""
        return {span.label: span.outcome for span in self.spans}

    def elapsed(self):
        """From the first start to the last end of the recorded spans."""
        return elapsed(self.spans)

    def __repr__(self):
        return f"<Timeline {len(self.spans)} spans, {len(self.running)} running>"


def max_overlap(spans):
    """Most of `spans` ((label, start, end, ...) tuples) running at one instant."""
    events = []
    for _, start, end, *_ in spans:
        events += [(start, 1), (end, -1)]
    # At equal times an end sorts before a start: spans that only touch do not overlap.
    running = most = 0
    for _, step in sorted(events):
        running += step
        most = max(most, running)
    return most


def elapsed(spans):
    """From the first start to the last end of `spans` ((label, start, end, ...) tuples)."""
    spans = list(spans)
    if not spans:
        return 0.0
    return max(end for _, _, end, *_ in spans) - min(start for _, start, _, *_ in spans)


class LoopLag:
    """What `watch_loop` measured: each heartbeat's lateness, and the worst one."""

    def __init__(self, interval):
        self.interval = interval
        self.lags: list[float] = []
        self.stalls: list[tuple[float, float]] = []  # (start, end) of each late heartbeat
        self.origin = time.perf_counter()

    @property
    def worst(self):
        """Longest the loop made a heartbeat wait beyond its interval, in seconds."""
        return max(self.lags, default=0.0)

    def spans(self, longer_than=0.05, label="loop blocked"):
        """(label, start, end) of each stall longer than `longer_than`, for plot_timeline."""
        return [(label, s, e) for s, e in self.stalls if e - s - self.interval > longer_than]

    def __repr__(self):
        return f"<LoopLag worst {self.worst * 1000:.0f} ms over {len(self.lags)} heartbeats>"


@contextlib.asynccontextmanager
async def watch_loop(interval=0.01, origin=None):
    """Run a heartbeat task every `interval` s while the block runs; yield a LoopLag.

    A heartbeat that arrives late means something held the loop: time.sleep, a sync client,
    CPU work. `origin`: a perf_counter value (e.g. `timeline.origin`) to share a time axis.
    """
    lag = LoopLag(interval)
    if origin is not None:
        lag.origin = origin

    last = time.perf_counter()

    def beat():
        nonlocal last
        now = time.perf_counter()
        lag.lags.append(max(0.0, now - last - interval))
        lag.stalls.append((last - lag.origin, now - lag.origin))
        last = now

    async def heartbeat():
        while True:
            await asyncio.sleep(interval)
            beat()

    task = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)  # let the heartbeat start before the block does
    try:
        yield lag
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # The block may have held the loop until its very end: count that last wait too.
        if time.perf_counter() - last > interval:
            beat()


class _Collect(logging.Handler):
    def __init__(self, records):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def capture_logs(name="asyncio", level=logging.WARNING):
    """Collect the log records of logger `name` at `level` and above into the yielded list."""
    logger = logging.getLogger(name)
    records = []
    handler = _Collect(records)
    handler.setLevel(level)
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
