"""Async authentication and sessions: request.auser(), aauthenticate, alogin, session.aget/aset."""

import json

from asgiref.sync import sync_to_async
from django.contrib.auth import aauthenticate, alogin, alogout
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.http import JsonResponse

from ..http import json_api
from ..params import BadRequest


def _credentials(request):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('body must be JSON: {"username": ..., "password": ...}') from None
    username, password = (
        body.get(key) if isinstance(body, dict) else None for key in ("username", "password")
    )
    if not isinstance(username, str) or not 1 <= len(username) <= 150:
        raise BadRequest("username must be a string of 1 to 150 characters")
    if not isinstance(password, str) or not 8 <= len(password) <= 128:
        raise BadRequest("password must be a string of 8 to 128 characters")
    return username, password


async def _signup(request, create):
    username, password = _credentials(request)
    if await User.objects.filter(username=username).aexists():
        return JsonResponse({"error": f"user {username!r} exists"}, status=409)
    user = await create(username, password)
    return JsonResponse({"username": user.username}, status=201)


async def _hash_in_a_thread(username, password):
    # Django 6.1's acreate_user calls make_password on the event loop (its _acreate_user):
    # a deliberately slow hash during which no other request on this worker moves.
    hashed = await sync_to_async(make_password, thread_sensitive=False)(password)
    return await User.objects.acreate(username=User.normalize_username(username), password=hashed)


async def _acreate_user(username, password):
    return await User.objects.acreate_user(username, password=password)


@json_api("POST")
async def signup(request):
    """Create a user, hashing the password in a thread: the event loop serves others meanwhile."""
    return await _signup(request, _hash_in_a_thread)


@json_api("POST")
async def signup_hashing_on_loop(request):
    """THE MISTAKE (Django's own, in 6.1): acreate_user hashes the password on the event loop."""
    return await _signup(request, _acreate_user)


@json_api("POST")
async def login(request):
    """Log in with aauthenticate + alogin: the session cookie comes back with the response."""
    username, password = _credentials(request)
    user = await aauthenticate(request, username=username, password=password)
    if user is None:
        return JsonResponse({"error": "wrong username or password"}, status=401)
    await alogin(request, user)
    return JsonResponse({"username": user.username})


@json_api("POST")
async def logout(request):
    """Log out with alogout: the session is flushed."""
    await alogout(request)
    return JsonResponse({"logged_out": True})


@json_api("GET")
async def whoami(request):
    """Who is logged in, read with `await request.auser()` (request.user would be a sync query)."""
    user = await request.auser()
    return JsonResponse(
        {"authenticated": user.is_authenticated, "username": user.get_username() or None}
    )


@json_api("GET")
async def whoami_with_request_user(request):
    """THE MISTAKE: request.user in an async view: with a session, a sync query on the loop."""
    user = request.user  # lazy: loading the session and the user happens on first use, here
    return JsonResponse(
        {"authenticated": user.is_authenticated, "username": user.get_username() or None}
    )


@json_api("GET")
async def visits(request):
    """Count this browser's visits in its session with `await session.aget/aset`."""
    count = await request.session.aget("visits", 0) + 1
    await request.session.aset("visits", count)
    return JsonResponse({"visits": count})
