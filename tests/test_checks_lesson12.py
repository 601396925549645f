"""The lesson 12 checks: real Server headers from sites the answer started, workers picked from
measurements (per-run data), and `check --deploy` run in a process of its own."""

import os
import re
import subprocess
import sys

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson12 as checks
from tutorial.site import SITE_DIR, start_site


def failure(answer, check):
    with pytest.raises(ExerciseFailed) as caught:
        check(answer)
    return caught.value


def assert_short_hint(error, kind, phrase):
    assert error.kind == kind
    assert phrase in error.hint
    assert len(error.hint.splitlines()) <= 5


# --- server_headers ---------------------------------------------------------------------------


def reads_the_headers(servers):
    headers = {}
    for server in servers:
        with start_site(server) as site:
            headers[server] = httpx.get(site.url + "/health/").headers["server"]
    return headers


def typed_in(servers):  # the shortcut: what each server is known to say, no site started
    known = {"uvicorn": "uvicorn", "daphne": "daphne", "hypercorn": "hypercorn-h11"}
    return {server: known[server] for server in servers}


def starts_them_but_types_the_header(servers):  # the shortcut with a site started for show
    for server in servers:
        start_site(server).stop()
    return typed_in(servers)


def leaves_sites_running(servers):
    headers = {}
    for server in servers:
        site = start_site(server)
        headers[server] = httpx.get(site.url + "/health/").headers["server"]
    return headers


def returns_a_list(servers):
    return list(typed_in(servers).values())


def untouched(*args):
    raise NotImplementedError


@pytest.mark.slow
def test_real_headers_pass(capsys):
    checks.server_headers(reads_the_headers)
    assert "✓ [12_server_headers]" in capsys.readouterr().out


def test_untouched_server_headers_fails_as_not_started():
    assert failure(untouched, checks.server_headers).kind == "not_started"


def test_typed_in_headers_are_caught():
    assert_short_hint(failure(typed_in, checks.server_headers), "wrong", "never started a site")


def test_typed_in_headers_from_sites_never_asked_are_caught(monkeypatch):
    monkeypatch.setattr(checks.random, "sample", lambda population, k: ["uvicorn"])  # one site
    error = failure(starts_them_but_types_the_header, checks.server_headers)
    assert_short_hint(error, "wrong", "never sent it a request")


def test_a_list_is_named():
    error = failure(returns_a_list, checks.server_headers)
    assert_short_hint(error, "shape", "Return a dict")
    assert "Hint " not in error.hint  # the steps are about the method, not the type


@pytest.mark.slow
def test_a_site_left_running_is_named_and_stopped(monkeypatch):
    from tutorial.services import _running

    monkeypatch.setattr(checks.random, "sample", lambda population, k: ["uvicorn"])  # one site
    # Services this worker already runs (the session's PostgreSQL cluster) are not the answer's.
    before = {id(service) for service in _running if service.running}
    error = failure(leaves_sites_running, checks.server_headers)
    assert_short_hint(error, "wrong", "still running")
    assert not [s for s in _running if s.running and id(s) not in before]


def test_a_header_from_another_server_is_caught(monkeypatch):
    def misreports(servers):
        headers = reads_the_headers(servers)
        return dict.fromkeys(headers, "gunicorn")  # what a WSGI deploy would have said

    monkeypatch.setattr(checks.random, "sample", lambda population, k: ["uvicorn"])  # one site
    assert_short_hint(failure(misreports, checks.server_headers), "wrong", "its responses say")


# --- pick_workers -----------------------------------------------------------------------------


def picks_from_the_runs(runs, memory_mb):
    fits = [run for run in runs if run["workers"] * run["mb_per_worker"] <= memory_mb]
    best = max(run["rps"] for run in fits)
    return min(run["workers"] for run in fits if run["rps"] >= 0.9 * best)


def cores(runs, memory_mb):
    return os.cpu_count()


def gunicorns_formula(runs, memory_mb):
    return 2 * os.cpu_count() + 1


def the_fastest(runs, memory_mb):
    fits = [run for run in runs if run["workers"] * run["mb_per_worker"] <= memory_mb]
    return max(fits, key=lambda run: run["rps"])["workers"]


def ignores_memory(runs, memory_mb):
    best = max(run["rps"] for run in runs)
    return min(run["workers"] for run in runs if run["rps"] >= 0.9 * best)


def returns_the_run(runs, memory_mb):
    return next(run for run in runs if run["workers"] == picks_from_the_runs(runs, memory_mb))


def test_picking_from_the_runs_passes(capsys):
    for _ in range(20):  # the data vary per run
        checks.pick_workers(picks_from_the_runs)
    assert "✓ [12_pick_workers]" in capsys.readouterr().out


