"""Checks for the exercises of lesson 12: which server answered, how many workers to run, and
what `manage.py check --deploy` says about a settings module."""

import contextlib
import os
import random
import secrets
import shutil
import socket
import tempfile
import threading
import uuid
from pathlib import Path

import httpx

from .. import site as site_module
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_sync

SERVERS = ("uvicorn", "daphne", "hypercorn")


class _CountingProxy:
    """A 127.0.0.1 port that forwards to the site's own, counting the requests sent through it.

    Once start_site() has seen the site answer, the learner's handle points here: a request
    the site served after that, through this port, is the learner's own.
    """

    def __init__(self, target_url):
        self.target = int(target_url.rsplit(":", 1)[1])
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open = []
        threading.Thread(target=self._accept, name="lesson12-proxy", daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._open += [client, upstream]
        back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
        back.start()
        self._pipe(client, upstream, count=True)
        back.join()

    def _pipe(self, source, sink, count=False):
        try:
            while data := source.recv(65536):
                if count and data.split(b" ", 1)[0] in _METHODS:
                    self.requests += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side is done: so is the connection (HTTP never half-closes here)
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def close(self):
        self._listener.close()
        for end in self._open:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"}


@contextlib.contextmanager
def _watching_sites():
    """Every site started meanwhile, each with the Server header it really sent (read at stop)
    and how many requests the learner sent it."""
    started = []
    original, answers = site_module.Site, site_module._answers

    class WatchedSite(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.header, self.proxy, self.own_url, self.learner_requests = None, None, None, 0
            started.append(self)

        def stop(self, timeout=5.0):
            if self.running and self.header is None:
                if self.proxy is not None:
                    self.learner_requests = self.proxy.requests
                with contextlib.suppress(httpx.HTTPError):
                    url = self.own_url or self.url  # the check's own request: not counted
                    self.header = httpx.get(url + "/health/", timeout=5).headers.get("server")
            if self.proxy is not None:
                self.proxy.close()
            super().stop(timeout)

    def ready(client, site, health_path):
        if not answers(client, site, health_path):
            return False
        if isinstance(site, WatchedSite) and site.proxy is None:  # start_site() returns now
            site.own_url, site.proxy = site.url, _CountingProxy(site.url)
            site.url = site.proxy.url
        return True

    # start_site() builds its handle, and asks whether it answers, through this module's names.
    site_module.Site, site_module._answers = WatchedSite, ready
    try:
        yield started
    finally:
        site_module.Site, site_module._answers = original, answers


@exercise(
    "12",
    "server_headers",
    hints=(
        "Lesson 12 starts the same site under every server and reads one response header from "
        "each; leave nothing running when you return.",
        "For each name: `with start_site(name) as site:` then read "
        "`httpx.get(site.url + '/health/').headers['server']` before the block ends.",
    ),
)
def server_headers(server_headers):
    """Check that server_headers(servers) reports the Server header each server really sends, and stops its sites."""
    servers = random.sample(SERVERS, 2)  # which ones varies per run
    with _watching_sites() as started:
        # Two sites start one after the other: give them time on a loaded machine.
        result = call_sync(server_headers, list(servers), timeout=60)
        left_running = [site for site in started if site.running]
        for site in left_running:
            site.stop()  # the check cleans up; the learner is told
    if left_running:
        fail(
            f"{len(left_running)} site(s) still running after server_headers returned: stop() "
            "each one (or use `with start_site(...) as site:`).",
        )
    if not isinstance(result, dict):
        fail(f"Return a dict {{server: header}}, got {type(result).__name__}.", kind="shape")
    if set(result) != set(servers):
        fail(
            f"Return one entry per server asked for, {servers}; got keys {sorted(result)}.",
            kind="shape",
        )
    for server in servers:
        sites = [site for site in started if site.server == server]
        if not sites:
            fail(
                f"You never started a site with {server}: the header must come from a response "
                "of that server, not from what you expect it to say.",
            )
        if not any(site.learner_requests for site in sites):
            fail(
                f"You started a site with {server} but never sent it a request: the header must "
                "come from one of its responses, not from what you expect it to say.",
            )
        actual = sites[-1].header
        if result[server] != actual:
            fail(f"For {server} you reported {result[server]!r}; its responses say {actual!r}.")


# --- exercise 2: how many workers, from measurements ------------------------------------------


def _runs(rng, knee, most):
    """Measured-looking runs: requests/s grows with workers up to `knee` cores, then barely."""
    per_worker, mb = rng.uniform(40, 400), rng.uniform(50, 120)
    runs = []
    for workers in range(1, most + 1):
        if workers <= knee:
            rps = per_worker * workers * rng.uniform(0.97, 1.0)
        else:  # more processes than cores only take turns: a little more, at best
            rps = per_worker * knee * (1 + 0.02 * (workers - knee))
        runs.append(
            {
                "workers": workers,
                "rps": round(rps, 1),
                "mb_per_worker": round(mb * rng.uniform(0.98, 1.02), 1),
            }
        )
    return runs


@exercise(
    "12",
    "pick_workers",
    hints=(
        "Lesson 12 sized hosts from what was measured, not from a formula: look only at the "
        "runs that fit in memory, find the best rate among them, then the fewest workers near it.",
        "Keep the runs with workers × mb_per_worker ≤ memory_mb; best = their highest rps; "
        "return the smallest `workers` whose rps ≥ 0.9 × best.",
    ),
)
def pick_workers(pick_workers):
    """Check that pick_workers(runs, memory_mb) picks the fewest workers within 90% of the best measured rate that fits in memory."""
    rng = random.Random()
    formulas = {os.cpu_count() or 1, 2 * (os.cpu_count() or 1) + 1}
    while True:  # runs whose answer with room to spare is no cores formula: a formula must fail
        knee = rng.choice([n for n in range(2, 8) if n not in formulas])
        runs = _runs(rng, knee, most=knee + 4)
        best = max(run["rps"] for run in runs)
        if min(run["workers"] for run in runs if run["rps"] >= 0.9 * best) not in formulas:
            break
    roomy = sum(run["workers"] * run["mb_per_worker"] for run in runs)  # everything fits
    tight_workers = rng.randint(1, knee - 1)  # only this many fit
    tight = (tight_workers + 0.5) * max(run["mb_per_worker"] for run in runs)
    for memory_mb in (roomy, tight):
        fits = [run for run in runs if run["workers"] * run["mb_per_worker"] <= memory_mb]
        best = max(run["rps"] for run in fits)
        expected = min(run["workers"] for run in fits if run["rps"] >= 0.9 * best)
        got = call_sync(pick_workers, [dict(run) for run in runs], memory_mb)
        if not isinstance(got, int) or isinstance(got, bool):
            fail(f"Return a number of workers (an int), got {type(got).__name__}.", kind="shape")
        if got == expected:
            continue
        chosen = next((run for run in runs if run["workers"] == got), None)
        if chosen and chosen["workers"] * chosen["mb_per_worker"] > memory_mb:
            fail(
                f"{got} workers need {got * chosen['mb_per_worker']:.0f} MB, more than the "
                f"{memory_mb:.0f} MB there are: only runs that fit count.",
            )
        if got in formulas:
            fail(
                f"You answered {got}, a formula of this machine's cores; these measurements "
                "(another machine's) level off elsewhere. Read the runs.",
            )
        fail(
            f"For {memory_mb:.0f} MB you answered {got} workers; the runs say otherwise. Fewer "
            "workers that serve nearly as much (≥ 90% of the best) are the better choice.",
        )


# --- exercise 3: what check --deploy says ------------------------------------------------------

# A production-like setting made unsafe, and the check id that `check --deploy` reports for it.
_UNSAFE = {
    "SECURE_HSTS_SECONDS = 0": "security.W004",
    "SECURE_CONTENT_TYPE_NOSNIFF = False": "security.W006",
    "SECURE_SSL_REDIRECT = False": "security.W008",
    "SESSION_COOKIE_SECURE = False": "security.W012",
    "CSRF_COOKIE_SECURE = False": "security.W016",
    "DEBUG = True": "security.W018",
    'X_FRAME_OPTIONS = "SAMEORIGIN"': "security.W019",
}


def _settings_module(folder, unsafe, marker):
    """Write a settings module: production-like, then `unsafe` lines; it notes who imports it."""
    name = f"lesson12_settings_{uuid.uuid4().hex[:8]}"
    lines = [
        "import os",
        "from pathlib import Path",
        "",
        "from config.settings import *  # noqa: F403",
        "",
        f"SECRET_KEY = {secrets.token_urlsafe(50)!r}",
        "DEBUG = False",
        "SECURE_SSL_REDIRECT = True",
        "SECURE_HSTS_SECONDS = 31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS = True",
        "SECURE_HSTS_PRELOAD = True",
        "SESSION_COOKIE_SECURE = True",
        "CSRF_COOKIE_SECURE = True",
        "",
        "# made unsafe for this run:",
        *unsafe,
        "",
        f"Path({str(marker)!r}).write_text(str(os.getpid()))  # who imported these settings",
        "",
        "# ...and which process ran Django's deployment checks with them (what `check` calls):",
        "import django.core.checks  # noqa: E402",
        "",
        "_run_checks = django.core.checks.run_checks",
        "",
        "",
        "def _noted(*args, include_deployment_checks=False, **kwargs):",
        "    if include_deployment_checks:",
        f"        Path({str(marker) + '-deploy'!r}).write_text(str(os.getpid()))",
        "    return _run_checks(*args, include_deployment_checks=include_deployment_checks, **kwargs)",
        "",
        "",
        "django.core.checks.run_checks = _noted",
    ]
    (folder / f"{name}.py").write_text("\n".join(lines) + "\n")
    return name


@exercise(
    "12",
    "deploy_issues",
    hints=(
        "Lesson 12 runs `manage.py check --deploy --settings ...` in a process of its own and "
        "reads the check ids, such as security.W004, from its output.",
        "subprocess.run([sys.executable, 'manage.py', 'check', '--deploy', '--settings', "
        "settings, '--pythonpath', pythonpath], cwd=SITE_DIR, capture_output=True, text=True), "
        "then re.findall on stdout + stderr.",
    ),
)
def deploy_issues(deploy_issues):
    """Check that deploy_issues(settings, pythonpath) runs `manage.py check --deploy` on a settings module and returns the ids it reports."""
    folder = Path(tempfile.mkdtemp(prefix="lesson12-settings-"))
    try:
        unsafe = random.sample(sorted(_UNSAFE), random.randint(2, 4))  # varies per run
        marker = folder / "imported-by"
        settings = _settings_module(folder, unsafe, marker)
        result = call_sync(deploy_issues, settings, str(folder), timeout=60)  # a subprocess
        imported_by = marker.read_text() if marker.exists() else None
        deploy_checked = Path(f"{marker}-deploy").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if imported_by is None:
        fail(
            "The settings module was never imported: run `manage.py check --deploy` with "
            "--settings (and --pythonpath) set to what you were given.",
        )
    if imported_by == str(os.getpid()):
        fail(
            "The settings were imported in this notebook's process: run manage.py check --deploy "
            "in a process of its own (subprocess), as a deploy pipeline would.",
        )
    if not deploy_checked:
        fail(
            "Another process imported the settings, but never ran Django's deployment checks "
            "with them: run `manage.py check --deploy` there and read what it reports.",
        )
    if isinstance(result, str) or not all(isinstance(item, str) for item in result or ()):
        fail("Return the check ids as a set of strings, e.g. {'security.W004'}.", kind="shape")
    expected = {_UNSAFE[line] for line in unsafe}
    got = set(result)
    if got != expected:
        missing, extra = sorted(expected - got), sorted(got - expected)
        fail(
            "check --deploy reported other ids than you returned"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not reported: {', '.join(extra)}" if extra else "")
            + ". Read every `(security.Wnnn)` in its output (stdout and stderr).",
        )
