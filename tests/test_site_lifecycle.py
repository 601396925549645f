"""tutorial.site with real processes: it starts fast, answers, and never leaves a server behind."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx
import psutil
import pytest

from tutorial.site import PRELOAD_VAR, SERVERS, SiteFailedToStart, start_site


def wait_gone(pids, seconds):
    """True once none of `pids` is alive (zombies count as gone), polling for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


KERNEL_STARTS_SITE = """
    import json, sys, time
    from tutorial.preload import preload_server_pid
    from tutorial.site import start_site
    site = start_site()
    pids = site.pids()
    print(json.dumps({{"url": site.url, "pids": pids, "preload": preload_server_pid()}}), flush=True)
    {after}
"""


def kernel_with_site(after, **popen):
    """A Python child standing in for a Jupyter kernel: it starts a site, prints its pids."""
    code = textwrap.dedent(KERNEL_STARTS_SITE).format(after=after)
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, **popen
    )
    return child, json.loads(child.stdout.readline())


@pytest.mark.parametrize("server", SERVERS)
def test_every_server_answers_and_stop_ends_its_process_tree(server):
    site = start_site(server)
    pids = site.pids()
    assert len(pids) >= 2  # the supervisor and the server
    assert httpx.get(site.url + "/health/").json()["status"] == "ok"
    site.stop()
    assert not site.running
    assert wait_gone(pids, 5), f"{server} left processes behind after stop()"


def test_two_sites_get_their_own_port_and_database():
    with start_site() as one, start_site() as two:
        assert one.url != two.url
        assert one.db_path != two.db_path
        httpx.post(one.url + "/items/", json={"name": "only in one"})
        assert httpx.get(one.url + "/items/").json()["count"] == 1
        assert httpx.get(two.url + "/items/").json()["count"] == 0


def test_site_is_a_context_manager_that_stops_on_exit():
    with start_site() as site:
        pids = site.pids()
    assert wait_gone(pids, 5)


def test_server_dies_with_its_kernel_on_sigkill():
    kernel, started = kernel_with_site("time.sleep(60)")
    assert httpx.get(started["url"] + "/health/").status_code == 200
    kernel.send_signal(signal.SIGKILL)  # no atexit, no finally: only the closed pipe tells
    kernel.wait()
    assert wait_gone(started["pids"], 2), "server outlived a SIGKILLed kernel"
    # The process that forked it, if any (tutorial.preload), is not in the site's tree: it goes too.
    assert wait_gone([started["preload"]] if started["preload"] else [], 2)


def test_server_dies_at_interpreter_exit_without_stop():
    kernel, started = kernel_with_site("sys.exit(0)")
    kernel.wait(10)
    assert wait_gone(started["pids"], 2)
    assert wait_gone([started["preload"]] if started["preload"] else [], 2)


def test_forked_sites_keep_their_own_settings(monkeypatch):
    # Both come from one preload server, which imported Django before either's settings.
    from tutorial.preload import ForkedSupervisor

    monkeypatch.setenv(PRELOAD_VAR, "1")
    with start_site() as full, start_site(env={"COMPANION_LEAN_MIDDLEWARE": "1"}) as lean:
        assert isinstance(full._process, ForkedSupervisor)
        assert full._process.pid != lean._process.pid
        assert httpx.get(full.url + "/health/").headers.get("X-Frame-Options") == "DENY"
        assert "X-Frame-Options" not in httpx.get(lean.url + "/health/").headers
        assert full.db_path != lean.db_path


