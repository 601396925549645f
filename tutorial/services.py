"""One lifecycle for every background process the tutorial starts: the site, PostgreSQL, ...

    workdir = make_workdir("postgres")          # a fresh temp folder, removed when it stops
    service = start_service("postgres", command, workdir=workdir, ready=accepts_connections)
    service.logs(); service.pids(); service.stop()  # or `with ...:`; or let the kernel die

The command runs under `tutorial.serve`, a small supervisor in a session of its own whose stdin
is a pipe from this process. When that pipe closes — `stop()`, interpreter exit, kernel restart,
SIGKILL of the kernel — the supervisor stops the command, kills the rest of its process tree and
removes the temp folder itself, so nothing is left even when this process had no chance to
clean up. Starting waits until `ready(service)` is true, and raises ServiceFailedToStart with the
last log lines (and no process or folder left) if the command exits or the deadline passes.

`preload=True` (the site's uvicorn): the supervisor and its `python -m` command are forked from
a process that has Django and uvicorn imported already, with the same lifecycle
(tutorial/preload.py).
"""

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every process of every service carries these: which checkout it belongs to (make kill-servers),
# and which test run started it (conftest.py's leftover guard).
CHECKOUT_VAR = "TUTORIAL_CHECKOUT"
RUN_ID_VAR = "TUTORIAL_RUN_ID"
OWNER_FILE = "tutorial-service.json"
_running = weakref.WeakSet()


class ServiceFailedToStart(RuntimeError):
    """The service exited or was not ready in time; the message holds its log tail."""


def listening_socket():
    """Bind 127.0.0.1 on a free port here, so a child can inherit it and no other process take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def free_port():
    """A port that was free a moment ago, for a server that cannot adopt a socket (a tiny race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_workdir(name):
    """A fresh temp folder for one service, labelled with its checkout and test run (if any)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"tutorial-{name}-"))
    owner = {"checkout": str(ROOT), "run_id": os.environ.get(RUN_ID_VAR), "pid": os.getpid()}
    (workdir / OWNER_FILE).write_text(json.dumps(owner))
    return workdir


class Service:
    """A running background process: `.url`, `.logs()`, `.pids()`, `.stop()`; a context manager."""

    def __init__(self, name, process, workdir, log, url=None):
        self.name, self.url, self.workdir = name, url, workdir
        self._process, self._log = process, log

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} {self.url or ''} {'running' if self.running else 'stopped'}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._process.poll() is None

    @property
    def pid(self):
        """PID of the supervisor; the service and its workers are below it."""
        return self._process.pid

    def pids(self):
        """PIDs of the whole process tree (supervisor, service, workers or backends). Walked as
        the supervisor walks it (tutorial.serve.descendants): samplers call this often, and
        psutil's children() reads every process on the machine to find them."""
        from .serve import descendants, process_exists

        pid = self._process.pid
        if not process_exists(pid):
            return []
        return [pid] + [child.pid for child in descendants(pid)]

    def logs(self, lines=40):
        """The last `lines` lines the service wrote (stdout and stderr together)."""
        if self._log.closed:
            return ""
        self._log.seek(0)  # our own read handle: it outlives the folder's removal
        text = self._log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout=5.0):
        """Stop the service and its whole process tree; its temp folder goes with it."""
        process = self._process
        if process.stdin and not process.stdin.closed:
            process.stdin.close()  # the supervisor sees EOF, takes the tree down, removes the folder
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        if process.poll() is None:  # a supervisor that did not finish in time
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
        _running.discard(self)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)  # in case the supervisor could not
        self._log.close()

    def failure(self, why, lines=20):
        return f"{self.name} {why}.\nLast lines of its log:\n{self.logs(lines)}"


