"""Serve a learner's views through the companion site's real URLconf, in this process.

    async with learner_routes({"wait/": wait_view}) as client:   # Django's AsyncClient
        response = await client.get("/learner/wait/?delay=0.1")

and `ran_in_threads()`: which threads executed the learner's own code meanwhile — how a check
tells an async view that ran on the event loop from one that was handed to a thread.
"""

import contextlib
import sys
import threading
import types

from .learner import _is_library

PREFIX = "/learner/"


@contextlib.asynccontextmanager
async def learner_routes(routes):
    """An AsyncClient for the site's URLconf with `routes` ({"wait/": view}) under /learner/."""
    from tutorial.django_setup import setup_django

    setup_django()  # idempotent: the site's settings and a migrated SQLite file, in this process
    from django.conf import settings
    from django.test import AsyncClient, override_settings
    from django.urls import include, path

    urlconf = types.ModuleType("learner_urls")
    urlconf.urlpatterns = [
        *(path(PREFIX.strip("/") + "/" + route, view) for route, view in routes.items()),
        path("", include(settings.ROOT_URLCONF)),
    ]
    with override_settings(ROOT_URLCONF=urlconf, ALLOWED_HOSTS=["*"]):
        yield AsyncClient()


class ThreadsSeen:
    """Thread idents in which a frame of the learner's own code (not a library's) started."""

    def __init__(self):
        self.idents = set()
        self.names = set()

    def __call__(self, frame, event, arg):
        filename = frame.f_code.co_filename
        if event == "call" and not _is_library(filename) and not filename.startswith("<frozen"):
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
