"""Loaded first (`-p tests.kernel_forks` in pyproject.toml): every ipykernel kernel this test run
starts (nbval's, tutorial.notebooks.execute's, a test's own) is forked from a process that has
ipykernel, IPython, matplotlib, Django, uvicorn and httpx imported already.

Why. A kernel spends ~0.6 s of CPU starting, and a lesson's set-up cell ~0.5-1 s more importing
matplotlib and Django, before the first line of the lesson runs; the suite starts ~50 kernels on
a 2-core machine. Forked, a kernel starts in a few ms, with those modules' pages shared.

What stays the same. It is ipykernel's own IPKernelApp, with the manager's connection file,
environment and working folder; only its imports were done before the fork (no Django settings,
no event loop, no thread, no zmq context: nothing that is per kernel). The kernels and sites do
not share httpx's TLS context as the test processes do (tests/shared_tls.py): lesson 06 measures
what a new client costs. The manager's view is the
same too: it starts tests/kernel_launcher.py, which stands in for the kernel (signals, SIGKILL,
exit code; see there). A learner's kernels (make lab) and the kernels of any process that does
not load this plugin (a `make progress` a test runs) start as usual.

The fork servers: one for kernels and one for tutorial.preload's preload servers, per run. The
run's main process (xdist's controller, or the only process) starts them at configure, and
every process it starts afterwards (xdist's workers too) finds their addresses in the
environment: six workers importing ipykernel, matplotlib and Django each cost ~8 s of CPU on 2
cores before any test ran. They end at the main process's sessionfinish, and with it (stdin
closes); a fork server SIGKILLs the kernels it forked when it ends. A worker that finds the
kernels' server gone starts one of its own. Each listens on an abstract Unix socket (no file
to leave behind) and serves only its own user. Linux only; elsewhere kernels start as usual.
"""

import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import uuid

from jupyter_client.manager import KernelManager

from tutorial.preload import FACTORY_VAR, _alive, _exit_with, serve_forks

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_launcher.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AVAILABLE = sys.platform.startswith("linux") and hasattr(socket, "send_fds")
INLINE = "module://matplotlib_inline.backend_inline"  # what ipykernel sets MPLBACKEND to
READY_SECONDS = 60.0  # for a server to listen (a loaded machine)
_SERVE = "import sys; from tests.kernel_forks import serve; serve(*sys.argv[1:])"
KERNELS_VAR = "TUTORIAL_KERNEL_FORKS"  # "ADDRESS PID" of the run's kernel fork server


# ---- in the test process ---------------------------------------------------------------------


