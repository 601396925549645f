"""A widely copied introduction's advice, live: an async view that sends ORM work to loop.run_in_executor (lesson 03)."""

import asyncio
import functools
import threading
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..models import Item
from .common import where_and_when


def _count_items(delay):
    """The "long task": wait `delay`, then query, reporting this thread and its DB connection."""
    # Django keeps one connection per thread; request clean-up closes only the request's own.
    was_open = connection.connection is not None
    time.sleep(delay)
    return {
        "thread": threading.current_thread().name,
        "connection_was_open": was_open,
        "items": Item.objects.count(),
    }


@json_api("GET")
async def executor_orm(request):
    """ADVICE FROM A WIDELY COPIED POST: ORM work in loop.run_in_executor — another thread, a connection never closed."""
    started = time.time()
    delay = params.delay(request, default=0.0)
    loop = asyncio.get_running_loop()
    in_executor = await loop.run_in_executor(None, functools.partial(_count_items, delay))
    in_request_thread = await sync_to_async(_count_items)(0.0)
    return JsonResponse(
        where_and_when(
            "executor_orm",
            started,
            delay=delay,
            run_in_executor=in_executor,
            sync_to_async=in_request_thread,
        )
    )
