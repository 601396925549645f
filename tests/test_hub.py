"""A workshop on one host: JupyterHub (workshop/jupyterhub_config.py), three learners at once.

Each learner's own server runs lesson 05 and the exercise of lesson 00 in kernels of their own,
through the hub's public proxy, as a browser would; then each starts a companion site and the
test checks that no two share a port or a database, that each learner's site link works for them
through the hub and not for the others, and that stopping the hub leaves no process behind. It
prints each learner's peak memory and CPU time (docs/instructors.md quotes them).

Heavy (three learners on two cores), so `make test` leaves it out (pyproject.toml deselects the
`hub` marker); .ci/run runs `make hub-proxy` and then `pytest -n 0 -m hub tests/test_hub.py`.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nbformat
import psutil
import pytest

from tests.browser import ROOT, free_port

CONFIG = ROOT / "workshop" / "jupyterhub_config.py"
PROXY = ROOT / "workshop" / "node_modules" / ".bin" / "configurable-http-proxy"
LEARNERS = ("ada", "grace", "linus")
PUBLIC_HOST = "workshop.test"  # the name learners' browsers would send in Host
LESSON = "notebooks/05_async_views.ipynb"
EXERCISE = "exercises/00_start_here_exercises.ipynb"  # run with the answers of solutions/00_…
pytestmark = [
    pytest.mark.hub,
    pytest.mark.slow,
    pytest.mark.skipif(
        not PROXY.exists() and not os.environ.get("CI"),
        reason="the hub's proxy is missing: make hub-proxy (.ci/run does it)",
    ),
]


class Hub:
    """JupyterHub started from the workshop's config, on free loopback ports, state in tmp_path."""

    def __init__(self, tmp_path):
        self.run_id = uuid.uuid4().hex  # every process of this hub inherits it (env_keep)
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "TUTORIAL_RUN_ID": self.run_id,
            "WORKSHOP_STATE": str(tmp_path / "hub"),
            "WORKSHOP_PORT": self.url.rsplit(":", 1)[1],
            "WORKSHOP_HUB_PORT": str(free_port()),
            "WORKSHOP_PROXY_API_PORT": str(free_port()),
            "WORKSHOP_ADMIN_TOKEN": self.token,
            "WORKSHOP_PUBLIC_HOST": PUBLIC_HOST,
        }
        env.pop("WORKSHOP_PASSWORD", None)  # the dummy authenticator: the test logs in by token
        self.log = open(tmp_path / "hub.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=tmp_path, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.api = httpx.Client(
            base_url=f"{self.url}/hub/api", headers={"Authorization": f"token {self.token}"},
            timeout=30,
        )  # fmt: skip
        self._wait(lambda: self.api.get("/users").is_success, 60, "the hub did not answer")

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        self.log.flush()
        tail = "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"{what} within {timeout} s; the hub's log ends:\n{tail}")

    def start_learner(self, name):
        """Create the learner, start their server, return an API token of theirs."""
        self.api.post(f"/users/{name}").raise_for_status()
        assert self.api.post(f"/users/{name}/server").status_code in (201, 202)
        self._wait(
            lambda: self.api.get(f"/users/{name}").json()["servers"].get("", {}).get("ready"),
            120, f"{name}'s server did not start",
        )  # fmt: skip
        response = self.api.post(f"/users/{name}/tokens", json={"note": "test"})
        response.raise_for_status()
        return response.json()["token"]

    def processes(self):
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get("TUTORIAL_RUN_ID") == self.run_id:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def stop(self):
        """Stop the hub as an instructor would (Ctrl-C / SIGTERM): it stops what it started."""
        self.api.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class RemoteKernel:
    """A kernel in a learner's server, opened on a notebook and driven over its WebSocket."""

    def __init__(self, hub_url, user, token, path):
        from websockets.sync.client import connect

        headers = {"Authorization": f"token {token}"}
        base = f"{hub_url}/user/{user}/api"
        body = {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
        session = httpx.post(f"{base}/sessions", json=body, headers=headers, timeout=60)
        session.raise_for_status()
        kernel = session.json()["kernel"]["id"]
        self.user, self.session = user, uuid.uuid4().hex
        self._closing = contextlib.ExitStack()
        self.socket = self._closing.enter_context(connect(
            f"{base.replace('http', 'ws', 1)}/kernels/{kernel}/channels",
            additional_headers=headers, max_size=None, open_timeout=60,
        ))  # fmt: skip

    def run(self, code, timeout=180):
        """Execute `code`; return (name of the exception it raised or None, everything it printed)."""
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id, "msg_type": "execute_request", "username": self.user,
            "session": self.session, "version": "5.3", "date": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        self.socket.send(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                     "content": content, "channel": "shell", "buffers": []}))  # fmt: skip
        error, text, deadline = None, [], time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(1, deadline - time.monotonic())))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, body = message["msg_type"], message["content"]
            if kind == "stream":
                text.append(body["text"])
            elif kind == "error":
                error = body["ename"]
                text.append("\n".join(body.get("traceback", []))[-1500:])
            elif kind == "status" and body["execution_state"] == "idle":
                return error, "".join(text)

    def close(self):
        self._closing.close()


