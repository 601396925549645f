"""What every timing view reports, so a notebook can draw server-side timelines."""

import os
import threading
import time


def where_and_when(view, started, **extra):
    """A JSON-ready record: which view, in which thread of which process, from when to when."""
    return {
        "view": view,
        "thread": threading.current_thread().name,
        "thread_id": threading.get_ident(),
        "threads": threading.active_count(),
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        **extra,
    }
