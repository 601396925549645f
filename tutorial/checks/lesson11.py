"""Checks for the exercises of lesson 11. Each runs the learner's *test* against the real thing
(the /items/ view, the /stream/ view, Django's ASGI app), then against broken copies of it: a
test must pass on the first and fail on every other."""

import asyncio
import functools
import json
import random
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


def _urlconf(view, route, real):
    """A URLconf serving `view` at `route`, made the same way for the real view and each broken
    one: a test can only tell them apart by how they answer, not by the URLconf, the view's
    name or its module."""
    from django.urls import include, path

    @functools.wraps(real)
    async def served(request, *args, **kwargs):
        return await view(request, *args, **kwargs)

    module = types.ModuleType("lesson11_urls")
    # The site's own routes behind it, so that reverse("items") and other paths work as usual.
    name = route.strip("/")
    module.urlpatterns = [path(route, served, name=name), path("", include(SITE_URLCONF))]
    return module


SITE_URLCONF = "config.urls"


def _real_view(route):
    from demo.views.items import items
    from demo.views.streaming import stream

    return {"items/": items, "stream/": stream}[route]


async def _fresh_items():
    """Each run starts from the same rows, as in a TestCase; and from rows that are not the
    learner's, so a test must find its own item, not the first or only one."""
    from demo.models import Item

    await Item.objects.all().adelete()
    for name in ("already here", "also here"):
        await Item.objects.acreate(name=name)


async def _passes_on_the_real_view(
    test, *args, client=None, route="items/", fresh_items=True, advice=None
):
    from django.test import AsyncClient, override_settings

    if fresh_items:
        await _fresh_items()
    # Django's first request loads the middleware and the URLconf (imports every view) in the
    # loop's thread; do it here, so that it is not blamed on the learner's test.
    await AsyncClient().get("/health/")
    real = _real_view(route)
    try:
        # Blocking the loop is not this exercise's subject; a failing test is.
        with override_settings(ROOT_URLCONF=_urlconf(real, route, real)):
            await call_async(
                test, client or _WatchedClient(), *args, timeout=RUN_TIMEOUT, allow_blocking=True
            )
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
        for mistake, explained in _STREAM_MISTAKES.items():
            if mistake in error.hint:
                fail(f"{error.hint}\n{explained}", kind="exception")
        fail(
            f"Your test fails against the real, working view:\n{error.hint}\n"
            + (
                advice
                or "Look at what you send (JSON needs content_type='application/json') and look "
                "for your item in the list: the database may hold others before it."
            ),
            kind="fails_on_working_view",
        )


_STREAM_MISTAKES = {
    "'async_generator' object is not iterable": "A streaming response's body is an async "
    "iterator here: read it with `async for chunk in response.streaming_content`.",
    "has no `content` attribute": "A streaming response has no .content: read "
    "response.streaming_content with `async for`.",
}


async def _fails_on(test, view, *args, route="items/", fresh_items=True):
    """True if the learner's test raised (assertion or otherwise) against `view`."""
    from django.test import override_settings

    if fresh_items:
        await _fresh_items()
    with override_settings(ROOT_URLCONF=_urlconf(view, route, _real_view(route))):
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                await test(_WatchedClient(), *args)  # the same kind of client as the real run
        except Exception:
            return True
    return False


