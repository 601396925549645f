"""Headless Chromium (Debian's) through Playwright, and JupyterLab started as `make lab` does.

Never `playwright install`: it downloads a browser of its own, which this machine cannot.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tools.lab import lab_command, lab_env

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

# No news pop-up, no update check, no autosave into the copied notebooks.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


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


class Lab:
    """JupyterLab on a free port with a known token, serving a throwaway copy of notebooks/."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "lab-root"
        shutil.copytree(ROOT / "notebooks", self.root / "notebooks")
        settings = tmp_path / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **lab_env(),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        }
        command = lab_command(self.port, root_dir=self.root, token=self.token, open_browser=False)
        self.log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/status", params={"token": self.token}).is_success:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start; see {self.log.name}")

    def sessions(self):
        return httpx.get(f"{self.url}/api/sessions", params={"token": self.token}).json()

    def wait_for_idle_kernel(self, notebook, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in self.sessions():
                if (
                    session["path"].endswith(notebook)
                    and session["kernel"]["execution_state"] == "idle"
                ):
                    return session
            time.sleep(0.25)
        raise TimeoutError(f"no idle kernel for {notebook} after {timeout} s: {self.sessions()}")

    def shut_down_kernels(self):
        """Through the API, so that the companion sites they started stop with them."""
        for session in self.sessions() if self.process.poll() is None else []:
            httpx.delete(
                f"{self.url}/api/kernels/{session['kernel']['id']}", params={"token": self.token}
            )

    def stop(self):
        self.shut_down_kernels()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
