"""JupyterHub for a workshop on one host: every learner gets a JupyterLab, kernels and companion
sites of their own. How to run it, size it and go past one host: docs/instructors.md.

    make hub-proxy                                          # once: the hub's proxy, from npm
    WORKSHOP_PASSWORD=... .venv/bin/jupyterhub -f workshop/jupyterhub_config.py

Settings come from the environment (defaults in brackets):
  WORKSHOP_IP, WORKSHOP_PORT   where learners connect [127.0.0.1, 8000]; 0.0.0.0 for a room,
                               behind TLS (docs/instructors.md)
  WORKSHOP_HUB_PORT, WORKSHOP_PROXY_API_PORT   the hub's and the proxy's own ports [8081, 8001]
  WORKSHOP_STATE               the hub's database, cookie secret and learners' homes [workshop/state]
  WORKSHOP_PASSWORD            one password for every learner (SharedPasswordAuthenticator);
                               unset: any name and any password get in (a trial on your own machine)
  WORKSHOP_ADMIN_TOKEN         an API token for the instructor's scripts (start servers, list users)
  WORKSHOP_PUBLIC_HOST         the host name learners type (workshop.example.org): companion sites
                               accept it, since a request through the proxy keeps its Host header
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub provides it when it loads this file

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # the hub runs from the tutorial's .venv
STATE = Path(os.environ.get("WORKSHOP_STATE", ROOT / "workshop" / "state")).resolve()
STATE.mkdir(parents=True, exist_ok=True)
LOOPBACK = "127.0.0.1"

# Where learners connect, and the hub's internal ports (all on loopback but the public one).
c.JupyterHub.ip = os.environ.get("WORKSHOP_IP", LOOPBACK)
c.JupyterHub.port = int(os.environ.get("WORKSHOP_PORT", "8000"))
c.JupyterHub.hub_ip = LOOPBACK
c.JupyterHub.hub_port = int(os.environ.get("WORKSHOP_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = (
    f"http://{LOOPBACK}:{os.environ.get('WORKSHOP_PROXY_API_PORT', '8001')}"
)
c.ConfigurableHTTPProxy.command = [str(ROOT / "workshop/node_modules/.bin/configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# The hub's own state, in one folder: removing it resets the workshop.
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
c.JupyterHub.cleanup_proxy = True

password = os.environ.get("WORKSHOP_PASSWORD")
if password:
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
else:
    c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True

token = os.environ.get("WORKSHOP_ADMIN_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "instructor", "api_token": token}]
    c.JupyterHub.load_roles = [
        {
            "name": "instructor",
            "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
            "services": ["instructor"],
        }
    ]

# Every learner's server runs as the host's user, in a home folder of its own under STATE. That
# keeps learners apart in everything the tutorial does (ports, databases, sites, files), but not
# from each other's code: for learners you do not trust, see docs/instructors.md.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []  # JupyterLab refuses root otherwise
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# What a learner's server inherits from the hub (little: the hub's secrets stay out). The run id
# lets a test run find every process it started (conftest.py), learners' kernels included.
c.Spawner.env_keep = ["JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL", "TUTORIAL_RUN_ID"]
# The venv first on PATH, so a learner's terminal finds the tutorial's python and make.
c.Spawner.environment = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
if os.environ.get("WORKSHOP_PUBLIC_HOST"):
    c.Spawner.environment["COMPANION_ALLOWED_HOSTS"] = os.environ["WORKSHOP_PUBLIC_HOST"]


def copy_the_tutorial(spawner):
    """A learner's first start: their own copy of the lessons and exercises to write in."""
    home = Path(spawner.home_dir)
    for folder in ("notebooks", "exercises"):
        if not (home / folder).exists():
            shutil.copytree(ROOT / folder, home / folder)


c.Spawner.pre_spawn_hook = copy_the_tutorial