def run_notebook(kernel, path, *, answers_from=None):
    """Every code cell in order; an exception only where the cell says it raises one."""
    notebook = nbformat.read(ROOT / (answers_from or path), as_version=4)
    checks = []
    for index, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        error, text = kernel.run(cell.source)
        intended = re.search(r"^# raises: (\w+)", cell.source, re.M)
        where = f"{kernel.user}: {path} code cell {index + 1}"
        if intended:
            assert error == intended.group(1), f"{where} should raise {intended.group(1)}: {error}"
        else:
            assert error is None, f"{where} failed with {error}:\n{text[-1200:]}"
        if "check" in cell.metadata.get("tags", []):
            checks.append(text)
    return checks


PROBE = """
import json, os
from tutorial.site import start_site
probe_site = start_site()
print(json.dumps({"url": probe_site.url, "live": probe_site.browser_url("/live/"),
                  "db": str(probe_site.db_path), "home": os.environ["HOME"]}))
"""


class Usage:
    """Peak memory (RSS summed over a learner's processes) and CPU seconds per learner."""

    def __init__(self):
        self.peak_rss = dict.fromkeys(LEARNERS, 0)
        self._cpu = {}  # pid -> (learner, highest user+system seen)
        self._owner = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _learner_of(self, process):
        if process.pid not in self._owner:
            self._owner[process.pid] = process.environ().get("JUPYTERHUB_USER")
        return self._owner[process.pid]

    def _sample(self):
        while not self._stop.wait(0.5):
            rss = dict.fromkeys(LEARNERS, 0)
            for process in psutil.process_iter():
                try:
                    learner = self._learner_of(process)
                    if learner in rss:
                        rss[learner] += process.memory_info().rss
                        times = process.cpu_times()
                        self._cpu[process.pid] = (learner, times.user + times.system)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
            for learner, total in rss.items():
                self.peak_rss[learner] = max(self.peak_rss[learner], total)

    def stop(self):
        self._stop.set()
        self._thread.join()
        cpu = dict.fromkeys(LEARNERS, 0.0)
        for learner, seconds in self._cpu.values():
            cpu[learner] += seconds
        return {name: (self.peak_rss[name] / 2**20, cpu[name]) for name in LEARNERS}


