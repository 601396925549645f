"""Counts the requests this process is serving right now, for the live page (/live/).

An async-capable middleware, so it adds no thread hop under ASGI; a lock keeps the counts right
when sync views run in threads (ASGI) or requests run in threads (gunicorn gthread).
"""

import threading
import time
from collections import Counter

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

_lock = threading.Lock()
_in_flight = Counter()  # path -> requests being served now
_served = 0


def snapshot():
    """What the live page shows: requests in flight (total and per path), served, threads."""
    with _lock:
        paths = {path: n for path, n in _in_flight.items() if n}
        served = _served
    return {
        "time": time.time(),
        "in_flight": sum(paths.values()),
        "paths": paths,
        "served": served,
        "threads": threading.active_count(),
    }


def _enter(path):
    with _lock:
        _in_flight[path] += 1


def _leave(path):
    global _served
    with _lock:
        _in_flight[path] -= 1
        _served += 1


class InFlightMiddleware:
    """Tracks every request except the live page's own."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        if request.path.startswith("/live/"):
            return self.get_response(request)
        _enter(request.path)
        try:
            return self.get_response(request)
        finally:
            _leave(request.path)

    async def _acall(self, request):
        if request.path.startswith("/live/"):
            return await self.get_response(request)
        _enter(request.path)
        try:
            return await self.get_response(request)
        finally:
            _leave(request.path)
