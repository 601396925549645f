"""Django's ASGI handler, but each request borrows a thread instead of starting two (lesson 13).

Stock Django wraps every ASGI request in `ThreadSensitiveContext()`: the request's first
thread-sensitive `sync_to_async` call starts a one-thread executor, and on exit a second thread
is started to join it. asgiref 3.13 lets the caller supply that executor
(`ThreadSensitiveContext(executor=...)`, which it does not shut down), so here each request gets
an executor that borrows an idle thread at the request's first thread-sensitive call and gives
it back at the end. Django's guarantee is kept — everything thread-sensitive in a request runs
on one thread, and no two requests share a thread at the same time — but no thread is created
per request, and an async view holds none while it awaits.

A borrowed thread outlives the request, like a WSGI worker thread. Two consequences:

- `threading.local` state (database connections among it) stays on the thread. Django closes
  connections at `request_finished`, which runs on this thread (`response.close()`); so with
  CONN_MAX_AGE = 0 a thread starts each request with no open connection, and the two
  housekeeping receivers of `request_started` (close_old_connections, reset_queries) have
  nothing to do — yet, being sync, they cost a thread hop per request. With CONN_MAX_AGE = 0
  this handler clears the query log at `request_finished` instead and leaves
  `request_started` without them. With persistent connections it keeps them: a connection may
  expire or break while its thread waits for the next request.
- Tasks a view leaves running must not call thread-sensitive code after the response: asgiref
  raises RuntimeError for them (stock Django would quietly start another thread).

A thread that still has work of its request queued or running when the request ends (a call
whose await was cancelled, a task nobody awaited) is not lent again: it exits when that work is
done, as stock Django's would. Threads idle for longer than IDLE_SECONDS are let go too (looked
at whenever a request ends), so a burst does not pin its threads.
"""

import threading
import time
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

IDLE_SECONDS = 30.0


class OneThread(ThreadPoolExecutor):
    """A one-thread executor that knows whether it still has work queued or running."""

    def __init__(self, name):
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._lock, self.pending = threading.Lock(), 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future):
        with self._lock:
            self.pending -= 1


class RequestThreads:
    """Idle one-thread executors, most recently used first (so the oldest go idle for good)."""

    def __init__(self, idle_seconds=IDLE_SECONDS, clock=time.monotonic):
        self._idle = deque()  # (executor, returned at), oldest on the left
        self._idle_seconds, self._clock = idle_seconds, clock
        self.created = 0

    def borrow(self):
        if self._idle:
            return self._idle.pop()[0]
        self.created += 1
        return OneThread(f"request-{self.created}")

    def give_back(self, executor):
        if executor.pending:
            # Work the request left behind (a cancelled call, a task it did not await) still
            # runs there: never lend a busy thread. It exits once that work is done.
            executor.shutdown(wait=False)
            return
        now = self._clock()
        self._idle.append((executor, now))
        while self._idle and now - self._idle[0][1] > self._idle_seconds:
            # wait=False: the thread finishes on its own; the event loop does not wait for it.
            self._idle.popleft()[0].shutdown(wait=False)

    @property
    def idle(self):
        return len(self._idle)


class BorrowOnFirstCall(Executor):
    """A request's executor: it borrows a thread at the request's first thread-sensitive call.

    So an async view holds no thread while it awaits, only from its first sync call (often
    `response.close()`, the last thing Django does) to the end of the request.
    """

    def __init__(self, threads):
        self._threads, self.thread = threads, None

    def submit(self, fn, /, *args, **kwargs):
        if self.thread is None:
            self.thread = self._threads.borrow()
        return self.thread.submit(fn, *args, **kwargs)

    def give_back(self):
        if self.thread is not None:
            self._threads.give_back(self.thread)
            self.thread = None

    def let_go(self):
        """For a request that did not end cleanly: its thread may hold half-done state."""
        if self.thread is not None:
            self.thread.shutdown(wait=False)
            self.thread = None


def skip_request_started_housekeeping(databases=None):
    """With CONN_MAX_AGE = 0, move the query-log reset to request_finished (see the docstring)."""
    databases = settings.DATABASES if databases is None else databases
    if any(db.get("CONN_MAX_AGE", 0) for db in databases.values()):
        return False
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)
    signals.request_finished.connect(reset_queries)
    return True


class ReusedThreadsASGIHandler(ASGIHandler):
    """ASGIHandler whose requests borrow a one-thread executor from `self.threads` when needed."""

    def __init__(self):
        super().__init__()
        self.threads = RequestThreads()
        self.skips_request_started = skip_request_started_housekeeping()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = BorrowOnFirstCall(self.threads)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        except BaseException:  # e.g. cancelled at shutdown: request_finished may not have run
            executor.let_go()
            raise
        executor.give_back()
