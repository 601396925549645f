"""The lesson 07 check runs the answer against a real database and names each wrong one."""

import asyncio
import os
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from tests.run_check import failure as failure_of
from tests.run_check import run as run_check
from tutorial.checks import lesson07 as checks

# pytest-django sets Django up for the suite; the check's setup_django() then uses its test
# database. transaction=True: the check's queries run in other threads, on other connections.
pytestmark = pytest.mark.django_db(transaction=True)


def run(answer):
    run_check(checks.names_and_categories, answer)


def failure(answer):
    return failure_of(checks.names_and_categories, answer)


UNSAFE = {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}


def _pair(item):
    return item.name, item.category.name if item.category else None


async def with_select_related():
    from demo.models import Item

    return [_pair(item) async for item in Item.objects.select_related("category")]


async def with_prefetch_related():
    from demo.models import Item

    return [_pair(item) async for item in Item.objects.prefetch_related("category")]


async def with_values_list():
    from demo.models import Item

    return [tuple(row) async for row in Item.objects.values_list("name", "category__name")]


@pytest.mark.parametrize("answer", [with_select_related, with_prefetch_related, with_values_list])
def test_answers_in_one_or_two_queries_pass(answer, capsys):
    run(answer)
    assert "✓ [07_names_and_categories]" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started():
    async def names_and_categories():
        raise NotImplementedError

    assert failure(names_and_categories).kind == "not_started"


def test_reading_item_category_in_async_code_is_the_lazy_relation_trap():
    async def names_and_categories():
        from demo.models import Item

        return [_pair(item) async for item in Item.objects.all()]

    error = failure(names_and_categories)
    assert error.kind == "lazy_relation"
    assert "SynchronousOnlyOperation" in error.hint


def test_one_aget_per_item_is_the_n_plus_1_problem():
    async def names_and_categories():
        from demo.models import Category, Item

        rows = []
        async for item in Item.objects.all():
            category = item.category_id and await Category.objects.aget(id=item.category_id)
            rows.append((item.name, category.name if category else None))
        return rows

    error = failure(names_and_categories)
    assert error.kind == "too_many_queries"
    assert "N + 1" in error.hint


def test_lazy_loading_in_a_thread_escapes_the_trap_but_not_the_query_count():
    def lazily():
        from demo.models import Item

        return [_pair(item) for item in Item.objects.all()]

    async def names_and_categories():
        return await sync_to_async(lazily)()

    assert failure(names_and_categories).kind == "too_many_queries"


def test_category_ids_instead_of_names_are_named():
    async def names_and_categories():
        from demo.models import Item

        return [(item.name, item.category_id) async for item in Item.objects.all()]

    assert "category ids" in failure(names_and_categories).hint


def test_category_objects_instead_of_names_are_named():
    async def names_and_categories():
        from demo.models import Item

        return [(i.name, i.category) async for i in Item.objects.select_related("category")]

    assert "Category objects" in failure(names_and_categories).hint


def test_items_without_a_category_must_be_listed():
    async def names_and_categories():
        from demo.models import Item

        items = Item.objects.select_related("category").filter(category__isnull=False)
        return [(item.name, item.category.name) async for item in items]

    assert "without a category) is missing" in failure(names_and_categories).hint


def test_wrong_order_is_named():
    async def names_and_categories():
        return list(reversed(await with_select_related()))

    error = failure(names_and_categories)
    assert "out of order" in error.hint
    assert "Hint" not in error.hint  # the general hint is about queries, not about order


def test_a_list_of_names_is_not_pairs():
    async def names_and_categories():
        from demo.models import Item

        return [item.name async for item in Item.objects.all()]

    assert "pair" in failure(names_and_categories).hint


def test_a_forgotten_await_is_named():
    async def names_and_categories():
        return with_select_related()

    assert failure(names_and_categories).kind == "missing_await"


def test_a_remembered_answer_from_another_run_fails():
    remembered = asyncio.run(with_select_related())

    async def names_and_categories():
        return remembered

    run(with_select_related)  # the check writes new names on every run
    assert failure(names_and_categories).kind == "wrong"


def test_a_sync_evaluation_with_select_related_is_not_called_the_lazy_relation_trap():
    async def names_and_categories():
        from demo.models import Item

        return [_pair(item) for item in Item.objects.select_related("category")]

    error = failure(names_and_categories)
    assert error.kind == "sync_orm"
    assert "evaluated the sync way" in error.hint and "lazy-relation" not in error.hint


def test_an_unevaluated_queryset_is_named_as_such():
    async def names_and_categories():
        from demo.models import Item

        return Item.objects.values_list("name", "category__name")

    error = failure(names_and_categories)
    assert "has not run yet" in error.hint and "Hint" not in error.hint


def test_the_sync_orm_on_the_loop_under_allow_async_unsafe_is_named():
    async def names_and_categories():
        from demo.models import Item

        with mock.patch.dict(os.environ, UNSAFE):
            return [_pair(item) for item in Item.objects.select_related("category")]

    error = failure(names_and_categories)
    assert error.kind == "sync_orm" and "event loop's own thread" in error.hint


