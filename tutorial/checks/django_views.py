"""Serve a learner's views through the companion site's real URLconf, in this process.

    async with learner_routes({"wait/": wait_view}) as client:   # Django's AsyncClient
        response = await client.get("/learner/wait/?delay=0.1")
    with learner_urlconf({"ticks/": view}):                        # the real ASGIHandler
        parts = await stream_until("/learner/ticks/", leave_when=lambda parts: len(parts) > 2)

and `ran_in_threads()`: which threads executed the learner's own code meanwhile — how a check
tells an async view that ran on the event loop from one that was handed to a thread.
"""

import asyncio
import contextlib
import sys
import threading
import types
from pathlib import Path

from .learner import _is_library

PREFIX = "/learner/"


@contextlib.contextmanager
def learner_urlconf(routes):
    """The site's URLconf, with `routes` ({"wait/": view}) under /learner/, for the block."""
    from tutorial.django_setup import setup_django

    setup_django()  # idempotent: the site's settings and a migrated SQLite file, in this process
    from django.conf import settings
    from django.test import override_settings
    from django.urls import get_resolver, include, path

    # Import the site's views now, not during the learner's first request: a second of imports
    # on the loop would be blamed on their code.
    get_resolver(settings.ROOT_URLCONF).url_patterns  # noqa: B018 - imports every view module
    urlconf = types.ModuleType("learner_urls")
    urlconf.urlpatterns = [
        *(path(PREFIX.strip("/") + "/" + route, view) for route, view in routes.items()),
        path("", include(settings.ROOT_URLCONF)),
    ]
    with override_settings(ROOT_URLCONF=urlconf, ALLOWED_HOSTS=["*"]):
        yield


@contextlib.asynccontextmanager
async def learner_routes(routes):
    """An AsyncClient for the site's URLconf with `routes` ({"wait/": view}) under /learner/."""
    with learner_urlconf(routes):
        from django.test import AsyncClient

        yield AsyncClient()


async def stream_until(path, *, leave_when=None):
    """GET `path` through Django's real ASGIHandler, in this process; return the body parts.

    Each part is (loop time, bytes). `leave_when(parts)` is asked after every part: when it
    says True, the client disconnects (an `http.disconnect` message, as a server sends when the
    socket closes) — what Django's test clients cannot do.
    """
    from django.core.handlers.asgi import ASGIHandler

    loop = asyncio.get_running_loop()
    route, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": route, "raw_path": route.encode(),
        "query_string": query.encode(), "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    parts, asked, gone = [], False, asyncio.Event()

    async def receive():
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            parts.append((loop.time(), message["body"]))
            if leave_when is not None and leave_when(parts):
                gone.set()

    await ASGIHandler()(scope, receive, send)
    return parts


# Not the learner's code either: the companion site's own views, middleware and receivers.
_SITE = str(Path(__file__).resolve().parents[2] / "companion_site")


def _learners(filename):
    return not (_is_library(filename) or filename.startswith(("<", _SITE)))  # <string>: exec


class ThreadsSeen:
    """Thread idents in which a frame of the learner's own code (not a library's) started."""

    def __init__(self):
        self.idents = set()
        self.names = set()

    def __call__(self, frame, event, arg):
        if event == "call" and _learners(frame.f_code.co_filename):
            self.idents.add(threading.get_ident())
            self.names.add(threading.current_thread().name)

    def off_the_loop(self, loop_ident):
        return self.idents - {loop_ident}


@contextlib.contextmanager
def ran_in_threads():
    """Record, in every thread, which threads start a frame of the learner's code."""
    seen = ThreadsSeen()
    previous = sys.getprofile()
    threading.setprofile_all_threads(seen)
    try:
        yield seen
    finally:
        threading.setprofile_all_threads(None)
        sys.setprofile(previous)
