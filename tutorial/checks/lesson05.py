"""Checks for exercises/05_async_views.ipynb: tell the site's mystery endpoints apart over HTTP.

The right answers are not written down anywhere: the site draws which letter does what each time
it starts, and each check measures the running site itself (the views' server-side spans, and
probe views run during the load) and compares. Each URL handed to the learner's code carries a
fresh `tag`, so the check also asks the site what that code sent: an answer given without
measuring is named as such.
"""

import asyncio
import contextlib
import contextvars
import secrets
import threading
import time
from dataclasses import dataclass

import httpx
from django.http import JsonResponse

from ..load import fire, most_at_once
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .django_views import PREFIX, learner_routes, ran_in_threads
from .learner import call_async, call_sync

MYSTERIES = ("a", "b", "c", "d")
DELAY = 0.15  # each mystery view waits this long
REQUESTS = 4  # sent at once when the check measures an endpoint itself
ANSWERS = {"concurrent": "concurrent", "serialised": "serialised", "serialized": "serialised"}
# The check's own clients speak plain HTTP to 127.0.0.1: verify=False spares each one the TLS
# context httpx builds by default (~35 ms of CPU, loading every CA certificate), never used here.
PLAIN_HTTP = {"verify": False}


@dataclass(frozen=True)
class Behaviour:
    """What the check saw an endpoint do with REQUESTS requests at once."""

    concurrent: bool  # the views' server-side spans overlapped
    blocks_loop: bool  # no other async view could run while they ran

    @property
    def answer(self):
        return "concurrent" if self.concurrent else "serialised"


# While the learner's classify/blocks_loop runs, a list that notes a call of the check's own
# measurement: that is not theirs to call (a task or thread they start inherits the variable).
_answering = contextvars.ContextVar("answering", default=None)
CONSULTED = (
    "Your answer called the check's own measurement (tutorial.checks.lesson05.measure): "
    "measure the endpoint yourself, with timed requests sent at once."
)


class _Consulted(Exception):
    """Raised into the learner's code that called measure(); the check names it afterwards."""


def _note_a_look():
    consulted = _answering.get()
    if consulted is not None:
        consulted.append(True)
        raise _Consulted(CONSULTED)


class _Measurements(dict):
    """The check's own results, which the learner's code may not read while it answers."""

    def __getitem__(self, key):
        _note_a_look()
        return super().__getitem__(key)

    def get(self, *args):
        _note_a_look()
        return super().get(*args)

    def values(self):
        _note_a_look()
        return super().values()

    def items(self):
        _note_a_look()
        return super().items()


# (site url, server pid, name) -> Behaviour: measure each endpoint once per site
_measured = _Measurements()


async def _learners_answer(fn, *args):
    """call_async(fn, *args), failing if fn asked the check's own measurement for the answer."""
    consulted = []
    token = _answering.set(consulted)
    try:
        try:
            answer = await call_async(fn, *args, timeout=20)
        except ExerciseFailed:
            if consulted:
                fail(CONSULTED)
            raise
    finally:
        _answering.reset(token)
    if consulted:
        fail(CONSULTED)
    return answer


def mystery_url(site, name, tag=None):
    tagged = f"&tag={tag}" if tag else ""
    return f"{site.url}/mystery/{name}/?delay={DELAY}{tagged}"


def _new_tag():
    return secrets.token_hex(6)


async def seen(site, tag):
    """What the site saw of the requests tagged `tag`: (learner's request spans, probe times)."""
    async with httpx.AsyncClient(timeout=10, **PLAIN_HTTP) as client:
        response = await client.get(f"{site.url}/mystery/seen/", params={"tag": tag})
    response.raise_for_status()
    body = response.json()
    spans = [(i, start, end) for i, (start, end) in enumerate(body["requests"])]
    return spans, [start for start, _ in body["probes"]]


async def _probe_times(client, url, load):
    """GET `url` (an async view that reports when it ran) again and again until `load` is done.

    Returns the server-side times at which the probes ran.
    """
    times = []
    while not load.done():
        response = await client.get(url)
        response.raise_for_status()
        times.append(response.json()["started"])
        await asyncio.sleep(0.005)
    return times