@exercise(
    "11",
    "create_then_list",
    hints=(
        "A test must fail when the view is broken: assert the POST's status and body, then "
        "that the GET lists what you created (lesson 11's first test shows the shape).",
        "Assert three things: the POST answered 201, its JSON has your name, and the GET's "
        "items contain an item with your name (others may be there too).",
    ),
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


# --- exercise 2: a test of a streaming view --------------------------------------------------


def _restreamed(response, edit, content_type=None):
    """The real view's events, edited by `edit(list of chunks)`, streamed again."""
    from django.http import StreamingHttpResponse

    async def events():
        chunks = [chunk async for chunk in response.streaming_content]
        for chunk in edit(chunks):
            yield chunk

    return StreamingHttpResponse(events(), content_type=content_type or response["Content-Type"])


def _renumbered(chunks):
    return [chunk.replace(b"id: ", b"id: 1") for chunk in chunks]  # 0, 1, 2 -> 10, 11, 12


def _broken_streams():
    """{what is wrong: view}, each built around the real `stream` view of the companion site."""
    from demo.views.streaming import stream as real
    from django.http import HttpResponse

    def broken(edit, content_type=None):
        async def view(request):
            return _restreamed(await real(request), edit, content_type)

        return view

    async def not_streamed(request):
        response = await real(request)
        body = b"".join([chunk async for chunk in response.streaming_content])
        return HttpResponse(body, content_type=response["Content-Type"])

    return {
        "sends one tick fewer than asked": broken(lambda c: c[:-2] + c[-1:]),
        "never sends its done event": broken(lambda c: c[:-1]),
        "numbers its events 10, 11, … instead of 0, 1, …": broken(_renumbered),
        "sends the events as text/plain": broken(lambda c: c, "text/plain"),
        "is no stream: one response with the whole body at the end": not_streamed,
    }


class _WatchedClient:
    """The AsyncClient the learner's test gets, noting the paths it was asked for."""

    def __init__(self):
        from django.test import AsyncClient

        self._client, self.paths = AsyncClient(), []

    def __getattr__(self, name):
        method = getattr(self._client, name)
        if name not in ("get", "post", "put", "patch", "delete", "head", "options", "generic"):
            return method

        def recorded(path, *args, **kwargs):
            self.paths.append(path)
            return method(path, *args, **kwargs)

        return recorded


@exercise(
    "11",
    "stream_test",
    hints=(
        "Lesson 11's StreamTests reads every event of /stream/ with `async for`: what must be "
        "true of the response, of each tick, and of the last event?",
        "Assert that the response streams (response.streaming) as text/event-stream, that there "
        "are `count` ticks with ids 0 … count-1, and that the last event is `event: done`.",
    ),
)
async def stream_test(test_stream):
    """Check that test_stream(client, count) passes against the real /stream/ view and fails against each broken one."""
    setup_django()
    # Two counts per run: the learner's test must use the count it is given.
    counts = random.sample(range(3, 9), 2)
    client = _WatchedClient()
    for count in counts:
        await _passes_on_the_real_view(
            test_stream,
            count,
            client=client,
            route="stream/",
            fresh_items=False,
            advice=f"Ask for /stream/ with count={count} and interval=0, then read every event.",
        )
    count = counts[0]
    if not any(path.startswith("/stream/") for path in client.paths):
        fail(
            "Your test never asked the client it was given for /stream/: request it with "
            "`await client.get('/stream/', {...})`, so the check can swap the view.",
        )
    for what, view in _broken_streams().items():
        if not await _fails_on(test_stream, view, count, route="stream/", fresh_items=False):
            fail(
                f"Your test passed against a broken stream that {what}: it would not catch "
                "that bug. Assert what the real stream must send.",
            )


# --- exercise 3: a test that the stream stops when the client leaves --------------------------


def _app(deaf=False):
    """Django's ASGI app, and the list of message types the learner's test sends it. A `deaf`
    one never passes on a disconnect (a stand-in for a server or middleware that loses it); the
    two look the same from outside, so a test can only tell them apart by how they behave."""
    from django.core.asgi import get_asgi_application

    django_app, received = get_asgi_application(), []

    async def application(scope, receive, send):
        async def noted_receive():
            while True:
                message = await receive()
                received.append(message["type"])
                if not (deaf and message["type"] == "http.disconnect"):
                    return message

        await django_app(scope, noted_receive, send)

    return application, received


@exercise(
    "11",
    "disconnect_test",
    hints=(
        "Lesson 11's test_a_disconnect_cancels_the_stream plays the server with asgiref's "
        "ApplicationCommunicator: request a long stream, read, leave, and wait.",
        "Send http.request, receive the start and one body message, send http.disconnect, "
        "`await communicator.wait(timeout=2)` — which cancels a late app instead of raising — "
        "then assert that communicator.future was not cancelled.",
    ),
)
async def disconnect_test(test_disconnect):
    """Check that test_disconnect(app) passes when the stream stops on a disconnect and fails when it does not."""
    setup_django()
    app, received = _app()
    try:
        await call_async(test_disconnect, app, timeout=RUN_TIMEOUT, allow_blocking=True)
    except ExerciseFailed as error:
        if error.kind != "exception":
            raise
        fail(
            f"Your test fails against Django's real ASGI app:\n{error.hint}\n"
            "Ask for /stream/?count=1000&interval=0.01, read the start and one event, then send "
            "the disconnect.",
            kind="fails_on_working_view",
        )
    for _ in range(50):  # a test that leaves and returns at once: let the app read its message
        if "http.disconnect" in received:
            break
        await asyncio.sleep(0.01)
    if "http.disconnect" not in received:
        fail(
            "Your test never told the app that the client left: send "
            "{'type': 'http.disconnect'} through the ApplicationCommunicator you built on `app`.",
        )
    deaf, _ = _app(deaf=True)
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            await test_disconnect(deaf)
    except Exception:
        return
    fail(
        "Your test passed against an app that never hears the disconnect and streams on for "
        "10 s. communicator.wait(timeout=2) does not raise when the app is late: it cancels "
        "it. Assert that it finished by itself (not communicator.future.cancelled()).",
    )
