"""Start JupyterLab the way `make lab` does; the browser tests start it through the same function.

Loopback only, a token of our own (so the one line printed can hold it), --allow-root when root.
`main` keeps Jupyter's ~20 start-up lines in .lab.log and prints, as its last line, the URL of
lesson 00 with the token: the one thing a learner on WSL, SSH or in a container needs to copy.
"""

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
LOG = ROOT / ".lab.log"
# Lab settings for the tutorial (no "Would you like to get notified about Jupyter news?"
# pop-up): a config folder JupyterLab reads through JUPYTER_CONFIG_PATH, nothing installed.
JUPYTER_CONFIG = ROOT / "tools" / "jupyter_config"


# `python -m jupyterlab`, with two changes:
# - minus ~1 s of start-up: jupyter-events' jsonschema would import rfc3987_syntax, which builds
#   three Earley parsers for an IRI format check Lab never needs;
# - Ctrl-C stops it as SIGTERM does: without a terminal on stdin, Jupyter takes SIGINT as a plain
#   KeyboardInterrupt and exits without its clean-up (kernels left to notice, jpserver-*.json and
#   kernel files left in Jupyter's runtime folder);
# - so does a closed terminal (SIGHUP, which Jupyter has no handler for), unless SIGHUP is
#   ignored (`nohup make lab`).
_START_LAB = (
    "import signal, sys; sys.modules.setdefault('rfc3987_syntax', None); "
    "signal.signal(signal.SIGINT, lambda *_: signal.raise_signal(signal.SIGTERM)); "
    "hup = getattr(signal, 'SIGHUP', None); "
    "hup and signal.getsignal(hup) is not signal.SIG_IGN and "
    "signal.signal(hup, lambda *_: signal.raise_signal(signal.SIGTERM)); "
    "from jupyterlab.labapp import main; sys.exit(main())"
)


def lab_command(port, *, root_dir=ROOT, notebook=FIRST_NOTEBOOK, token=None, open_browser=True):
    """The jupyter lab command line. `token=None` keeps Jupyter's generated token."""
    command = [sys.executable, "-c", _START_LAB, notebook, "--ip", "127.0.0.1"]
    command += ["--port", str(port), f"--ServerApp.root_dir={root_dir}"]
    command += [] if open_browser else ["--no-browser"]
    command += [f"--IdentityProvider.token={token}"] if token else []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root without it
    return command


def lab_env(environ=os.environ):
    """The environment for JupyterLab: the tutorial's Lab settings ahead of any others, and the
    base URL its kernels pass to tutorial/links.py (site links through jupyter-server-proxy)."""
    paths = [str(JUPYTER_CONFIG), *filter(None, [environ.get("JUPYTER_CONFIG_PATH")])]
    base_url = {"TUTORIAL_JUPYTER_BASE_URL": "/"}  # lab_command keeps Jupyter's default base_url
    return {**base_url, **environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(paths)}


def lesson_url(port, token, notebook=FIRST_NOTEBOOK):
    """Lesson 00 open, the file browser at the top (notebooks/, exercises/, solutions/ in view)."""
    return f"http://127.0.0.1:{port}/lab/tree/{notebook}?file-browser-path=/&token={token}"


def wait_until_up(process, port, token, timeout=90):
    """True once the server answers with this token; False if it exited or never answered."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client() as client:  # one client: each new one loads the CA bundle (~30 ms)
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = client.get(f"http://127.0.0.1:{port}/api/status", params={"token": token})
                if status.is_success:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    return False


def port_is_free(port):
    """Bind it as Jupyter will (SO_REUSEADDR: a port a stopped server left in TIME_WAIT is free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def busy(port):
    return f"Port {port} is busy: `make lab LAB_PORT=8899`."


class _Stopped(Exception):
    """SIGTERM or SIGHUP reached this process: a `kill`, a closed terminal, a supervisor."""


_STOP_SIGNALS = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def _stop_on_signal(signum, frame):
    raise _Stopped


def _stop_on_signals():
    """SIGTERM and SIGHUP raise _Stopped, except one ignored from the start (`nohup`)."""
    for stop_signal in _STOP_SIGNALS:
        if signal.getsignal(stop_signal) is not signal.SIG_IGN:
            signal.signal(stop_signal, _stop_on_signal)


def _ignore_stop_signals():
    """While stopping: a second SIGTERM or SIGHUP (a hangup can send two) must not cut it short."""
    for stop_signal in (signal.SIGINT, *_STOP_SIGNALS):
        signal.signal(stop_signal, signal.SIG_IGN)


def _tail(path, lines=15):
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    parser.add_argument("--log", type=Path, default=LOG, help="where Jupyter's own output goes")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # tests
    args = parser.parse_args(argv)
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    command = lab_command(
        args.port, root_dir=args.root, token=token, open_browser=not args.no_browser
    )
    # port_retries=0: a busy port is an error to report, not a silently different URL.
    command += ["--ServerApp.port_retries=0"]
    log_path = args.log
    if not port_is_free(args.port):  # said at once, not after Jupyter's seconds of start-up
        print(busy(args.port))
        return 1
    print(f"Starting JupyterLab (its log: {log_path.name}) …", flush=True)
    with log_path.open("w", encoding="utf-8") as log:
        # stdin not a terminal: Ctrl-C stops Jupyter at once instead of asking in the log.
        process = subprocess.Popen(
            command, cwd=args.root, env=lab_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        try:
            # Only a terminal's Ctrl-C reaches Jupyter as well; a signal to this process alone
            # would end it and leave Jupyter running with nobody to stop it.
            _stop_on_signals()
            if not wait_until_up(process, args.port, token):
                process.terminate()
                process.wait(10)
                print(f"JupyterLab did not start. The end of {log_path}:\n{_tail(log_path)}")
                if "is not available" in _tail(log_path):  # taken since the check above
                    print(busy(args.port))
                return 1
            print("Open this in your browser (Ctrl-C here stops JupyterLab):")
            print(lesson_url(args.port, token), flush=True)
            return process.wait()
        except (KeyboardInterrupt, _Stopped) as stop:
            _ignore_stop_signals()
            # A terminal's Ctrl-C reaches Jupyter too; a `kill -INT` of this process alone does
            # not: then pass it on, or Jupyter runs on until the 15 s below are up. A SIGTERM or
            # SIGHUP may have come to this process only: pass it on at once.
            try:
                process.wait(0 if isinstance(stop, _Stopped) else 2)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(10)
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                print("\nJupyterLab stopped.")
            return 0


if __name__ == "__main__":
    sys.exit(main())