async def measure(site, name):
    """Load mystery endpoint `name` and, meanwhile, probe the event loop with another async view.

    Judged from the server's own timestamps, not from latencies, so a busy machine cannot turn
    a slow answer into a wrong verdict: the views are concurrent if their spans overlap, and
    they block the loop if no probe view ran while one of them was running.
    """
    _note_a_look()
    key = (site.url, site.pid, name)
    if key not in _measured:
        async with httpx.AsyncClient(timeout=30, **PLAIN_HTTP) as client:
            load = asyncio.create_task(fire(mystery_url(site, name), n=REQUESTS))
            await asyncio.sleep(0)  # let fire() set up its client before the first probe
            probes = await _probe_times(client, site.url + "/async/thread/", load)
        result = await load
        if result.errors:
            fail(f"The site answered {result.errors} of {REQUESTS} requests with an error.")
        spans = [(r.index, r.body["started"], r.body["ended"]) for r in result.records]
        _measured[key] = Behaviour(
            concurrent=most_at_once(spans) > 1,
            blocks_loop=not any(start < t < end for t in probes for _, start, end in spans),
        )
    return _measured[key]


@exercise(
    "05",
    "classify",
    hints=(
        "Time one request, then n requests sent at once (asyncio.gather): requests that "
        "overlap take about as long as one; serialised ones about n times as long.",
        "Compare the time of the n requests together with n × the time of one: close to n × "
        "means the server ran them one after another; close to 1 × means side by side. Time "
        "each twice and keep the shorter: a busy moment only makes a timing longer.",
    ),
)
async def classify(classify, site):
    """Check that classify(url) tells which mystery endpoints run concurrent requests side by side and which one after another."""
    for name in MYSTERIES:
        tag = _new_tag()
        answer = await _learners_answer(classify, mystery_url(site, name, tag))
        if not isinstance(answer, str) or answer.lower() not in ANSWERS:
            fail(
                f"classify returned {answer!r}; return the string 'concurrent' or 'serialised'.",
                kind="shape",
            )
        sent, _ = await seen(site, tag)
        if len(sent) < 2:
            fail(
                f"classify answered for /mystery/{name}/ after sending {len(sent)} request(s) "
                "to it: the answer has to be measured (which letter does what changes each "
                "time the site starts)."
            )
        behaviour = await measure(site, name)
        if behaviour.concurrent and most_at_once(sent) < 2:
            fail(
                f"Your requests to /mystery/{name}/ never ran at the same time on the server. "
                "Did you send yours at once (gather, TaskGroup), not one after another in a loop?"
            )
        if ANSWERS[answer.lower()] == behaviour.answer:
            continue
        if behaviour.concurrent:
            fail(
                f"classify said 'serialised' for /mystery/{name}/, but its requests overlap when "
                "they are sent at the same time (the server ran yours side by side too)."
            )
        fail(
            f"classify said 'concurrent' for /mystery/{name}/, but the server ran its requests "
            "one after another."
        )


@exercise(
    "05",
    "blocks_loop",
    hints=(
        "While requests to url are in flight, time a request to probe_url: "
        "a free event loop answers it at once, a blocked one only when the blocking call returns.",
        "Start the load as a task (asyncio.create_task or gather without awaiting it yet), "
        "then probe in a loop until the load is done, and compare the probe times.",
    ),
)
async def blocks_loop(blocks_loop, site):
    """Check that blocks_loop(url, probe_url) finds the mystery endpoint that stalls the server's event loop, and only that one."""
    for name in MYSTERIES:
        tag = _new_tag()
        probe_url = f"{site.url}/mystery/probe/?tag={tag}"
        url = mystery_url(site, name, tag)
        answer = await _learners_answer(blocks_loop, url, probe_url)
        if not isinstance(answer, bool):
            fail(f"blocks_loop returned {answer!r}; return True or False.", kind="shape")
        sent, probes = await seen(site, tag)
        if not sent or not probes:
            fail(
                f"blocks_loop answered for /mystery/{name}/ after sending {len(sent)} request(s) "
                f"to url and {len(probes)} to probe_url: the answer has to be measured, with both."
            )
        behaviour = await measure(site, name)
        probed_during_load = any(start < t < end for t in probes for _, start, end in sent)
        if not behaviour.blocks_loop and not probed_during_load:
            fail(
                f"None of your probes ran while your requests to /mystery/{name}/ were running: "
                "send them while the load is still in flight, not before or after it."
            )
        if answer == behaviour.blocks_loop:
            continue
        if answer:
            because = (
                " Its requests are serialised, but serialised is not blocked: something can "
                "make requests wait their turn while the loop stays free for others."
                if not behaviour.concurrent
                else ""
            )
            fail(
                f"blocks_loop said True for /mystery/{name}/, but the server went on answering "
                f"other requests while it ran.{because}"
            )
        fail(
            f"blocks_loop said False for /mystery/{name}/, but the server answered nothing else "
            "while its requests ran. Did your probe go out while they were still in flight?"
        )


