"""Fan-out: one async view that calls several upstream endpoints at once with a shared client.

The upstreams are this site's own `/upstream/...` endpoints, reached over real HTTP at the base
URL the request came in on. (A real site takes upstream URLs from its settings, never from the
request: here ALLOWED_HOSTS has already vetted the Host header, and it only ever is 127.0.0.1.)
"""

import asyncio
import contextlib
import logging
import threading
import time

import httpx
from django.http import JsonResponse

from .. import params
from ..http import json_api
from .common import where_and_when

log = logging.getLogger("demo.fanout")

MAX_FANOUT = 20  # upstream calls per request: a typo must not open hundreds of connections
SLOW_DELAY = 5.0  # what a "slow" upstream takes: longer than any sensible per-call timeout
MODES = ("sequential", "gather", "taskgroup")
# One pool per process: at most this many connections to the upstreams, for all requests together.
POOL_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10)


def new_client():
    """The upstream client. Its own timeout is only a backstop: each call gets asyncio.timeout."""
    return httpx.AsyncClient(limits=POOL_LIMITS, timeout=params.MAX_DELAY + 5)


class SharedClient:
    """One httpx.AsyncClient per event loop, made on first use and reused by every request after.

    Reuse keeps the pool's connections open between requests (no new TCP connection per call).
    A client belongs to the loop it first ran on: under ASGI that is the worker's one loop; under
    WSGI every request runs in a one-off loop, so the view opens a client per request instead.
    Django runs no ASGI lifespan shutdown, so nothing awaits `aclose()` here: the operating system
    closes the pool's sockets when the worker exits.
    """

    def __init__(self, factory=new_client):
        self.factory = factory
        self.created = 0  # clients made in this process: 1 under ASGI, one per request under WSGI
        self._client, self._loop = None, None
        self._lock = threading.Lock()  # gthread workers call this from several threads

    def count_new(self):
        with self._lock:
            self.created += 1

    def get(self):
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._client is None or self._loop is not loop or self._client.is_closed:
                self._client, self._loop = self.factory(), loop
                self.created += 1
            return self._client


UPSTREAM = SharedClient()


class UpstreamFailed(Exception):
    """An upstream call failed and the fan-out is `strict`: the error escapes the call."""


def _describe(error):
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _call(client, url, timeout, strict, record, page, cap):
    """GET one upstream with a deadline of `timeout` seconds; fill `record` as it goes.

    With `cap` (an asyncio.Semaphore shared by this request's calls) the call first waits for a
    free slot; its deadline starts once it has one.
    """
    try:
        async with cap or contextlib.nullcontext():
            await _call_now(client, url, timeout, strict, record, page)
    except asyncio.CancelledError:
        if record["state"] == "not started":
            record.update(state="cancelled", ended=time.time())  # cancelled while queued
        raise


async def _call_now(client, url, timeout, strict, record, page):
    record.update(state="running", started=time.time())
    try:
        async with asyncio.timeout(timeout):
            response = await client.get(url)
        record["status"] = response.status_code
        if response.status_code >= 400:
            raise UpstreamFailed(f"HTTP {response.status_code}")
        record.update(state="done", body=response.json())
    except asyncio.CancelledError:
        record["state"] = "cancelled"
        raise  # a cancelled task must stay cancelled, or TaskGroup and timeouts stop working
    except (httpx.HTTPError, TimeoutError, UpstreamFailed) as error:
        record.update(state="failed", error=_describe(error))
        if strict:
            raise
    finally:
        record["ended"] = time.time()
        if page["answered"]:
            log.info(
                "fan-out call #%d finished %.2f s after its page was answered (%s)",
                record["index"], record["ended"] - page["answered"], record["state"],
            )  # fmt: skip


async def _run(mode, client, calls, timeout, strict, page, limit=None):
    """Run every call in `mode`; return the first error that escaped (strict only), or None.

    `limit`: at most this many of this request's calls in flight at once (a Semaphore per request).
    """
    cap = asyncio.Semaphore(limit) if limit else None

    def start(call):
        return _call(client, call["url"], timeout, strict, call["record"], page, cap)

    if mode == "sequential":
        for call in calls:
            try:
                await start(call)  # the next call starts only when this one has ended
            except (httpx.HTTPError, TimeoutError, UpstreamFailed) as error:
                return error  # strict: the calls after it never start
        return None
    if mode == "gather":
        tasks = [asyncio.create_task(start(call)) for call in calls]
        try:
            await asyncio.gather(*tasks)  # the first error comes out; the others keep running
        except (httpx.HTTPError, TimeoutError, UpstreamFailed) as error:
            return error
        return None
    first_error = None
    try:
        async with asyncio.TaskGroup() as group:  # the first error cancels the others
            for call in calls:
                group.create_task(start(call))
    except* (httpx.HTTPError, TimeoutError, UpstreamFailed) as errors:
        first_error = errors.exceptions[0]
    return first_error


