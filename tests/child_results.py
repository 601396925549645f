"""Run check code in a fresh Python, set up as a notebook is, and read back what it printed.

This test process has pytest-django's settings; a check that needs the notebook's own Django
set-up (PostgreSQL, the PostgreSQL channel layer) runs in a child that prints one line,
`RESULTS <json>`.
"""

import json
import os
import subprocess
import sys
import textwrap

from tutorial.services import ROOT


def results_of_child(code, timeout=120):
    """The JSON the child printed after `RESULTS `; fails with its output's tail if none."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(lines[0].removeprefix("RESULTS "))
