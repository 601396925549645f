"""Checks for exercises/12_deploying.ipynb."""

import httpx

from ..services import _running
from ..site import start_site
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_sync

SERVERS = ("uvicorn", "hypercorn")


def _actual_header(server):
    with start_site(server) as site:
        return httpx.get(site.url + "/health/").headers.get("server")


@exercise(
    "12",
    "server_headers",
    hint="Lesson 12 starts the same site under every server and reads one response header "
    "from each; leave nothing running when you return.",
)
def server_headers(server_headers):
    """Check that server_headers(servers) reports the Server header each server really sends, and stops its sites."""
    running_before = {site for site in _running if site.running}
    result = call_sync(server_headers, list(SERVERS))
    left_running = [site for site in _running if site.running and site not in running_before]
    if left_running:
        fail(
            f"{len(left_running)} site(s) still running after server_headers returned: stop() each one."
        )
    if not isinstance(result, dict):
        fail(f"Return a dict {{server: header}}, got {type(result).__name__}.")
    if set(result) != set(SERVERS):
        fail(f"Return one entry per server asked for, {list(SERVERS)}; got keys {sorted(result)}.")
    for server in SERVERS:
        actual = _actual_header(server)
        if result[server] != actual:
            fail(f"For {server} you reported {result[server]!r}; its responses say {actual!r}.")
