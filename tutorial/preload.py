"""Start a service's supervisor by forking a process that has Django and uvicorn imported already.

A fresh `python -m tutorial.uvicorn_fd` spends ~0.3 s of CPU importing Django, uvicorn and their
standard-library modules before the site runs a line of its own; the tests start the site over a
hundred times. So the first preloaded start in a process starts one *preload server* for it:

    python -m tutorial.serve --preload FD   # imports the libraries, no settings, then waits

and every preloaded start sends it a request over a socket pair (the supervisor's arguments,
environment and working folder, with its stdin pipe, log and listening socket as descriptors).
The preload server forks; the fork becomes the supervisor (`tutorial.serve`, in a session of
its own, stdin = that pipe) and forks the command from itself, so the site imports only its own
settings, apps and URLs; then it execs a fresh `tutorial.serve --adopt PID`, which weighs what
an exec'ed supervisor weighs and supervises the command, still its child. The lifecycle is the same as for an exec'ed supervisor: the pipe closes
(stop(), exit, SIGKILL of this process) and the supervisor takes the tree down and removes its
folder. The preload server ends when its socket pair closes (with this process, SIGKILL too),
after IDLE_SECONDS without a service, or on SIGTERM (`make kill-servers`). It is nobody's child
but init's, so "no child process left" checks of this process see only the services; its CPU,
and that of the sites it forked, is reaped by init, not counted in this process's
RUSAGE_CHILDREN (measure with psutil's cpu_times of the preload server, or under a subreaper).

Nothing settings-dependent is imported before the fork: the preload server runs without
DJANGO_SETTINGS_MODULE, so a library that read a setting at import would fail there (and be
skipped; a test checks that none is), not leak one site's settings into the next. Only
`python -m MODULE` commands of this interpreter run in a fork; anything else is exec'ed by the
forked supervisor. tutorial/site.py decides which starts are preloaded: uvicorn with one
worker, unless fresh=True or TUTORIAL_PRELOAD=0; in a Jupyter kernel, importing it starts the
preload server (warm_up) so that the kernel's first site finds it ready.
"""

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from tutorial.serve import ForkedChild

# Imported once by the preload server; each must import without Django settings.
PRELOAD = (
    "asyncio",
    "logging.config",
    "uvicorn.main",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "django.core.asgi",
    "django.core.handlers.asgi",
    "django.db.models",
    "django.db.backends.sqlite3.base",
    "django.contrib.auth.apps",
    "django.contrib.auth.checks",
    "django.contrib.contenttypes.apps",
    "django.contrib.sessions.apps",
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.middleware",
    "django.middleware.security",
    "django.middleware.common",
    "django.middleware.csrf",
    "django.middleware.clickjacking",
    "django.template.backends.django",
    "django.urls",
    "django.views.generic",
    "django.views.decorators.csrf",
    "django.shortcuts",
    "django.tasks.backends.immediate",
    "channels.apps",
    "channels.auth",
    "channels.routing",
    "channels.security.websocket",
    "httpx",
    "psutil",
)
# Linux: pidfd_open lets the supervisor wait for its forked command as it would for a Popen.
AVAILABLE = hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")
_MAX_FDS = 3  # stdin pipe, log, listening socket
ANSWER_SECONDS = 60.0  # for the preload server's imports (a loaded machine) and its fork
IDLE_SECONDS = 5.0  # without a service for this long, the preload server ends
FACTORY_VAR = "TUTORIAL_PRELOAD_FACTORY"  # see _forked_by_factory


# ---- in the process that starts services -------------------------------------------------------


