"""Call a learner's function and turn each typical mistake into a one-screen hint.

Mistakes named (each an ExerciseFailed with its `kind`):
  not_started   the cell still says `raise NotImplementedError`
  exception     their code raised: type, message, and the line in their cell
  timeout       it did not finish in time: something awaits forever
  endless_loop  it held its thread past the limit (`while True: pass`): stopped, with the line
  blocked       it blocked the event loop (time.sleep, a sync HTTP call, CPU work)
  missing_await a coroutine object (or a task) where a value was expected
  not_async / not_sync   `def` where `async def` was needed, or the reverse
  setup         not their code: the companion site is stopped or gone (kernel restarted)
"""

import asyncio
import contextlib
import ctypes
import functools
import gc
import inspect
import os
import sys
import threading
import time
import traceback

from ..tracebacks import is_library as _is_library
from ..tracebacks import line_of
from .core import NOT_STARTED, fail

# The loop counts as blocked when one step of it took longer than this.
BLOCKED_AFTER = 0.25
_HEARTBEAT = 0.01
_SAMPLE_EVERY = 0.02  # how often the sampler thread looks at the loop's thread
_SUSPECT_AFTER = 0.05  # a heartbeat this late means the loop may be held
_RAISE_AGAIN_EVERY = 0.05  # a learner's bare `except:` may swallow one interruption
_BUSY_SHARE = 0.1  # a thread that used this share of a core while it ran was running code


class _Overran(BaseException):
    """Raised into the learner's thread when their code still runs past the check's limit.

    A BaseException, so their `except Exception` cannot swallow it. Neither asyncio.timeout nor
    Jupyter's Stop button can end code that never yields (ipykernel cannot interrupt a top-level
    await), so the check's own watcher thread raises this into the thread that runs it.
    """


def _thread_cpu_time(thread_id):
    """CPU seconds used by thread `thread_id` so far, or None where the OS cannot tell."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_id))
    except (AttributeError, OSError):
        return None


def _waited_for_a_cpu(native_id):
    """Seconds thread `native_id` (threading.get_native_id()) has spent runnable but not running,
    waiting for a CPU (Linux counts it: /proc/self/task/TID/schedstat, second field); None where
    the OS cannot tell."""
    try:
        with open(f"/proc/self/task/{native_id}/schedstat", "rb") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _raise_into(thread_id, exception):
    """Make `exception` raise in thread `thread_id` at its next bytecode (None: take it back)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


class _Deadline:
    """Stop the learner's code in the current thread if it runs longer than `limit` seconds.

    A thread waits `limit`; if the learner's call has not returned by then and the calling
    thread is executing the learner's own code (see `_learner_line`), it raises _Overran into
    it, again every few ms until the call is over. `held` says whether the thread is stuck now
    (for async code: the event loop has not ticked), so a check that merely awaits is left to
    asyncio's timeout. A single C call that never returns (time.sleep(10**6)) cannot be
    interrupted this way: it is stopped when it returns.
    """

    def __init__(self, limit, held=lambda: True):
        self.limit, self.where, self.fired = limit, "", False
        self.spinning = True  # it ran Python code all along (else: one call that would not return)
        self._thread = threading.get_ident()
        self._held = held
        self._native = threading.get_native_id()
        self._started = time.perf_counter()
        self._cpu_started = _thread_cpu_time(self._thread)
        self._wait_started = _waited_for_a_cpu(self._native)
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="check-deadline", daemon=True)
        self._watcher.start()

    def _watch(self):
        if self._done.wait(self.limit):
            return
        while not self._done.is_set():
            line = self._held() and _learner_line(sys._current_frames().get(self._thread))
            if line:
                if not self.fired:
                    self.spinning = self._busy()
                self.where, self.fired = self.where or line, True
                _raise_into(self._thread, _Overran)
            self._done.wait(_RAISE_AGAIN_EVERY)

    def _busy(self):
        """Did the thread use the CPU while it ran (a loop), or wait in one call (time.sleep)?"""
        cpu = _thread_cpu_time(self._thread)
        if cpu is None or self._cpu_started is None:
            return True
        could_run = time.perf_counter() - self._started  # less the time it waited for a CPU:
        waited = _waited_for_a_cpu(self._native)  # a loaded machine gives a loop a small share
        if waited is not None and self._wait_started is not None:
            could_run -= waited - self._wait_started
        return cpu - self._cpu_started > _BUSY_SHARE * could_run

    def stop(self):
        """Call in the thread the deadline watches, once the learner's call is over."""
        try:
            self._done.set()
            self._watcher.join()
        except _Overran:  # raised just as their call returned, before the watcher stopped
            self._done.set()
            self._watcher.join()
        if self.fired:
            _raise_into(self._thread, None)  # one raised just as the call ended: not ours now


