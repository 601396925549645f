"""Site links for the learner's browser: through jupyter-server-proxy when the kernel runs under a
Jupyter server that has it, plain 127.0.0.1 otherwise (tutorial/links.py). That a link lesson 00
shows opens through JupyterLab's proxy in a browser: tests/test_lab.py."""

import json
import os
from types import SimpleNamespace

import pytest

from tutorial import links
from tutorial.site import Site

SITE = "http://127.0.0.1:4321"


@pytest.fixture
def no_server(monkeypatch, tmp_path):
    """A process with no Jupyter server around: no variables, an empty runtime folder."""
    monkeypatch.delenv(links.BASE_URL_VAR, raising=False)
    monkeypatch.delenv(links.HUB_PREFIX_VAR, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir()
    return tmp_path / "runtime"


def test_without_a_jupyter_server_links_are_the_sites_own_address(no_server):
    assert links.browser_url(SITE, "/live/") == "http://127.0.0.1:4321/live/"
    assert links.browser_url(SITE + "/") == "http://127.0.0.1:4321/"


def test_on_jupyterhub_links_go_through_the_learners_own_server(no_server, monkeypatch):
    monkeypatch.setenv(links.HUB_PREFIX_VAR, "/user/alice/")
    assert links.browser_url(SITE, "/live/") == "/user/alice/proxy/4321/live/"


def test_make_lab_sets_the_base_url_for_its_kernels(no_server, monkeypatch):
    from tools.lab import lab_env

    monkeypatch.setenv(links.BASE_URL_VAR, lab_env({})[links.BASE_URL_VAR])
    assert links.browser_url(SITE, "/") == "/proxy/4321/"


def test_the_explicit_variable_wins_and_none_turns_proxying_off(no_server, monkeypatch):
    monkeypatch.setenv(links.HUB_PREFIX_VAR, "/user/alice/")
    monkeypatch.setenv(links.BASE_URL_VAR, "workshop")
    assert links.browser_url(SITE, "/live/") == "/workshop/proxy/4321/live/"
    monkeypatch.setenv(links.BASE_URL_VAR, "none")
    assert links.browser_url(SITE, "/live/") == "http://127.0.0.1:4321/live/"


def test_a_jupyter_server_started_by_hand_is_found_from_its_runtime_file(no_server):
    # `jupyter lab` writes jpserver-PID.json; a kernel is its child (here: this test's parent).
    info = {"pid": os.getppid(), "base_url": "/lab-base/", "port": 8888}
    (no_server / f"jpserver-{os.getppid()}.json").write_text(json.dumps(info))
    assert links.browser_url(SITE, "/live/") == "/lab-base/proxy/4321/live/"


def test_a_jupyter_server_that_is_not_an_ancestor_is_ignored(no_server):
    me = os.getpid()  # a server that is this process itself, not one it descends from
    (no_server / f"jpserver-{me}.json").write_text(json.dumps({"pid": me, "base_url": "/other/"}))
    assert links.browser_url(SITE, "/live/") == "http://127.0.0.1:4321/live/"


def test_without_jupyter_server_proxy_links_stay_on_127_0_0_1(no_server, monkeypatch):
    monkeypatch.setenv(links.HUB_PREFIX_VAR, "/user/alice/")
    monkeypatch.setattr(links, "find_spec", lambda name: None)
    assert links.browser_url(SITE, "/live/") == "http://127.0.0.1:4321/live/"


def test_a_path_without_a_leading_slash_is_refused(no_server):
    with pytest.raises(ValueError, match="must start with '/'"):
        links.browser_url(SITE, "live/")


def test_the_site_handle_gives_browser_links_and_keeps_its_own_url(no_server, monkeypatch):
    monkeypatch.setenv(links.HUB_PREFIX_VAR, "/user/bob/")
    site = SimpleNamespace(url=SITE)
    assert Site.browser_url(site, "/live/") == "/user/bob/proxy/4321/live/"
    assert site.url == SITE  # what the kernel's own requests use
