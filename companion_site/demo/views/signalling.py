"""Async signals: `await signal.asend(...)` with sync and async receivers."""

import time

from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..signals import pinged
from .common import where_and_when


@json_api("GET")
async def ping(request):
    """Send a signal with asend: async receivers run together on the loop, sync ones in a thread."""
    started = time.time()
    delay = params.delay(request)
    responses = await pinged.asend(sender=ping, delay=delay)
    receivers = [reply for _, reply in responses]
    return JsonResponse(where_and_when("ping", started, delay=delay, receivers=receivers))
