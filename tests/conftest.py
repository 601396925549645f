"""The tests start the companion site over a hundred times: each uvicorn start is forked from a
process with Django imported already (tutorial/preload.py), ~0.35 s of CPU less per start.

Only here: lessons and benchmarks measure a freshly started server, as production runs it.
`TUTORIAL_PRELOAD=0 pytest ...` runs the tests on fresh servers too.
"""

import os

from tutorial.site import PRELOAD_VAR

os.environ.setdefault(PRELOAD_VAR, "1")