class _ForkServer:
    """One fork server of this process: "kernels" (for the kernel launchers) or "preload"
    (a factory of tutorial.preload's preload servers, named to them in FACTORY_VAR)."""

    def __init__(self, kind):
        self.kind, self.process, self.address, self._ready = kind, None, None, None

    def start(self):
        self.address = f"tutorial-{self.kind}-forks-{uuid.uuid4().hex}"  # bound as "\0" + it
        ready_read, ready_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, self.kind, self.address, str(ready_write)],
            stdin=subprocess.PIPE,  # closes when this process ends, SIGKILL too: it ends
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
            pass_fds=(ready_write,),
            start_new_session=True,  # Ctrl-C of the test run reaches it through its stdin only
        )
        os.close(ready_write)
        self._ready = ready_read

    def listening(self):
        """Its address once it listens, started again if it ended; None if it does not start
        (kernels then start as usual)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        if self._ready is not None:
            readable = select.select([self._ready], [], [], READY_SECONDS)[0]
            ok = bool(readable) and os.read(self._ready, 1) == b"1"
            os.close(self._ready)
            self._ready = None
            if not ok:
                self.stop()
                return None
        return self.address

    def stop(self):
        if self._ready is not None:
            os.close(self._ready)
            self._ready = None
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


_kernels = _ForkServer("kernels")
_preload = _ForkServer("preload")
_original_format_kernel_cmd = KernelManager.format_kernel_cmd


def _kernels_address():
    """The address of a kernel fork server that runs: the run's, else one of this process's."""
    if _kernels.process is None and KERNELS_VAR in os.environ:
        address, pid = os.environ[KERNELS_VAR].split()
        if _alive(int(pid)):
            return address  # it listens: it was bound before its address went out
    return _kernels.listening()


def _format_kernel_cmd(self, extra_arguments=None):
    command = _original_format_kernel_cmd(self, extra_arguments)
    if command[:3] == [sys.executable, "-m", "ipykernel_launcher"]:
        address = _kernels_address()
        if address is not None:
            return [sys.executable, "-S", LAUNCHER, address, *command[3:]]
    return command


def pytest_configure(config):
    if not AVAILABLE:
        return
    KernelManager.format_kernel_cmd = _format_kernel_cmd  # AsyncKernelManager inherits it
    if hasattr(config, "workerinput"):
        return  # an xdist worker: its controller started the run's servers (the environment)
    # Both start now, their imports overlapping collection (and xdist's workers' start). The
    # preload factory's address goes out at once: a client that connects before it listens
    # starts its preload server as usual. The kernels' address goes out once it listens.
    _kernels.start()
    _preload.start()
    os.environ[FACTORY_VAR] = _preload.address
    address = _kernels.listening()
    if address is not None:
        os.environ[KERNELS_VAR] = f"{address} {_kernels.process.pid}"


def pytest_sessionfinish(session, exitstatus):
    os.environ.pop(FACTORY_VAR, None)
    os.environ.pop(KERNELS_VAR, None)
    _kernels.stop()  # before the leftover guard (conftest.py, trylast) looks
    _preload.stop()


# ---- in the fork server ------------------------------------------------------------------------


def _preloaded():
    from tutorial.preload import PRELOAD as SITE_LIBRARIES

    kernel = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell")
    plots = ("matplotlib.pyplot", "matplotlib_inline.backend_inline")
    return kernel + plots + SITE_LIBRARIES


def serve(kind, address, ready_fd):
    """Listen at `address`, import, then fork: a kernel per launcher that connects ("kernels"),
    or a preload server per tutorial.preload client that asks ("preload")."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("\0" + address)
    listener.listen(64)
    os.write(int(ready_fd), b"1")  # clients may connect now; they wait while the imports run
    os.close(int(ready_fd))
    if kind == "kernels":
        _import_for_kernels()
    else:
        _import_for_preload_servers()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    kernels = {}  # pid -> the launcher's connection, None once it closed
    launchers = {}  # connection -> pid
    while True:
        readable = select.select([0, listener, wake_read, *launchers], [], [])[0]
        if 0 in readable and not os.read(0, 512):
            for pid in kernels:
                _kill_group(pid)
            os._exit(0)
        if wake_read in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 512)
        _report_exits(kernels, launchers)
        for connection in [c for c in readable if c in launchers]:
            if not _receive(connection):  # the launcher is gone (SIGKILL): its kernel goes too
                pid = launchers.pop(connection)
                kernels[pid] = None
                connection.close()
                _kill_group(pid)
        if listener in readable and kind == "kernels":
            _accept(listener, kernels, launchers, wake_read, wake_write)
        elif listener in readable:
            _fork_preload_server(listener, kernels, wake_read, wake_write)


def _import_for_kernels():
    import importlib

    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher does; the kernel puts its own folder back
    # Read at import time, so set as a kernel would see them: ipykernel's parent (the manager,
    # our parent), matplotlib's backend (ipykernel's inline one), one BLAS thread (no thread
    # may run at a fork).
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    os.environ["MPLBACKEND"] = INLINE
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    for name in _preloaded():
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    # What the imports made is never collected in a kernel: its garbage collections then walk
    # only the kernel's own objects (a lesson's loop-stall checks see no longer pauses than in
    # a kernel that imported less), and touch no page shared with the other kernels.
    gc.collect()
    gc.freeze()


