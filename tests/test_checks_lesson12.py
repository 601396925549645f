"""The lesson 12 check passes real Server headers from sites it finds stopped, and names each wrong answer."""

import httpx
import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson12 as checks
from tutorial.site import start_site


def reads_the_headers(servers):
    headers = {}
    for server in servers:
        with start_site(server) as site:
            headers[server] = httpx.get(site.url + "/health/").headers["server"]
    return headers


def same_server_for_all(servers):
    with start_site() as site:
        header = httpx.get(site.url + "/health/").headers["server"]
    return dict.fromkeys(servers, header)


leaked = []


def leaves_sites_running(servers):
    headers = {}
    for server in servers:
        site = start_site(server)
        leaked.append(site)
        headers[server] = httpx.get(site.url + "/health/").headers["server"]
    return headers


def returns_a_list(servers):
    return [reads_the_headers([server])[server] for server in servers]


def untouched(servers):
    raise NotImplementedError


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        checks.server_headers(answer)
    return caught.value


@pytest.mark.slow
def test_real_headers_pass(capsys):
    checks.server_headers(reads_the_headers)
    assert "✓" in capsys.readouterr().out


def test_untouched_exercise_fails_as_not_started():
    assert failure(untouched).kind == "not_started"


def test_a_site_left_running_is_named():
    try:
        error = failure(leaves_sites_running)
    finally:
        for site in leaked:
            site.stop()
    assert "still running" in error.hint


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "phrase"),
    [(same_server_for_all, "its responses say"), (returns_a_list, "Return a dict")],
)
def test_wrong_answers_fail_with_a_hint(answer, phrase):
    error = failure(answer)
    assert error.kind == "wrong"
    assert phrase in error.hint
