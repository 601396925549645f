"""Work that outlives its request: asyncio.create_task, django.tasks, and a widely copied executor recipe."""

import asyncio
import functools
import time

from django.http import JsonResponse
from django.tasks import task_backends

from .. import markers, params
from ..http import json_api
from ..tasks import write_marker_later
from .common import where_and_when

# The event loop keeps only weak references to tasks: without this set, a task that nothing
# else refers to can be garbage-collected half-way (see asyncio.create_task's documentation).
_running = set()


async def _mark_later(name, delay):
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        markers.write(name, status="cancelled")  # say so, then let the cancellation go on
        raise
    markers.write(name, status="done")


@json_api("GET")
async def create_task(request):
    """Fire-and-forget asyncio.create_task: it finishes under ASGI, is cancelled under WSGI (lesson 10)."""
    started = time.time()
    name, delay = markers.name_from(request), params.delay(request)
    job = asyncio.create_task(_mark_later(name, delay))
    _running.add(job)
    job.add_done_callback(_running.discard)
    return JsonResponse(where_and_when("create_task", started, marker=name, delay=delay))


@json_api("GET")
async def marker(request, name):
    """What a background job left behind: its marker, or a 404 if it never wrote one."""
    record = markers.read(name) if markers.valid(name) else None
    if record is None:
        return JsonResponse({"error": f"no marker {name!r} (yet)"}, status=404)
    return JsonResponse(record)


def _summary(result):
    errors = [error.traceback.strip().splitlines()[-1] for error in result.errors]
    backend = type(task_backends[result.backend]).__name__
    return {"status": str(result.status), "backend": backend, "errors": errors}


@json_api("GET")
async def enqueue(request):
    """django.tasks from an async view: `how=enqueue` or `how=aenqueue` (the default) (lesson 10)."""
    started = time.time()
    name, delay = markers.name_from(request), params.delay(request)
    how = request.GET.get("how", "aenqueue")
    if how == "enqueue":
        result = write_marker_later.enqueue(name, delay)
    elif how == "aenqueue":
        result = await write_marker_later.aenqueue(name, delay)
    else:
        raise params.BadRequest("how must be 'enqueue' or 'aenqueue'")
    return JsonResponse(
        where_and_when("enqueue", started, how=how, marker=name, delay=delay, **_summary(result))
    )


def _sleep_then_mark(name, delay):
    time.sleep(delay)
    markers.write(name, status="done", by="run_in_executor")


@json_api("GET")
async def in_executor(request):
    """A widely copied recipe, `await loop.run_in_executor(None, job)`: the response still waits for the job (lesson 10)."""
    started = time.time()
    name, delay = markers.name_from(request), params.delay(request)
    # The recipe says get_event_loop(); inside a coroutine get_running_loop() is the right call.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, functools.partial(_sleep_then_mark, name, delay))
    return JsonResponse(where_and_when("in_executor", started, marker=name, delay=delay))