# 2 · move_items


@sync_to_async
def move_in_one_transaction(source, target):
    from demo.models import Category, Item
    from django.db import transaction

    with transaction.atomic():
        destination = Category.objects.get(name=target)
        moved = Item.objects.filter(category__name=source).update(category=destination)
        Category.objects.filter(name=source).delete()
    return moved


async def move_items(source, target):
    return await move_in_one_transaction(source, target)


def test_a_move_in_one_sync_transaction_passes(capsys):
    run_check(checks.move_items, move_items)
    assert "✓ [07_move_items]" in capsys.readouterr().out


def test_untouched_move_items_fails_with_not_started():
    async def move_items(source, target):
        raise NotImplementedError

    assert failure_of(checks.move_items, move_items).kind == "not_started"


def test_a_methods_one_after_another_are_not_one_transaction():
    async def move_items(source, target):
        from demo.models import Category, Item

        destination = await Category.objects.aget(name=target)
        moved = await Item.objects.filter(category__name=source).aupdate(category=destination)
        await Category.objects.filter(name=source).adelete()
        return moved

    error = failure_of(checks.move_items, move_items)
    assert error.kind == "wrong" and "one atomic() block" in error.hint


def test_two_transactions_are_named():
    @sync_to_async
    def update(source, target):
        from demo.models import Category, Item
        from django.db import transaction

        with transaction.atomic():
            destination = Category.objects.get(name=target)
            return Item.objects.filter(category__name=source).update(category=destination)

    @sync_to_async
    def delete(source):
        from demo.models import Category
        from django.db import transaction

        with transaction.atomic():
            Category.objects.filter(name=source).delete()

    async def move_items(source, target):
        moved = await update(source, target)
        await delete(source)
        return moved

    assert "in 2 transaction(s)" in failure_of(checks.move_items, move_items).hint


def test_atomic_around_a_methods_is_named():
    async def move_items(source, target):
        from demo.models import Item
        from django.db import transaction

        with transaction.atomic():
            return await Item.objects.filter(category__name=source).aupdate(category=None)

    error = failure_of(checks.move_items, move_items)
    assert error.kind == "sync_orm" and "atomic() is sync" in error.hint


def test_a_transaction_on_the_loop_under_allow_async_unsafe_is_named():
    async def move_items(source, target):
        with mock.patch.dict(os.environ, UNSAFE):
            return move_in_one_transaction.func(source, target)

    assert "event loop's own thread" in failure_of(checks.move_items, move_items).hint


def test_a_source_left_behind_is_named():
    async def move_items(source, target):
        from demo.models import Category, Item

        destination = await Category.objects.aget(name=target)
        return await Item.objects.filter(category__name=source).aupdate(category=destination)

    assert "still exists" in failure_of(checks.move_items, move_items).hint


def test_not_returning_the_count_is_named():
    async def move_items(source, target):
        await move_in_one_transaction(source, target)

    assert "return the number" in failure_of(checks.move_items, move_items).hint


# 3 · both


def closing(function):
    def run():
        from django.db import connection

        try:
            return function()
        finally:
            connection.close()

    return run


async def both(first, second):
    return await asyncio.gather(
        sync_to_async(closing(first), thread_sensitive=False)(),
        sync_to_async(closing(second), thread_sensitive=False)(),
    )


async def both_with_to_thread(first, second):
    return await asyncio.gather(
        asyncio.to_thread(closing(first)), asyncio.to_thread(closing(second))
    )


@pytest.mark.parametrize("answer", [both, both_with_to_thread])
def test_two_threads_that_close_their_connections_pass(answer, capsys):
    run_check(checks.both, answer)
    assert "✓ [07_both]" in capsys.readouterr().out


def test_untouched_both_fails_with_not_started():
    async def both(first, second):
        raise NotImplementedError

    assert failure_of(checks.both, both).kind == "not_started"


def test_thread_sensitive_gather_runs_one_after_the_other():
    async def both(first, second):
        return await asyncio.gather(sync_to_async(first)(), sync_to_async(second)())

    assert "one after the other" in failure_of(checks.both, both).hint


def test_connections_left_open_are_named():
    async def both(first, second):
        return await asyncio.gather(
            sync_to_async(first, thread_sensitive=False)(),
            sync_to_async(second, thread_sensitive=False)(),
        )

    assert "left open" in failure_of(checks.both, both).hint


def test_closing_the_loop_thread_s_connections_does_not_close_theirs():
    async def both(first, second):
        from django.db import connections

        try:
            return await asyncio.gather(asyncio.to_thread(first), asyncio.to_thread(second))
        finally:
            connections.close_all()  # this thread's, not the workers'

    assert "left open" in failure_of(checks.both, both).hint


def test_calling_them_on_the_loop_is_refused_or_named():
    async def both(first, second):
        return [first(), second()]

    assert failure_of(checks.both, both).kind == "sync_orm"

    async def unsafe(first, second):
        with mock.patch.dict(os.environ, UNSAFE):
            return [first(), second()]

    error = failure_of(checks.both, unsafe)
    assert error.kind == "blocked" and "return [first(), second()]" in error.hint
