"""Marker files: how a background job proves, after its response has gone, that it ran."""

import json
import os
import re
import threading
import time

from django.conf import settings

from .params import BadRequest

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def name_from(request):
    """The `marker` query parameter: letters, digits, '-' and '_' only, so it is a safe file name."""
    name = request.GET.get("marker", "")
    if not _NAME.fullmatch(name):
        raise BadRequest("marker must be 1 to 64 letters, digits, '-' or '_'")
    return name


def valid(name):
    return bool(_NAME.fullmatch(name))


def path_of(name):
    return settings.MARKER_DIR / f"{name}.json"


def write(name, **fields):
    """Record who wrote the marker (process, thread) and when, plus `fields`."""
    settings.MARKER_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "marker": name,
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "written": time.time(),
        **fields,
    }
    path_of(name).write_text(json.dumps(record))
    return record


def read(name):
    """The marker's record, or None if nothing wrote it (yet)."""
    try:
        return json.loads(path_of(name).read_text())
    except FileNotFoundError:
        return None
