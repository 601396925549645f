"""The lesson 10 check passes a fire_and_forget that keeps (then drops) its tasks, and names each wrong one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson10 as checks

kept = set()


def keeps_a_reference(coro):
    task = asyncio.create_task(coro)
    kept.add(task)
    task.add_done_callback(kept.discard)
    return task


def keeps_nothing(coro):
    return asyncio.create_task(coro)


hoard = []


def keeps_them_forever(coro):
    task = asyncio.create_task(coro)
    hoard.append(task)
    return task


latest = None


def keeps_the_latest_only(coro):
    global latest
    latest = asyncio.create_task(coro)
    return latest


def returns_nothing(coro):
    kept.add(task := asyncio.create_task(coro))
    task.add_done_callback(kept.discard)


def loops_forever(coro):
    while True:
        pass


def raises(coro):
    return asyncio.create_task(coro, nmae="typo")


async def is_async(coro):
    return keeps_a_reference(coro)


def untouched(coro):
    raise NotImplementedError


def failure(answer, check=checks.fire_and_forget):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer))
    return caught.value


def assert_short_hint(error, kind, phrase):
    assert error.kind == kind
    assert phrase in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_keeping_and_releasing_a_reference_passes(capsys):
    asyncio.run(checks.fire_and_forget(keeps_a_reference))
    assert "✓" in capsys.readouterr().out
    assert not kept  # and the task let itself go


def test_untouched_exercise_fails_as_not_started():
    assert failure(untouched).kind == "not_started"


def test_async_def_is_named():
    assert failure(is_async).kind == "not_sync"


@pytest.mark.parametrize(
    ("answer", "kind", "phrase"),
    [
        (keeps_nothing, "wrong", "garbage-collected"),
        (keeps_them_forever, "wrong", "still referenced"),
        (keeps_the_latest_only, "wrong", "garbage-collected"),
        (returns_nothing, "shape", "Return the task"),
        (loops_forever, "endless_loop", "an endless loop?"),
        (raises, "exception", "TypeError"),
    ],
)
def test_wrong_answers_fail_with_a_hint(answer, kind, phrase):
    assert_short_hint(failure(answer), kind, phrase)


def step_given(error):
    return "Hint " in error.hint or "Still stuck?" in error.hint


def test_a_hint_step_follows_a_wrong_method_but_not_a_wrong_shape():
    assert step_given(failure(keeps_nothing))
    assert not step_given(failure(returns_nothing))


# --- enqueue_receipt: django.tasks from async code ------------------------------------------


async def awaits_aenqueue(task, order_id):
    return await task.aenqueue(order_id)


async def calls_enqueue_on_the_loop(task, order_id):
    return task.enqueue(order_id)


async def enqueues_in_a_pool_thread(task, order_id):
    return await asyncio.to_thread(task.enqueue, order_id)


async def runs_it_now(task, order_id):
    return task.call(order_id)


async def copies_aenqueue_by_hand(task, order_id):
    from asgiref.sync import sync_to_async

    return await sync_to_async(task.enqueue)(order_id)


async def forgets_to_await(task, order_id):
    return task.aenqueue(order_id)


async def returns_the_id_only(task, order_id):
    return (await task.aenqueue(order_id)).id


async def enqueues_twice(task, order_id):
    await task.aenqueue(order_id)
    return await task.aenqueue(order_id)


def enqueue_is_plain_def(task, order_id):
    return task.enqueue(order_id)


async def enqueue_untouched(task, order_id):
    raise NotImplementedError


@pytest.mark.django_db(transaction=True)
def test_awaiting_aenqueue_passes(capsys):
    asyncio.run(checks.enqueue_receipt(awaits_aenqueue))
    assert "✓ [10_enqueue_receipt]" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("answer", "kind", "phrase"),
    [
        (enqueue_untouched, "not_started", "Not started"),
        (enqueue_is_plain_def, "not_async", "async def"),
        (forgets_to_await, "missing_await", "forgotten `await`"),
        (calls_enqueue_on_the_loop, "blocked", "ran on the event loop's thread"),
        (enqueues_in_a_pool_thread, "wrong", "not in the request's sync thread"),
        (runs_it_now, "wrong", "Nothing was enqueued"),
        (returns_the_id_only, "shape", "Return the TaskResult"),
        (enqueues_twice, "wrong", "enqueued 2 times"),
        (copies_aenqueue_by_hand, "wrong", "not through the Task's aenqueue()"),
    ],
)
def test_wrong_enqueues_fail_with_a_hint(answer, kind, phrase):
    assert_short_hint(failure(answer, checks.enqueue_receipt), kind, phrase)


# --- place_order: enqueue after the commit --------------------------------------------------


def on_commit(name, notify):
    from demo.models import Item
    from django.db import transaction

    with transaction.atomic():
        item = Item.objects.create(name=name)
        transaction.on_commit(lambda: notify.enqueue(item.pk))


def after_its_own_block(name, notify):
    from demo.models import Item
    from django.db import transaction

    with transaction.atomic():  # a savepoint when the caller has a transaction open
        item = Item.objects.create(name=name)
    notify.enqueue(item.pk)


def inside_the_block(name, notify):
    from demo.models import Item
    from django.db import transaction

    with transaction.atomic():
        item = Item.objects.create(name=name)
        notify.enqueue(item.pk)


def with_the_name(name, notify):
    from demo.models import Item
    from django.db import transaction

    with transaction.atomic():
        Item.objects.create(name=name)
        transaction.on_commit(lambda: notify.enqueue(name))


def only_when_no_transaction_is_open(name, notify):
    """The shortcut: passes a rolled-back caller by never enqueueing inside one."""
    from demo.models import Item
    from django.db import transaction

    item = Item.objects.create(name=name)
    if not transaction.get_connection().in_atomic_block:
        notify.enqueue(item.pk)


def saves_nothing(name, notify):
    from django.db import transaction

    transaction.on_commit(lambda: notify.enqueue(1))


async def place_order_is_async(name, notify):
    on_commit(name, notify)


def place_order_untouched(name, notify):
    raise NotImplementedError


@pytest.mark.django_db(transaction=True)
def test_enqueueing_on_commit_passes(capsys):
    asyncio.run(checks.place_order(on_commit))
    assert "✓ [10_place_order]" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("answer", "kind", "phrase"),
    [
        (place_order_untouched, "not_started", "Not started"),
        (place_order_is_async, "not_sync", "plain `def`"),
        (after_its_own_block, "wrong", "rolled back, and it enqueued the task anyway"),
        (inside_the_block, "wrong", "rolled back, and it enqueued the task anyway"),
        (with_the_name, "wrong", "the new item's id"),
        (saves_nothing, "wrong", "No item named"),
        (only_when_no_transaction_is_open, "wrong", "a caller's transaction that then committed"),
    ],
)
def test_wrong_orders_fail_with_a_hint(answer, kind, phrase):
    assert_short_hint(failure(answer, checks.place_order), kind, phrase)