def _plan(request, base):
    """The upstream URLs for this request: `fail` failing ones, `slow` slow ones, then normal."""
    n = params.number(request, "n", 5, low=1, high=MAX_FANOUT, kind=int)
    delay = params.delay(request, default=0.2)
    fail = params.number(request, "fail", 0, low=0, high=MAX_FANOUT, kind=int)
    slow = params.number(request, "slow", 0, low=0, high=MAX_FANOUT, kind=int)
    if fail + slow > n:
        raise params.BadRequest(f"fail + slow must be at most n ({n}), got {fail} + {slow}")
    calls = []
    for index in range(n):
        if index < fail:
            kind, path = "fail", "upstream/fail/"
        elif index < fail + slow:
            kind, path = "slow", f"upstream/item/{index}/?delay={SLOW_DELAY}"
        else:
            kind, path = "item", f"upstream/item/{index}/?delay={delay}"
        record = {"index": index, "kind": kind, "url": "/" + path, "state": "not started"}
        record.update(status=None, error=None, started=None, ended=None, body=None)
        calls.append({"url": base + path, "record": record})
    return calls, delay


def _mode(request):
    mode = request.GET.get("mode") or "gather"
    if mode not in MODES:
        raise params.BadRequest(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


@json_api("GET")
async def fan_out(request):
    """Calls n upstreams one after another or at once (gather / TaskGroup), with per-call timeouts and an optional per-request cap (lesson 06)."""
    started = time.time()
    mode = _mode(request)
    timeout = params.number(request, "timeout", 2.0, low=0.01, high=params.MAX_DELAY)
    strict = params.number(request, "strict", 0, low=0, high=1, kind=int) == 1
    limit = params.number(request, "limit", 0, low=0, high=MAX_FANOUT, kind=int) or None
    calls, delay = _plan(request, request.build_absolute_uri("/"))
    page = {"answered": None}
    if "wsgi.version" in request.META:
        # WSGI: this request has an event loop of its own, gone when it ends: a client per request.
        UPSTREAM.count_new()
        async with UPSTREAM.factory() as client:
            error = await _run(mode, client, calls, timeout, strict, page, limit)
        shared = False
    else:
        client = UPSTREAM.get()
        error = await _run(mode, client, calls, timeout, strict, page, limit)
        shared = True
    records = [call["record"] for call in calls]
    states = [r["state"] for r in records]
    body = where_and_when(
        "fan_out", started, mode=mode, n=len(calls), delay=delay, timeout=timeout, strict=strict,
        limit=limit,
        ok=states.count("done"), failed=states.count("failed"),
        cancelled=states.count("cancelled"), still_running=states.count("running"),
        error=_describe(error) if error else None, calls=records,
        client={"shared": shared, "id": id(client), "created": UPSTREAM.created,
                "max_connections": POOL_LIMITS.max_connections},
    )  # fmt: skip
    body["elapsed"] = body["ended"] - started
    response = JsonResponse(body, status=502 if error else 200)
    page["answered"] = time.time()
    return response


@json_api("GET")
async def upstream_item(request, item_id):
    """An upstream for the fan-out: answers item n after `delay` s, naming the client port it saw."""
    started = time.time()
    delay = params.delay(request)
    await asyncio.sleep(delay)
    peer_port = request.META.get("REMOTE_PORT")
    return JsonResponse(
        where_and_when(
            "upstream_item",
            started,
            n=item_id,
            delay=delay,
            peer_port=int(peer_port) if peer_port else None,
        )
    )


@json_api("GET")
async def upstream_fail(request):
    """A failing upstream for the fan-out: 503 Service Unavailable after `delay` s (default 0)."""
    delay = params.delay(request, default=0.0)
    await asyncio.sleep(delay)
    return JsonResponse({"error": "upstream unavailable (on purpose)"}, status=503)
