"""tests/kernel_forks.py: a kernel of the run is forked with its libraries imported, and its
manager handles it as any kernel: code runs, an interrupt interrupts, SIGKILL takes its process
group down, a shutdown leaves nothing."""

import json
import os
import signal
import time

import psutil
import pytest
from jupyter_client.manager import start_new_kernel

from tests import kernel_forks
from tests.test_site_lifecycle import wait_gone

pytestmark = pytest.mark.skipif(not kernel_forks.AVAILABLE, reason="kernel forks: Linux only")


def run(client, code, timeout=30):
    outputs = []
    reply = client.execute_interactive(
        code, timeout=timeout, output_hook=lambda m: outputs.append(m["content"].get("text", ""))
    )
    return reply["content"], "".join(outputs)


def gone(pid, seconds):
    return wait_gone([pid], seconds)


def test_the_kernel_is_a_fork_with_its_libraries_imported_and_the_launcher_stands_in(kernel):
    manager, client = kernel
    code = (
        "import json, os, sys, subprocess\n"
        "child = subprocess.Popen(['sleep', '60'])\n"  # in the kernel's process group
        "print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'child': child.pid,\n"
        "  'pgid': os.getpgid(0), 'cwd': os.getcwd(), 'preloaded': 'matplotlib' in sys.modules,\n"
        "  'argv0': sys.argv[0], 'shared_tls': 'tests.shared_tls' in sys.modules}))"
    )
    content, printed = run(client, code)
    assert content["status"] == "ok", content
    seen = json.loads(printed)
    launcher = manager.provisioner.process.pid
    assert seen["pid"] != launcher and seen["pgid"] == seen["pid"]
    assert "kernel_forks" in " ".join(psutil.Process(seen["ppid"]).cmdline())
    assert seen["preloaded"] and seen["argv0"].endswith("ipykernel_launcher.py")
    assert not seen["shared_tls"]  # a new httpx client costs what it costs a learner (lesson 06)
    assert seen["cwd"] == os.getcwd()

    started = time.monotonic()
    # stop_on_error=False: else ipykernel aborts the requests that reach it just after the
    # error, and on a loaded machine the next one did ("aborted").
    sleeping = client.execute("import time; time.sleep(30)", stop_on_error=False)
    time.sleep(0.5)
    manager.interrupt_kernel()
    reply = client.get_shell_msg(timeout=20)
    assert reply["parent_header"]["msg_id"] == sleeping
    assert reply["content"]["ename"] == "KeyboardInterrupt" and time.monotonic() - started < 20
    content, printed = run(client, "print('after the interrupt')")
    assert content["status"] == "ok" and printed == "after the interrupt\n"

    manager.signal_kernel(signal.SIGKILL)  # to the launcher's group, as jupyter_client kills
    assert gone(seen["pid"], 5), "the kernel outlived a SIGKILL of its launcher"
    assert gone(seen["child"], 5), "a process in the kernel's group outlived it"


def test_a_kernel_that_shuts_down_is_reaped_and_its_launcher_exits_with_its_code():
    manager, client = start_new_kernel(kernel_name="python3")
    _, printed = run(client, "import os; print(os.getpid())")
    pid, launcher = int(printed), manager.provisioner.process
    client.stop_channels()
    manager.shutdown_kernel(now=False)  # a shutdown request: the kernel exits by itself
    assert gone(pid, 5)
    assert launcher.returncode == 0  # the kernel's own exit code


def test_a_preload_server_of_this_run_is_forked_by_the_factory_and_ends_with_its_client():
    code = (
        "import json, psutil\n"
        "from tutorial.site import start_site\n"
        "from tutorial.preload import preload_server_pid\n"
        "with start_site() as site:\n"
        "    import httpx; ok = httpx.get(site.url + '/health/').status_code == 200\n"
        "    pid = preload_server_pid()\n"
        "    print(json.dumps({'ok': ok, 'pid': pid, 'cmd': psutil.Process(pid).cmdline()}))"
    )
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        content, printed = run(client, code)
        assert content["status"] == "ok", content
        seen = json.loads(printed)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert seen["ok"] and "preload" in seen["cmd"] and "kernel_forks" in " ".join(seen["cmd"])
    assert gone(seen["pid"], 5), "the preload server outlived the kernel that used it"


def test_a_worker_uses_the_runs_kernel_server_and_starts_its_own_if_it_is_gone(monkeypatch):
    own = kernel_forks._ForkServer("kernels")
    monkeypatch.setattr(own, "listening", lambda: "own-address")
    monkeypatch.setattr(kernel_forks, "_kernels", own)  # as in a worker: none started here
    monkeypatch.setenv(kernel_forks.KERNELS_VAR, f"runs-address {os.getpid()}")
    assert kernel_forks._kernels_address() == "runs-address"
    ended = psutil.Popen(["true"])
    ended.wait()
    monkeypatch.setenv(kernel_forks.KERNELS_VAR, f"runs-address {ended.pid}")
    assert kernel_forks._kernels_address() == "own-address"
