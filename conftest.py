"""Suite-wide guard: `make test` must leave no companion site, server or kernel behind.

Every process the run starts inherits TUTORIAL_RUN_ID; at the end the main pytest process looks
for any still alive (orphans are re-parented, so the process tree alone would miss them).
"""

import os
import re
import time
import uuid

import psutil
import pytest

RUN_ID_VAR = "TUTORIAL_RUN_ID"
# First line of a raises-exception cell: "# raises: SomeError" — the exception it must raise.
RAISES = re.compile(r"^# raises: (\w+)", re.M)


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the main process, before xdist starts workers
        os.environ.setdefault(RUN_ID_VAR, uuid.uuid4().hex)


def leftover_processes(run_id):
    me = os.getpid()
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != me and process.environ().get(RUN_ID_VAR) == run_id:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


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
        names = "\n".join(f"  {p.pid}: {' '.join(p.info['cmdline'] or [])[:150]}" for p in left)
        print(f"\nLEFT BEHIND by this test run ({len(left)} processes):\n{names}")
        for process in left:
            process.kill()
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
