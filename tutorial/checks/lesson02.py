"""Checks for exercises/02_blocking_the_loop.ipynb."""

import ast
import asyncio
import random
import threading
import time

import httpx

from ..timing import Timeline
from ..tls import shared_context
from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .counting import CountingTransport
from .learner import BLOCKED_AFTER, call_async

# crunch_all: 12 pieces of CPU work of 0.04 s each. One at a time (even two between heartbeats)
# they are short enough for the loop; all in one go (0.48 s) they are far past BLOCKED_AFTER.
CRUNCH_ITEMS = tuple(range(1, 13))
CRUNCH_SECONDS = 0.04
# lookup_all: a blocking call of 0.3 s (past BLOCKED_AFTER even once) for each of three keys.
LOOKUP_KEYS = ("ada", "grace", "linus")
LOOKUP_SECONDS = 0.3
assert (
    CRUNCH_SECONDS
    < BLOCKED_AFTER / 3
    < BLOCKED_AFTER
    < min(LOOKUP_SECONDS, CRUNCH_SECONDS * len(CRUNCH_ITEMS))
)


def _spin(seconds):
    """Keep the CPU busy for `seconds` of this thread's CPU time, without sleeping: work that
    holds the thread. CPU time, not wall time, as real work is: on a loaded machine it takes
    longer, and the loop watch (which leaves out the time the thread waited for a CPU) sees
    all of it."""
    end = time.thread_time() + seconds
    spins = 0
    while time.thread_time() < end:
        spins += 1
    return spins


def make_work(timeline):
    """work(item) for the learner; `timeline.back_to_back` counts the pieces that ran on the
    loop's thread right after another one, the loop not having had a turn in between."""
    loop, loop_thread = asyncio.get_running_loop(), threading.get_ident()
    timeline.back_to_back = 0
    turn_pending = []  # non-empty from the end of a piece on the loop until the loop's next turn

    def work(item):
        """CPU-bound: busy for CRUNCH_SECONDS, then return item * item."""
        on_the_loop = threading.get_ident() == loop_thread
        if on_the_loop and turn_pending:
            timeline.back_to_back += 1
        with timeline.span(f"work({item})"):
            _spin(CRUNCH_SECONDS)
        if on_the_loop and not turn_pending:
            turn_pending.append(True)
            loop.call_soon(turn_pending.clear)  # runs at the loop's next turn, not before
        return item * item

    return work


def make_lookup(timeline):
    def lookup(key):
        """A blocking call you cannot change (a sync client, a C library): 0.3 s, then KEY."""
        with timeline.span(f"lookup({key!r})"):
            time.sleep(LOOKUP_SECONDS)
        return key.upper()

    return lookup


def _check_in_order(result, expected, what):
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of {what}, got {type(result).__name__}: {result!r:.80}", kind="format")
    if list(result) != expected:
        if sorted(map(str, result)) == sorted(map(str, expected)):
            fail(
                f"You returned {list(result)!r}: return them in the order given, {expected!r}.",
                kind="order",
            )
        fail(f"You returned {result!r:.100}; expected {expected!r}.")


def _check_each_called_once(timeline, fn_name, arguments):
    called = sorted(span.label for span in timeline.spans)
    wanted = sorted(f"{fn_name}({a!r})" for a in arguments)
    if called != wanted:
        fail(f"Call {fn_name} once per item: {len(wanted)} calls expected, saw {called}.")


@exercise(
    "02",
    "crunch_all",
    hints=(
        "Lesson 02's section 'CPU work blocks too': how does crunch_in_pieces let the others "
        "run between two pieces of work?",
        "Between two pieces of work, give the loop a turn (await asyncio.sleep(0)), or run "
        "the work in a thread (await asyncio.to_thread(...)).",
    ),
)
async def crunch_all(crunch_all):
    """Check that crunch_all(work, items) returns [work(item) for item in items] without holding the event loop for more than one piece of work at a time."""
    timeline = Timeline()
    result = await call_async(crunch_all, make_work(timeline), list(CRUNCH_ITEMS))
    _check_in_order(result, [item * item for item in CRUNCH_ITEMS], "work's results")
    _check_each_called_once(timeline, "work", CRUNCH_ITEMS)
    if timeline.back_to_back:
        fail(
            f"{timeline.back_to_back} times, a piece of work started right after another one, "
            "with no turn for the loop in between: give it one after every work(item)."
        )


@exercise(
    "02",
    "lookup_all",
    hints=(
        "Lesson 02's section 'The way out for a blocking call: a thread' — and lesson 01's "
        "gather, to have them all going at once.",
        "The blocking call cannot change, so run each call in a thread "
        "(asyncio.to_thread), and start them all before awaiting any.",
    ),
)
async def lookup_all(lookup_all):
    """Check that lookup_all(lookup, keys) returns [lookup(key) for key in keys] without blocking the event loop, running the lookups at the same time."""
    timeline = Timeline()
    result = await call_async(lookup_all, make_lookup(timeline), list(LOOKUP_KEYS))
    _check_in_order(result, [key.upper() for key in LOOKUP_KEYS], "lookup's results")
    _check_each_called_once(timeline, "lookup", LOOKUP_KEYS)
    at_once = timeline.max_overlap()
    if at_once < len(LOOKUP_KEYS):
        fail(
            f"The loop stayed free, but at most {at_once} of the {len(LOOKUP_KEYS)} lookups "
            "ran at the same time: each waited for the previous one to finish."
        )


