"""Binder and Codespaces cannot be launched from here: their files are checked for what a launch
would do with them (repo2docker's and the devcontainer spec's documented behaviour)."""

import json
import os
import re
import stat
import subprocess
import sys

from tests.browser import ROOT

BINDER = ROOT / "binder"
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"


def test_binder_installs_the_one_environment_file():
    # With a binder/ folder, repo2docker reads only the files inside it: the environment there
    # must be the repository's own environment.yml, not a second list that could drift.
    environment = BINDER / "environment.yml"
    assert environment.is_symlink(), "binder/environment.yml should link to ../environment.yml"
    assert environment.resolve() == (ROOT / "environment.yml").resolve()


def test_binders_environment_has_the_proxy_that_site_links_go_through():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- jupyter-server-proxy", text, re.M)
    assert re.search(r"^\s*- jupyterlab", text, re.M)


def test_binder_post_build_makes_import_tutorial_work():
    post_build = BINDER / "postBuild"
    mode = post_build.stat().st_mode
    assert mode & stat.S_IXUSR, "repo2docker runs postBuild only when it is executable"
    lines = [
        line.strip()
        for line in post_build.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "set -euo pipefail" in lines  # a failed step fails the build instead of a broken image
    assert "python tools/link_repo.py" in lines
    assert (ROOT / "tools" / "link_repo.py").exists()


def test_the_devcontainer_runs_the_readmes_set_up_on_python_313():
    config = json.loads(DEVCONTAINER.read_text())
    assert config["postCreateCommand"] == "make setup"
    # The set-up half of the README's `make lab`: .venv, the requirements, the repo on the path.
    assert re.search(r"^setup: \$\(STAMP\)$", (ROOT / "Makefile").read_text(), re.M)
    assert re.search(r"^lab: \$\(STAMP\)$", (ROOT / "Makefile").read_text(), re.M)
    python = re.search(r"python:(\d+)\.(\d+)", config["image"])
    assert python and (int(python[1]), int(python[2])) >= (3, 12), config["image"]
    assert python[0].endswith((ROOT / ".python-version").read_text().strip())


def test_the_devcontainer_forwards_the_port_make_lab_uses():
    config = json.loads(DEVCONTAINER.read_text())
    lab_port = re.search(r"^LAB_PORT\s*\?=\s*(\d+)", (ROOT / "Makefile").read_text(), re.M)[1]
    assert int(lab_port) in config["forwardPorts"]
    assert lab_port in config["portsAttributes"]


def test_the_readme_shows_how_to_launch_on_binder_and_codespaces():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org" in readme and "urlpath=lab/tree/notebooks/00_start_here.ipynb" in readme
    assert "codespaces" in readme.lower()
    assert os.path.basename(DEVCONTAINER.parent) in readme


def load_workshop_config(monkeypatch, tmp_path, **environ):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("WORKSHOP_STATE", str(tmp_path / "state"))
    monkeypatch.delenv("WORKSHOP_PASSWORD", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyterhub_config.py", str(ROOT / "workshop")).load_config()


def test_the_workshop_hub_asks_for_the_shared_password_when_one_is_set(monkeypatch, tmp_path):
    config = load_workshop_config(monkeypatch, tmp_path, WORKSHOP_PASSWORD="a-room-password")
    assert config.JupyterHub.authenticator_class == "shared-password"
    assert config.SharedPasswordAuthenticator.user_password == "a-room-password"
    trial = load_workshop_config(monkeypatch, tmp_path)
    assert trial.JupyterHub.authenticator_class == "dummy"


def test_the_workshop_hub_keeps_everything_but_its_public_port_on_loopback(monkeypatch, tmp_path):
    config = load_workshop_config(monkeypatch, tmp_path, WORKSHOP_IP="0.0.0.0")
    assert config.JupyterHub.ip == "0.0.0.0"
    assert config.JupyterHub.hub_ip == "127.0.0.1"
    assert config.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert config.JupyterHub.cleanup_servers is True
    # the hub's secrets (the proxy's token) stay out of learners' servers
    assert "CONFIGPROXY_AUTH_TOKEN" not in config.Spawner.env_keep


def test_the_workshop_hub_tells_the_sites_its_public_host_name(monkeypatch, tmp_path):
    config = load_workshop_config(monkeypatch, tmp_path, WORKSHOP_PUBLIC_HOST="ws.example.org")
    assert config.Spawner.environment["COMPANION_ALLOWED_HOSTS"] == "ws.example.org"


def test_binder_start_lets_the_sites_accept_binders_host_names():
    start = BINDER / "start"
    assert start.stat().st_mode & stat.S_IXUSR, "repo2docker runs start only when executable"
    text = start.read_text()
    assert re.search(r'^export COMPANION_ALLOWED_HOSTS=".*\.mybinder\.org', text, re.M)
    assert text.rstrip().endswith('exec "$@"'), "start must hand over to JupyterLab"


def test_a_codespace_lets_the_sites_accept_its_forwarded_host_names():
    config = json.loads(DEVCONTAINER.read_text())
    assert config["containerEnv"]["COMPANION_ALLOWED_HOSTS"] == ".app.github.dev"


def test_the_site_accepts_the_host_names_it_is_given_and_only_those():
    code = "from config import settings; print(settings.ALLOWED_HOSTS)"
    env = {**os.environ, "COMPANION_ALLOWED_HOSTS": " .app.github.dev, workshop.example.org ,"}
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "companion_site", env=env,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "'.app.github.dev', 'workshop.example.org']" in shown
    env.pop("COMPANION_ALLOWED_HOSTS")
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "companion_site", env=env,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert shown.strip() == "['127.0.0.1', 'localhost', '[::1]', 'testserver']"