# Exercises 3 and 4 serve the learner's views in this process, through the site's URLconf.


def _delays(n=4):
    rng = secrets.SystemRandom()
    return [round(rng.uniform(0.2, 0.3), 3) for _ in range(n)]


def _requests(name, client, url, delays):
    """An async function, named for the learner's code in call_async's hints, that sends one
    request per delay at once."""

    async def send():
        return await asyncio.gather(*(client.get(url, {"delay": delay}) for delay in delays))

    send.__name__ = send.__qualname__ = name
    return send


def _spanned(view, spans):
    """The async `view`, recording on the loop when each call started and ended."""

    async def spanned(request, *args, **kwargs):
        started = time.perf_counter()
        try:
            return await view(request, *args, **kwargs)
        finally:
            delay = float(request.GET.get("delay", 0))
            spans.append((len(spans), started, time.perf_counter(), delay))

    return spanned


def _judge_waits(name, responses, delays):
    for response, delay in zip(responses, delays, strict=True):
        if response.status_code != 200:
            fail(f"/learner/ with ?delay={delay} answered HTTP {response.status_code}, not 200.")
        try:
            body = response.json()
        except ValueError:
            fail(f"{name} answered {response.content[:60]!r}: return a JsonResponse.")
        if body != {"waited": delay}:
            fail(
                f"{name} answered {body!r} for ?delay={delay}: return "
                '{"waited": delay}, with delay read from request.GET as a float.'
            )


@contextlib.contextmanager
def _sleeps_recorded():
    """time.sleep, for the block, records each call's (thread ident, seconds): a wait handed to
    a thread (asyncio.to_thread(time.sleep, delay)) runs no frame of the learner's there."""
    slept, original = [], time.sleep

    def sleep(seconds):
        slept.append((threading.get_ident(), seconds))
        return original(seconds)

    time.sleep = sleep
    try:
        yield slept
    finally:
        time.sleep = original


def _judge_threads(name, seen, loop_ident, slept, delays):
    elsewhere = seen.off_the_loop(loop_ident)
    if elsewhere:
        fail(
            f"{name}'s code ran in another thread ({', '.join(sorted(seen.names - {'MainThread'}))})"
            ", not on the event loop: sync_to_async or a plain def hands the view to a thread. "
            "Write the view itself as async def and await asyncio.sleep.",
        )
    # Only sleeps of one of the drawn delays exactly: a kernel's own threads sleep too.
    if any(ident != loop_ident and seconds in delays for ident, seconds in slept):
        fail(
            f"{name} waited in a thread (time.sleep handed to asyncio.to_thread, "
            "run_in_executor or sync_to_async): a thread per waiting request. An async view "
            "waits on the event loop itself: await asyncio.sleep(delay).",
        )


@exercise(
    "05",
    "views",
    hints=(
        "Both read request.GET['delay'] as a float, await asyncio.sleep(delay) and return "
        'JsonResponse({"waited": delay}).',
        "The function is `async def wait_view(request)`; the class subclasses View and its "
        "handler is `async def get(self, request)` — every handler async def, none a plain def.",
    ),
)
async def views(wait_view, WaitView):
    """Check that wait_view and WaitView are async views that wait ?delay= seconds on the event loop, served by Django through the site's URLconf."""
    import inspect

    from django.core.exceptions import ImproperlyConfigured
    from django.views import View

    if not inspect.iscoroutinefunction(wait_view):
        fail(
            "wait_view must be an `async def` function: Django runs a plain def view in a thread.",
            kind="not_async",
        )
    if not (isinstance(WaitView, type) and issubclass(WaitView, View)):
        fail("WaitView must be a class that subclasses django.views.View.")
    try:
        cbv = WaitView.as_view()
    except ImproperlyConfigured as error:
        fail(f"WaitView.as_view() refused the class: {error}")
    if not WaitView.view_is_async:
        fail(
            "WaitView's get is a plain def, so Django treats the whole view as sync and runs it "
            "in a thread: make it `async def get(self, request)`.",
            kind="not_async",
        )
    loop_ident = threading.get_ident()
    for name, route, view in (("wait_view", "fbv/", wait_view), ("WaitView", "cbv/", cbv)):
        delays, spans = _delays(), []
        async with learner_routes({route: _spanned(view, spans)}) as client:
            with ran_in_threads() as seen, _sleeps_recorded() as slept:
                responses = await call_async(_requests(name, client, PREFIX + route, delays))
        _judge_waits(name, responses, delays)
        _judge_threads(name, seen, loop_ident, slept, delays)
        hasty = [
            (end - start, delay) for _, start, end, delay in spans if end - start < 0.9 * delay
        ]
        if hasty:  # the view's own span, a lower bound: a busy machine only makes it longer
            took, delay = hasty[0]
            fail(
                f"{name} answered ?delay={delay} after {took:.3f} s, before its wait was over: "
                "a forgotten `await` on asyncio.sleep(delay)?",
                kind="missing_await",
            )
        if most_at_once(spans) < 2:
            fail(
                f"{name}'s {len(delays)} requests, sent at once, ran one after another: something "
                "in it blocks the event loop (time.sleep?). Await asyncio.sleep instead.",
                kind="blocked",
            )


