"""Call a learner's function and turn each typical mistake into a one-screen hint.

Mistakes named (each an ExerciseFailed with its `kind`):
  not_started   the cell still says `raise NotImplementedError`
  exception     their code raised: type, message, and the line in their cell
  timeout       it did not finish in time: something awaits forever
  blocked       it blocked the event loop (time.sleep, a sync HTTP call, CPU work)
  missing_await a coroutine object where a value was expected
  not_async / not_sync   `def` where `async def` was needed, or the reverse
"""

import asyncio
import inspect
import linecache
import time
import traceback
from pathlib import Path

from .core import fail

# The loop counts as blocked when one step of it took longer than this.
BLOCKED_AFTER = 0.25
_HEARTBEAT = 0.01
_LIBRARY_PARTS = ("site-packages", "/lib/python3", "/tutorial/")


def _name(fn):
    return getattr(fn, "__name__", repr(fn))


def _where_in_learner_code(error):
    """'line N: <code>' for the innermost frame that is the learner's, not a library's."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if not any(part in f.filename for part in _LIBRARY_PARTS)]
    if not mine:
        return ""
    frame = mine[-1]
    code = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    # ipykernel stores each cell as /tmp/ipykernel_<pid>/<hash>.py: call it what the learner sees.
    place = "your cell" if "ipykernel_" in frame.filename else Path(frame.filename).name
    return f"\n  at line {frame.lineno} of {place}: {code}"


def _explain_exception(fn, error):
    if isinstance(error, NotImplementedError):
        fail(
            f"Not started: {_name(fn)} still raises NotImplementedError. "
            "Replace `# YOUR CODE HERE` and the raise with your code.",
            kind="not_started",
        )
    message = str(error).splitlines()[0][:200] if str(error) else ""
    fail(
        f"{_name(fn)} raised {type(error).__name__}: {message}{_where_in_learner_code(error)}",
        kind="exception",
    )


def reject_coroutines(fn, value, what="a value"):
    """Fail if `value` is (or contains) a coroutine object: an `await` was forgotten."""
    found = []
    if inspect.iscoroutine(value):
        found.append(value)
    elif isinstance(value, (list, tuple, set)):
        found.extend(v for v in value if inspect.iscoroutine(v))
    elif isinstance(value, dict):
        found.extend(v for v in value.values() if inspect.iscoroutine(v))
    if found:
        for coroutine in found:
            coroutine.close()  # silence "coroutine was never awaited"
        fail(
            f"{_name(fn)} returned a coroutine object ({found[0].__qualname__}) where {what} "
            "was expected: a forgotten `await`?",
            kind="missing_await",
        )
    return value


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


async def _watch_loop(stalls):
    """Tick every few ms; record how long the loop went without running us."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(_HEARTBEAT)
        now = time.perf_counter()
        stalls.append(now - last - _HEARTBEAT)
        last = now


async def call_async(fn, *args, timeout=10.0, allow_blocking=False, **kwargs):
    """Await `fn(*args, **kwargs)` with a timeout, watching the event loop; return its value.

    Fails with a hint when fn is not async, is not started, raises, hangs, blocks the loop,
    or returns an un-awaited coroutine.
    """
    require_async(fn)
    stalls = []
    watcher = asyncio.create_task(_watch_loop(stalls))
    await asyncio.sleep(0)  # let the watcher take its first tick
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            value = await fn(*args, **kwargs)
    except TimeoutError:
        fail(
            f"{_name(fn)} did not finish in {timeout:g} s — is something awaiting forever "
            "(an Event never set, a task never finished, a server that never answers)?",
            kind="timeout",
        )
    except Exception as error:
        _explain_exception(fn, error)
    finally:
        watcher.cancel()
    worst = max(stalls, default=0.0)
    if not allow_blocking and worst > BLOCKED_AFTER:
        fail(
            f"{_name(fn)} blocked the event loop for {worst:.2f} s in one go "
            f"(it ran {time.perf_counter() - started:.2f} s). time.sleep, a sync HTTP client "
            "or CPU work in async code freezes every other task: await asyncio.sleep / "
            "an async client, or move the work to a thread.",
            kind="blocked",
        )
    return reject_coroutines(fn, value)


def call_sync(fn, *args, **kwargs):
    """Call a plain `def` learner function; fail with a hint on the usual mistakes."""
    require_sync(fn)
    try:
        value = fn(*args, **kwargs)
    except Exception as error:
        _explain_exception(fn, error)
    return reject_coroutines(fn, value)
