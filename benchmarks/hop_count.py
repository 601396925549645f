"""Count the thread hops (sync_to_async calls) and thread starts of one request under ASGI.

    from benchmarks.hop_count import count_hops
    count_hops("/async/sleep/?delay=0")                                   # the site as it is
    count_hops("/async/sleep/?delay=0", env={"COMPANION_LEAN_MIDDLEWARE": "1"})
    count_hops("/async/sleep/?delay=0", env={"COMPANION_REUSE_THREADS": "1"})

Runs in a child process with the companion site's settings (so this process's Django, if any,
is untouched): it wraps asgiref's SyncToAsync.__call__ and threading.Thread.start with counters,
sends one request through the site's ASGI application (config.asgi) in memory
(benchmarks.in_memory), and reports what each hop ran and how many threads the request started.
"""

import json
import os
import subprocess
import sys
import tempfile

from tutorial.site import ROOT, SITE_DIR

_CHILD = r"""
import asyncio, collections, json, sys, threading
from asgiref.sync import SyncToAsync
from benchmarks.in_memory import get
from config.asgi import application

calls = collections.Counter()
original = SyncToAsync.__call__

async def counted(self, *args, **kwargs):
    bound_to = getattr(self.func, "__self__", None)  # a bound method: name it by its class
    name = getattr(self.func, "__qualname__", repr(self.func))
    if bound_to is not None:
        name = f"{type(bound_to).__name__}.{self.func.__name__}"
    calls[name] += 1
    return await original(self, *args, **kwargs)

SyncToAsync.__call__ = counted
started = []
start = threading.Thread.start

def counted_start(self):
    started.append(self.name)
    return start(self)

threading.Thread.start = counted_start
async def one_request():
    sent = []
    async def send(message):
        sent.append(message)
    await get(application, sys.argv[1], send)
    return sent[0]["status"]

asyncio.run(one_request())  # warm up: imports, URL resolver, first-time setup
calls.clear()
started.clear()
status = asyncio.run(one_request())
print(json.dumps({"status": status, "hops": dict(calls), "threads_started": len(started)}))
"""


def count_hops(path="/async/sleep/?delay=0", *, env=None, timeout=60):
    """{"status", "hops": {what ran in a thread: times}, "threads_started"} for one request."""
    with tempfile.TemporaryDirectory(prefix="hop-count-") as folder:
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "COMPANION_DB": os.path.join(folder, "db.sqlite3"),
            "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(ROOT)]),
            **(env or {}),
        }
        done = subprocess.run([sys.executable, "-c", _CHILD, path], cwd=SITE_DIR, env=child_env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"counting hops failed:\n{done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
