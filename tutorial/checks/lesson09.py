"""Checks for exercises/09_middleware_exercises.ipynb.

The first check plugs the learner's middleware class into a request path built the way Django's
`BaseHandler.load_middleware` builds one: once around an async `get_response` (as under an ASGI
server) and once around a sync one (as under WSGI). The second puts the learner's middleware in
the companion site's real MIDDLEWARE and sends requests through Django's AsyncClient. Both
record which threads ran the learner's own code: a middleware without thread hops runs on the
event loop's thread only.
"""

import contextlib
import inspect
import os
import secrets
import sys
import threading
import types
from types import SimpleNamespace

from django.http import HttpResponse
from django.http.request import HttpHeaders

from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .django_views import learner_routes, ran_in_threads
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
    with ran_in_threads() as code_ran_in:
        sent = await call_async(middleware, _request("abc-123"))
        first_response = await call_async(middleware, _request())
        second_response = await call_async(middleware, _request())
    _stamped(sent, "async", "abc-123")
    first = _stamped(first_response, "async")
    second = _stamped(second_response, "async")
    if code_ran_in.off_the_loop(threading.get_ident()):
        fail(
            "In async mode your middleware's code ran in another thread: a thread hop per "
            "request. (MiddlewareMixin runs process_request/process_response through "
            "sync_to_async.) Do the work in an async path that awaits get_response.",
        )
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
    hints=(
        "Look at RequestTimingMiddleware on the companion site: the flags, the check in "
        "__init__, and a __call__ that returns a coroutine only in async mode.",
        "In __init__: if inspect.iscoroutinefunction(get_response), "
        "inspect.markcoroutinefunction(self). __call__: in async mode return "
        "self.__acall__(request); __acall__ awaits get_response and sets the header.",
    ),
)
async def request_id_middleware(cls):
    """Check that RequestIdMiddleware sets X-Request-Id in both modes, without a thread hop under ASGI."""
    _flags(cls)
    await _async_mode(cls)
    _sync_mode(cls)


# 2 · UserHeaderMiddleware: async-native, in the site's real stack, reading the user the async way.

MODULE = "learner_middleware"


def _install(cls):
    """Make `cls` importable by a dotted path, as MIDDLEWARE needs: learner_middleware.<name>."""
    module = sys.modules.setdefault(MODULE, types.ModuleType(MODULE))
    setattr(module, cls.__name__, cls)
    return f"{MODULE}.{cls.__name__}"


async def _new_user():
    from django.contrib.auth import get_user_model

    user = get_user_model()(username=f"learner-{secrets.token_hex(3)}")
    user.set_unusable_password()  # no hashing: this check is about the middleware
    await user.asave()
    return user


UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@contextlib.contextmanager
def _async_guard_on():
    """Django's guard against the sync ORM on the event loop, switched on for the block: with
    DJANGO_ALLOW_ASYNC_UNSAFE set, a sync query on the loop passes unnoticed — and stalls it."""
    switched_off = os.environ.pop(UNSAFE, None)
    try:
        yield switched_off is not None
    finally:
        if switched_off is not None:
            os.environ[UNSAFE] = switched_off


def _explain_sync_orm(error, unsafe_was_set, advice):
    """Say which sync ORM call the guard refused; other failures go through."""
    original = error.__context__
    if type(original).__name__ != "SynchronousOnlyOperation":
        raise error
    first = error.hint.splitlines()[0]
    why = f" (the check switches the guard back on: {UNSAFE} turns off the guard, not the harm)"
    fail(
        f"{first}\nA sync ORM call ran on the event loop{why if unsafe_was_set else ''}. {advice}",
        kind="sync_orm",
    )


def _explain_user_header_failure(error, unsafe_was_set=False):
    _explain_sync_orm(
        error,
        unsafe_was_set,
        "request.user is lazy: its first use loads the user with sync queries. Use `await "
        "request.auser()`.",
    )


def _require_async_native(cls):
    if not isinstance(cls, type):
        fail(f"Pass the class itself, not {type(cls).__name__}: Django instantiates it.")
    if not getattr(cls, "async_capable", False):
        fail(
            "async_capable is not True, so under ASGI Django adapts your middleware with "
            "sync_to_async: its code runs in a thread, a hop per request.",
        )

    async def get_response(request):
        return _response()

    instance = call_sync(cls, get_response)
    if not inspect.iscoroutinefunction(instance):
        fail(
            "Given an async get_response, your instance does not look like a coroutine function "
            "(an `async def __call__` alone does not make it one): Django would wrap it as a sync "
            "callable. Mark it: inspect.markcoroutinefunction(self) in __init__.",
            kind="not_async",
        )