def start_service(
    name,
    command,
    *,
    workdir,
    ready,
    env=None,
    cwd=None,
    fd=None,
    user=None,
    stop_signal=signal.SIGTERM,
    url=None,
    timeout=15.0,
    handle=Service,
    error=ServiceFailedToStart,
    preload=False,
):
    """Run `command` under the supervisor and wait until `ready(service)` returns true.

    workdir: the service's temp folder (make_workdir()); it holds the log and is removed at the end
    ready:   called every 50 ms with the handle; True when it serves. It may raise `error` itself
             (e.g. "answers 500": waiting will not help).
    fd:      a listening socket's file descriptor for the service to inherit
    user:    run the command as this user (the supervisor stays ours)
    handle:  the Service subclass to return; `error`: the exception class to raise
    preload: fork the supervisor and a `python -m MODULE` command from this process's preload
             server, which has Django and uvicorn imported already (tutorial/preload.py)
    """
    workdir = Path(workdir)
    log_path = workdir / "service.log"
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", CHECKOUT_VAR: str(ROOT), **(env or {})}
    supervisor = [sys.executable, "-m", "tutorial.serve", "--checkout", str(ROOT)]
    supervisor += ["--workdir", str(workdir), "--stop-signal", str(int(stop_signal))]
    supervisor += ["--fd", str(fd)] if fd is not None else []
    supervisor += ["--cwd", str(cwd)] if cwd else []
    supervisor += ["--user", user] if user else []
    with open(log_path, "wb") as log:
        argv = supervisor[3:] + ["--", *command]  # tutorial.serve's own arguments
        process = _preloaded(argv, child_env, log, fd) if preload and not user else None
        if process is None:
            process = subprocess.Popen(
                [*supervisor, "--", *command],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=child_env,
                pass_fds=(fd,) if fd is not None else (),
                start_new_session=True,
            )
    log = open(log_path, "rb")  # noqa: SIM115 (kept open: logs() reads it after the folder is gone)
    service = handle(name, process, workdir, log, url=url)
    _running.add(service)
    try:
        _wait_until_ready(service, ready, timeout, error)
    except BaseException:
        service.stop()
        raise
    return service


def _preload_server_env():
    return {**os.environ, "PYTHONUNBUFFERED": "1", CHECKOUT_VAR: str(ROOT)}


def warm_up_preload():
    """Start this process's preload server now, in the background (tutorial/preload.py)."""
    from tutorial import preload

    if preload.AVAILABLE:
        preload.warm_up(_preload_server_env())


def _preloaded(argv, env, log, fd):
    """The supervisor forked by this process's preload server, or None where that cannot be."""
    from tutorial import preload

    if not preload.AVAILABLE:
        return None
    server_env = _preload_server_env()
    try:
        return preload.launch(argv, env=env, server_env=server_env, cwd=ROOT, log=log, fd=fd)
    except OSError:  # no preload server (it failed to start or to answer): start one as usual
        return None


def _wait_until_ready(service, ready, timeout, error):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.running:
            code = service._process.returncode
            raise error(service.failure(f"exited with code {code} before it was ready"))
        if ready(service):
            return
        time.sleep(0.02)
    raise error(service.failure(f"was not ready within {timeout:.0f} s"))


def owned_folder(name):
    """A temp folder removed when this process ends, however it ends (SIGKILL too): a service
    that only waits, so that its supervisor removes the folder. Keep the handle referenced."""
    workdir = make_workdir(name)
    return start_service(
        name,
        [sys.executable, "-c", "import signal; signal.pause()"],  # wait for the end, idle
        workdir=workdir,
        ready=lambda service: True,
    )


def leftovers(checkout=ROOT):
    """Supervisors, and the processes below them, that belong to `checkout` (make kill-servers)."""
    import psutil

    found = {}
    for process in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if process.environ().get(CHECKOUT_VAR) == str(checkout):
                found[process.pid] = process
                for child in process.children(recursive=True):
                    found[child.pid] = child
    found.pop(os.getpid(), None)
    return list(found.values())


def kill_leftovers(checkout=ROOT):
    """Stop every service of `checkout` still running; return how many processes there were."""
    import psutil

    processes = leftovers(checkout)
    supervisors = [p for p in processes if _is_supervisor(p)]
    for process in supervisors:  # they stop their service and remove their folder
        with contextlib.suppress(psutil.Error):
            process.terminate()
    psutil.wait_procs(supervisors, timeout=5)
    for process in processes:  # anything a supervisor did not manage
        with contextlib.suppress(psutil.Error):
            process.kill()
    for folder in Path(tempfile.gettempdir()).glob("tutorial-*-*"):
        with contextlib.suppress(OSError, ValueError):
            owner = json.loads((folder / OWNER_FILE).read_text())
            if owner["checkout"] == str(checkout) and not psutil.pid_exists(owner["pid"]):
                shutil.rmtree(folder, ignore_errors=True)
    return len(processes)


def _is_supervisor(process):
    with contextlib.suppress(Exception):
        return "tutorial.serve" in process.cmdline()
    return False


@atexit.register
def _stop_all():
    for service in list(_running):
        service.stop()


if __name__ == "__main__":  # python -m tutorial.services kill: what `make kill-servers` runs
    if sys.argv[1:] != ["kill"]:
        sys.exit("usage: python -m tutorial.services kill")
    count = kill_leftovers()
    print(f"stopped {count} leftover processes of {ROOT}" if count else "no service running")
