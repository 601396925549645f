"""Two middlewares: one written for both worlds, one sync-only to show what mixing costs."""

import threading
import time
from inspect import iscoroutinefunction, markcoroutinefunction


class RequestTimingMiddleware:
    """Adds a Server-Timing header. Async-capable: no thread hop under ASGI, none under WSGI."""

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
        started = time.perf_counter()
        response = self.get_response(request)
        return self._stamp(response, started)

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        return self._stamp(response, started)

    @staticmethod
    def _stamp(response, started):
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        # Where this middleware ran: the event loop's thread, or a worker thread when a sync-only
        # middleware below it has put the stack in sync mode (lesson 09).
        response["X-Middleware-Thread"] = threading.current_thread().name
        return response


class SyncOnlyMiddleware:
    """Old-style, sync-only (the default flags): under ASGI Django runs it in a thread per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
