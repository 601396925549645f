"""The lesson 05 checks measure the real site, pass the right answers and name each wrong one."""

import asyncio
import functools
import inspect
import re
import time

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.http import JsonResponse
from django.views import View

from tests.run_check import failure, run
from tutorial.checks import core
from tutorial.checks import lesson05 as checks
from tutorial.site import start_site

# Letters for: one at a time (a lock), awaits, blocks the loop, sync view in threads. Not the
# alphabetical order, so an answer remembered from the site's source would be wrong here.
ORDER = "cadb"


@pytest.fixture(scope="module")
def site():
    with start_site(env={"COMPANION_MYSTERY_ORDER": ORDER}) as running:
        yield running


async def timed_get(client, url):
    started = time.perf_counter()
    await client.get(url)
    return time.perf_counter() - started


# Right answers: what the solution notebook does. (verify=False: a new client's TLS set-up takes
# ~0.1 s of the loop, more on a loaded machine, which the loop watch could blame on the answer.)


async def classify(url, n=4):
    async with httpx.AsyncClient(timeout=30, verify=False) as client:

        async def timed(k):
            started = time.perf_counter()
            await asyncio.gather(*(client.get(url) for _ in range(k)))
            return time.perf_counter() - started

        ones, togethers = [], []
        for _ in range(2):  # round 1 also opens the connections; keep the best of each
            ones.append(await timed(1))
            togethers.append(await timed(n))
    # (n + 1) / 2 × one: halfway between side by side (1 ×) and one after another (n ×)
    return "serialised" if min(togethers) > (n + 1) / 2 * min(ones) else "concurrent"


async def blocks_loop(url, probe_url, n=4):
    async with httpx.AsyncClient(timeout=30, verify=False) as client:
        one = await timed_get(client, url)

        async def probe_wait():
            load = asyncio.gather(*(client.get(url) for _ in range(n)))
            waits = []
            while not load.done():
                waits.append(await timed_get(client, probe_url))
            await load
            return sum(waits) / len(waits)

        # Best of two rounds, as the solution: a fresh-clone CI run, both cores busy, once had a
        # sync view in threads probe slower than half a request (said True for /mystery/b/).
        wait = min([await probe_wait(), await probe_wait()])
    return wait > one / 2


def test_the_check_sees_four_different_behaviours(site):
    seen = {name: asyncio.run(checks.measure(site, name)) for name in checks.MYSTERIES}
    assert seen == {
        "c": checks.Behaviour(concurrent=False, blocks_loop=False),  # waits for a lock
        "a": checks.Behaviour(concurrent=True, blocks_loop=False),  # awaits
        "d": checks.Behaviour(concurrent=False, blocks_loop=True),  # time.sleep on the loop
        "b": checks.Behaviour(concurrent=True, blocks_loop=False),  # a sync view, in threads
    }


def test_right_answers_pass(site, capsys):
    run(checks.classify, classify, site)
    run(checks.blocks_loop, blocks_loop, site)
    assert capsys.readouterr().out.count("✓") == 2


def test_untouched_exercises_fail_as_not_started(site):
    async def classify(url, n=4):
        raise NotImplementedError

    async def blocks_loop(url, probe_url, n=4):
        raise NotImplementedError

    assert failure(checks.classify, classify, site).kind == "not_started"
    assert failure(checks.blocks_loop, blocks_loop, site).kind == "not_started"


@pytest.mark.parametrize("answer", ["concurrent", "serialised"])
def test_one_answer_for_every_endpoint_is_wrong(site, answer):
    async def classify(url, n=4):
        return answer

    error = failure(checks.classify, classify, site)
    assert error.kind == "wrong"
    assert "after sending 0 request(s)" in error.hint


def test_hints_come_in_steps(site):
    async def classify(url, n=4):
        return "concurrent"

    core._failures.pop("05_classify", None)
    first = failure(checks.classify, classify, site).hint
    second = failure(checks.classify, classify, site).hint
    third = failure(checks.classify, classify, site).hint
    assert "Hint 1/2: Time one request" in first
    assert "Hint 2/2: Compare" in second
    assert "solutions/05_async_views.ipynb" in third


