"""The async ORM under a real server (lesson 07): one request's queries share one thread, and
a read-then-write transaction is one sync function under sync_to_async."""

import asyncio
import json
import threading
import time

from asgiref.sync import sync_to_async
from django.db import OperationalError, connection, transaction
from django.db.models import Func, TextField, Value
from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..models import Item


def _sleep_and_report(seconds):
    """SQLite calls this inside the query: the query is slow, and says where and when it ran."""
    started = time.time()
    time.sleep(seconds)
    return json.dumps(
        {"thread": threading.current_thread().name, "started": started, "ended": time.time()}
    )


class Sleep(Func):
    """SQL `sleep(seconds)`: the function `_add_sleep_function` registers on the connection."""

    function = "sleep"
    output_field = TextField()


def _add_sleep_function():
    # Runs in the thread the request's queries run in, so it reaches that thread's connection.
    connection.ensure_connection()
    connection.connection.create_function("sleep", 1, _sleep_and_report)


async def _slow_query(delay):
    report = (
        await Item.objects.annotate(report=Sleep(Value(delay)))
        .values_list("report", flat=True)
        .afirst()
    )
    return json.loads(report) if report else None


@json_api("GET")
async def gather_queries(request):
    """Two slow queries under asyncio.gather in one request: they still run one after the other."""
    started = time.time()
    delay = params.delay(request, default=0.2)
    await sync_to_async(_add_sleep_function)()
    if not await Item.objects.aexists():
        await Item.objects.acreate(name="a row for the slow query to read")
    first, second = await asyncio.gather(_slow_query(delay), _slow_query(delay))
    return JsonResponse(
        {
            "view_thread": threading.current_thread().name,
            "delay": delay,
            "queries": [first, second],
            "started": started,
            "ended": time.time(),
        }
    )


def _issue_ticket(work):
    """Read the last ticket number, work a little, write the next one: all in one transaction."""
    with transaction.atomic():
        issued = Item.objects.filter(name__startswith="ticket ").count()
        time.sleep(work)  # what a real view does between reading and writing
        Item.objects.create(name=f"ticket {issued + 1}")
    return issued + 1


@json_api("POST")
async def ticket(request):
    """A read-then-write transaction in one sync function; naive SQLite settings make it 'database is locked'."""
    work = params.delay(request, default=0.01)
    try:
        number = await sync_to_async(_issue_ticket)(work)
    except OperationalError as error:
        return JsonResponse({"error": str(error)}, status=503)
    return JsonResponse({"ticket": number}, status=201)
