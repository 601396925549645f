"""Pages for people and for the tutorial's plumbing: the endpoint list, health, process stats."""

import inspect
import os
import sys
import threading

import django
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import get_resolver

from ..http import json_api


def _catalogue():
    """Every named URL of the site with the first line of its view's docstring."""
    rows = []
    for pattern in get_resolver().url_patterns[0].url_patterns:
        view = pattern.callback
        doc = (view.__doc__ or "").strip().splitlines()
        rows.append(
            {
                "route": "/" + str(pattern.pattern),
                "name": pattern.name,
                "kind": _kind(view),
                "teaches": doc[0] if doc else "",
            }
        )
    return rows


def _kind(view):
    """The list's view column: async or sync — or "?" for lesson 05's mystery endpoints, whose
    kind is part of what its exercise asks the learner to measure over HTTP."""
    if getattr(view, "kind_is_the_question", False):
        return "?"
    return "async" if _is_async(view) else "sync"


def _is_async(view):
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return view_class.view_is_async
    return inspect.iscoroutinefunction(view)


@json_api("GET")
def index(request):
    """This page: every endpoint of the companion site and what it teaches."""
    return render(request, "demo/index.html", {"endpoints": _catalogue()})


@json_api("GET")
async def health(request):
    """Health check the tutorial waits for before a notebook talks to the site."""
    return JsonResponse({"status": "ok", "django": django.get_version()})


@json_api("GET")
async def stats(request):
    """The server process: pid, Python, how many threads it holds right now (lesson 05, 09)."""
    names = [t.name for t in threading.enumerate()]
    return JsonResponse(
        {
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "django": django.get_version(),
            "threads": len(names),
            "thread_names": sorted(set(names)),
        }
    )


def not_found(request, exception=None):
    """JSON 404 for unknown routes (Django's handler404)."""
    return JsonResponse({"error": f"no route {request.path!r}; the list is at /"}, status=404)


def server_error(request):
    """JSON 500 (Django's handler500): the log has the traceback, the client a short line."""
    return JsonResponse({"error": "server error; see the site's log"}, status=500)
