"""Database connections under ASGI, counted on PostgreSQL (lesson 13): who opens one, who holds
it, and who never gives it back."""

import asyncio
import os
import random

from asgiref.sync import sync_to_async
from django.db import OperationalError, connection, transaction
from django.http import JsonResponse

from .. import params
from ..http import json_api
from ..models import Category, Item
from .orm import _issue_ticket

# Strong references to fire-and-forget tasks (the loop keeps only weak ones).
_tasks = set()


def unavailable(error):
    """The pool ran dry (PoolTimeout) or the server refused (too many clients): a 503, said plainly."""
    cause = error.__cause__ or error
    return JsonResponse({"error": str(error), "cause": type(cause).__name__}, status=503)


async def _count_later(delay):
    await asyncio.sleep(delay)
    await Item.objects.acount()  # runs after the request ended: no request_finished for it


def _count_and_close():
    try:
        return Item.objects.count()
    finally:
        connection.close()  # this thread's connection: nothing else would ever close it


async def _count_later_and_close(delay):
    await asyncio.sleep(delay)
    await sync_to_async(_count_and_close)()


def _fire(job):
    task = asyncio.create_task(job)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


@json_api("GET")
async def fire_and_forget(request):
    """asyncio.create_task with an ORM call in it: one connection left open per request."""
    _fire(_count_later(params.delay(request, default=0.05)))
    return JsonResponse({"scheduled": "a count, after the response"})


@json_api("GET")
async def fire_and_forget_closed(request):
    """The same task, its ORM work in one sync function that closes its connection: none left."""
    _fire(_count_later_and_close(params.delay(request, default=0.05)))
    return JsonResponse({"scheduled": "a count that closes its connection, after the response"})


async def _plain(request):
    await Item.objects.acount()
    return JsonResponse({"counted": True})


async def _leaky(request):
    _fire(_count_later(0.05))
    return JsonResponse({"counted": "later"})


async def _closed(request):
    _fire(_count_later_and_close(0.05))
    return JsonResponse({"counted": "later"})


def _seed():
    """The shuffle's seed from the file COMPANION_CONN_SEED_FILE names, removed once read (None:
    a fresh shuffle). A file, not a variable: a process's environment stays readable in /proc
    (the supervisor's), so a learner's code could read the answer instead of counting."""
    path = os.environ.get("COMPANION_CONN_SEED_FILE")
    if not path:
        return None
    try:
        with open(path) as file:
            return file.read().strip() or None
    finally:
        os.unlink(path)


# Which mystery endpoint does what: shuffled at every start of the site (lesson 13's exercise
# finds the leaky one by counting connections); a seed file fixes it, for the check.
MYSTERIES = ("a", "b", "c")
_behaviours = [_plain, _leaky, _closed]
random.Random(_seed()).shuffle(_behaviours)
_MYSTERY = dict(zip(MYSTERIES, _behaviours, strict=True))


@json_api("GET")
async def mystery(request, letter):
    """Three endpoints that look alike; one leaks a connection per request (lesson 13's exercise)."""
    if letter not in _MYSTERY:
        return JsonResponse(
            {"error": f"no mystery {letter!r}; try {', '.join(MYSTERIES)}"}, status=404
        )
    return await _MYSTERY[letter](request)


def _issue_ticket_locked(work):
    """Lesson 07's ticket, with a database lock: the counter row, locked until the commit."""
    counter, _ = Category.objects.get_or_create(name="ticket counter")
    with transaction.atomic():
        Category.objects.select_for_update().get(pk=counter.pk)  # the others wait here
        return _issue_ticket(work)  # lesson 07's count-then-insert, now one at a time


@json_api("POST")
async def ticket_locked(request):
    """Count-then-insert made safe on PostgreSQL: select_for_update() inside the one sync function."""
    work = params.delay(request, default=0.01)
    try:
        number = await sync_to_async(_issue_ticket_locked)(work)
    except OperationalError as error:
        return unavailable(error)
    return JsonResponse({"ticket": number}, status=201)