class _Client:
    """This process's connection to one preload server."""

    def __init__(self, env):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {key: value for key, value in env.items() if key != "DJANGO_SETTINGS_MODULE"}
        cwd = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        try:
            if not _forked_by_factory(theirs, env, cwd):
                server = subprocess.Popen(
                    [sys.executable, "-m", "tutorial.serve", "--preload", str(theirs.fileno())],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    cwd=cwd,
                    env=env,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,  # Ctrl-C in the notebook does not reach it
                )
                server.wait()  # it forks the preload server and exits at once
        finally:
            theirs.close()
        self._sock, self._lock, self._ended = ours, threading.Lock(), False
        self.owner = os.getpid()  # a fork of this process must start a server of its own
        self.exits = {}  # supervisor pid -> exit code, as the preload server reaps them
        message = self._receive(ANSWER_SECONDS)
        self.pid = message.get("server") if message else None

    @property
    def running(self):
        with self._lock:
            while self._receive(0) is not None:
                pass  # an ended server's socket reads as EOF
        return not self._ended and self.pid is not None and _alive(self.pid)

    def launch(self, argv, env, cwd, fds):
        """Fork a supervisor running `argv` (tutorial.serve's arguments); return its pid."""
        with self._lock:
            request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
            try:
                socket.send_fds(self._sock, [request], fds)
            except OSError:
                self._ended = True  # it ended (idle) just now
                raise
            deadline = time.monotonic() + ANSWER_SECONDS
            while True:
                message = self._receive(max(0.0, deadline - time.monotonic()))
                if message is None:
                    self._ended = True  # ended, or stuck: the next launch starts another
                    raise OSError("the preload server did not answer")
                if "started" in message:
                    return message["started"]
                if "error" in message:
                    raise OSError(message["error"])

    def _receive(self, timeout):
        """One message from the preload server (exits are recorded); None on timeout or EOF."""
        if self._ended or not select.select([self._sock], [], [], timeout)[0]:
            return None
        data = self._sock.recv(65536)
        if not data:
            self._ended = True
            return None
        message = json.loads(data)
        if "exited" in message:
            self.exits[message["exited"]] = message["code"]
        return message

    def returncode(self, pid, timeout=0.0):
        """`pid`'s exit code once the preload server has reaped it (waiting up to `timeout`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                while pid not in self.exits and self._receive(0) is not None:
                    pass  # what the server reported so far
                if pid in self.exits:
                    return self.exits[pid]
                orphan = self._ended or not _alive(self.pid)
                if orphan and not _alive(pid):
                    return -signal.SIGKILL  # its exit code went with the preload server
                left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
                if left <= 0:
                    return None
                if orphan:  # the preload server was killed: watch the supervisor itself
                    time.sleep(left)
                else:
                    self._receive(left)


def _forked_by_factory(control, env, cwd):
    """Have the preload server forked by a *factory*, a process that imported PRELOAD once and
    forks one preload server per request (~0.4 s of CPU less than a new interpreter each time).
    A test run starts one for all its processes (tests/kernel_forks.py) and names it in
    FACTORY_VAR; nothing else does. The preload server is the same, and so are its sites:
    without a factory, or if it does not answer, a new interpreter starts as usual."""
    address = os.environ.get(FACTORY_VAR)
    if not address or not AVAILABLE:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as factory:
            factory.settimeout(ANSWER_SECONDS)
            factory.connect("\0" + address)  # an abstract socket: no file
            request = json.dumps({"env": env, "cwd": cwd}).encode()
            socket.send_fds(factory, [request], [control.fileno()])
            return factory.recv(64) == b"forked"
    except OSError:
        return False


def _alive(pid):
    """True while `pid` runs; a zombie (exited, not yet reaped by init) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


_client = None  # this process's preload server, started by the first launch()
_client_lock = threading.Lock()


class ForkedSupervisor:
    """What `tutorial.services.Service` uses of a Popen, for a supervisor forked by the preload
    server: `.pid`, `.stdin` (closing it stops the service), `.poll()`, `.wait()`, `.returncode`."""

    def __init__(self, client, pid, stdin):
        self._client, self.pid, self.stdin, self.returncode = client, pid, stdin, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self._client.returncode(self.pid)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            self.returncode = self._client.returncode(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"supervisor {self.pid}", timeout)
        return self.returncode


def warm_up(server_env):
    """Start this process's preload server in a thread, now: its imports then overlap with the
    caller's own (a notebook's set-up cell imports tutorial.site, then more, then starts the
    site), and the first start finds it ready. Unused, it ends after IDLE_SECONDS."""

    def start():
        with contextlib.suppress(OSError):  # no preload server: the first start tries again
            _client_of_this_process(server_env)

    threading.Thread(target=start, name="preload-warm-up", daemon=True).start()


def _client_of_this_process(server_env):
    """This process's preload server, started now if it has none running (a fork of a process
    that had one must start its own)."""
    global _client
    with _client_lock:
        if _client is None or _client.owner != os.getpid() or not _client.running:
            _client = _Client(server_env)
        return _client


def launch(argv, *, env, server_env, cwd, log, fd=None):
    """Start a supervisor with `argv` (tutorial.serve's arguments and command) by a fork.

    env: the supervisor's and the command's environment; server_env: the preload server's,
    when this call starts it (no per-service secrets in it: it outlives the service)."""
    read_end, write_end = os.pipe()
    fds = [read_end, log.fileno()] + ([fd] if fd is not None else [])
    try:
        for attempt in (1, 2):  # a second time if it ended (idle) just as we asked
            client = _client_of_this_process(server_env)
            try:
                pid = client.launch(argv, env, str(cwd), fds)
                break
            except OSError:
                if attempt == 2:
                    raise
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return ForkedSupervisor(client, pid, open(write_end, "wb", buffering=0))


