"""Suite-wide guard: `make test` must leave no companion site, PostgreSQL, server, kernel or
service temp folder behind.

Every process the run starts inherits TUTORIAL_RUN_ID; at the end the main pytest process looks
for any still alive (orphans are re-parented, so the process tree alone would miss them).
PostgreSQL's backends are the exception: they run as another user when we are root and overwrite
their environment with their process title, so they are found as descendants of a marked
process, or by their working folder, the data folder of a service this run started.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tutorial.services import OWNER_FILE, RUN_ID_VAR

# First line of a raises-exception cell: "# raises: SomeError" — the exception it must raise.
RAISES = re.compile(r"^# raises: (\w+)", re.M)


# xdist hands out whole files (--dist loadfile) in collection order (--no-loadscope-reorder):
# the longest go first, so that none of them starts last and runs on alone at the end. Seconds of
# wall time each, measured with 4 workers on 2 cores (2026-12-02); a file not listed keeps its
# place after them, notebooks (~10-20 s each) before the quicker test files.
LONGEST_FIRST = [
    "tests/test_lab.py",  # 49
    "tests/test_checks_lesson06.py",  # 32
    "tests/test_checks_lesson14.py",  # 29
    "tests/test_checks_lesson08.py",  # 28
    "notebooks/15_measuring.ipynb",  # 27
    "tests/test_checks_lesson05.py",  # 26
    "tests/test_site_lifecycle.py",  # 24
    "notebooks/13_connections_and_pools.ipynb",  # 22
    "notebooks/06_fan_out.ipynb",  # 22
    "tests/test_benchmarks.py",  # 21
    "notebooks/14_websockets.ipynb",  # 20
    "notebooks/09_middleware.ipynb",  # 20
    "tests/test_site_on_postgres.py",  # 20
    "notebooks/05_async_views.ipynb",  # 19
    "tests/test_checks_lesson02.py",  # 19
    "notebooks/12_deploying.ipynb",  # 19
    "tests/test_exercises.py",  # 17
    "tests/test_checks_lesson01.py",  # 17
    "tests/test_load_held.py",  # 17
]


def pytest_collection_modifyitems(session, config, items):
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def order(item):
        path = item.nodeid.split("::", 1)[0]
        return rank.get(path, len(rank) + (0 if path.endswith(".ipynb") else 1))

    items.sort(key=order)  # stable: a file's own tests (a notebook's cells) keep their order


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the main process, before xdist starts workers
        os.environ.setdefault(RUN_ID_VAR, uuid.uuid4().hex)


@pytest.fixture(autouse=True)
def _quick_password_hashing(request):
    """The site's in-process Django tests hash passwords with MD5, as Django's testing docs
    advise ("Speeding up the tests"): PBKDF2's 1,000,000 rounds cost ~1 s per signup and login
    here. The companion site run by the lessons keeps Django's default hasher."""
    if "django_db_setup" not in request.fixturenames and not _is_django_test_case(request):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


def _is_django_test_case(request):
    if request.cls is None:
        return False
    from django.test import SimpleTestCase

    return issubclass(request.cls, SimpleTestCase)


def service_folders(run_id):
    """Temp folders of the services (tutorial.services.make_workdir) this run started."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob("tutorial-*-*"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads((folder / OWNER_FILE).read_text())["run_id"] == run_id:
                found.append(folder)
    return found


def leftover_processes(run_id):
    me = os.getpid()
    folders = [str(folder) for folder in service_folders(run_id)]
    found = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid == me or _is_my_resource_tracker(process, me):
                continue
            if process.environ().get(RUN_ID_VAR) == run_id:
                found[process.pid] = process
                found.update((child.pid, child) for child in process.children(recursive=True))
            elif folders and process.cwd().startswith(tuple(folders)):
                found[process.pid] = process  # a PostgreSQL backend whose postmaster is gone
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    found.pop(me, None)
    return list(found.values())


def _is_my_resource_tracker(process, me):
    """multiprocessing's resource tracker, started by the first spawned pool of this process (a
    run with -n 0): it lives as long as this process, and ends when it does (its pipe closes)."""
    return process.ppid() == me and "multiprocessing.resource_tracker" in " ".join(
        process.cmdline()
    )


def describe(process):
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())[:150]
    return "(gone)"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return
    run_id = os.environ.get(RUN_ID_VAR)
    deadline = time.monotonic() + 10
    left = leftover_processes(run_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = leftover_processes(run_id)
    if left:
        names = "\n".join(f"  {p.pid}: {describe(p)}" for p in left)
        print(f"\nLEFT BEHIND by this test run ({len(left)} processes):\n{names}")
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.kill()
        session.exitstatus = 1
    folders = service_folders(run_id)
    if folders:
        print(f"\nLEFT BEHIND by this test run: {', '.join(map(str, folders))}")
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        session.exitstatus = 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """nbval lets a cell tagged raises-exception pass when it does not raise: we do not.

    Such a cell is a claim ("this raises X") and must fail the run when the claim stops being
    true: it must raise, and raise the exception its "# raises: X" line names.
    """
    result = yield
    cell = getattr(item, "cell", None)
    if cell is not None and "raises-exception" in cell.get("metadata", {}).get("tags", []):
        outputs = getattr(item, "test_outputs", None) or []
        raised = [output.get("ename") for output in outputs if output.get("output_type") == "error"]
        if not raised:
            raise AssertionError(
                "this cell is tagged raises-exception but raised nothing: the claim it shows "
                "is no longer true (or the tag is stale)"
            )
        expected = RAISES.search(cell.get("source", ""))
        if expected and raised[0] != expected.group(1):
            raise AssertionError(
                f"this cell says it raises {expected.group(1)}, but raised {raised[0]}"
            )
    return result


@pytest.fixture(scope="session")
def postgres():
    """One private PostgreSQL cluster per test process, shared by the tests that need one."""
    from tutorial.postgres import start_postgres

    with start_postgres() as cluster:
        yield cluster


@pytest.fixture
def kernel():
    """A real Jupyter kernel of this interpreter: (its manager, a client), shut down after."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)