def _fail_endless(fn, deadline):
    where = f"\n  at {deadline.where}" if deadline.where else ""
    if not deadline.spinning:  # it sat in one call, using no CPU: not a loop
        fail(
            f"{_name(fn)} did not return in {deadline.limit:g} s: it was still waiting in one "
            f"call (a long sleep, a request without a timeout?){where}",
            kind="timeout",
        )
    fail(
        f"{_name(fn)} did not return in {deadline.limit:g} s: an endless loop? "
        f"It was stopped there{where}",
        kind="endless_loop",
    )


def _name(fn):
    return getattr(fn, "__name__", repr(fn))


def _where_in_learner_code(error):
    """'line N: <code>' for the innermost frame that is the learner's, not a library's."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if not _is_library(f.filename)]
    if not mine:
        return ""
    return f"\n  at {line_of(mine[-1].filename, mine[-1].lineno)}"


def _chain(error):
    """`error`, then its causes and contexts."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _refused_url(error):
    """'http://127.0.0.1:PORT' when `error` is (or was caused by) a refused connection, else None."""
    for link in _chain(error):
        if type(link).__name__ == "ConnectError" or isinstance(link, ConnectionRefusedError):
            try:
                url = link.request.url  # httpx
            except (AttributeError, RuntimeError):
                return None
            return f"{url.scheme}://{url.netloc.decode()}"
    return None


def _services(values):
    """The background services (companion sites, PostgreSQL servers) among `values`."""
    from ..services import Service

    return [v for v in values if isinstance(v, Service)]


def _rerun(service):
    """'the companion site is not running … Run the set-up cell …' for `service`."""
    site = type(service).__name__ == "Site"
    what = "the companion site" if site else f"the {service.name} server"
    again = " (`site = start_site()`)" if site else ""
    return what, f"Run the set-up cell at the top again{again}, then this one."


def setup_problem(error, values):
    """One line saying what to re-run when `error` is a refused connection to a service among
    `values` (a check's arguments, a notebook's variables) that is no longer running.

    Only then: a refused connection to any other URL may be what the exercise is about.
    """
    url = _refused_url(error)
    if url is None:
        return None
    for service in _services(values):
        if (service.url or "").rstrip("/") == url and not service.running:
            what, again = _rerun(service)
            return (
                f"Nothing answers at {url}: {what} is not running (a cell stopped it, "
                f"or it exited). {again}"
            )
    return None


def stopped_site(args):
    """Fail with the set-up hint if an argument is a service (a companion site) that stopped."""
    for service in _services(args):
        if not service.running:
            what, again = _rerun(service)
            fail(
                f"{what[0].upper()}{what[1:]} was stopped (`.stop()` ran, e.g. in Run All's last "
                f"cell, or it exited). {again}",
                kind="setup",
            )


def _raised_by_stub(error):
    """NotImplementedError raised by the learner's own code (the stub), not by a library."""
    frames = traceback.extract_tb(error.__traceback__)
    return (
        isinstance(error, NotImplementedError)
        and bool(frames)
        and not _is_library(frames[-1].filename)
    )


def _explain_exception(fn, error):
    if _raised_by_stub(error):
        fail(
            f"{NOT_STARTED}: {_name(fn)} still raises NotImplementedError. "
            "Replace `# YOUR CODE HERE` and the raise with your code.",
            kind="not_started",
        )
    message = f": {str(error).splitlines()[0][:200]}" if str(error).strip() else ""
    fail(
        f"{_name(fn)} raised {type(error).__name__}{message}{_where_in_learner_code(error)}",
        kind="exception",
    )


def _pending(value):
    """Coroutines and tasks/futures in `value` (itself, or items of a list/tuple/set/dict)."""
    items = [value]
    if isinstance(value, (list, tuple, set)):
        items = list(value)
    elif isinstance(value, dict):
        items = list(value.values())
    return [v for v in items if inspect.iscoroutine(v) or isinstance(v, asyncio.Future)]


def reject_coroutines(fn, value, what="a value"):
    """Fail if `value` is (or contains) a coroutine or task: an `await` was forgotten."""
    found = _pending(value)
    if not found:
        return value
    for pending in found:
        if inspect.iscoroutine(pending):
            pending.close()  # no "coroutine was never awaited" warning on top of the hint
        else:
            pending.cancel()  # no orphan task running on after the check
    first = found[0]
    what_it_is = (
        f"a coroutine object ({first.__qualname__})"
        if inspect.iscoroutine(first)
        else f"a {type(first).__name__} object"
    )
    inside = "" if first is value else f" inside the {type(value).__name__}"
    fail(
        f"{_name(fn)} returned {what_it_is}{inside} where {what} was expected: "
        "a forgotten `await`?",
        kind="missing_await",
    )