def preload_server_pid():
    """PID of this process's preload server, or None when it has not started one."""
    mine = _client is not None and _client.owner == os.getpid()
    return _client.pid if mine and _client.running else None


# ---- in the preload server ------------------------------------------------------------------------


def serve_forks(control_fd):
    """The preload server: import the libraries, then fork a supervisor per request and report
    each one's exit. It ends when the socket pair closes (its parent stopped or was killed), or
    after IDLE_SECONDS without a service (a kernel that started one site keeps nothing)."""
    control = socket.socket(fileno=control_fd)
    if os.fork():  # nobody's child but init's: not in the tree of the process that uses it
        os._exit(0)
    control.send(json.dumps({"server": os.getpid()}).encode())
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # make kill-servers
    children = set()
    while True:
        readable = select.select([control, wake_read], [], [], IDLE_SECONDS)[0]
        if wake_read in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 512)
        _report_exits(control, children)
        if not readable and not children:
            os._exit(0)  # idle: the next start starts a new one (no slow interpreter teardown)
        if control not in readable:
            continue
        request, fds, _flags, _address = socket.recv_fds(control, 1 << 20, _MAX_FDS)
        if not request:
            os._exit(0)  # the parent is gone: its supervisors see their own pipes close
        try:
            pid = os.fork()
        except OSError as error:
            control.send(json.dumps({"error": f"fork failed: {error}"}).encode())
            continue
        if pid == 0:
            _become_supervisor(json.loads(request), fds)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        control.send(json.dumps({"started": pid}).encode())


def _report_exits(control, children):
    for pid in list(children):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                control.send(json.dumps({"exited": pid, "code": code}).encode())


def _exit_with(body):
    """In a fork: run `body`, then end this process with its exit code, skipping the clean-up
    (atexit, finalizers) that belongs to the process it was forked from."""
    code = 1
    try:
        body()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _become_supervisor(request, fds):
    """In the fork: take the request's descriptors and environment, then run tutorial.serve."""
    _exit_with(lambda: _supervise(request, fds))


def _supervise(request, fds):
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    argv = request["argv"]
    # Park the received descriptors out of the way, then put each where it is expected.
    parked = [os.dup(fd) for fd in fds]
    for fd in fds:
        os.close(fd)
    os.dup2(parked[0], 0)
    os.dup2(parked[1], 1)
    os.dup2(parked[1], 2)
    keep = {0, 1, 2}
    if len(parked) > 2:
        target = int(argv[argv.index("--fd") + 1])
        os.dup2(parked[2], target)  # the number the command line names
        os.set_inheritable(target, True)
        keep.add(target)
    _close_all_but(keep)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    from tutorial import serve

    serve.main(argv, spawn=_fork_command_then_exec(argv))


def _fork_command_then_exec(argv):
    """The supervisor's Popen: fork the command, then replace this fork (a copy of the preload
    server, Django and all: ~60 MB of RSS, pages it shares) by a fresh `python -m tutorial.serve
    --adopt PID`. The command stays its child, so the lifecycle is the one every service has,
    and the supervisor weighs what an exec'ed one weighs (a lesson sums the site's memory)."""

    def spawn(command, **options):
        child = _fork_command(command, **options)
        if not isinstance(child, ForkedChild):
            return child  # not a `python -m` command: started by Popen, supervised here
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        fresh = [sys.executable, "-m", "tutorial.serve", "--adopt", str(child.pid), *argv]
        os.execve(sys.executable, fresh, dict(os.environ))

    return spawn


def _fork_command(command, *, cwd, pass_fds, **_):
    """tutorial.serve's Popen for `python -m MODULE ...`: the module runs in a fork of this
    process, where the preloaded libraries are already imported."""
    if command[:2] != [sys.executable, "-m"]:
        return subprocess.Popen(command, cwd=cwd, pass_fds=pass_fds, stdin=subprocess.DEVNULL)
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    _exit_with(lambda: _run_module(command, cwd, pass_fds))


def _run_module(command, cwd, pass_fds):
    _close_all_but({0, 1, 2, *pass_fds})
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if cwd:
        os.chdir(cwd)
    # What `python -m` would have put on sys.path: the working folder, then PYTHONPATH.
    extra = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    sys.path[:0] = extra
    sys.argv = [command[2], *command[3:]]
    import runpy

    runpy.run_module(command[2], run_name="__main__", alter_sys=True)


def _close_all_but(keep):
    """Close every descriptor of this process except `keep`, as Popen's close_fds does."""
    start = 0
    for fd in sorted(keep):
        if fd > start:  # os.closerange(0, 0) closes every descriptor (Python 3.13)
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))
