"""Loaded first (`-p tests.quick_imports` in pyproject.toml): the start-up of every pytest
process of a run (the main one and each xdist worker), and so of all they start. Each part
changes what a run costs, never what a test checks.

Bytecode. PYTHONDONTWRITEBYTECODE=1 (set by many container images, this machine's included)
makes every process compile this checkout's modules again, and pytest rewrite the asserts of
every test module again: ~2 s of CPU in each worker, for collecting alone. The run caches
bytecode as Python does by default (__pycache__ is git-ignored); its processes inherit that.

Temp folders in memory. Each service (a companion site, a PostgreSQL cluster), kernel and
tmp_path makes its folders under the temp folder. Creating a file on a disk costs system CPU
(~0.6 ms here, on ext4; on tmpfs ~0.01 ms), and a cluster copies a data folder of ~970 files:
0.7 s of system CPU per cluster on /tmp, 0.08 s on /dev/shm. So unless TMPDIR says where temp
files go, a run on Linux puts them in /dev/shm (tmpfs) when it is there, writable and roomy.
The leftover guard (conftest.py) looks in that same temp folder. (A folder left there by a run
that was itself SIGKILLed goes with `TMPDIR=/dev/shm make kill-servers`, or at reboot.)

Plugins. anyio's pytest plugin (installed with httpx's anyio) runs no test here (no test is
marked anyio) and costs ~0.25 s of CPU per process to import: it is left out, as -p no:anyio
would (a test marked anyio would then fail: "async def functions are not natively supported").

Caches. A fresh checkout has no migrated companion-site template yet (.cache/: a SQLite file,
a PostgreSQL data folder and schema dump, tutorial/site.py): each worker's first site would
migrate at the same moment (~1.5 s of CPU each). The main process makes them once, in a
thread, while the workers start; a worker that needs one first makes it as before.

Garbage collection. Once collected, a worker holds ~100,000 objects (pytest's items, Django,
the notebooks) that live as long as it does; every full collection walked them all (~65 ms;
more on a busy machine). A check that times a learner's answer saw such a pause, taken in the
answer's frame, as the answer blocking the event loop (0.28 s, lesson 06, under load), and
lesson 14's checks call gc.collect() after each scenario. They are frozen after collection:
collections then walk what the tests make, as before.

TLS. httpx loads its CA bundle for every client it makes (~30 ms of CPU each; every
`httpx.get` makes one): tests/shared_tls.py has each process build the default context once.

Notebooks. tutorial.notebooks keeps jsonschema from importing rfc3987_syntax (~1 s of parser
building in every pytest worker, for an "iri" format check notebook validation never asks
for): importing it here, first, does that for the whole test run.
"""

import contextlib
import gc
import os
import sys
import tempfile
import threading

from tests import shared_tls

MEMORY_TEMP = "/dev/shm"
ROOMY = 2 * 2**30  # free bytes: the clusters of 4 workers and a few lessons, with a wide margin


def _cache_bytecode():
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the processes this run starts
    sys.dont_write_bytecode = False  # this one, from its next import on (test modules)


def _is_tmpfs(folder):
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(
                fields[1] == folder and fields[2] == "tmpfs"
                for fields in (line.split() for line in mounts)
                if len(fields) > 2
            )
    except OSError:
        return False


def _temp_in_memory():
    if os.environ.get("TMPDIR") or not sys.platform.startswith("linux"):
        return  # a temp folder chosen on purpose is kept; elsewhere, the system's
    if not (os.path.isdir(MEMORY_TEMP) and os.access(MEMORY_TEMP, os.W_OK | os.X_OK)):
        return
    stats = os.statvfs(MEMORY_TEMP)
    if stats.f_bavail * stats.f_frsize < ROOMY or not _is_tmpfs(MEMORY_TEMP):
        return
    os.environ["TMPDIR"] = MEMORY_TEMP  # the processes this run starts
    tempfile.tempdir = None  # this one: gettempdir() looks again


_cache_bytecode()
_temp_in_memory()
shared_tls.install()


_warming = None


def _warm_caches():
    from tutorial import site

    site._sqlite_template()  # returns at once when it is there
    if not list(site.CACHE_DIR.glob(f"companion-schema-{site._schema_key()}-*.sql")):
        from tutorial.postgres import start_postgres

        with start_postgres() as postgres:  # also caches the data folder it starts from
            postgres.create_role(site.SITE_ROLE)
            site._postgres_template(postgres)


def _warm_caches_quietly():
    with contextlib.suppress(Exception):  # a failure here is met again, and shown, by a test
        _warm_caches()


def pytest_configure(config):
    global _warming
    if not hasattr(config, "workerinput"):  # the main process (xdist's controller, or -n 0)
        _warming = threading.Thread(target=_warm_caches_quietly, name="warm-caches", daemon=True)
        _warming.start()


def pytest_collection_finish(session):
    gc.collect()
    gc.freeze()


def pytest_sessionfinish(session, exitstatus):
    if _warming is not None:
        _warming.join(120)  # its cluster gone before the leftover guard (conftest.py) looks


def pytest_addhooks(pluginmanager):
    """Called as this plugin registers: before pytest loads the installed plugins."""
    pluginmanager.set_blocked("anyio")


import tutorial.notebooks  # noqa: E402, F401 (imported for what it does before nbformat)
