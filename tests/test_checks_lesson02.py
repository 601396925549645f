"""The lesson 02 checks pass answers that keep the loop free and name each wrong one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson02 as checks
from tutorial.checks.core import REGISTRY
from tutorial.site import start_site


def failure(check, answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer))
    return caught.value


# crunch_all: CPU work that must not hold the loop.


async def yielding_between_items(work, items):
    results = []
    for item in items:
        results.append(work(item))
        await asyncio.sleep(0)
    return results


async def each_item_in_a_thread(work, items):
    return [await asyncio.to_thread(work, item) for item in items]


async def all_items_in_one_thread(work, items):
    return await asyncio.to_thread(lambda: [work(item) for item in items])


@pytest.mark.parametrize(
    "answer", [yielding_between_items, each_item_in_a_thread, all_items_in_one_thread]
)
def test_crunching_without_holding_the_loop_passes(answer, capsys):
    asyncio.run(checks.crunch_all(answer))
    assert "✓ [02_crunch_all]" in capsys.readouterr().out


def test_a_turn_every_second_item_is_named():
    # Short enough for the blocked-loop limit on a quiet machine — but two pieces in one go.
    async def crunch_all(work, items):
        results = []
        for index, item in enumerate(items):
            results.append(work(item))
            if index % 2:
                await asyncio.sleep(0)
        return results

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind in {"wrong", "blocked"}  # blocked too, when a busy machine stretches it
    assert "no turn for the loop in between" in error.hint or "blocked" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_untouched_crunch_all_fails_with_not_started():
    async def crunch_all(work, items):
        raise NotImplementedError

    assert failure(checks.crunch_all, crunch_all).kind == "not_started"


def test_crunching_everything_in_one_go_is_blocking():
    async def crunch_all(work, items):
        return [work(item) for item in items]

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "blocked"
    assert "blocked the event loop" in error.hint


def test_sleep_0_without_await_still_blocks():
    async def crunch_all(work, items):
        results = []
        for item in items:
            results.append(work(item))
            asyncio.sleep(0).close()  # what `asyncio.sleep(0)` without await does: nothing
        return results

    assert failure(checks.crunch_all, crunch_all).kind == "blocked"


def test_crunch_results_in_the_wrong_order_are_named():
    async def crunch_all(work, items):
        return list(reversed(await yielding_between_items(work, items)))

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "order"
    assert "in the order given" in error.hint


def test_skipping_the_work_is_named():
    async def crunch_all(work, items):
        return [item * item for item in items]  # right numbers, but work() never ran

    error = failure(checks.crunch_all, crunch_all)
    assert error.kind == "wrong"
    assert "Call work once per item" in error.hint


def test_a_plain_def_crunch_all_is_named():
    def crunch_all(work, items):
        return [work(item) for item in items]

    assert failure(checks.crunch_all, crunch_all).kind == "not_async"


# lookup_all: a blocking call, offloaded to threads, all at once.


async def lookups_in_threads_at_once(lookup, keys):
    return await asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys))


async def lookups_in_the_default_executor(lookup, keys):
    loop = asyncio.get_running_loop()
    return await asyncio.gather(*(loop.run_in_executor(None, lookup, key) for key in keys))


@pytest.mark.parametrize("answer", [lookups_in_threads_at_once, lookups_in_the_default_executor])
def test_lookups_in_threads_at_once_pass(answer, capsys):
    asyncio.run(checks.lookup_all(answer))
    assert "✓ [02_lookup_all]" in capsys.readouterr().out


def test_untouched_lookup_all_fails_with_not_started():
    async def lookup_all(lookup, keys):
        raise NotImplementedError

    assert failure(checks.lookup_all, lookup_all).kind == "not_started"


def test_calling_the_blocking_lookup_on_the_loop_is_blocking():
    async def lookup_all(lookup, keys):
        return [lookup(key) for key in keys]

    assert failure(checks.lookup_all, lookup_all).kind == "blocked"


def test_one_thread_after_another_is_not_concurrent():
    async def lookup_all(lookup, keys):
        return [await asyncio.to_thread(lookup, key) for key in keys]

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "at most 1 of the 3 lookups ran at the same time" in error.hint


def test_a_forgotten_await_on_gather_is_named():
    async def lookup_all(lookup, keys):
        return asyncio.gather(*(asyncio.to_thread(lookup, key) for key in keys))

    assert failure(checks.lookup_all, lookup_all).kind == "missing_await"


def test_a_wrong_lookup_value_is_named():
    async def lookup_all(lookup, keys):
        return await asyncio.gather(*(asyncio.to_thread(lookup, key.title()) for key in keys))

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "Call lookup once per item" in error.hint


def test_returning_something_else_than_the_lookups_results_is_named():
    async def lookup_all(lookup, keys):
        await lookups_in_threads_at_once(lookup, keys)
        return list(keys)

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong"
    assert "expected ['ADA', 'GRACE', 'LINUS']" in error.hint


def test_shortcut_upper_casing_without_the_lookup_is_named():
    async def lookup_all(lookup, keys):
        return [key.upper() for key in keys]  # the right values, and lookup() never ran

    error = failure(checks.lookup_all, lookup_all)
    assert error.kind == "wrong" and "Call lookup once per item" in error.hint


def test_every_exercise_has_hint_steps():
    for name in ["crunch_all", "lookup_all", "find_blocking_line"]:
        assert len(REGISTRY[f"02_{name}"].hints) >= 2


# find_blocking_line: the server's watchdog, read by the learner.


@pytest.fixture(scope="module")
def site():
    with start_site() as running:
        yield running


def find(answer, site):
    asyncio.run(checks.find_blocking_line(answer, site))


def find_failure(answer, site):
    with pytest.raises(ExerciseFailed) as caught:
        find(answer, site)
    return caught.value


async def watch(client, path):
    await client.post("/watchdog/start/", params={"seconds": 5})
    await client.get(path)
    await asyncio.sleep(0.05)
    stalls = (await client.get("/watchdog/report/")).json()["stalls"]
    # The longest: a short stall of the server's own (it waited for a core) can come after.
    return max(stalls, key=lambda stall: stall["seconds"] or 0)["stack"]


async def first_frame_of_the_site(client, path):
    stack = await watch(client, path)
    frame = next(frame for frame in stack if frame["project"])
    return f"{frame['file']}:{frame['line']}"


@pytest.mark.parametrize("culprit", checks.CULPRITS)
def test_the_watchdog_answer_passes_for_every_culprit(culprit, site, monkeypatch, capsys):
    monkeypatch.setattr(checks, "CULPRITS", (culprit,))
    find(first_frame_of_the_site, site)
    assert "✓ [02_find_blocking_line]" in capsys.readouterr().out


def test_find_untouched_is_not_started(site):
    async def find_blocking_line(client, path):
        raise NotImplementedError

    assert find_failure(find_blocking_line, site).kind == "not_started"


def test_find_plain_def_is_named(site):
    def find_blocking_line(client, path):
        return "demo/views/loopwatch.py:1"

    assert find_failure(find_blocking_line, site).kind == "not_async"


def test_find_forgotten_await_is_named(site):
    async def find_blocking_line(client, path):
        return client.get(path)

    assert find_failure(find_blocking_line, site).kind == "missing_await"


def test_find_exception_is_named(site):
    async def find_blocking_line(client, path):
        stack = await watch(client, path)
        return stack[0]["filename"]

    error = find_failure(find_blocking_line, site)
    assert error.kind == "exception" and "KeyError" in error.hint


def learned_lines(site, monkeypatch):
    """Run the right answer once on the thumbnail culprit: {path: its line}, to answer from."""
    monkeypatch.setattr(checks, "CULPRITS", ("thumbnail",))
    learned = {}

    async def learn(client, path):
        learned[path] = await first_frame_of_the_site(client, path)
        return learned[path]

    find(learn, site)
    return learned


def test_shortcut_a_memorised_line_without_the_watchdog_is_rejected(site, monkeypatch):
    # Learn the right answer once, then answer from memory: right value, no watching.
    learned = learned_lines(site, monkeypatch)

    async def from_memory(client, path):
        await client.get(path)  # even the request is made: only the watching is skipped
        return learned[path]

    error = find_failure(from_memory, site)
    assert error.kind == "wrong_method" and "watchdog saw no stall" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_shortcut_a_memorised_line_with_the_report_unread_is_rejected(site, monkeypatch):
    # The watchdog is armed and sees the stall — but the answer comes from memory, not from it.
    learned = learned_lines(site, monkeypatch)

    async def from_memory(client, path):
        await client.post("/watchdog/start/", params={"seconds": 5})
        await client.get(path)
        return learned[path]

    error = find_failure(from_memory, site)
    assert error.kind == "wrong_method" and "never read GET /watchdog/report/" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_a_library_frame_is_named(site, monkeypatch):
    monkeypatch.setattr(checks, "CULPRITS", ("convert",))

    async def innermost(client, path):
        frame = (await watch(client, path))[0]
        return f"{frame['file']}:{frame['line']}"

    error = find_failure(innermost, site)
    assert error.kind == "wrong" and "not the site's own code" in error.hint


def test_the_views_own_line_is_named(site):
    async def the_view(client, path):
        frame = next(f for f in await watch(client, path) if f["function"] == "culprit")
        return f"{frame['file']}:{frame['line']}"

    error = find_failure(the_view, site)
    assert error.kind == "wrong" and "inside the helper" in error.hint


def test_a_frame_that_is_not_a_place_is_named(site):
    async def whole_frame(client, path):
        return next(f for f in await watch(client, path) if f["project"])

    error = find_failure(whole_frame, site)
    assert error.kind == "format" and '"file:line"' in error.hint


def test_the_innermost_frame_alone_fails_whichever_culprit_is_drawn(site):
    # Without the library culprit in every run, this answer would pass two runs in three.
    async def innermost(client, path):
        frame = (await watch(client, path))[0]
        return f"{frame['file']}:{frame['line']}"

    for _ in range(2):
        assert "not the site's own code" in find_failure(innermost, site).hint
