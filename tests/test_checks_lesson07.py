"""The lesson 07 check runs the answer against a real database and names each wrong one."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson07 as checks

# pytest-django sets Django up for the suite; the check's setup_django() then uses its test
# database. transaction=True: the check's queries run in other threads, on other connections.
pytestmark = pytest.mark.django_db(transaction=True)


def run(answer):
    asyncio.run(checks.names_and_categories(answer))


def failure(answer):
    with pytest.raises(ExerciseFailed) as caught:
        run(answer)
    return caught.value


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

    assert "out of order" in failure(names_and_categories).hint


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