# What the site's letters did before they were drawn per start: a remembered answer.
REMEMBERED = {"a": "serialised", "b": "concurrent", "c": "serialised", "d": "concurrent"}


def letter(url):
    return url.split("/mystery/")[1][0]


def test_an_answer_typed_in_by_letter_is_named_even_if_it_sends_requests(site):
    async def classify(url, n=4):
        async with httpx.AsyncClient(timeout=30, verify=False) as client:
            await asyncio.gather(*(client.get(url) for _ in range(n)))  # for show
        return REMEMBERED[letter(url)]

    error = failure(checks.classify, classify, site)
    assert error.kind == "wrong"
    assert "classify said" in error.hint and "/mystery/a/" in error.hint


def test_the_sites_endpoint_list_does_not_say_which_mystery_is_the_sync_view(site):
    # The list at / marks each view async or sync; for /mystery/b/ here (a sync view, in
    # threads: concurrent) that was half of classify's answer, read instead of measured.
    html = httpx.get(site.url + "/", verify=False).text
    kinds = re.findall(r'/mystery/([a-d])/</code></a></td>\s*<td class="[^"]*">([^<]*)<', html)
    assert sorted(kinds) == [(name, "?") for name in checks.MYSTERIES]


def test_an_answer_typed_in_by_letter_without_requests_is_named(site):
    async def classify(url, n=4):
        return REMEMBERED[letter(url)]

    assert "has to be measured" in failure(checks.classify, classify, site).hint


def test_a_blocks_loop_typed_in_by_letter_is_named(site):
    async def blocks_loop(url, probe_url, n=4):
        return letter(url) == "c"

    assert "has to be measured" in failure(checks.blocks_loop, blocks_loop, site).hint


def test_a_wrong_verdict_after_a_real_measurement_is_named(site):
    async def classify(url, n=4):
        return "concurrent" if await globals()["classify"](url, n) == "serialised" else "serialised"

    error = failure(checks.classify, classify, site)
    assert error.kind == "wrong" and "classify said" in error.hint


def test_requests_sent_one_after_another_are_named(site):
    async def classify(url, n=4):
        async with httpx.AsyncClient(verify=False) as client:
            one = await timed_get(client, url)
            together = sum([await timed_get(client, url) for _ in range(n)])
        return "serialised" if together > n / 2 * one else "concurrent"

    error = failure(checks.classify, classify, site)
    assert "never ran at the same time" in error.hint


def test_an_answer_that_is_not_one_of_the_two_strings_is_named(site):
    async def classify(url, n=4):
        return True

    error = failure(checks.classify, classify, site)
    assert "'concurrent' or 'serialised'" in error.hint
    assert error.kind == "shape" and "Hint" not in error.hint  # no concept hint for a shape slip


def test_american_spelling_is_accepted(site, capsys):
    async def american(url, n=4):
        return (await classify(url, n)).replace("serialised", "serialized")

    run(checks.classify, american, site)
    assert "✓" in capsys.readouterr().out


def test_a_sync_client_in_async_code_blocks_the_loop(site):
    async def classify(url, n=4):
        with httpx.Client() as client:
            for _ in range(n + 1):
                client.get(url)
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "blocked"


def test_a_plain_def_is_named(site):
    def classify(url, n=4):
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "not_async"


def test_serialised_is_not_blocked(site):
    # What the server's clock says, measured before the answer runs (not by it).
    behaviours = {name: asyncio.run(checks.measure(site, name)) for name in checks.MYSTERIES}

    async def blocks_loop(url, probe_url, n=4):
        await globals()["blocks_loop"](url, probe_url, n)  # measures, then answers the wrong thing
        return not behaviours[letter(url)].concurrent  # serialised

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "serialised is not blocked" in error.hint


def test_never_blocked_is_wrong(site):
    async def blocks_loop(url, probe_url, n=4):
        return False

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "has to be measured" in error.hint  # it sent nothing


def test_never_blocked_after_measuring_is_wrong(site):
    async def blocks_loop(url, probe_url, n=4):
        await globals()["blocks_loop"](url, probe_url, n)
        return False

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "blocks_loop said False for /mystery/d/" in error.hint


