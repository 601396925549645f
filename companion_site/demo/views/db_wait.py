"""One query, then a wait: what a database connection costs while a view waits (lesson 15).

The benchmark's "database in the loop": each view runs one query on the Item table, then waits
`delay` seconds as if for another service. Django gives a connection back only when the request
finishes (`request_finished`), so a view that waits after its query holds that connection for
the whole wait — one PostgreSQL connection per request in flight, or, with the `pool` option, a
queue for the pool's few. `release=1` closes it (returns it to the pool) before the wait.
"""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.db import OperationalError, connections
from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..models import Item
from .common import where_and_when
from .connections import unavailable


def _release(request):
    value = request.GET.get("release", "0")
    if value not in {"0", "1"}:
        raise params.BadRequest("release must be 0 or 1")
    return value == "1"


@json_api("GET")
async def query_then_sleep(request):
    """Async view: one query (acount), then await asyncio.sleep(delay); release=1 frees the connection first."""
    started = time.time()
    delay, release = params.delay(request), _release(request)
    try:
        items = await Item.objects.acount()
    except OperationalError as error:  # the pool ran dry, or the server refused (lesson 13)
        return unavailable(error)
    queried = time.time()  # minus `started`: how long the request waited for its connection
    if release:
        # On the request's own thread, where the ORM call above opened the connection.
        await sync_to_async(connections.close_all)()
    await asyncio.sleep(delay)
    return JsonResponse(
        where_and_when("query_then_sleep", started, items=items, delay=delay, queried=queried)
    )


@json_api("GET")
def sync_query_then_sleep(request):
    """Sync view: one query (count), then time.sleep(delay); release=1 frees the connection first."""
    started = time.time()
    delay, release = params.delay(request), _release(request)
    items = Item.objects.count()
    if release:
        connections.close_all()
    time.sleep(delay)
    return JsonResponse(where_and_when("sync_query_then_sleep", started, items=items, delay=delay))
