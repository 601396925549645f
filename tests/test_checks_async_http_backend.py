"""httpx imports its async network backend on a process's first async request, on the loop's
thread (~0.2 s of imports). In a learner's first request, under load, the loop watch read that as
"your code blocked the event loop" (solutions/08 failed so). The check imports it beforehand."""

import subprocess
import sys
import textwrap

from tutorial.site import ROOT

CHILD = """
    import asyncio, sys
    from tutorial.checks.learner import call_async

    async def learners_code():
        return "httpcore._backends.anyio" in sys.modules

    assert "httpcore._backends.anyio" not in sys.modules  # a fresh process: not yet
    print(asyncio.run(call_async(learners_code)))
"""


def test_the_async_http_backend_is_imported_before_the_learners_code_runs():
    ran = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "True"