@exercise(
    "09",
    "user_header",
    hints=(
        "Lesson 09, 'Without hops: async-native middleware' and 'Auth and sessions without sync "
        "calls': async_capable, markcoroutinefunction, and request.auser().",
        "async_capable = True, sync_capable = False; __init__ stores get_response and calls "
        "inspect.markcoroutinefunction(self); `async def __call__` awaits get_response, then "
        "`user = await request.auser()` and sets the header.",
    ),
)
async def user_header(cls):
    """Check that UserHeaderMiddleware, placed in the site's real MIDDLEWARE, sets X-User to the logged-in username (or anonymous) on the event loop, without a thread hop."""
    from django.conf import settings
    from django.test import override_settings

    _require_async_native(cls)
    user = await _new_user()
    stack = [*settings.MIDDLEWARE, _install(cls)]  # innermost: after AuthenticationMiddleware
    with override_settings(MIDDLEWARE=stack):
        async with learner_routes({}) as anonymous:
            from django.test import AsyncClient

            logged_in = AsyncClient()
            await logged_in.aforce_login(user)

            async def requests():
                return [await c.get("/async/thread/") for c in (anonymous, logged_in)]

            requests.__name__ = cls.__name__
            with ran_in_threads() as code_ran_in, _async_guard_on() as unsafe_was_set:
                try:
                    seen_anonymous, seen_user = await call_async(requests)
                except ExerciseFailed as error:
                    _explain_user_header_failure(error, unsafe_was_set)
    for response, want in ((seen_anonymous, "anonymous"), (seen_user, user.username)):
        got = response.headers.get("X-User")
        if got != want:
            fail(
                f"A request {'without' if want == 'anonymous' else 'with'} a logged-in user got "
                f"X-User: {got!r}, expected {want!r}.",
            )
    if code_ran_in.off_the_loop(threading.get_ident()):
        fail(
            f"Your middleware's code ran in another thread ({', '.join(sorted(code_ran_in.names))})"
            ": a hop per request — sync_to_async, MiddlewareMixin's process_response, or a "
            "sync-only class that Django adapts. Await get_response and request.auser() instead.",
        )


# 3 · create_account: a new user, its password hashed off the event loop.


def _weakened(encoded):
    """True if `encoded` was made with a weaker setting than the hasher's default (iterations)."""
    from django.contrib.auth.hashers import identify_hasher

    try:
        return identify_hasher(encoded).must_update(encoded)
    except ValueError:  # not a hash Django knows: check_password said so already
        return False


@exercise(
    "09",
    "create_account",
    hints=(
        "Lesson 09, 'Password hashing on the event loop': which a-method of the user manager "
        "hashes on the loop in Django 6.1, and what to do instead.",
        "hashed = await sync_to_async(make_password, thread_sensitive=False)(password); then "
        "`await User.objects.acreate(username=username, password=hashed)`.",
    ),
)
async def create_account(create_account):
    """Check that create_account(username, password) saves a user whose password checks out, hashing it off the event loop."""
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from ..django_setup import setup_django

    setup_django()
    username = f"account-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    # Django's default hasher, as in production: hundreds of milliseconds of CPU per hash.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        try:
            with _async_guard_on() as unsafe_was_set:
                await call_async(create_account, username, password, timeout=20)
        except ExerciseFailed as error:
            if error.kind == "exception":
                _explain_sync_orm(error, unsafe_was_set, "Save the user with acreate.")
            if error.kind == "blocked":
                fail(
                    f"{error.hint.splitlines()[0]}\nIn Django 6.1 acreate_user (and "
                    "create_user, set_password, make_password called here) hashes on the event "
                    "loop. Hash with sync_to_async(make_password, thread_sensitive=False).",
                    kind="blocked",
                )
            raise
        user = await get_user_model().objects.filter(username=username).afirst()
        if user is None:
            fail(f"No user {username!r} was saved: create it (acreate) with the hashed password.")
        if user.password == password:
            fail("The password was saved as it is, in clear: save make_password(password).")
        # Before check_password, which would upgrade a weak hash in place.
        if _weakened(user.password):
            fail(
                "The password was hashed with fewer rounds than Django's hasher uses (fast, so "
                "the loop never stalled): hash it the default way, make_password(password), "
                "in a thread.",
            )
        if not await sync_to_async(user.check_password)(password):
            fail("The saved password does not check out: hash the password you were given.")
