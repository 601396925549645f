"""django.tasks tasks (Django 6.0+). Tasks must be module-level functions: a real backend stores
the task's import path and arguments, and a worker process imports it from there."""

import asyncio

from django.tasks import task

from . import markers


@task
async def write_marker_later(name, delay):
    """Wait `delay` seconds, then write marker `name`: a stand-in for slow work (an e-mail, a report)."""
    await asyncio.sleep(delay)
    markers.write(name, status="done", by="django.tasks")
    return name
