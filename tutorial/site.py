"""Start and stop the companion site in the background, from a notebook or a test.

    site = start_site()                 # uvicorn, a fresh migrated SQLite file, a free port
    httpx.get(site.url + "/health/")
    site.stop()

or `with start_site("gunicorn") as site: ...`. Servers: uvicorn, daphne, hypercorn, granian
(ASGI) and gunicorn (WSGI, or ASGI through uvicorn-worker with `worker_class="uvicorn"`).

No orphans: the server runs under `tutorial.serve`, which exits with its whole process group
when its stdin pipe from this process closes — on stop(), at exit, on kernel restart and when
the kernel is killed with SIGKILL.
"""

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = ROOT / "companion_site"
SERVERS = ("uvicorn", "daphne", "hypercorn", "granian", "gunicorn")
_running = weakref.WeakSet()


class SiteFailedToStart(RuntimeError):
    """The server exited or did not answer its health URL in time; the message holds its log tail."""


def _listening_socket():
    """Bind 127.0.0.1 on a free port here, so the child inherits it and no other process can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server_command(server, fd, port, *, app, workers, threads, worker_class, access_log):
    python = [sys.executable, "-m"]
    if server == "uvicorn":
        # tutorial.uvicorn_fd: uvicorn's CLI, but with TCP_NODELAY on (+40 ms per request without).
        cmd = python + ["tutorial.uvicorn_fd", app or "config.asgi:application", "--fd", str(fd)]
        cmd += ["--workers", str(workers)] if workers > 1 else []
        return cmd + ([] if access_log else ["--no-access-log"])
    if server == "daphne":
        cmd = python + ["daphne", "--fd", str(fd), app or "config.asgi:application"]
        return cmd + ([] if access_log else ["--access-log", os.devnull])
    if server == "hypercorn":
        cmd = python + ["hypercorn", "--bind", f"fd://{fd}", "--workers", str(workers)]
        return (
            cmd
            + (["--access-logfile", "-"] if access_log else [])
            + [app or "config.asgi:application"]
        )
    if server == "granian":
        # granian cannot adopt a socket: it binds the port we just released (a tiny race window).
        cmd = python + [
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        cmd += ["--workers", str(workers)] + (["--access-log"] if access_log else [])
        return cmd + [app or "config.asgi:application"]
    if server == "gunicorn":
        asgi = worker_class == "uvicorn"
        cmd = python + ["gunicorn", "--bind", f"fd://{fd}", "--workers", str(workers)]
        # newer gunicorns open a control socket at one fixed path: two sites would fight over it.
        cmd += ["--no-control-socket"] if _gunicorn_has_control_socket() else []
        cmd += ["--worker-class", "uvicorn_worker.UvicornWorker" if asgi else worker_class]
        cmd += ["--threads", str(threads)] if threads else []
        cmd += ["--access-logfile", "-"] if access_log else []
        return cmd + [app or ("config.asgi:application" if asgi else "config.wsgi:application")]
    raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")


def _gunicorn_has_control_socket():
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


class Site:
    """A running companion site: `.url`, `.logs()`, `.pids()`, `.stop()`; a context manager too."""

    def __init__(self, server, url, process, log_path, workdir, db_path):
        self.server, self.url, self.db_path = server, url, db_path
        self._process, self._log_path, self._workdir = process, log_path, workdir

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<Site {self.server} {self.url} {state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._process.poll() is None

    @property
    def pid(self):
        """PID of the supervising process; the server and its workers are its children."""
        return self._process.pid

    def pids(self):
        """PIDs of the server's whole process tree (supervisor, server, workers)."""
        import psutil

        try:
            parent = psutil.Process(self._process.pid)
            return [parent.pid] + [child.pid for child in parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def browser_url(self, path="/"):
        """`path` on this site as your browser reaches it: through Jupyter's proxy when it has one."""
        from tutorial.links import browser_url  # why and how: tutorial/links.py

        return browser_url(self.url, path)

    def logs(self, lines=40):
        """The last `lines` lines the server wrote (stdout and stderr together)."""
        try:
            text = self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout=5.0):
        """Stop the server and its workers, then remove this run's temporary files."""
        process = self._process
        if process.stdin and not process.stdin.closed:
            process.stdin.close()  # the supervisor sees EOF and takes its process group down
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group
        if process.poll() is None:
            process.wait(timeout)
        _running.discard(self)
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def start_site(
    server="uvicorn",
    *,
    workers=1,
    threads=None,
    worker_class="sync",
    app=None,
    env=None,
    db=None,
    access_log=False,
    health_path="/health/",
    timeout=15.0,
):
    """Start the companion site with `server` on a free 127.0.0.1 port and wait until it answers.

    server:       "uvicorn", "daphne", "hypercorn", "granian" or "gunicorn"
    workers:      server processes (gunicorn, uvicorn, hypercorn, granian)
    threads:      gunicorn threads per worker (with worker_class="gthread")
    worker_class: gunicorn only: "sync", "gthread", or "uvicorn" (ASGI via uvicorn-worker)
    app:          "module:attribute" to serve instead of the companion site's own
    env:          extra environment variables, e.g. {"COMPANION_SYNC_MIDDLEWARE": "1"}
    db:           path of the SQLite file; default: a fresh one in a temporary folder
    Raises SiteFailedToStart, with the server's last log lines, if it does not come up.
    """
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")
    workdir = Path(tempfile.mkdtemp(prefix=f"companion-{server}-"))
    db_path = Path(db) if db else workdir / "db.sqlite3"
    log_path = workdir / "server.log"
    sock = _listening_socket()
    port = sock.getsockname()[1]
    fd = sock.fileno()
    if server == "granian":
        sock.close()
    command = _server_command(
        server, fd, port, app=app, workers=workers, threads=threads,
        worker_class=worker_class, access_log=access_log,
    )  # fmt: skip
    child_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "COMPANION_DB": str(db_path),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(SITE_DIR), str(ROOT), os.environ.get("PYTHONPATH")])
        ),
        **(env or {}),
    }
    supervisor = [sys.executable, "-m", "tutorial.serve", "--site-dir", str(SITE_DIR)]
    supervisor += ["--fd", str(fd)] if server != "granian" else []
    supervisor += ["--no-migrate"] if app else []
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            supervisor + ["--"] + command,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=child_env,
            pass_fds=() if server == "granian" else (fd,),
            start_new_session=True,
        )
    if server != "granian":
        sock.close()  # the child holds it now
    site = Site(server, f"http://127.0.0.1:{port}", process, log_path, workdir, db_path)
    _running.add(site)
    try:
        _wait_until_healthy(site, health_path, timeout)
    except BaseException:
        site.stop()
        raise
    return site


def _wait_until_healthy(site, health_path, timeout):
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not site.running:
                raise SiteFailedToStart(
                    f"{site.server} exited with code {site._process.returncode} before answering.\n"
                    f"Last lines of its log:\n{site.logs(20)}"
                )
            try:
                response = client.get(site.url + health_path)
                if response.status_code == 200:
                    return
                if response.status_code >= 500:  # it runs but is broken: waiting will not help
                    raise SiteFailedToStart(
                        f"{site.server} answered {health_path} with HTTP {response.status_code}.\n"
                        f"Last lines of its log:\n{site.logs(20)}"
                    )
                last_error = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                last_error = type(error).__name__
            time.sleep(0.05)
    raise SiteFailedToStart(
        f"{site.server} did not answer {health_path} within {timeout:.0f} s ({last_error}).\n"
        f"Last lines of its log:\n{site.logs(20)}"
    )


@atexit.register
def _stop_all():
    for site in list(_running):
        site.stop()