# find_blocking_line: the server's watchdog names the line that holds its loop.

CULPRITS = ("thumbnail", "report", "convert")
LIBRARY_CULPRIT = "convert"  # it waits in subprocess.py: the innermost frame is a library's
CULPRIT_MODULE = "demo/views/loopwatch.py"


def _function_lines(site_dir, name):
    """(first, last) line of the body of function `name` in the culprits' module, read from
    the file (the check never imports the site's code)."""
    tree = ast.parse((site_dir / CULPRIT_MODULE).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.body[0].lineno, node.end_lineno
    raise LookupError(name)


def _parse_place(result):
    if not isinstance(result, str) or ":" not in result:
        fail(
            f'Return the place as "file:line", e.g. "demo/views/x.py:12"; got {result!r:.80}',
            kind="format",
        )
    where, _, line = result.rpartition(":")
    if not line.strip().isdigit():
        fail(
            f'Return the place as "file:line" with a line number; got {result!r:.80}', kind="format"
        )
    return where.strip(), int(line)


def _read_the_report_after(requests, path):
    """Whether the answer's own requests GET /watchdog/report/ after they GET `path`."""
    sent = [request for request in requests if request[0] == "GET"]
    if ("GET", path) not in sent:
        return False
    return ("GET", "/watchdog/report/") in sent[sent.index(("GET", path)) :]


async def _quiet_watchdog(client):
    """Start a watchdog that ends at once: it replaces one left running by an earlier try, so
    only a watchdog that the answer itself starts can see the stall."""
    await client.post("/watchdog/start/", params={"seconds": 0.1})
    await asyncio.sleep(0.2)


@exercise(
    "02",
    "find_blocking_line",
    hints=(
        "Lesson 02's section 'Finding the line in a running server': start the server's "
        "watchdog, make the request, then read what the watchdog saw.",
        "POST /watchdog/start/, GET the path, GET /watchdog/report/; in the longest stall's "
        "stack (innermost first) take the first frame whose 'project' is true: "
        'f"{file}:{line}".',
    ),
)
async def find_blocking_line(find_blocking_line, site):
    """Check that find_blocking_line(client, path) names the line of the site's own code that held the server's event loop while it served path, found with the server's watchdog."""
    # Two paths per run: one of the culprits that block in their own code (chosen at random),
    # and the one that blocks inside the standard library, where the innermost frame is not
    # the answer.
    inside = [name for name in CULPRITS if name != LIBRARY_CULPRIT]
    names = random.sample(inside, 1) if inside else []
    names += [LIBRARY_CULPRIT] if LIBRARY_CULPRIT in CULPRITS else []
    random.shuffle(names)
    for name in names:
        await _find_one(find_blocking_line, site, f"/culprits/{name}/")


async def _find_one(find_blocking_line, site, path):
    from ..site import SITE_DIR

    async with httpx.AsyncClient(base_url=site.url, timeout=10, verify=shared_context()) as own:
        await _quiet_watchdog(own)
        since = time.time()
        transport = CountingTransport()
        async with httpx.AsyncClient(base_url=site.url, transport=transport, timeout=10) as client:
            result = await call_async(find_blocking_line, client, path)
        await asyncio.sleep(0.05)  # the beat that closes the last stall
        report = (await own.get("/watchdog/report/")).json()
    where, line = _parse_place(result)
    stalls = [
        stall
        for stall in report["stalls"]
        if stall["at"] >= since and any(f["function"] == "culprit" for f in stall["stack"])
    ]
    if not stalls:
        fail(
            f"The server's watchdog saw no stall while your answer ran (it sent "
            f"{transport.sent} requests): start it with POST /watchdog/start/ before you request "
            "the path, through the client you were given, and read /watchdog/report/ after.",
            kind="wrong_method",
        )
    if not _read_the_report_after(transport.requests, path):
        fail(
            f"The watchdog saw the stall, but your answer never read GET /watchdog/report/ "
            f"after requesting {path}: the line must come from what the watchdog saw.",
            kind="wrong_method",
        )
    stack = stalls[0]["stack"]
    view = next(i for i, frame in enumerate(stack) if frame["function"] == "culprit")
    helper = stack[view - 1]["function"]
    first, last = _function_lines(SITE_DIR, helper)
    if where.endswith(CULPRIT_MODULE) and first <= line <= last:
        return
    if where.endswith(CULPRIT_MODULE) and line == stack[view]["line"]:
        fail(
            "That is the view's line that calls the helper; name the line inside the helper "
            "where the loop was held: the innermost frame of the site's own code."
        )
    if not where.startswith("demo/"):
        fail(
            f"{where} is not the site's own code (a library or the standard library): name the "
            "line of the site's code that called it — the first frame whose 'project' is true."
        )
    fail(f"{result} is not where the loop was held while {path} was served.")