def test_a_probe_sent_after_the_load_is_named(site):
    async def blocks_loop(url, probe_url, n=4):
        async with httpx.AsyncClient(timeout=30, verify=False) as client:
            one = await timed_get(client, url)
            await asyncio.gather(*(client.get(url) for _ in range(n)))
            probe = await timed_get(client, probe_url)  # too late: nothing runs any more
        return probe > one / 2

    assert (
        "while the load is still in flight" in failure(checks.blocks_loop, blocks_loop, site).hint
    )


def test_an_answer_that_is_not_a_bool_is_named(site):
    async def blocks_loop(url, probe_url, n=4):
        return "no"

    assert "return True or False" in failure(checks.blocks_loop, blocks_loop, site).hint


def test_a_forgotten_await_is_named(site):
    async def classify(url, n=4):
        return other_classifier(url, n)  # a coroutine, never awaited

    async def other_classifier(url, n):
        return "concurrent"

    assert failure(checks.classify, classify, site).kind == "missing_await"


# Exercise 3: async views served by Django in this process, through the site's URLconf.


async def wait_view(request):
    delay = float(request.GET["delay"])
    await asyncio.sleep(delay)
    return JsonResponse({"waited": delay})


class WaitView(View):
    async def get(self, request):
        delay = float(request.GET["delay"])
        await asyncio.sleep(delay)
        return JsonResponse({"waited": delay})


def test_async_views_pass(capsys):
    run(checks.views, wait_view, WaitView)
    assert "✓ [05_views]" in capsys.readouterr().out


def test_untouched_views_fail_as_not_started():
    async def stub(request):
        raise NotImplementedError

    class Stub(View):
        async def get(self, request):
            raise NotImplementedError

    assert failure(checks.views, stub, WaitView).kind == "not_started"
    assert failure(checks.views, wait_view, Stub).kind == "not_started"


def test_a_plain_def_view_is_named():
    def sync_view(request):
        return JsonResponse({"waited": float(request.GET["delay"])})

    assert failure(checks.views, sync_view, WaitView).kind == "not_async"


def test_a_class_with_a_def_handler_is_named():
    class SyncWait(View):
        def get(self, request):
            return JsonResponse({"waited": float(request.GET["delay"])})

    error = failure(checks.views, wait_view, SyncWait)
    assert error.kind == "not_async" and "async def get" in error.hint


def test_a_class_mixing_def_and_async_def_is_named():
    class Mixed(WaitView):
        def post(self, request):
            return JsonResponse({})

    assert "refused the class" in failure(checks.views, wait_view, Mixed).hint


def test_time_sleep_in_the_view_blocks_the_loop():
    async def sleepy(request):
        delay = float(request.GET["delay"])
        time.sleep(delay)
        return JsonResponse({"waited": delay})

    assert failure(checks.views, sleepy, WaitView).kind == "blocked"


def test_a_sync_view_bridged_with_sync_to_async_is_named():
    def sync_wait(request):
        delay = float(request.GET["delay"])
        time.sleep(delay)
        return JsonResponse({"waited": delay})

    error = failure(checks.views, sync_to_async(sync_wait), WaitView)
    assert error.kind == "wrong" and "ran in another thread" in error.hint


def test_a_sleep_handed_to_a_thread_is_named():
    # The shortcut: an async view that waits in a thread of its own, not on the event loop.
    async def in_a_thread(request):
        delay = float(request.GET["delay"])
        await asyncio.to_thread(time.sleep, delay)
        return JsonResponse({"waited": delay})

    error = failure(checks.views, in_a_thread, WaitView)
    assert error.kind == "wrong" and "in a thread" in error.hint
    assert len(error.hint.splitlines()) <= 5


@pytest.mark.filterwarnings("ignore:coroutine 'sleep' was never awaited")  # the mistake itself
def test_a_forgotten_await_on_the_sleep_is_named():
    async def hasty(request):
        delay = float(request.GET["delay"])
        asyncio.sleep(delay)
        return JsonResponse({"waited": delay})

    assert failure(checks.views, hasty, WaitView).kind == "missing_await"


def test_a_wrong_body_is_named():
    async def wrong(request):
        await asyncio.sleep(float(request.GET["delay"]))
        return JsonResponse({"waited": request.GET["delay"]})  # a string, not a float

    assert "as a float" in failure(checks.views, wrong, WaitView).hint