def require_async(fn):
    if not callable(fn):
        fail(f"{_name(fn)} is not a function.", kind="not_async")
    if not inspect.iscoroutinefunction(fn):
        fail(
            f"{_name(fn)} must be an `async def` function (it is a plain `def`), "
            "so that it can await.",
            kind="not_async",
        )


def require_sync(fn):
    if not callable(fn):
        fail(f"{_name(fn)} is not a function.", kind="not_sync")
    if inspect.iscoroutinefunction(fn):
        fail(
            f"{_name(fn)} must be a plain `def` function here, not `async def`.",
            kind="not_sync",
        )


class _LoopWatch:
    """Measure how long the learner's code held the event loop in one go.

    A heartbeat task ticks every few ms; a gap between ticks is a stall. A stall counts as the
    learner's only if, while it lasted, a sampler thread saw the loop's thread executing the
    learner's code (a frame outside the standard library, site-packages and tutorial/). A busy
    machine that simply did not schedule us shows the loop waiting in `select` instead, so it
    is not blamed on the learner. The gap still open when the function returns counts too: a
    coroutine that blocks and returns without awaiting never lets the heartbeat tick again.

    A busy machine can also stop the loop's thread *inside* the learner's frame (in httpx,
    called from their `await client.get(url)`): runnable, waiting for a CPU. On Linux the
    kernel counts that wait per thread (/proc/self/task/TID/schedstat, its second field); it
    is taken off each stall, so what is left is the time their code ran or slept (seen: 0.28 s
    and 0.43 s blamed on a right answer while the test suite loaded both cores).

    Garbage collection stops every thread of the process, the loop's too, wherever it is: its
    time is taken off as well (the collector's CPU time when it ran in the loop's thread, whose
    waits are counted already; all of it when another thread ran it). Seen: 0.27 s blamed on
    `await client.get(url)` in a right answer, in a test process on a loaded machine.
    """

    def __init__(self, limit=None):
        self.worst = 0.0
        self.where = ""
        self._loop_thread = threading.get_ident()
        self._native = threading.get_native_id()
        self._last_wait = self._waited_for_a_cpu()
        self._last = time.perf_counter()
        self._blamed = False  # the stall now open has been seen running the learner's code
        self._collecting = None  # (clock, CPU clock) when a collection in this process started
        self._collected = self._last_collected = 0.0  # seconds collections stopped the loop
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._tick())
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="loop-watch", daemon=True)
        self._sampler.start()
        # Code that holds the loop never lets asyncio.timeout fire: this stops it.
        self.deadline = _Deadline(limit, held=self._held) if limit else None

    def _held(self):
        return time.perf_counter() - self._last >= _SUSPECT_AFTER

    async def _tick(self):
        while True:
            await asyncio.sleep(_HEARTBEAT)
            self._note()

    def _note(self):
        now, waited, collected = time.perf_counter(), self._waited_for_a_cpu(), self._collected
        if self._blamed:
            unscheduled = waited - self._last_wait
            not_theirs = unscheduled + collected - self._last_collected
            self.worst = max(self.worst, now - self._last - _HEARTBEAT - not_theirs)
        self._blamed = False
        self._last, self._last_wait, self._last_collected = now, waited, collected

    def _on_gc(self, phase, info):
        """gc's callback, in whichever thread collects (holding the GIL: no race here)."""
        if phase == "start":
            self._collecting = (time.perf_counter(), time.thread_time())
        elif self._collecting is not None:
            started, cpu_started = self._collecting
            in_the_loop = threading.get_ident() == self._loop_thread
            took = (
                time.thread_time() - cpu_started if in_the_loop else time.perf_counter() - started
            )
            self._collected += took
            self._collecting = None

    def _waited_for_a_cpu(self):
        """Seconds the loop's thread has spent runnable but not running; 0 where the OS cannot
        tell (then stalls count in wall time, as they are)."""
        return _waited_for_a_cpu(self._native) or 0.0

    def _sample(self):
        while not self._done.wait(_SAMPLE_EVERY):
            if time.perf_counter() - self._last < _SUSPECT_AFTER:
                continue  # the loop is ticking: nothing to look at
            line = _learner_line(sys._current_frames().get(self._loop_thread))
            if line:
                self._blamed = True
                self.where = self.where or line

    def stop(self):
        if self.deadline:
            self.deadline.stop()
        if not self._task.done():
            self._note()
            self._task.cancel()
        self._done.set()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        return self.worst