def _import_for_preload_servers():
    """What a preload server imports (tutorial.preload.serve_forks), in the same environment:
    without Django settings. No gc.freeze: the sites forked from it are as they are without."""
    import importlib

    from tutorial.preload import PRELOAD

    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _fork_preload_server(listener, children, *pipe):
    """tutorial.preload's client sends its environment, its folder and its end of the socket
    pair; the fork runs serve_forks on it, as `python -m tutorial.serve --preload FD` would."""
    connection = _accepted(listener)
    if connection is None:
        return
    with connection:
        try:
            request, fds, _flags, _address = socket.recv_fds(connection, 1 << 20, 1)
        except OSError:
            return
        if not request or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return
        pid = os.fork()
        if pid == 0:
            _become_preload_server(json.loads(request), fds[0], [listener, connection], pipe)
        os.close(fds[0])
        children[pid] = None  # reaped here: it forks the preload server and exits at once
        with contextlib.suppress(OSError):
            connection.send(b"forked")


def _become_preload_server(request, control_fd, sockets, pipe):
    def body():
        null = os.open(os.devnull, os.O_RDWR)
        _leave_the_server(request, {0: null, 1: null}, sockets, pipe)  # as Popen'ed: DEVNULL
        os.close(null)
        serve_forks(control_fd)  # forks the preload server, which ends with os._exit

    _exit_with(body)


def _leave_the_server(request, descriptors, sockets, pipe):
    """In a fork: a session of its own (as start_new_session gives), default signals, the
    descriptors put in place ({target: fd}), the server's own closed, the request's environment
    and working folder."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in descriptors.items():
        os.dup2(fd, target)
    for each in sockets:
        each.close()
    for fd in pipe:
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])


def _accepted(listener):
    """The next connection, if it comes from this user (whatever it asks for runs as us)."""
    connection, _ = listener.accept()
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    _pid, uid, _gid = struct.unpack("3i", credentials)
    if uid != os.getuid():
        connection.close()
        return None
    connection.settimeout(10)
    return connection


def _receive(connection):
    try:
        return connection.recv(16)
    except OSError:
        return b""


def _kill_group(pid):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _report_exits(kernels, launchers):
    for pid in list(kernels):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            connection = kernels.pop(pid)
            if connection is not None:
                launchers.pop(connection, None)
                with contextlib.suppress(OSError):
                    code = os.waitstatus_to_exitcode(status)
                    connection.send(json.dumps({"exited": code}).encode())
                connection.close()


def _accept(listener, kernels, launchers, *pipe):
    connection = _accepted(listener)
    if connection is None:
        return
    try:
        request, fds, _flags, _address = socket.recv_fds(connection, 1 << 20, 3)
    except OSError:
        connection.close()
        return
    connection.settimeout(None)
    if not request or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        connection.close()
        return
    pid = os.fork()
    if pid == 0:
        _become_kernel(json.loads(request), fds, [listener, *launchers, connection], pipe)
    for fd in fds:
        os.close(fd)
    kernels[pid] = connection
    launchers[connection] = pid
    try:
        connection.send(json.dumps({"pid": pid}).encode())
    except OSError:  # the launcher was killed meanwhile (a restart, then a shutdown at once)
        launchers.pop(connection)
        kernels[pid] = None
        connection.close()
        _kill_group(pid)


def _become_kernel(request, fds, sockets, pipe):
    """In the fork: become the kernel the launcher asked for, then exit as an interpreter does."""

    def body():
        _leave_the_server(request, dict(enumerate(fds)), sockets, pipe)  # the launcher's 0-2
        for fd in fds:
            os.close(fd)
        if "matplotlib" in sys.modules and os.environ.get("MPLBACKEND", INLINE) != INLINE:
            sys.modules["matplotlib"].rcParams["backend"] = os.environ["MPLBACKEND"]
        import ipykernel_launcher
        from ipykernel import kernelapp

        sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
        try:
            kernelapp.launch_new_instance()
        finally:
            # What an interpreter does at exit (wait for non-daemon threads, atexit), which
            # _exit_with then skips: it leaves without returning into the fork server's loop.
            import atexit
            import threading

            with contextlib.suppress(BaseException):
                threading._shutdown()
            with contextlib.suppress(BaseException):
                atexit._run_exitfuncs()

    _exit_with(body)
