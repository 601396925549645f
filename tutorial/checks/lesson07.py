"""Checks for exercises/07_async_orm.ipynb: run against a real SQLite file (setup_django)."""

import asyncio
import contextlib
import functools
import secrets
import threading
import time
import traceback

from asgiref.sync import ThreadSensitiveContext, sync_to_async

from ..django_setup import setup_django
from .core import ExerciseFailed, exercise, fail
from .core import hint as hint  # a notebook asks `checks.hint("NN_name")` for the next step
from .learner import call_async

# (item, category) rows the check writes; one item has no category on purpose.
ROWS = [
    ("kettle", "kitchen"),
    ("hammer", "tools"),
    ("mystery box", None),
    ("teapot", "kitchen"),
    ("saw", "tools"),
    ("lamp", "living room"),
]
MAX_QUERIES = 3  # one with select_related; two with prefetch_related; N + 1 is well above


async def _fill_database():
    """Replace every item and category with ROWS (names made unique to this run)."""
    from demo.models import Category, Item

    run = secrets.token_hex(2)
    await Item.objects.all().adelete()
    await Category.objects.all().adelete()
    expected = []
    for name, category_name in ROWS:
        category = None
        if category_name:
            category, _ = await Category.objects.aget_or_create(name=f"{category_name} {run}")
        item = await Item.objects.acreate(name=f"{name} {run}", category=category)
        expected.append((item.name, category.name if category else None))
    return expected


class _QueryCounter:
    """Record each SQL statement of every connection while active: (sql, thread, transaction).

    New connections are watched through `connection_created`: the learner's code runs inside a
    ThreadSensitiveContext, so its a-methods get a thread (and so a connection) of their own.
    The loop thread's own connection, if one is open already (the sync ORM run under
    DJANGO_ALLOW_ASYNC_UNSAFE), is watched too: a query there is a query on the event loop.
    `transaction` is the outermost atomic() block the statement ran in (None: autocommit).
    """

    def __init__(self):
        self.statements = []  # (sql, thread ident, outermost Atomic or None)
        self._wrapped = []

    def _count(self, execute, sql, params, many, context):
        connection = context["connection"]
        outermost = connection.atomic_blocks[0] if connection.in_atomic_block else None
        self.statements.append((sql, threading.get_ident(), outermost))
        return execute(sql, params, many, context)

    def _watch(self, sender, connection, **kwargs):
        if self._count not in connection.execute_wrappers:
            connection.execute_wrappers.append(self._count)
            self._wrapped.append(connection)

    def on_thread(self, ident):
        return [sql for sql, thread, _ in self.statements if thread == ident]

    def __enter__(self):
        from django.db import connections
        from django.db.backends.signals import connection_created

        connection_created.connect(self._watch)
        for connection in connections.all(initialized_only=True):  # this thread's
            self._watch(None, connection)
        return self

    def __exit__(self, *exc):
        from django.db.backends.signals import connection_created

        connection_created.disconnect(self._watch)
        for connection in self._wrapped:
            with contextlib.suppress(ValueError):
                connection.execute_wrappers.remove(self._count)


async def _call_counting_queries(fn, *args):
    """(fn's value, the _QueryCounter), fn awaited in a ThreadSensitiveContext of its own."""
    from django.db import connections

    with _QueryCounter() as counter:
        async with ThreadSensitiveContext():
            try:
                return await call_async(fn, *args), counter
            except ExerciseFailed as error:
                _explain_sync_orm_in_async_code(error)
            finally:
                await sync_to_async(connections.close_all)()  # the context's thread ends now


def _original(error):
    """The learner's exception behind an ExerciseFailed of kind 'exception'."""
    original = error.__context__
    while original is not None and isinstance(original, ExerciseFailed):
        original = original.__context__
    return original


def _frames(exception):
    return [(frame.filename, frame.name) for frame in traceback.extract_tb(exception.__traceback__)]


def _explain_sync_orm_in_async_code(error):
    """Say which sync ORM call was refused on the loop's thread; other failures go through."""
    original = _original(error)
    if type(original).__name__ != "SynchronousOnlyOperation":
        raise error
    frames = _frames(original)
    if any(name == "__get__" and "related_descriptors" in file for file, name in frames):
        fail(
            f"{error.hint}\nThat is the lazy-relation trap: reading item.category runs a query, "
            "and a sync query on the event loop's thread is refused. Load the categories in "
            "the query that loads the items.",
            kind="lazy_relation",
        )
    if any(file.endswith(("models/query.py", "models/manager.py")) for file, _ in frames):
        fail(
            f"{error.hint}\nA QuerySet was evaluated the sync way (list(), len(), a plain for, "
            "[0], a method without the a-prefix) on the event loop's thread. Use `async for` "
            "or an a-method; or put sync ORM code in one function under sync_to_async.",
            kind="sync_orm",
        )
    if any(file.endswith("transaction.py") for file, _ in frames):
        fail(
            f"{error.hint}\ntransaction.atomic() is sync: it needs a connection of this thread, "
            "the loop's. Write the whole transaction as one sync function, called with "
            "sync_to_async.",
            kind="sync_orm",
        )
    fail(
        f"{error.hint}\nA sync ORM call ran on the event loop's thread: use an a-method, or put "
        "the sync code in one function under sync_to_async.",
        kind="sync_orm",
    )


