"""An httpx transport for checks: it counts what the learner's code sent through the client."""

import contextlib
import json

import httpx

from ..tls import shared_context


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that went through the client the check handed over, and how many
    were in flight at once: the answer must use *that* client, not a sync one or its own."""

    def __init__(self):
        self._inner = httpx.AsyncHTTPTransport(verify=shared_context())
        self.sent = self.in_flight = self.most_in_flight = 0
        self.requests = []  # (method, path) of each, in the order they were sent
        self.bodies = []  # the JSON body of each response, as the server sent it

    async def handle_async_request(self, request):
        self.sent += 1
        self.requests.append((request.method, request.url.path))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()  # small JSON bodies: read here, so the check sees them too
            self._keep(response.content)
            return response
        finally:
            self.in_flight -= 1

    def _keep(self, content):
        with contextlib.suppress(ValueError):  # not JSON: nothing a check compares
            self.bodies.append(json.loads(content))

    async def aclose(self):
        await self._inner.aclose()
