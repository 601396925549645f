"""Start JupyterLab the way `make lab` does; the browser tests start it through the same function.

Loopback only, Jupyter's own token kept (the URL with it is printed), --allow-root when root.
Kernels learn the server's base URL from the environment (tutorial/links.py: site links for the
browser go through jupyter-server-proxy).
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"


def lab_command(port, *, root_dir=ROOT, notebook=FIRST_NOTEBOOK, token=None, open_browser=True):
    """The jupyter lab command line. `token=None` keeps Jupyter's generated token."""
    command = [sys.executable, "-m", "jupyterlab", notebook, "--ip", "127.0.0.1"]
    command += ["--port", str(port), f"--ServerApp.root_dir={root_dir}"]
    command += [] if open_browser else ["--no-browser"]
    command += [f"--IdentityProvider.token={token}"] if token else []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root without it
    return command


def lab_environment(environ=os.environ):
    """The server's environment: kernels inherit the base URL, so site links use Jupyter's proxy."""
    return {"TUTORIAL_JUPYTER_BASE_URL": "/", **environ}  # lab_command keeps the default base_url


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    args = parser.parse_args()
    command = lab_command(args.port)
    os.execve(command[0], command, lab_environment())


if __name__ == "__main__":
    main()