def _learner_line(frame):
    """'line N of your cell: code' for the innermost learner frame inside a call_*, or ''.

    Only frames inside call_async/call_sync count: the notebook cell that called the check is
    the learner's file too, but what runs there after the call is the check, not their code.
    """
    while frame is not None and frame.f_code not in _CALLS:
        filename = frame.f_code.co_filename
        if filename.endswith(_ONE_OFF_SET_UP):
            return ""  # building a TLS context (httpx.AsyncClient()): a one-off cost, not a stall
        if filename.endswith(_LOOP_ITSELF):
            # The loop's own machinery (waiting in select, or between callbacks): what lies
            # outside it is whoever started the loop (asyncio.run in a script), not code it runs.
            return ""
        if not _is_library(filename):
            return line_of(filename, frame.f_lineno)
        frame = frame.f_back
    return ""


# Loading the CA bundle takes ~0.1 s when an HTTP client is made, more on a busy machine; a
# right answer that makes its own client must not be told it blocked the loop for that.
_ONE_OFF_SET_UP = (f"{os.sep}ssl.py", f"{os.sep}httpx{os.sep}_config.py")
_LOOP_ITSELF = (f"{os.sep}asyncio{os.sep}base_events.py",)


def _fail_if_blocked(fn, watch, started):
    if watch.worst > BLOCKED_AFTER:
        where = f" at {watch.where}" if watch.where else ""
        fail(
            f"{_name(fn)} blocked the event loop for {watch.worst:.2f} s in one go{where} "
            f"(it ran {time.perf_counter() - started:.2f} s): no other task could run.\n"
            "time.sleep, a sync HTTP client or CPU work in async code does that: use "
            "await asyncio.sleep, an async client, or move the work to a thread.",
            kind="blocked",
        )


@functools.cache
def _import_the_async_http_backend():
    """httpx imports its async network backend (anyio: ~0.2 s of imports here) on a process's
    first async request, on the loop's thread. Inside the learner's code, under load, that
    reads as "blocked the event loop": so it is imported before their code runs."""
    with contextlib.suppress(ImportError):
        import anyio._backends._asyncio  # noqa: F401
        import httpcore._backends.anyio  # noqa: F401


async def call_async(fn, *args, timeout=10.0, allow_blocking=False, **kwargs):
    """Await `fn(*args, **kwargs)` with a timeout, watching the event loop; return its value.

    Fails with a hint when fn is not async, is not started, raises, hangs, blocks the loop,
    or returns an un-awaited coroutine or task. Code that holds the loop past `timeout` (an
    endless loop) is stopped and named with its line.
    """
    require_async(fn)
    _import_the_async_http_backend()
    watch = _LoopWatch(limit=timeout)
    await asyncio.sleep(0)  # let the watcher take its first tick
    started = time.perf_counter()
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            value = await fn(*args, **kwargs)
    except TimeoutError as error:
        if not deadline.expired():  # their own timeout, not ours
            _explain_exception(fn, error)
        watch.stop()
        _fail_if_blocked(fn, watch, started)  # blocked past the deadline: say that
        fail(
            f"{_name(fn)} did not finish in {timeout:g} s — is something awaiting forever "
            "(an Event never set, a task never finished, a server that never answers)?",
            kind="timeout",
        )
    except asyncio.CancelledError as error:
        if asyncio.current_task().cancelling():
            raise  # the check itself is being cancelled (Ctrl-C, interrupt): let it go
        _explain_exception(fn, error)
    except _Overran:
        watch.stop()
        if not watch.deadline.spinning:
            _fail_if_blocked(fn, watch, started)  # one blocking call (time.sleep) held the loop
        _fail_endless(fn, watch.deadline)
    except Exception as error:
        _explain_exception(fn, error)
    finally:
        watch.stop()
    if not allow_blocking:
        _fail_if_blocked(fn, watch, started)
    return reject_coroutines(fn, value)


def call_sync(fn, *args, timeout=10.0, **kwargs):
    """Call a plain `def` learner function; fail with a hint on the usual mistakes.

    Code still running after `timeout` seconds (an endless loop) is stopped and named.
    """
    require_sync(fn)
    deadline = _Deadline(timeout)
    try:
        value = fn(*args, **kwargs)
    except _Overran:
        deadline.stop()
        _fail_endless(fn, deadline)
    except Exception as error:
        _explain_exception(fn, error)
    finally:
        deadline.stop()
    return reject_coroutines(fn, value)


# The frames at which the learner's code ends and the check's begins (see _learner_line).
_CALLS = frozenset({call_async.__code__, call_sync.__code__})
