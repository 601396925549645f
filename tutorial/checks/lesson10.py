"""Checks for the exercises of lesson 10: keep a task alive, enqueue from async code, enqueue after the commit."""

import asyncio
import gc
import random
import weakref

from ..django_setup import setup_django
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import _Deadline as Deadline
from .learner import _explain_exception as explain_exception
from .learner import _fail_endless as fail_endless
from .learner import _Overran as Overran
from .learner import call_async, call_sync, require_sync

START_TIMEOUT = 2.0  # fire_and_forget only starts a task: anything longer is a loop


async def _waits_for(future, done):
    await future
    done.append(True)


def _lost(context):
    return "destroyed but it is pending" in context.get("message", "")


@exercise(
    "10",
    "fire_and_forget",
    hints=(
        "Lesson 10 shows a task garbage-collected mid-flight: who holds on to a task while it "
        "runs, and who lets go of it once it is done?",
        "Keep each task in a set at module level, and give the task a done-callback that "
        "takes it out of the set again.",
    ),
)
async def fire_and_forget(fire_and_forget):
    """Check that fire_and_forget(coro) starts tasks that survive garbage collection and are let go once done.

    It starts a few tasks (how many varies per run), each waiting on a future that only its task
    refers to, runs the garbage collector, then lets them finish one at a time.
    """
    loop = asyncio.get_running_loop()
    destroyed = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _, context: destroyed.append(context) if _lost(context) else None
    )
    try:
        done, future_refs, task_refs = [], [], []
        for _ in range(random.randint(2, 4)):
            future = loop.create_future()
            # Only the task will hold the future: if nothing holds the task, gc takes both.
            future_refs.append(weakref.ref(future))
            coroutine = _waits_for(future, done)
            del future
            task_refs.append(weakref.ref(_start(fire_and_forget, coroutine)))
            del coroutine  # from here on, only the learner's code may keep the task alive
        await asyncio.sleep(0)  # let them start and wait on their futures
        gc.collect()
        lost = sum(ref() is None for ref in future_refs)
        if lost or destroyed:
            fail(
                f"{lost or len(destroyed)} of your {len(future_refs)} tasks were garbage-collected "
                "while they waited (asyncio logged 'Task was destroyed but it is pending!'): "
                "nothing kept a reference to each of them.",
            )
        for finished, (future_ref, task_ref) in enumerate(
            zip(future_refs, task_refs, strict=True), 1
        ):
            future_ref().set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
            if len(done) < finished:
                fail("A task never finished its coroutine.")
            gc.collect()
            if task_ref() is not None:
                fail(
                    "A task finished but is still referenced: a collection that only grows "
                    "leaks every task. Remove each one when it is done.",
                )
    finally:
        loop.set_exception_handler(previous_handler)


def _start(fire_and_forget, coroutine):
    """Call the learner's fire_and_forget; return the Task it gives back (or fail)."""
    # Not call_sync: it rejects a returned Task as a forgotten await, and here one is right.
    # Its deadline, though: an endless loop here would hang the check (and the kernel).
    deadline = None
    try:
        require_sync(fire_and_forget)
        deadline = Deadline(START_TIMEOUT)
        try:
            task = fire_and_forget(coroutine)
        finally:
            deadline.stop()
    except BaseException as error:
        coroutine.close()  # never started: no "coroutine was never awaited" warning
        if isinstance(error, ExerciseFailed):
            raise
        if isinstance(error, Overran) or (deadline and deadline.fired):
            fail_endless(fire_and_forget, deadline)
        explain_exception(fire_and_forget, error)
    if not isinstance(task, asyncio.Task):
        fail(
            f"Return the task you started, got {type(task).__name__}: asyncio.create_task(coro).",
            kind="shape",
        )
    return task


# --- exercises 2 and 3: django.tasks from async code, and after the commit -------------------


def _receipt(order_id):
    """The check's task: stands for slow work a worker does later (an e-mail, a report)."""
    return order_id


def _notify(item_id):
    """The check's task for place_order: a worker would look the item up by its id."""
    return item_id


class _Recorded:
    """One enqueue as the check's backend saw it: thread, loop, open transaction, arguments."""

    def __init__(self, args):
        import threading

        from django.db import connection

        self.args = list(args)
        self.thread = threading.get_ident()
        self.thread_name = threading.current_thread().name
        try:
            asyncio.get_running_loop()
            self.on_a_loop = True
        except RuntimeError:
            self.on_a_loop = False
        self.in_transaction = connection.in_atomic_block


def _recording_task(func):
    """A django.tasks Task on a DummyBackend of the check's own that records each enqueue.

    A real backend (a database table, a broker) does I/O in enqueue(); this one only notes
    where and when it was called, and stores the result like DummyBackend.
    """
    from django.tasks import Task
    from django.tasks.backends.dummy import DummyBackend

    class RecordingBackend(DummyBackend):
        def enqueue(self, task, args, kwargs):
            self.seen.append(_Recorded(args))
            return super().enqueue(task, args, kwargs)

        async def aenqueue(self, task, args, kwargs):
            self.awaited += 1  # a backend may enqueue natively here: only aenqueue reaches it
            return await super().aenqueue(task, args, kwargs)

    backend = RecordingBackend("lesson10-check", {})
    backend.seen, backend.awaited = [], 0

    class CheckTask(Task):
        __slots__ = ()

        def get_backend(self):
            return backend

        def __deepcopy__(self, memo):  # DummyBackend copies results; a Task is immutable
            return self

    return CheckTask(func=func, backend="lesson10-check"), backend