def test_the_preload_server_imports_no_settings():
    # Run as the preload server is: without DJANGO_SETTINGS_MODULE, so a module that read a
    # setting at import would raise here; and every listed module must import (none silently
    # skipped, which would only make starts slower).
    code = (
        "import importlib, json, sys\n"
        "from tutorial.preload import PRELOAD\n"
        "for name in PRELOAD: importlib.import_module(name)\n"
        "from django.conf import settings\n"
        "print(json.dumps([settings.configured, sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('config', 'demo'))]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(result.stdout) == [False, []]


def test_interrupting_the_kernel_does_not_reach_the_server():
    # Jupyter's "interrupt" sends SIGINT to the kernel's process group; the kernel survives it.
    # The stand-in takes SIGINT as a kernel does, with a handler of its own (not whatever it
    # inherited), and waits for it blocked, in sigtimedwait, so no moment of its own decides.
    # With `try: time.sleep(60) except KeyboardInterrupt`, twice under load the sleep was never
    # interrupted: 61 s, then no line.
    after = (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
        "print('waiting', flush=True)\n"
        "if signal.sigtimedwait({signal.SIGINT}, 60):\n"
        "    print('interrupted', flush=True)\n"
        "    time.sleep(60)"
    )
    kernel, started = kernel_with_site(after, start_new_session=True)
    assert kernel.stdout.readline().strip() == "waiting"  # SIGINT blocked: it waits pending
    os.killpg(kernel.pid, signal.SIGINT)
    assert kernel.stdout.readline().strip() == "interrupted"
    assert httpx.get(started["url"] + "/health/").status_code == 200
    kernel.kill()
    kernel.wait()
    assert wait_gone(started["pids"], 2)


def test_a_broken_setting_fails_fast_with_the_log_tail_and_no_process_left():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(SiteFailedToStart) as failure:
        start_site(env={"DJANGO_SETTINGS_MODULE": "config.no_such_settings"}, timeout=10)
    message = str(failure.value)
    assert "exited with code" in message
    assert "No module named 'config.no_such_settings'" in message
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert wait_gone(after - before, 2)


def test_a_port_in_use_is_not_a_problem():
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    with start_site() as site:
        assert not site.url.endswith(f":{squatter.getsockname()[1]}")
        assert httpx.get(site.url + "/health/").status_code == 200
    squatter.close()


@pytest.fixture(scope="module")
def logged_site():
    """One site with its access log on, for the tests that only look at a running site."""
    with start_site(access_log=True) as site:
        yield site


def test_the_site_listens_on_loopback_only(logged_site):
    server_pids = set(logged_site.pids())
    addresses = {
        c.laddr.ip
        for c in psutil.net_connections("inet")
        if c.pid in server_pids and c.status == psutil.CONN_LISTEN
    }
    assert addresses == {"127.0.0.1"}


def test_unknown_server_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of uvicorn"):
        start_site("tornado")


def test_logs_hold_what_the_server_wrote(logged_site):
    httpx.get(logged_site.url + "/hello/async/")
    deadline = time.monotonic() + 5
    while "/hello/async/" not in logged_site.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "/hello/async/" in logged_site.logs()


def test_a_site_that_answers_500_fails_with_its_log_instead_of_waiting():
    with pytest.raises(SiteFailedToStart) as failure:
        start_site(app="tests.broken_asgi_app:app", timeout=60)
    assert "HTTP 500" in str(failure.value)
    assert "answering 500 on purpose" in str(failure.value)


def test_only_one_uvicorn_is_forked_and_only_when_asked(monkeypatch):
    from tutorial.site import _can_preload

    monkeypatch.delenv(PRELOAD_VAR, raising=False)  # the default: preloaded
    assert _can_preload("uvicorn", 1, None)
    assert _can_preload("uvicorn", 1, {"PYTHONPATH": "x", "COMPANION_LEAN_MIDDLEWARE": "1"})
    assert not _can_preload("uvicorn", 2, None)  # uvicorn's own multiprocess supervisor
    assert not _can_preload("daphne", 1, None)
    assert not _can_preload("uvicorn", 1, {"PYTHONASYNCIODEBUG": "1"})  # read at startup
    monkeypatch.setenv(PRELOAD_VAR, "0")  # every start a new interpreter
    assert not _can_preload("uvicorn", 1, None)


def test_a_forked_site_has_a_fresh_supervisor_and_fresh_true_forks_nothing(monkeypatch):
    # The fork's supervisor execs a new `tutorial.serve --adopt`: it must not carry the preload
    # server's Django in its memory, or a lesson summing the site's RSS would count it.
    import psutil

    from tutorial.preload import ForkedSupervisor

    monkeypatch.delenv(PRELOAD_VAR, raising=False)
    with start_site() as forked, start_site(fresh=True) as fresh:
        assert isinstance(forked._process, ForkedSupervisor)
        assert not isinstance(fresh._process, ForkedSupervisor)
        supervisors = {
            name: psutil.Process(site.pids()[0])
            for name, site in (("forked", forked), ("fresh", fresh))
        }
        assert "--adopt" in supervisors["forked"].cmdline()
        rss = {name: process.memory_info().rss for name, process in supervisors.items()}
        assert rss["forked"] < 1.5 * rss["fresh"], rss
        for site in (forked, fresh):
            assert httpx.get(site.url + "/health/").status_code == 200


def test_a_killed_preload_server_loses_no_site(monkeypatch):
    # `make kill-servers` or the OOM killer may end it: the sites it forked are on their own.
    from tutorial.preload import preload_server_pid

    monkeypatch.setenv(PRELOAD_VAR, "1")
    with start_site() as first:
        server = preload_server_pid()
        os.kill(server, signal.SIGKILL)
        assert wait_gone([server], 5)
        assert httpx.get(first.url + "/health/").status_code == 200
        with start_site() as second:  # from a new preload server
            assert preload_server_pid() not in (None, server)
            assert httpx.get(second.url + "/health/").status_code == 200
        pids = first.pids()
    assert len(pids) >= 2 and wait_gone(pids, 5)
    assert first._process.returncode is not None