def test_untouched_pick_workers_fails_as_not_started():
    assert failure(untouched, checks.pick_workers).kind == "not_started"


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (cores, "a formula of this machine's cores"),
        (gunicorns_formula, "a formula of this machine's cores"),
        (the_fastest, "≥ 90% of the best"),
        (ignores_memory, "more than the"),
        (returns_the_run, "Return a number"),
    ],
)
def test_wrong_picks_fail_with_a_hint(answer, phrase):
    kind = "shape" if answer is returns_the_run else "wrong"
    for _ in range(10):  # every run of the check catches it, whatever its data
        assert_short_hint(failure(answer, checks.pick_workers), kind, phrase)


# --- deploy_issues ----------------------------------------------------------------------------


def runs_check_deploy(settings, pythonpath):
    command = [sys.executable, "manage.py", "check", "--deploy", "--settings", settings]
    done = subprocess.run(
        [*command, "--pythonpath", pythonpath], cwd=SITE_DIR, capture_output=True, text=True
    )
    return set(re.findall(r"\((\w+\.\w+)\)", done.stdout + done.stderr))


def reads_the_file(settings, pythonpath):  # a shortcut: guess the ids from the settings' text
    from pathlib import Path

    text = (Path(pythonpath) / f"{settings}.py").read_text()
    return {ident for line, ident in checks._UNSAFE.items() if line in text.split("unsafe")[-1]}


def imports_it_here(settings, pythonpath):  # a shortcut: import the module in this process
    import importlib

    sys.path.insert(0, pythonpath)
    try:
        importlib.import_module(settings)
    finally:
        sys.path.remove(pythonpath)
    return set()


def imports_it_elsewhere_and_reads_the_file(settings, pythonpath):
    """A shortcut: import the module in a child process (so it was imported, not here), then
    guess the ids from the settings' text."""
    subprocess.run(
        [sys.executable, "-c", f"import {settings}"],
        cwd=SITE_DIR,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([pythonpath, str(SITE_DIR)])},
        check=True,
    )
    return reads_the_file(settings, pythonpath)


def runs_the_checks_in_a_child_with_call_command(settings, pythonpath):
    """Not manage.py, but Django's deploy checks all the same, in a process of their own."""
    code = (
        "import django; from django.core.management import call_command; django.setup(); "
        "call_command('check', deploy=True)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": os.pathsep.join([pythonpath, str(SITE_DIR)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=SITE_DIR, env=env, capture_output=True, text=True
    )
    return set(re.findall(r"\((\w+\.\w+)\)", done.stdout + done.stderr))


def stdout_only_as_a_string(settings, pythonpath):
    return " ".join(sorted(runs_check_deploy(settings, pythonpath)))


def test_running_check_deploy_passes(capsys):
    checks.deploy_issues(runs_check_deploy)
    assert "✓ [12_deploy_issues]" in capsys.readouterr().out


def test_untouched_deploy_issues_fails_as_not_started():
    assert failure(untouched, checks.deploy_issues).kind == "not_started"


def test_reading_the_settings_file_is_caught():
    assert_short_hint(failure(reads_the_file, checks.deploy_issues), "wrong", "never imported")


def test_importing_the_settings_in_the_kernel_is_caught():
    assert_short_hint(failure(imports_it_here, checks.deploy_issues), "wrong", "in this notebook")


def test_importing_it_elsewhere_and_reading_the_file_is_caught():
    error = failure(imports_it_elsewhere_and_reads_the_file, checks.deploy_issues)
    assert_short_hint(error, "wrong", "never ran Django's deployment checks")


def test_the_deploy_checks_through_call_command_in_a_child_pass(capsys):
    checks.deploy_issues(runs_the_checks_in_a_child_with_call_command)
    assert "✓ [12_deploy_issues]" in capsys.readouterr().out


def test_a_string_instead_of_a_set_is_named():
    error = failure(stdout_only_as_a_string, checks.deploy_issues)
    assert_short_hint(error, "shape", "set of strings")


def test_a_wrong_parse_names_what_is_missing():
    def only_warnings_on_stdout(settings, pythonpath):  # check --deploy writes them to stderr
        command = [sys.executable, "manage.py", "check", "--deploy", "--settings", settings]
        done = subprocess.run(
            [*command, "--pythonpath", pythonpath], cwd=SITE_DIR, capture_output=True, text=True
        )
        return set(re.findall(r"\((\w+\.\w+)\)", done.stdout))

    assert_short_hint(failure(only_warnings_on_stdout, checks.deploy_issues), "wrong", "missing")


def test_the_unsafe_settings_give_exactly_their_ids(tmp_path):
    """The check's table of unsafe lines and ids is what Django 6.1 really reports."""
    name = checks._settings_module(tmp_path, sorted(checks._UNSAFE), tmp_path / "marker")
    assert runs_check_deploy(name, str(tmp_path)) == set(checks._UNSAFE.values())
