"""Checks for exercises/11_testing.ipynb: run the learner's test against the real /items/ view,
then against broken copies of it; a test must pass on the first and fail on every other."""

import asyncio
import json
import types

from ..django_setup import setup_django
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

RUN_TIMEOUT = 10.0


def _broken_views():
    """{what is wrong: view}, each built around the real `items` view of the companion site."""
    from demo.views.items import items as real
    from django.http import JsonResponse
    from django.utils import timezone

    async def answers_200(request):
        response = await real(request)
        if request.method == "POST" and response.status_code == 201:
            response.status_code = 200
        return response

    async def does_not_save(request):
        if request.method != "POST":
            return await real(request)
        name = json.loads(request.body or b"{}").get("name")
        return JsonResponse(
            {"id": 0, "name": name, "category": None, "created": timezone.now().isoformat()},
            status=201,
        )

    async def ignores_the_name(request):
        if request.method == "POST":
            body = json.loads(request.body or b"{}")
            request._body = json.dumps({**body, "name": "untitled"}).encode()
        return await real(request)

    async def lists_an_old_page(request):
        response = await real(request)
        if request.method == "POST":
            return response
        listing = json.loads(response.content)
        return JsonResponse({"items": listing["items"][:-1], "count": listing["count"] - 1})

    return {
        "answers 200 instead of 201 to a POST": answers_200,
        "answers 201 to a POST but saves nothing": does_not_save,
        "saves every item under the name 'untitled'": ignores_the_name,
        "leaves the newest item out of GET /items/": lists_an_old_page,
    }


def _urlconf(view):
    from django.urls import path

    module = types.ModuleType("lesson11_broken_urls")
    module.urlpatterns = [path("items/", view)]
    return module


async def _fresh_items():
    """Each run starts from the same rows, as in a TestCase; and from rows that are not the
    learner's, so a test must find its own item, not the first or only one."""
    from demo.models import Item

    await Item.objects.all().adelete()
    for name in ("already here", "also here"):
        await Item.objects.acreate(name=name)


async def _passes_on_the_real_view(test):
    from django.test import AsyncClient

    await _fresh_items()
    # Django's first request loads the middleware and the URLconf (imports every view) in the
    # loop's thread; do it here, so that it is not blamed on the learner's test.
    await AsyncClient().get("/health/")
    try:
        # Blocking the loop is not this exercise's subject; a failing test is.
        await call_async(test, AsyncClient(), timeout=RUN_TIMEOUT, allow_blocking=True)
    except ExerciseFailed as error:
        if error.kind in ("not_started", "not_async", "timeout", "missing_await"):
            raise
        if "'coroutine' object" in error.hint:
            fail(
                f"{error.hint}\nA forgotten `await`: every AsyncClient request returns a "
                "coroutine; `await client.post(...)` gives the response.",
                kind="missing_await",
            )
        if "AsyncToSync" in error.hint:
            fail(
                f"{error.hint}\nThat is the sync test Client inside a running event loop: "
                "use the AsyncClient you are given, and await it.",
                kind="sync_client",
            )
        fail(
            f"Your test fails against the real, working /items/ view:\n{error.hint}\n"
            "Look at what you send (JSON needs content_type='application/json') and look for "
            "your item in the list: the database may hold others before it.",
            kind="fails_on_working_view",
        )


async def _fails_on(test, view):
    """True if the learner's test raised (assertion or otherwise) against `view`."""
    from django.test import AsyncClient, override_settings

    await _fresh_items()
    with override_settings(ROOT_URLCONF=_urlconf(view)):
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                await test(AsyncClient())
        except Exception:
            return True
    return False


@exercise(
    "11",
    "create_then_list",
    hint="A test must fail when the view is broken: assert the POST's status and body, then "
    "that the GET lists what you created (lesson 11's first test shows the shape).",
)
async def create_then_list(test_create_then_list):
    """Check that test_create_then_list(client) passes against the real /items/ view and fails against each broken one."""
    setup_django()
    await _passes_on_the_real_view(test_create_then_list)
    for what, view in _broken_views().items():
        if not await _fails_on(test_create_then_list, view):
            fail(
                f"Your test passed against a broken view that {what}: it would not catch "
                "that bug. Assert what the real view must do.",
            )