def test_three_learners_share_one_host_without_seeing_each_other(tmp_path, capsys):
    if not PROXY.exists():
        pytest.fail("workshop/node_modules has no configurable-http-proxy: run make hub-proxy")
    started = time.monotonic()
    hub = Hub(tmp_path)
    kernels = []
    try:
        with ThreadPoolExecutor(len(LEARNERS)) as pool:
            tokens = dict(zip(LEARNERS, pool.map(hub.start_learner, LEARNERS), strict=True))
        usage = Usage()

        def run_lesson(name):
            lesson = RemoteKernel(hub.url, name, tokens[name], LESSON)
            kernels.append(lesson)
            run_notebook(lesson, LESSON)
            error, text = lesson.run(PROBE)  # a site of their own, left running for the checks
            assert error is None, text
            return json.loads(text.strip().splitlines()[-1])

        def run_exercise(name):
            exercise = RemoteKernel(hub.url, name, tokens[name], EXERCISE)
            kernels.append(exercise)
            checks = run_notebook(exercise, EXERCISE, answers_from="solutions/00_start_here.ipynb")
            assert checks and all("✓" in text for text in checks), f"{name}: {checks}"

        spawned = time.monotonic()
        # Each learner has the lesson and the exercise open at once: six kernels on the host.
        with ThreadPoolExecutor(2 * len(LEARNERS)) as pool:
            lessons = [pool.submit(run_lesson, name) for name in LEARNERS]
            exercises = [pool.submit(run_exercise, name) for name in LEARNERS]
            sites = {name: future.result() for name, future in zip(LEARNERS, lessons, strict=True)}
            for future in exercises:
                future.result()
        ran = time.monotonic()
        measured = usage.stop()

        # Three sites up at once: three ports, three databases, three homes.
        assert len({site["url"] for site in sites.values()}) == 3, sites
        assert len({site["db"] for site in sites.values()}) == 3, sites
        assert len({site["home"] for site in sites.values()}) == 3, sites
        for name, site in sites.items():
            port = site["url"].rsplit(":", 1)[1]
            assert site["live"] == f"/user/{name}/proxy/{port}/live/", site
            # As a browser on another machine asks: the hub's public name in Host.
            own = httpx.get(
                hub.url + site["live"],
                headers={"Authorization": f"token {tokens[name]}", "Host": PUBLIC_HOST},
            )
            assert own.status_code == 200 and "Requests in flight" in own.text, own.status_code
            for other in LEARNERS:
                if other != name:
                    seen = httpx.get(
                        hub.url + site["live"], headers={"Authorization": f"token {tokens[other]}"}
                    )
                    assert seen.status_code == 403, (
                        f"{other} sees {name}'s site: {seen.status_code}"
                    )
                    assert "Requests in flight" not in seen.text
            anonymous = httpx.get(hub.url + site["live"])
            assert anonymous.status_code == 302, anonymous.status_code  # sent to log in first
            assert anonymous.headers["location"].startswith("/hub/"), anonymous.headers
        # The run id reaches every process the hub started, so the check below cannot miss one.
        running = [" ".join(process.cmdline()) for process in hub.processes()]
        assert sum("jupyterhub-singleuser" in line for line in running) == 3, running
        assert sum("ipykernel" in line for line in running) >= 6, running
        assert sum("tutorial.serve" in line for line in running) >= 3, running
        assert any("configurable-http-proxy" in line for line in running), running
        with capsys.disabled():
            print(
                f"\nthree learners: servers up in {spawned - started:.0f} s, lesson 05 and "
                f"exercise 00 ran in {ran - spawned:.0f} s"
            )
            for name, (megabytes, seconds) in measured.items():
                print(f"  {name:6} peak memory {megabytes:5.0f} MiB, CPU {seconds:5.1f} s")
    finally:
        for kernel in kernels:
            kernel.close()
        stopping = time.monotonic()
        hub.stop()

    deadline = time.monotonic() + 20
    while (left := hub.processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    with capsys.disabled():
        gone = time.monotonic() - stopping
        print(f"  {len(left)} processes left {gone:.0f} s after the hub got SIGTERM")
    names = [" ".join(p.cmdline())[:120] for p in left if p.is_running()]
    for process in left:
        process.kill()
    assert not names, f"stopping the hub left these behind: {names}"
    shutil.rmtree(tmp_path / "hub", ignore_errors=True)