def _fail_if_queries_on_the_loop(counter, name):
    on_the_loop = counter.on_thread(threading.get_ident())
    if on_the_loop:
        fail(
            f"{name} ran {len(on_the_loop)} SQL statement(s) in the event loop's own thread: "
            "the sync ORM on the loop (DJANGO_ALLOW_ASYNC_UNSAFE switches off the guard, not the "
            "harm). It stalls every other coroutine and shares one connection between them.",
            kind="sync_orm",
        )


def _as_pairs(fn, result):
    if type(result).__name__ in {"QuerySet", "RawQuerySet"}:
        fail(
            "You returned a QuerySet, which has not run yet (a QuerySet is lazy): evaluate it "
            "inside the function, e.g. a list comprehension with `async for`.",
            kind="shape",
        )
    if not isinstance(result, (list, tuple)):
        fail(
            f"Return a list of (name, category name) pairs, got {type(result).__name__}.",
            kind="shape",
        )
    pairs = []
    for row in result:
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            fail(f"Each row should be a (name, category name) pair, got {row!r:.80}", kind="shape")
        pairs.append(tuple(row))
    return pairs


def _explain_wrong_rows(got, expected):
    if sorted(got, key=repr) == sorted(expected, key=repr):
        fail(
            "The rows are right but out of order: keep the items' own order (by id).",
            kind="shape",
        )
    by_name = dict(got)
    for name, category in expected:
        if name not in by_name:
            missing = "without a category" if category is None else "with a category"
            fail(f"The item {name!r} ({missing}) is missing: list every item.")
        value = by_name[name]
        if value == category:
            continue
        if category is not None and getattr(value, "name", None) == category:
            fail("You returned Category objects: return the category's name (a str).", kind="shape")
        if isinstance(value, int):
            fail("You returned category ids: return the category's name (a str).", kind="shape")
        fail(f"For {name!r} expected category {category!r}, got {value!r:.60}")
    fail(f"Expected {len(expected)} rows like {expected[0]!r}, got {len(got)}: {got!r:.120}")


@exercise(
    "07",
    "names_and_categories",
    hints=(
        "Count the queries: lesson 07's lazy-relation section shows how the category can "
        "arrive with its item instead of in a query of its own.",
        "Item.objects.select_related('category') loads each item's category in the same query "
        "(a JOIN); iterate it with `async for` and read item.category freely.",
    ),
)
async def names_and_categories(names_and_categories):
    """Check that names_and_categories() returns (item name, category name or None) for every item, in order, in a few queries and without the lazy-relation trap.

    The check replaces the items and categories in your notebook's database with its own.
    """
    setup_django()
    expected = await _fill_database()
    result, counter = await _call_counting_queries(names_and_categories)
    _fail_if_queries_on_the_loop(counter, "names_and_categories")
    got = _as_pairs(names_and_categories, result)
    if got != expected:
        _explain_wrong_rows(got, expected)
    queries = len(counter.statements)
    if queries > MAX_QUERIES:
        fail(
            f"Right rows, but {queries} queries for {len(expected)} items: one more query per "
            "item (the N + 1 problem). Fetch the categories together with the items.",
            kind="too_many_queries",
        )


# 2 · move_items: one transaction, in one sync function.


async def _fill_for_a_move():
    from demo.models import Category, Item

    run = secrets.token_hex(3)
    source = await Category.objects.acreate(name=f"old {run}")
    target = await Category.objects.acreate(name=f"new {run}")
    bystander = await Category.objects.acreate(name=f"other {run}")
    moving = secrets.SystemRandom().randint(2, 5)
    for i in range(moving):
        await Item.objects.acreate(name=f"moving {i} {run}", category=source)
    await Item.objects.acreate(name=f"staying {run}", category=bystander)
    return source.name, target.name, bystander.name, moving


async def _state_after_a_move(source, target, bystander):
    from demo.models import Category, Item

    return {
        "source exists": await Category.objects.filter(name=source).aexists(),
        "in target": await Item.objects.filter(category__name=target).acount(),
        "in bystander": await Item.objects.filter(category__name=bystander).acount(),
    }


def _writes(counter):
    return [(sql, thread, outermost) for sql, thread, outermost in counter.statements
            if sql.lstrip().upper().startswith(("UPDATE", "DELETE", "INSERT"))]  # fmt: skip


