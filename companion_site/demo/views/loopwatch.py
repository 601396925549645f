"""Find the line that blocks the event loop: a watchdog inside the server, and three culprits.

asyncio's debug mode, run under a server, names the server's per-request task
(uvicorn's `RequestResponseCycle.run_asgi`), not the view. What names the line is a look at the
loop thread's stack while it is held: this watchdog's sampler thread does that from inside the
process, as `py-spy dump` does from outside.

A late heartbeat is not always a held loop: on a busy machine the whole process may wait for a
CPU while its loop sits idle in the selector. A sample whose innermost frame is the loop waiting
(asyncio's selector, or uvloop's C loop under asyncio's runner) is no stall, and is not reported.
Nor is the first sample always where the loop is held: the process may have waited for a CPU
just before the blocking call. The sampler keeps looking while a stall lasts, and the stall's
stack is the one it saw most often.
"""

import asyncio
import collections
import linecache
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse

from .. import params
from ..http import json_api

PROJECT = Path(__file__).resolve().parents[2]  # companion_site/
STDLIB = Path(sysconfig.get_paths()["stdlib"])
BEAT = 0.005  # how often the heartbeat wants to run
SAMPLE_EVERY = 0.01  # how often the sampler thread looks at the heartbeat
MAX_STALLS = 50
MAX_FRAMES = 40
# The loop thread's innermost frame while its loop waits for I/O: asyncio's selector, or (uvloop,
# whose loop is C) asyncio's runner with no task's frame above it.
WAITING = {("selectors.py", "select"), ("asyncio/runners.py", "run")}

_current = None  # the running watchdog of this process, if any (the task is kept here too)


def _where(filename):
    path = Path(filename)
    for root in (PROJECT, STDLIB):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    parts = path.parts
    if "site-packages" in parts:
        return str(Path(*parts[parts.index("site-packages") + 1 :]))
    return filename


def _stack(frame):
    """The loop thread's stack, innermost frame first: file (relative), line, function, code."""
    frames = []
    while frame is not None and len(frames) < MAX_FRAMES:
        code = frame.f_code
        frames.append(
            {
                "file": _where(code.co_filename),
                "line": frame.f_lineno,
                "function": code.co_name,
                "code": linecache.getline(code.co_filename, frame.f_lineno).strip(),
                "project": Path(code.co_filename).is_relative_to(PROJECT),
            }
        )
        frame = frame.f_back
    return frames


def _where_of(stack):
    return tuple((frame["file"], frame["line"]) for frame in stack)


def _waiting(stack):
    """The loop was not held but waiting for I/O (the process itself waited for a CPU)."""
    return not stack or (stack[0]["file"], stack[0]["function"]) in WAITING


class Watchdog:
    """A heartbeat task on the loop; a sampler thread that reads the loop's stack when it is late."""

    def __init__(self, threshold, seconds):
        self.threshold = threshold
        self.until = time.perf_counter() + seconds
        self.loop_thread = threading.get_ident()
        self.stalls = []
        self._lock = threading.Lock()
        self._last_beat = time.perf_counter()
        self._open = None  # the stall the loop is in now
        self._seen = collections.Counter()  # its samples: (file, line) of each frame -> times
        self._stopped = threading.Event()
        self.task = asyncio.get_running_loop().create_task(self._beat())
        threading.Thread(target=self._sample, name="loop-watchdog", daemon=True).start()

    @property
    def running(self):
        return not self._stopped.is_set()

    def stop(self):
        self._stopped.set()

    async def _beat(self):
        try:
            while time.perf_counter() < self.until and not self._stopped.is_set():
                await asyncio.sleep(BEAT)
                with self._lock:
                    now = time.perf_counter()
                    if self._open is not None:
                        self._open["seconds"] = round(now - self._last_beat, 3)
                        self._open = None
                    self._last_beat = now
        finally:
            self._stopped.set()

    def _sample(self):
        while not self._stopped.wait(SAMPLE_EVERY):
            self.look()

    def look(self):
        """One look at the heartbeat: a stall opens if it is late and the loop is held; while
        it lasts, each look samples the stack again and the stall keeps the most frequent."""
        with self._lock:
            late = time.perf_counter() - self._last_beat
            if late < self.threshold:
                return
            stack = _stack(sys._current_frames().get(self.loop_thread))
            if _waiting(stack):
                return
            if self._open is None:
                self._open = {
                    "at": time.time(),
                    "seconds": None,  # filled in when the loop beats again
                    "stack": stack,
                }
                self._seen.clear()
                if len(self.stalls) < MAX_STALLS:
                    self.stalls.append(self._open)
            where = _where_of(stack)
            self._seen[where] += 1
            if self._seen[where] > self._seen[_where_of(self._open["stack"])]:
                self._open["stack"] = stack


@json_api("POST")
async def watchdog_start(request):
    """Start a loop watchdog in this server process: it samples the loop thread's stack when held."""
    global _current
    if not isinstance(request, ASGIRequest):
        return JsonResponse(
            {"error": "the watchdog needs an ASGI server: under WSGI there is no event loop"},
            status=409,
        )
    threshold = params.number(request, "threshold", 0.05, low=0.02, high=1.0)
    seconds = params.number(request, "seconds", 5.0, low=0.1, high=30.0)
    if _current is not None:
        _current.stop()
    _current = Watchdog(threshold, seconds)
    return JsonResponse({"started": time.time(), "threshold": threshold, "seconds": seconds})


@json_api("GET")
async def watchdog_report(request):
    """What the watchdog saw: each stall of the loop, with the loop thread's stack at that moment."""
    if _current is None:
        return JsonResponse({"running": False, "threshold": None, "stalls": []})
    return JsonResponse(
        {"running": _current.running, "threshold": _current.threshold, "stalls": _current.stalls}
    )


# The culprits: async views that each hold the loop in a different way, in a helper.


def _make_thumbnail(delay):
    # An image library working in C: the thread is held, no Python line moves meanwhile.
    time.sleep(delay)
    return {"thumbnail": "64x64"}


def _render_report(delay):
    rows, end = 0, time.perf_counter() + delay
    while time.perf_counter() < end:  # pure-Python work with no await in it
        rows += 1
    return {"rows": rows}


def _convert_document(delay):
    # A command-line tool, waited for: the innermost Python frame is in subprocess.py.
    command = [sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))"]
    subprocess.run([*command, str(delay)], check=True, stdin=subprocess.DEVNULL)
    return {"converted": True}


CULPRITS = {
    "thumbnail": _make_thumbnail,
    "report": _render_report,
    "convert": _convert_document,
}


@json_api("GET")
async def culprit(request, name):
    """THE MISTAKE, three ways: an async view that calls blocking code; find the line that blocks."""
    if name not in CULPRITS:
        known = ", ".join(sorted(CULPRITS))
        return JsonResponse({"error": f"no culprit {name!r}; try one of {known}"}, status=404)
    started = time.time()
    delay = params.delay(request, default=0.3)
    result = CULPRITS[name](delay)
    return JsonResponse({"culprit": name, "started": started, "ended": time.time(), **result})
