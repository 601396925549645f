"""The no-orphans promise with a real Jupyter kernel: restart it, or SIGKILL it, and the site goes
— and so does a PostgreSQL cluster, backends and temp folder included. One kernel per way to end
it runs both: each has its own supervisor, so neither can take the other down with it."""

import json
import os
import signal
import time

import pytest

from tests.test_site_lifecycle import wait_gone

START_BOTH = (
    "import json, time\n"
    "from tutorial.postgres import start_postgres\n"
    "from tutorial.site import start_site\n"
    "from tutorial.preload import preload_server_pid\n"
    "deadline = time.monotonic() + 10\n"  # the import started the preload server, in a thread
    "while preload_server_pid() is None and time.monotonic() < deadline: time.sleep(0.01)\n"
    "warmed = preload_server_pid()\n"
    "site = start_site()\n"
    "pg = start_postgres()\n"
    "connection = pg.connect()\n"
    "print(json.dumps({'site': site.pids(), 'postgres': pg.pids(), 'workdir': str(pg.workdir),\n"
    "                  'warmed': warmed, 'preload': preload_server_pid(),\n"
    "                  'forked': type(site._process).__name__}))"
)


def started_in(client):
    outputs = []
    reply = client.execute_interactive(
        START_BOTH,
        timeout=30,
        output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return json.loads("".join(outputs))


def wait_removed(folder, seconds):
    deadline = time.monotonic() + seconds
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not os.path.exists(folder)


@pytest.mark.parametrize("how", ["restart", "sigkill"])
def test_the_site_and_postgres_die_with_their_kernel(kernel, how):
    manager, client = kernel
    started = started_in(client)
    # In a kernel, importing tutorial.site starts the preload server; the site is its fork.
    assert started["warmed"] is not None and started["warmed"] == started["preload"]
    assert started["forked"] == "ForkedSupervisor"
    if how == "restart":
        manager.restart_kernel(now=True)
    else:
        manager.signal_kernel(signal.SIGKILL)
    assert wait_gone(started["site"], 5 if how == "restart" else 2), (
        f"the server outlived a kernel {how}"
    )
    assert wait_gone(started["postgres"], 2), f"postgres outlived a kernel {how}"
    assert wait_gone([started["preload"]], 2), f"the preload server outlived a kernel {how}"
    assert wait_removed(started["workdir"], 2), f"its temp folder outlived a kernel {how}"