@exercise(
    "07",
    "move_items",
    hints=(
        "Lesson 07's section 'Transactions: one sync function': atomic() is sync, and the "
        "a-methods inside it would run on another connection.",
        "Write a plain def that does the move inside `with transaction.atomic():` (get the "
        "target, update the items, delete the source) and await it through sync_to_async.",
    ),
)
async def move_items(move_items):
    """Check that move_items(source, target) moves every item of category source to target and deletes source, in one transaction, off the event loop, and returns how many it moved."""
    setup_django()
    source, target, bystander, moving = await _fill_for_a_move()
    result, counter = await _call_counting_queries(move_items, source, target)
    _fail_if_queries_on_the_loop(counter, "move_items")
    state = await _state_after_a_move(source, target, bystander)
    if state["in bystander"] != 1:
        fail("An item of another category moved or vanished: move only the source's items.")
    if state["in target"] != moving:
        fail(f"{state['in target']} item(s) are in the target category, expected {moving}.")
    if state["source exists"]:
        fail("The items moved, but the source category still exists: delete it too.")
    if result != moving:
        fail(f"move_items returned {result!r}: return the number of items moved ({moving}).",
             kind="shape")  # fmt: skip
    writes = _writes(counter)
    transactions = {id(outermost) if outermost else None for _, _, outermost in writes}
    if None in transactions or len(transactions) > 1:
        outside = sum(outermost is None for _, _, outermost in writes)
        fail(
            f"The move was right, but its {len(writes)} writes ran in {len(transactions)} "
            f"transaction(s){f', {outside} outside any' if outside else ''}: a failure halfway "
            "would leave a half-done move. Put them all in one atomic() block.",
        )


# 3 · both: two sync ORM functions at the same time, each thread's connection closed.

_BOTH_DELAY = 0.3


def _slow_sync_query(token, spans):
    """A check-owned sync ORM function: one query, then a wait; records where and when."""
    from demo.models import Item

    started = time.perf_counter()
    Item.objects.exists()
    time.sleep(_BOTH_DELAY)
    spans.append((token, started, time.perf_counter(), threading.get_ident()))
    return token


def _close_left_open(connections):
    """Close connections other threads opened and left open (the check cleans up after a leaky
    answer). In a thread: closing is sync ORM work, refused on the loop's thread."""

    def close_all():
        for connection in connections:
            connection.inc_thread_sharing()
            try:
                connection.close()
            finally:
                connection.dec_thread_sharing()

    return asyncio.to_thread(close_all)


@exercise(
    "07",
    "both",
    hints=(
        "Lesson 07's section on gather: a-methods and thread-sensitive sync_to_async share one "
        "thread. Two queries at once need two threads — and each thread's connection closed.",
        "Wrap each function so that it calls connection.close() in a finally, and gather "
        "sync_to_async(wrapped, thread_sensitive=False)() for both.",
    ),
)
async def both(both):
    """Check that both(first, second) runs two sync ORM functions at the same time in two threads, returns their results, and closes the connection each thread opened."""
    from django.db.backends.signals import connection_created

    setup_django()
    tokens = [secrets.token_hex(3) for _ in range(2)]
    spans, opened = [], []

    closed = set()  # ids of the connections whose own thread called close()

    def note(sender, connection, **kwargs):
        opened.append(connection)
        original_close = connection.close

        def close():  # counted even where SQLite ignores it (an in-memory test database)
            closed.add(id(connection))
            return original_close()

        connection.close = close

    first = functools.partial(_slow_sync_query, tokens[0], spans)
    second = functools.partial(_slow_sync_query, tokens[1], spans)
    connection_created.connect(note)
    try:
        result = await call_async(both, first, second)
    except ExerciseFailed as error:
        _explain_sync_orm_in_async_code(error)
    finally:
        connection_created.disconnect(note)
        for connection in opened:
            del connection.close  # the class's own close() again
        left_open = [c for c in opened if id(c) not in closed and c.connection is not None]
        await _close_left_open(left_open)
    got = list(result) if isinstance(result, (list, tuple)) else None
    if got != tokens or len(spans) != 2:
        fail(
            f"both returned {result!r:.80}, calling the functions {len(spans)} time(s): call "
            "each once and return both results, in order: [first(), second()].",
            kind="shape",
        )
    threads = {thread for *_, thread in spans}
    if threading.get_ident() in threads:
        fail(
            "A function ran in the event loop's own thread: a sync query there stalls every "
            "coroutine. Run each in a thread (sync_to_async).",
            kind="sync_orm",
        )
    (_, start_a, end_a, _), (_, start_b, end_b, _) = spans
    if len(threads) < 2 or not (start_a < end_b and start_b < end_a):
        fail(
            "The two functions ran one after the other, in one thread: that is what a-methods "
            "and sync_to_async's default (thread_sensitive=True) do. Give each its own thread.",
        )
    if left_open:
        fail(
            f"{len(left_open)} database connection(s) opened in the worker threads were left "
            "open. Django closes only a request's own connection: close each thread's own, "
            "in that thread (connection.close() in a finally).",
        )
