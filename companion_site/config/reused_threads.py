"""Django's ASGI handler, but each request borrows a thread instead of starting two (lesson 15).

Stock Django wraps every ASGI request in `ThreadSensitiveContext()`: the request's first
thread-sensitive `sync_to_async` call starts a one-thread executor, and on exit a second thread
is started to join it. asgiref 3.13 lets the caller supply that executor
(`ThreadSensitiveContext(executor=...)`, which it does not shut down), so here each request gets
an executor that borrows an idle thread at the request's first thread-sensitive call and gives
it back at the end. Django's guarantee is kept — everything thread-sensitive in a request runs
on one thread, and no two requests share a thread at the same time — but no thread is created
per request. With the lean stack (no MiddlewareMixin middleware) and the rule below, an async
view's first thread-sensitive call is `response.close()`, so it holds no thread while it awaits.

A borrowed thread outlives the request, like a WSGI worker thread. Consequences:

- `threading.local` state (database connections among it) stays on the thread. Django closes
  connections at `request_finished`, which runs on this thread (`response.close()`), so with
  CONN_MAX_AGE = 0 a thread starts each request with its connections closed, and
  `request_started`'s two sync receivers have nothing to do: `close_old_connections` finds
  nothing open, and `reset_queries` clears a query log that is only kept with DEBUG on. Being
  sync, they still cost a thread hop per request. So when DEBUG is off and every database has
  CONN_MAX_AGE = 0, this handler disconnects them from `request_started`, for the whole process
  (build it only in the server process). Otherwise it keeps them: a persistent connection
  (CONN_MAX_AGE > 0 or None) can expire or break while its thread waits for the next request.
  One case the rule does not cover: a `request_finished` receiver of yours that runs after
  Django's and opens a connection leaves it open into the thread's next request (stock Django
  leaves it on a dying thread, closed only when Python collects it).
- Tasks a view leaves running must not call thread-sensitive code after the response: asgiref
  raises RuntimeError for them (stock Django would quietly start another thread).
- A thread that still has work of its request queued or running when the request ends (a call
  whose await was cancelled, a task nobody awaited) is not lent again. Stock Django would keep
  the request open until that work is done (it awaits the join); here the request ends and the
  thread finishes the work on its own, unseen by the server.
- Threads idle for longer than IDLE_SECONDS are let go (looked at whenever a request ends), so a
  burst does not pin its threads for long; a thread let go drops its connections unclosed.
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


def skip_request_started_housekeeping(databases=None, debug=None):
    """Disconnect request_started's sync receivers when they have nothing to do (see above)."""
    databases = settings.DATABASES if databases is None else databases
    debug = settings.DEBUG if debug is None else debug
    if debug or any(db.get("CONN_MAX_AGE", 0) != 0 for db in databases.values()):
        return False  # None means "never close": persistent too
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)
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
