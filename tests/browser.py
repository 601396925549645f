"""Headless Chromium (Debian's) through Playwright, and JupyterLab started as `make lab` does.

Never `playwright install`: it downloads a browser of its own, which this machine cannot.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

HAVE_CHROMIUM = Path(CHROMIUM).exists()
# Locally a missing Chromium skips these tests with the reason; in CI (.ci/run installs it) it fails.
needs_chromium = pytest.mark.skipif(
    not HAVE_CHROMIUM and not os.environ.get("CI"),
    reason="browser tests need Chromium: apt-get install chromium (.ci/run installs it)",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_chromium(playwright, tmp_path):
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 900},
    )


@contextlib.contextmanager
def chromium(tmp_path):
    """One headless Chromium (a browser context: its pages share a profile in tmp_path)."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path)
        yield context
        context.close()


class MakeLab:
    """`python tools/lab.py --no-browser` (what `make lab` runs) on a free port, serving `root`:
    `printed` holds every line it printed, the last one the URL a learner opens."""

    def __init__(self, root, tmp_path):
        self.root = root
        port = free_port()
        # Workspaces and runtime files (jpserver-*.json: Ctrl-C leaves them) in tmp_path, not
        # in the home folder.
        env = {
            **os.environ,
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        }
        command = [sys.executable, str(ROOT / "tools" / "lab.py"), "--no-browser"]
        command += ["--port", str(port), "--log", str(tmp_path / "lab.log"), "--root", str(root)]
        # A session of its own, so that stop() can press Ctrl-C the way a terminal does: SIGINT
        # to lab.py and Jupyter together (Jupyter's kernels run in sessions of their own).
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        self.printed = []
        for line in self.process.stdout:
            self.printed.append(line.rstrip("\n"))
            if line.startswith("http"):
                break
        self.url = self.printed[-1] if self.printed else ""
        self.base = self.url.split("/lab/")[0]
        self.token = self.url.rsplit("token=", 1)[-1]
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"make lab printed no URL: {self.printed}; see {tmp_path}/lab.log")

    def api(self, method, path):
        response = httpx.request(method, f"{self.base}/api/{path}", params={"token": self.token})
        response.raise_for_status()
        return response.json() if response.content else None

    def kernel_state(self, notebook):
        """The server's execution_state of the kernel running `notebook`, or None."""
        for session in self.api("GET", "sessions"):
            if session["path"].endswith(notebook):
                return session["kernel"]["execution_state"]
        return None

    def shut_down_kernels(self):
        """Through the API, all at once: Jupyter then removes their connection files, which a
        Ctrl-C leaves behind (without a terminal, Jupyter takes SIGINT as KeyboardInterrupt and
        exits without its clean-up); the companion sites they started stop with them."""
        sessions = self.api("GET", "sessions")
        with ThreadPoolExecutor(max(1, len(sessions))) as pool:
            list(pool.map(lambda s: self.api("DELETE", f"sessions/{s['id']}"), sessions))

    def stop(self):
        """The kernels, then Ctrl-C as a learner stops make lab."""
        if self.process.poll() is None:
            try:
                if self.url.startswith("http"):
                    self.shut_down_kernels()
            finally:
                os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process.stdout.close()


def wait_until(condition, timeout, message):
    """Poll `condition()` every 0.2 s until it is true; TimeoutError with `message` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} after {timeout} s")
        time.sleep(0.2)
