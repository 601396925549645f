"""Loaded first (`-p tests.kernel_sockets` in pyproject.toml): every Jupyter kernel this test
run starts (nbval's, tutorial.notebooks.execute's, a test's own) talks to its manager over Unix
sockets, not TCP ports. The kernels and what they check are the same; only their start is safer.

Why. jupyter_client picks a kernel's five TCP ports by binding port 0 and closing the socket,
then writes the numbers for the kernel to bind. Until the kernel binds them, any process may
take one of them: the ephemeral ports of this suite's thousands of outgoing connections come
from the same range. With 6 or 8 workers, 2 runs in 6 lost a kernel that way ("Kernel died
before replying to kernel_info": its bind failed; "didn't respond in 60 seconds": its manager
spoke to whoever had the port). A Unix socket is a file name nobody else picks.

Each kernel's sockets are `<jupyter runtime dir>/kernel-ipc-<random>-<n>`, beside its
connection file; jupyter_client deletes them when it shuts the kernel down (cleanup_ipc_files).
"""

import os
import uuid

from jupyter_client.manager import KernelManager
from jupyter_core.paths import jupyter_runtime_dir

_original_init = KernelManager.__init__


def _init_over_unix_sockets(self, *args, **kwargs):
    if "transport" not in kwargs and "ip" not in kwargs:
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, exist_ok=True)
        kwargs["transport"] = "ipc"
        # Absolute: jupyter_client's own ipc default, "kernel-ipc", is relative to each
        # process's working folder, and kernels started in one folder would share its names.
        kwargs["ip"] = os.path.join(runtime, f"kernel-ipc-{uuid.uuid4().hex[:12]}")
    _original_init(self, *args, **kwargs)


KernelManager.__init__ = _init_over_unix_sockets  # AsyncKernelManager is a subclass
