"""Sync work called from async views through sync_to_async, in both thread modes (lesson 15)."""

import time

from asgiref.sync import sync_to_async
from django.http import JsonResponse

from .. import params
from ..http import json_api
from .common import where_and_when


def _blocking_wait(delay):
    """Stands in for a sync library call (a sync HTTP client, a driver without async support)."""
    time.sleep(delay)
    return where_and_when("blocking_wait", time.time() - delay, delay=delay)


@json_api("GET")
async def bridge_sensitive(request):
    """Async view awaiting sync_to_async(thread_sensitive=True): under ASGI, a thread per request."""
    delay = params.delay(request)
    body = await sync_to_async(_blocking_wait, thread_sensitive=True)(delay)
    return JsonResponse({**body, "view": "bridge_sensitive"})


@json_api("GET")
async def bridge_insensitive(request):
    """Async view awaiting sync_to_async(thread_sensitive=False): the loop's small shared pool."""
    delay = params.delay(request)
    body = await sync_to_async(_blocking_wait, thread_sensitive=False)(delay)
    return JsonResponse({**body, "view": "bridge_insensitive"})
