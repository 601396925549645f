"""tests/kernel_sockets.py: the run's kernels talk over Unix sockets, each its own, and leave
none behind."""

import glob
import os

from jupyter_client.manager import start_new_kernel


def test_a_kernel_of_this_run_uses_its_own_unix_sockets_and_removes_them():
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        assert manager.transport == "ipc"
        assert os.path.isabs(manager.ip)
        sockets = glob.glob(glob.escape(manager.ip) + "-*")
        assert len(sockets) == 5, sockets  # shell, iopub, stdin, control, heartbeat
        reply = client.execute_interactive("1 + 1", timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not glob.glob(glob.escape(manager.ip) + "-*")
