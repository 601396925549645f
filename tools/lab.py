"""Start JupyterLab the way `make lab` does; the browser tests start it through the same function.

Loopback only, Jupyter's own token kept (the URL with it is printed), --allow-root when root.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    args = parser.parse_args()
    command = lab_command(args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
