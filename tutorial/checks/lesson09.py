"""Checks for exercises/09_middleware.ipynb.

The learner's middleware class is plugged into a request path built the way Django's
`BaseHandler.load_middleware` builds one: once around an async `get_response` (as under an ASGI
server) and once around a sync one (as under WSGI). Real `HttpResponse` objects, no settings.
"""

import inspect
import threading
from types import SimpleNamespace

from django.http import HttpResponse
from django.http.request import HttpHeaders

from .core import exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async, call_sync

HEADER = "X-Request-Id"


def _request(request_id=None):
    meta = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    if request_id is not None:
        meta["HTTP_X_REQUEST_ID"] = request_id
    return SimpleNamespace(META=meta, headers=HttpHeaders(meta), method="GET", path="/")


def _response():
    return HttpResponse(b"{}", content_type="application/json")


def _flags(cls):
    if not isinstance(cls, type):
        fail(f"Pass the class itself, not {type(cls).__name__}: Django instantiates it.")
    if not getattr(cls, "async_capable", False):
        fail(
            "async_capable is not True, so under ASGI Django would adapt your middleware with "
            "sync_to_async: a thread hop per request.",
        )
    if not getattr(cls, "sync_capable", True):
        fail("sync_capable is False: under WSGI Django would run it through async_to_sync.")


def _stamped(response, mode, sent_id=None):
    if not isinstance(response, HttpResponse):
        fail(
            f"In {mode} mode your middleware returned {type(response).__name__}, not the response."
        )
    value = response.get(HEADER)
    if not value:
        fail(f"In {mode} mode the response has no {HEADER} header.")
    if sent_id is not None and value != sent_id:
        fail(
            f"In {mode} mode the request came with {HEADER}: {sent_id}, the response says {value}."
        )
    return value


async def _async_mode(cls):
    seen = []

    async def get_response(request):
        seen.append(threading.get_ident())
        return _response()

    middleware = call_sync(cls, get_response)
    if not inspect.iscoroutinefunction(middleware):
        fail(
            "Given an async get_response, your instance does not look like a coroutine function, "
            "so Django would call it as a sync one: markcoroutinefunction(self) in __init__.",
        )
    sent = await call_async(middleware, _request("abc-123"))
    _stamped(sent, "async", "abc-123")
    first = _stamped(await call_async(middleware, _request()), "async")
    second = _stamped(await call_async(middleware, _request()), "async")
    if first == second:
        fail(f"Two requests without {HEADER} got the same id {first!r}: make a new one each time.")
    if any(ident != threading.get_ident() for ident in seen):
        fail("In async mode get_response ran in another thread: await it, no sync_to_async.")
    if len(seen) != 3:
        fail(f"get_response should run once per request; it ran {len(seen)} times for 3.")


def _sync_mode(cls):
    calls = []

    def get_response(request):
        calls.append(request)
        return _response()

    middleware = call_sync(cls, get_response)
    if inspect.iscoroutinefunction(middleware):
        fail("Given a sync get_response your instance is marked as a coroutine function.")
    _stamped(call_sync(middleware, _request("xyz-9")), "sync", "xyz-9")
    if len(calls) != 1:
        fail(f"In sync mode get_response should run once per request; it ran {len(calls)} times.")


@exercise(
    "09",
    "request_id_middleware",
    hint="Look at RequestTimingMiddleware on the companion site: the flags, the check in __init__, "
    "and a __call__ that returns a coroutine only in async mode.",
)
async def request_id_middleware(cls):
    """Check that RequestIdMiddleware sets X-Request-Id in both modes, without a thread hop under ASGI."""
    _flags(cls)
    await _async_mode(cls)
    _sync_mode(cls)
