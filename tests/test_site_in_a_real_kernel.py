"""The no-orphans promise with a real Jupyter kernel: restart it, or SIGKILL it, and the site goes."""

import json
import signal

import pytest
from jupyter_client.manager import start_new_kernel

from tests.test_site_lifecycle import wait_gone

START_SITE = (
    "from tutorial.site import start_site\nsite = start_site()\nprint(json.dumps(site.pids()))"
)


@pytest.fixture
def kernel():
    manager, client = start_new_kernel(kernel_name="python3")
    yield manager, client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def site_pids_in(client):
    outputs = []
    reply = client.execute_interactive(
        "import json\n" + START_SITE,
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
