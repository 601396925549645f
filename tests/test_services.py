"""tutorial.services: one lifecycle for every background process, with real processes.

The command here is a tiny Python loop, so these tests pin the lifecycle itself (the site and
PostgreSQL have their own tests on top): readiness, failure with the log tail, and nothing left
— no process and no temp folder — after stop(), interpreter exit or SIGKILL of the parent.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.test_site_lifecycle import wait_gone
from tutorial.services import (
    CHECKOUT_VAR,
    ServiceFailedToStart,
    kill_leftovers,
    make_workdir,
    start_service,
)

# Writes a line, then a "ready" file, then waits forever.
SLEEPER = [
    sys.executable,
    "-c",
    "import pathlib, sys, time; print('hello from the service', flush=True); "
    "pathlib.Path(sys.argv[1], 'ready').touch(); time.sleep(600)",
]


def start_sleeper(**options):
    workdir = make_workdir("test")
    return start_service(
        "sleeper",
        [*SLEEPER, str(workdir)],
        workdir=workdir,
        ready=lambda service: (service.workdir / "ready").exists(),
        **options,
    )


def test_ready_service_logs_and_stop_removes_its_tree_and_folder():
    service = start_sleeper()
    pids, workdir = service.pids(), service.workdir
    assert len(pids) == 2  # the supervisor and the command
    assert "hello from the service" in service.logs()
    service.stop()
    assert wait_gone(pids, 2)
    assert not workdir.exists()


def test_context_manager_stops_it():
    with start_sleeper() as service:
        pids, workdir = service.pids(), service.workdir
    assert wait_gone(pids, 2)
    assert not workdir.exists()


def test_a_command_that_exits_fails_fast_with_its_log_tail_and_leaves_nothing():
    workdir = make_workdir("test")
    command = [sys.executable, "-c", "print('bad setting: frobnicate'); raise SystemExit(3)"]
    started = time.monotonic()
    with pytest.raises(ServiceFailedToStart) as failure:
        start_service("broken", command, workdir=workdir, ready=lambda s: False, timeout=10)
    assert time.monotonic() - started < 10
    assert "exited with code 3" in str(failure.value)
    assert "bad setting: frobnicate" in str(failure.value)
    assert not workdir.exists()


def test_a_service_never_ready_fails_at_its_deadline_and_leaves_nothing():
    workdir = make_workdir("test")
    with pytest.raises(ServiceFailedToStart, match="not ready within 1 s") as failure:
        start_service(
            "slow", [*SLEEPER, str(workdir)], workdir=workdir, ready=lambda s: False, timeout=1
        )
    assert "hello from the service" in str(failure.value)
    assert not workdir.exists()


def test_a_missing_program_is_a_clear_failure():
    workdir = make_workdir("test")
    with pytest.raises(ServiceFailedToStart, match="could not start /no/such/program"):
        start_service("ghost", ["/no/such/program"], workdir=workdir, ready=lambda s: False)
    assert not workdir.exists()


PARENT = """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from tests.test_services import start_sleeper
    from tutorial.preload import preload_server_pid
    service = start_sleeper(preload={preload})
    print(json.dumps({{"pids": service.pids(), "workdir": str(service.workdir),
                      "preload": preload_server_pid()}}), flush=True)
    {after}
"""


@pytest.mark.parametrize("preload", [False, True], ids=["exec", "forked"])
@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_the_supervisor_cleans_up_when_its_parent_dies(how, preload):
    # forked: the supervisor is forked by a preload server (tutorial/preload.py), which goes too.
    from tutorial.services import ROOT

    after = "time.sleep(60)" if how == "sigkill" else "sys.exit(0)"
    code = textwrap.dedent(PARENT).format(root=str(ROOT), after=after, preload=preload)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    started = json.loads(parent.stdout.readline())
    if how == "sigkill":
        parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only the closed pipe tells
    parent.wait(10)
    assert wait_gone(started["pids"], 2)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and os.path.exists(started["workdir"]):
        time.sleep(0.05)
    assert not os.path.exists(started["workdir"]), "temp folder outlived its parent"
    assert bool(started["preload"]) == preload
    assert wait_gone([started["preload"]] if preload else [], 2)


def test_kill_leftovers_stops_only_the_named_checkouts_services(tmp_path):
    other = start_sleeper(env={CHECKOUT_VAR: str(tmp_path)})  # as if from another checkout
    ours = start_sleeper()
    try:
        assert kill_leftovers(checkout=tmp_path) == 2  # its supervisor and its command
        assert wait_gone(other.pids() or [other.pid], 2)
        assert not other.workdir.exists()
        assert ours.running and ours.workdir.exists()
    finally:
        other.stop()
        ours.stop()


def test_the_supervisor_finds_the_whole_tree_from_proc_as_psutil_does():
    """tutorial.serve walks /proc/PID/task/*/children (no psutil import, no scan of every
    process); psutil's walk, used where there is no such file, finds the same processes. A pid
    handed to another process since it was listed is not killed."""
    from tutorial import serve

    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        pytest.skip("this kernel has no /proc/PID/task/TID/children")
    # A child that starts a grandchild in a session of its own (as PostgreSQL's backends do).
    script = (
        "import subprocess, time; "
        "subprocess.Popen(['sleep', '60'], start_new_session=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 10
        while not serve.descendants(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        from_proc = serve.descendants(parent.pid)
        by_psutil = serve._psutil_descendants(parent.pid)
        assert [p.pid for p in from_proc] == [p.pid for p in by_psutil]
        assert len(from_proc) == 1 and not from_proc[0].gone()
        (grandchild,) = from_proc
        replaced = serve._Process(grandchild.pid, grandchild.started + 1)
        assert replaced.gone()
        replaced.kill()  # another process by now: left alone
        assert not grandchild.gone()
        grandchild.kill()
        serve.wait_until_gone([grandchild], 5)
        assert grandchild.gone()
    finally:
        parent.kill()
        parent.wait()