# Exercise 4: the check's own views, decorated by the learner's `timed`. They record where they ran.
_ran_in = {}


async def _async_view(request):
    _ran_in["async"] = threading.get_ident()
    await asyncio.sleep(float(request.GET["delay"]))
    return JsonResponse({"view": "async"})


def _sync_view(request):
    _ran_in["sync"] = threading.get_ident()
    time.sleep(float(request.GET["delay"]))
    return JsonResponse({"view": "sync"})


# What Django says when a plain def wrapper hands back an async view's coroutine, and what Python
# says when the wrapper then treats that coroutine as a response.
UNAWAITED = ("unawaited coroutine", "'coroutine' object")


@exercise(
    "05",
    "timed",
    hints=(
        "Django decides from the object your decorator returns whether the view is async: "
        "inspect.iscoroutinefunction(wrapper). Give an async view an `async def` wrapper.",
        "Inside timed: if inspect.iscoroutinefunction(view), define `async def wrapper(request, "
        "*args, **kwargs)` that awaits the view; else a plain def one; both set the header.",
    ),
)
async def timed(timed):
    """Check that timed(view) adds an X-View-Seconds header to sync and async views, keeping an async view async (on the loop) and a sync one sync (in a thread)."""
    import inspect

    loop_ident = threading.get_ident()
    decorated = {}
    for kind, view in (("async", _async_view), ("sync", _sync_view)):
        wrapped = call_sync(timed, view)
        if not callable(wrapped):
            fail(f"timed(view) returned {wrapped!r}: return the wrapper function.")
        decorated[kind] = wrapped
    _ran_in.clear()
    for kind, wrapped in decorated.items():
        delay = round(secrets.SystemRandom().uniform(0.05, 0.1), 3)
        async with learner_routes({f"{kind}/": wrapped}) as client:
            with ran_in_threads() as seen:
                try:
                    (response,) = await call_async(
                        _requests("timed", client, f"{PREFIX}{kind}/", [delay])
                    )
                except ExerciseFailed as error:
                    if any(sign in error.hint for sign in UNAWAITED):
                        fail(
                            "Django called your wrapper as a sync view (a plain def) and got back "
                            "the async view's coroutine, never awaited: \"The view … returned an "
                            'unawaited coroutine". An async view needs an async def wrapper.'
                        )
                    raise
        if response.status_code != 200 or response.json().get("view") != kind:
            fail(f"The decorated {kind} view answered HTTP {response.status_code}: "
                 f"{response.content[:80]!r}; return the view's own response.")  # fmt: skip
        header = response.headers.get("X-View-Seconds")
        try:
            seconds = float(header)
        except (TypeError, ValueError):
            fail(
                f"The decorated {kind} view's response has X-View-Seconds = {header!r}: set "
                "response['X-View-Seconds'] to the seconds the view took, e.g. f'{seconds:.3f}'."
            )
        if not delay * 0.9 <= seconds < delay + 5:
            fail(
                f"X-View-Seconds says {seconds} but the {kind} view waited {delay} s: time the "
                "view call itself (for an async view, around the await)."
            )
        if kind == "async":
            if not inspect.iscoroutinefunction(wrapped) or seen.off_the_loop(loop_ident):
                fail(
                    "timed(async view) ran in a thread (its wrapper is a plain def, or bridged "
                    "with sync_to_async/async_to_sync): Django hands a sync wrapper to a thread. "
                    "Wrap an async view in an async def wrapper.",
                )
        elif inspect.iscoroutinefunction(wrapped) or _ran_in.get("sync") == loop_ident:
            fail(
                "timed(sync view) made it async: a sync view called from an async wrapper runs on "
                "the event loop and blocks it. Keep a sync view's wrapper a plain def."
            )
