"""Checks for exercises/07_async_orm.ipynb: run against a real SQLite file (setup_django)."""

import secrets

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
    """Count the SQL statements of every connection Django opens while it is active.

    The learner's code runs inside a ThreadSensitiveContext, so its a-methods get a thread (and
    so a connection) of their own: a fresh connection we can watch from the start.
    """

    def __init__(self):
        self.statements = []

    def _count(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def _watch(self, sender, connection, **kwargs):
        connection.execute_wrappers.append(self._count)

    def __enter__(self):
        from django.db.backends.signals import connection_created

        connection_created.connect(self._watch)
        return self

    def __exit__(self, *exc):
        from django.db.backends.signals import connection_created

        connection_created.disconnect(self._watch)


async def _call_counting_queries(fn):
    from django.db import connections

    with _QueryCounter() as counter:
        async with ThreadSensitiveContext():
            try:
                return await call_async(fn), len(counter.statements)
            finally:
                await sync_to_async(connections.close_all)()  # the context's thread ends now


def _as_pairs(fn, result):
    if not isinstance(result, (list, tuple)):
        fail(f"Return a list of (name, category name) pairs, got {type(result).__name__}.")
    pairs = []
    for row in result:
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            fail(f"Each row should be a (name, category name) pair, got {row!r:.80}")
        pairs.append(tuple(row))
    return pairs


def _explain_wrong_rows(got, expected):
    if sorted(got, key=repr) == sorted(expected, key=repr):
        fail("The rows are right but out of order: keep the items' own order (by id).")
    by_name = dict(got)
    for name, category in expected:
        if name not in by_name:
            missing = "without a category" if category is None else "with a category"
            fail(f"The item {name!r} ({missing}) is missing: list every item.")
        value = by_name[name]
        if value == category:
            continue
        if category is not None and getattr(value, "name", None) == category:
            fail("You returned Category objects: return the category's name (a str).")
        if isinstance(value, int):
            fail("You returned category ids: return the category's name (a str).")
        fail(f"For {name!r} expected category {category!r}, got {value!r:.60}")
    fail(f"Expected {len(expected)} rows like {expected[0]!r}, got {len(got)}: {got!r:.120}")


@exercise(
    "07",
    "names_and_categories",
    hint="Count the queries: lesson 07's lazy-relation section shows how the category can "
    "arrive with its item instead of in a query of its own.",
)
async def names_and_categories(names_and_categories):
    """Check that names_and_categories() returns (item name, category name or None) for every item, in order, in a few queries and without the lazy-relation trap.

    The check replaces the items and categories in your notebook's database with its own.
    """
    setup_django()
    expected = await _fill_database()
    try:
        result, queries = await _call_counting_queries(names_and_categories)
    except ExerciseFailed as error:
        if "SynchronousOnlyOperation" not in error.hint:
            raise
        fail(
            f"{error.hint}\nThat is the lazy-relation trap: reading item.category runs a query, "
            "and a sync query on the event loop's thread is refused. Load the categories in "
            "the query that loads the items.",
            kind="lazy_relation",
        )
    got = _as_pairs(names_and_categories, result)
    if got != expected:
        _explain_wrong_rows(got, expected)
    if queries > MAX_QUERIES:
        fail(
            f"Right rows, but {queries} queries for {len(expected)} items: one more query per "
            "item (the N + 1 problem). Fetch the categories together with the items.",
            kind="too_many_queries",
        )
