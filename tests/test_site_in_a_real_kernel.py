"""The no-orphans promise with a real Jupyter kernel: restart it, or SIGKILL it, and the site goes
— and so does a PostgreSQL cluster, backends and temp folder included."""

import json
import os
import signal
import time

import pytest
from jupyter_client.manager import start_new_kernel

from tests.test_site_lifecycle import wait_gone

START_SITE = (
    "from tutorial.site import start_site\nsite = start_site()\nprint(json.dumps(site.pids()))"
)
START_POSTGRES = (
    "from tutorial.postgres import start_postgres\npg = start_postgres()\nconnection = pg.connect()\n"
    "print(json.dumps({'pids': pg.pids(), 'workdir': str(pg.workdir)}))"
)


@pytest.fixture
def kernel():
    manager, client = start_new_kernel(kernel_name="python3")
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def site_pids_in(client, code=START_SITE):
    outputs = []
    reply = client.execute_interactive(
        "import json\n" + code,
        timeout=30,
        output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return json.loads("".join(outputs))


def test_server_dies_when_the_kernel_restarts(kernel):
    manager, client = kernel
    pids = site_pids_in(client)
    manager.restart_kernel(now=True)
    assert wait_gone(pids, 5), "server outlived a kernel restart"


def test_server_dies_when_the_kernel_is_killed(kernel):
    manager, client = kernel
    pids = site_pids_in(client)
    manager.signal_kernel(signal.SIGKILL)
    assert wait_gone(pids, 2), "server outlived a SIGKILLed kernel"


def wait_removed(folder, seconds):
    deadline = time.monotonic() + seconds
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(folder)


@pytest.mark.parametrize("how", ["restart", "sigkill"])
def test_postgres_dies_with_its_kernel(kernel, how):
    manager, client = kernel
    started = site_pids_in(client, START_POSTGRES)
    if how == "restart":
        manager.restart_kernel(now=True)
    else:
        manager.signal_kernel(signal.SIGKILL)
    assert wait_gone(started["pids"], 2), f"postgres outlived a kernel {how}"
    assert wait_removed(started["workdir"], 2), f"its temp folder outlived a kernel {how}"