@exercise(
    "10",
    "enqueue_receipt",
    about=("blocked",),  # enqueue() on the loop is this exercise's pitfall
    hints=(
        "Lesson 10's django.tasks section: which method of a Task do you call from async code?",
        "A Task has enqueue() and an async twin that hands the backend's sync work to the "
        "request's sync thread: await it, and return what it gives you.",
    ),
)
async def enqueue_receipt(enqueue_receipt):
    """Check that enqueue_receipt(task, order_id) enqueues the task from async code with aenqueue and returns its result."""
    import random
    import threading

    from asgiref.sync import ThreadSensitiveContext, sync_to_async

    setup_django()
    task, backend = _recording_task(_receipt)
    order_id = random.randint(1000, 99999)
    async with ThreadSensitiveContext():  # as a request under an ASGI server has
        sync_thread = await sync_to_async(threading.get_ident)()
        result = await call_async(enqueue_receipt, task, order_id)
    if not backend.seen:
        fail(
            "Nothing was enqueued: the backend never saw the task. Running the function "
            "yourself (task.func, task.call) does the work now, in the request: enqueue it.",
        )
    enqueued = backend.seen[-1]
    if len(backend.seen) > 1:
        fail(f"The task was enqueued {len(backend.seen)} times: once is enough.")
    if enqueued.args != [order_id]:
        fail(
            f"Enqueue the task with the order id ({order_id}); it got arguments {enqueued.args}.",
            kind="shape",
        )
    if enqueued.on_a_loop:
        fail(
            "task.enqueue() ran on the event loop's thread: a real backend writes to its "
            "database or broker there, and every other request waits. From async code, "
            "enqueue the async way.",
            kind="blocked",
        )
    if enqueued.thread != sync_thread:
        fail(
            f"The backend's enqueue ran in {enqueued.thread_name}, not in the request's sync "
            "thread: a database backend's connection there is never closed. The Task's own "
            "async method picks the right thread.",
        )
    if not backend.awaited:
        fail(
            "enqueue() ran in the right thread, but not through the Task's aenqueue(): "
            "sync_to_async(task.enqueue) copies what aenqueue does by default, and misses a "
            "backend's own async enqueue. Await task.aenqueue(...).",
        )
    from django.tasks import TaskResult

    stored = backend.results[-1]
    if not isinstance(result, TaskResult) or result.id != stored.id:
        fail(
            f"Return the TaskResult that enqueueing gave you (got {type(result).__name__}): "
            "its id is how you look the task up later.",
            kind="shape",
        )


def _item_named(name):
    from demo.models import Item

    return Item.objects.filter(name=name).values_list("pk", flat=True).first()


class _RolledBack(Exception):
    """Raised by the check to roll its own transaction back."""


def _place_in(place_order, name, notify, *, caller):
    """Run the learner's place_order in this (sync) thread: `caller` is None (no transaction
    around it), "commits" or "rolls back" (a caller's transaction, e.g. ATOMIC_REQUESTS)."""
    from django.db import transaction

    if caller is None:
        return call_sync(place_order, name, notify)
    try:
        with transaction.atomic():
            call_sync(place_order, name, notify)
            if caller == "rolls back":
                raise _RolledBack
    except _RolledBack:
        return None
    return None


@exercise(
    "10",
    "place_order",
    hints=(
        "Lesson 10's transactions section: when may a worker see the row you just created?",
        "Enqueue from a callback that Django runs after the outermost transaction commits "
        "(and never if it rolls back): transaction.on_commit(...).",
    ),
)
async def place_order(place_order):
    """Check that place_order(name, notify) enqueues notify with the new item's id only after its transaction commits."""
    import uuid

    from asgiref.sync import sync_to_async

    setup_django()
    require_sync(place_order)
    # The caller rolls back: the item never existed, so nothing may be enqueued.
    notify, backend = _recording_task(_notify)
    name = f"order-{uuid.uuid4().hex[:8]}"
    await sync_to_async(_place_in)(place_order, name, notify, caller="rolls back")
    if backend.seen:
        fail(
            "place_order ran inside a caller's transaction that was then rolled back, and it "
            "enqueued the task anyway: a worker would look for an item that never existed. "
            "Enqueue only once the transaction commits.",
        )
    # A commit, by the caller or by place_order itself: enqueued once, after the outermost
    # commit, with the id of the item that now exists.
    for caller in random.sample(["commits", None], 2):
        await _placed_after_the_commit(place_order, caller)


async def _placed_after_the_commit(place_order, caller):
    import uuid

    from asgiref.sync import sync_to_async

    notify, backend = _recording_task(_notify)
    name = f"order-{uuid.uuid4().hex[:8]}"
    await sync_to_async(_place_in)(place_order, name, notify, caller=caller)
    pk = await sync_to_async(_item_named)(name)
    if pk is not None and not backend.seen and caller == "commits":
        fail(
            "Called inside a caller's transaction that then committed, place_order never "
            "enqueued the task: on_commit waits for the outermost commit, and runs it then.",
        )
    if pk is None:
        fail(f"No item named {name!r} was saved: create it with Item.objects.create(name=name).")
    if not backend.seen:
        fail("The item was saved, but the task was never enqueued.")
    if len(backend.seen) > 1:
        fail(f"The task was enqueued {len(backend.seen)} times: once per order.")
    enqueued = backend.seen[0]
    if enqueued.in_transaction:
        fail(
            "The task was enqueued while the transaction was still open: a worker can start "
            "before the commit and not find the item (or find it gone after a rollback).",
        )
    if enqueued.args != [pk]:
        fail(f"Enqueue the new item's id ({pk}); the task got {enqueued.args}.")