# Exercise 4: a decorator that works on sync and async views.


def timed(view):
    def header(response, started):
        response["X-View-Seconds"] = f"{time.perf_counter() - started:.3f}"
        return response

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def wrapper(request, *args, **kwargs):
            started = time.perf_counter()
            return header(await view(request, *args, **kwargs), started)

    else:

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            started = time.perf_counter()
            return header(view(request, *args, **kwargs), started)

    return wrapper


def test_a_decorator_for_both_kinds_passes(capsys):
    run(checks.timed, timed)
    assert "✓ [05_timed]" in capsys.readouterr().out


def test_untouched_decorator_fails_as_not_started():
    def timed(view):
        raise NotImplementedError

    assert failure(checks.timed, timed).kind == "not_started"


def test_a_sync_wrapper_around_an_async_view_is_the_unawaited_coroutine():
    def sync_only(view):
        def wrapper(request):
            started = time.perf_counter()
            response = view(request)
            response["X-View-Seconds"] = f"{time.perf_counter() - started:.3f}"
            return response

        return wrapper

    error = failure(checks.timed, sync_only)
    assert "unawaited coroutine" in error.hint and "async def wrapper" in error.hint


def test_a_pass_through_sync_wrapper_gets_django_s_unawaited_coroutine_error():
    def logged(view):
        def wrapper(request):
            return view(request)  # an async view gives a coroutine: Django refuses it

        return wrapper

    assert "async def wrapper" in failure(checks.timed, logged).hint


def test_async_to_sync_inside_a_sync_wrapper_is_named():
    def bridged(view):
        inner = async_to_sync(view) if inspect.iscoroutinefunction(view) else view

        def wrapper(request):
            started = time.perf_counter()
            response = inner(request)
            response["X-View-Seconds"] = f"{time.perf_counter() - started:.3f}"
            return response

        return wrapper

    assert "ran in a thread" in failure(checks.timed, bridged).hint


def test_making_every_view_async_is_named():
    def always_async(view):
        async def wrapper(request):
            started = time.perf_counter()
            response = view(request)
            if inspect.isawaitable(response):
                response = await response
            response["X-View-Seconds"] = f"{time.perf_counter() - started:.3f}"
            return response

        return wrapper

    error = failure(checks.timed, always_async)
    assert "timed(sync view) made it async" in error.hint or error.kind == "blocked"


def test_a_missing_header_is_named():
    def no_header(view):
        return view

    assert "X-View-Seconds" in failure(checks.timed, no_header).hint


def test_timing_only_the_creation_of_the_coroutine_is_named():
    def too_early(view):
        if not inspect.iscoroutinefunction(view):
            return timed(view)

        async def wrapper(request):
            started = time.perf_counter()
            pending = view(request)  # not awaited yet: nothing has run
            seconds = time.perf_counter() - started
            response = await pending
            response["X-View-Seconds"] = f"{seconds:.3f}"
            return response

        return wrapper

    assert "around the await" in failure(checks.timed, too_early).hint


# Shortcuts: the check's own measurement (or what it remembers) asked for the answer.


def test_calling_the_check_s_own_measurement_is_named(site):
    async def classify(url, n=4):
        async with httpx.AsyncClient(timeout=30, verify=False) as client:
            await asyncio.gather(*(client.get(url) for _ in range(n)))  # for show
        return (await checks.measure(site, letter(url))).answer

    error = failure(checks.classify, classify, site)
    assert "check's own measurement" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_reading_the_check_s_remembered_measurements_is_named(site):
    for name in checks.MYSTERIES:  # the check has measured every endpoint once
        asyncio.run(checks.measure(site, name))

    async def blocks_loop(url, probe_url, n=4):
        async with httpx.AsyncClient(timeout=30, verify=False) as client:
            load = asyncio.gather(*(client.get(url) for _ in range(n)))
            while not load.done():
                await client.get(probe_url)
            await load
        key = (site.url, site.pid, letter(url))
        return checks._measured[key].blocks_loop

    error = failure(checks.blocks_loop, blocks_loop, site)
    assert "check's own measurement" in error.hint
