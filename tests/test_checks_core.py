"""Each typical learner mistake becomes a short, named hint — with real functions, no mocks."""

import asyncio
import gc
import socket
import sys
import threading
import time

import httpx
import nbformat
import pytest

from tutorial import notebooks as nbs
from tutorial import tracebacks
from tutorial.checks import (
    REGISTRY,
    ExerciseFailed,
    call_async,
    call_sync,
    core,
    exercise,
    fail,
    hint,
)

MAX_HINT_LINES = 5


@pytest.fixture(autouse=True)
def registry_untouched():
    """Checks registered here (lesson "99") must not leak into REGISTRY (test_exercises reads
    it); a lesson module imported here keeps its checks, as a second import would not add them."""
    before, failures = dict(REGISTRY), dict(core._failures)
    yield
    for exercise_id in [i for i in REGISTRY if i.startswith("99_")]:
        del REGISTRY[exercise_id]
    REGISTRY.update(before)
    core._failures.clear()
    core._failures.update(failures)


def mistake(fn, *args, call=None, **kwargs):
    """The ExerciseFailed that calling a learner's `fn` through the checks raises."""
    with pytest.raises(ExerciseFailed) as caught:
        if call is call_sync:
            call_sync(fn, *args, **kwargs)
        else:
            asyncio.run(call_async(fn, *args, **kwargs))
    error = caught.value
    assert len(str(error).splitlines()) <= MAX_HINT_LINES, str(error)
    return error


# Learners' functions, one per mistake.


async def untouched_async(x):
    # YOUR CODE HERE
    raise NotImplementedError


def untouched_sync(x):
    # YOUR CODE HERE
    raise NotImplementedError


async def raises_inside(x):
    bodies = {}
    return bodies["missing"]  # the line the hint must point at


async def awaits_forever(x):
    await asyncio.Event().wait()


async def own_timeout(x):
    async with asyncio.timeout(0):
        await asyncio.sleep(1)


async def sleeps_blocking_then_returns(x):
    time.sleep(0.5)
    return x


async def sleeps_blocking_then_awaits(x):
    time.sleep(0.5)
    await asyncio.sleep(0)
    return x


async def blocks_past_the_deadline(x):
    time.sleep(0.5)
    await asyncio.sleep(10)


async def spins_forever(x):
    while True:  # the line the hint must point at
        x += 1


def spins_forever_sync(x):
    while True:  # the line the hint must point at
        x += 1


async def sleeps_politely(x):
    await asyncio.sleep(0.5)
    return x


async def fetch(x):
    await asyncio.sleep(0)
    return x


async def forgets_await(x):
    return fetch(x)


async def forgets_await_in_a_list(x):
    return [fetch(x), fetch(x + 1)]


async def returns_a_task(x):
    return asyncio.create_task(fetch(x))


def plain_def(x):
    return x


async def async_def(x):
    return x


# call_async / call_sync: the mistake, its kind, and what the hint says.


@pytest.mark.parametrize("fn, call", [(untouched_async, call_async), (untouched_sync, call_sync)])
def test_not_started_is_named(fn, call):
    error = mistake(fn, 1, call=call)
    assert error.kind == "not_started"
    assert str(error).startswith("Not started:")
    assert "NotImplementedError" in error.hint


def test_an_exception_in_their_code_names_type_and_line():
    error = mistake(raises_inside, 1)
    assert error.kind == "exception"
    assert "raises_inside raised KeyError: 'missing'" in error.hint
    assert 'return bodies["missing"]' in error.hint
    assert "test_checks_core.py" in error.hint


def test_a_sync_exception_names_type_and_line():
    def divides(x):
        return x / 0

    error = mistake(divides, 1, call=call_sync)
    assert error.kind == "exception"
    assert "ZeroDivisionError" in error.hint
    assert "return x / 0" in error.hint


def test_a_hang_times_out_with_a_question():
    error = mistake(awaits_forever, 1, timeout=0.2)
    assert error.kind == "timeout"
    assert "did not finish in 0.2 s — is something awaiting forever" in error.hint


@pytest.mark.parametrize("fn, call", [(spins_forever, None), (spins_forever_sync, call_sync)])
def test_an_endless_loop_is_stopped_and_named_with_its_line(fn, call):
    error = mistake(fn, 1, call=call, timeout=0.3)
    assert error.kind == "endless_loop"
    assert f"{fn.__name__} did not return in 0.3 s: an endless loop?" in error.hint
    assert "the line the hint must point at" in error.hint
    assert "test_checks_core.py" in error.hint


def test_one_long_blocking_call_is_a_wait_not_an_endless_loop():
    def sleeps_long(x):
        time.sleep(0.6)  # the line the hint must point at
        return x

    error = mistake(sleeps_long, 1, call=call_sync, timeout=0.2)
    assert error.kind == "timeout"
    assert "did not return in 0.2 s: it was still waiting in one call" in error.hint
    assert "the line the hint must point at" in error.hint


def test_a_function_that_returns_in_time_is_not_stopped():
    def counts(x):
        return sum(range(x))

    assert call_sync(counts, 1000, timeout=5) == sum(range(1000))


def test_a_loop_starved_of_cpu_is_still_an_endless_loop_and_a_sleep_still_a_wait(monkeypatch):
    """A loaded machine (seen in CI): the loop got 5 % of the time, waiting for a CPU the rest.
    Both clocks are made up from the wall clock: scaling the thread's real CPU time instead
    made the share smaller still on a loaded suite run (the thread really got less than a core)."""
    from tutorial.checks import learner

    started = time.perf_counter()
    monkeypatch.setattr(
        learner, "_thread_cpu_time", lambda thread: 0.05 * (time.perf_counter() - started)
    )
    monkeypatch.setattr(
        learner, "_waited_for_a_cpu", lambda native: 0.95 * (time.perf_counter() - started)
    )
    assert mistake(spins_forever_sync, 1, call=call_sync, timeout=0.3).kind == "endless_loop"
    monkeypatch.setattr(learner, "_waited_for_a_cpu", lambda native: 0.0)  # asleep: no wait

    def sleeps_long(x):
        time.sleep(0.6)
        return x

    assert mistake(sleeps_long, 1, call=call_sync, timeout=0.3).kind == "timeout"


def test_after_an_endless_loop_the_thread_runs_on_untouched():
    mistake(spins_forever_sync, 1, call=call_sync, timeout=0.2)
    time.sleep(0.2)  # a second interruption, had one been left pending, would raise here
    assert call_sync(plain_def, 3) == 3


def test_their_own_timeout_is_their_exception_not_a_hang():
    error = mistake(own_timeout, 1)
    assert error.kind == "exception"
    assert "TimeoutError" in error.hint


@pytest.mark.parametrize("fn", [sleeps_blocking_then_returns, sleeps_blocking_then_awaits])
def test_blocking_the_loop_is_named(fn):
    error = mistake(fn, 1)
    assert error.kind == "blocked"
    assert "blocked the event loop" in error.hint
    assert "await asyncio.sleep" in error.hint


def test_blocking_past_the_deadline_is_named_blocking_not_a_hang():
    error = mistake(blocks_past_the_deadline, 1, timeout=0.3)
    assert error.kind == "blocked"


def test_time_the_loops_thread_waited_for_a_cpu_is_not_blamed(monkeypatch):
    """A loaded machine, not the answer: here the scheduler says the loop's thread spent the
    whole stall runnable, waiting for a CPU (as if preempted inside the learner's frame)."""
    from tutorial.checks import learner

    assert learner._LoopWatch._waited_for_a_cpu is not None
    monkeypatch.setattr(learner._LoopWatch, "_waited_for_a_cpu", lambda self: time.perf_counter())
    assert asyncio.run(call_async(sleeps_blocking_then_returns, 7)) == 7


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scheduler statistics: Linux")
def test_the_loops_thread_scheduler_wait_is_read_and_a_real_block_still_counts():
    from tutorial.checks import learner

    async def watched():
        watch = learner._LoopWatch()
        await asyncio.sleep(0.05)
        waited = watch._waited_for_a_cpu()
        watch.stop()
        return waited

    waited = asyncio.run(watched())
    assert learner._waited_for_a_cpu(threading.get_native_id()) is not None and waited >= 0.0
    assert mistake(sleeps_blocking_then_returns, 1).kind == "blocked"  # sleeping is not waiting


async def waits_while_another_thread_collects():
    """The loop's thread waits inside the answer while another thread "collects" for 0.4 s:
    gc's callbacks, called as gc calls them (a real collection stops every thread as long)."""
    done = threading.Event()

    def collect():
        for callback in list(gc.callbacks):
            callback("start", {"generation": 2})
        time.sleep(0.4)
        for callback in list(gc.callbacks):
            callback("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
        done.set()

    threading.Thread(target=collect).start()
    done.wait()
    return 7


def test_a_garbage_collection_is_not_blamed_on_the_answer(monkeypatch):
    from tutorial.checks import learner

    assert asyncio.run(call_async(waits_while_another_thread_collects)) == 7
    monkeypatch.setattr(learner._LoopWatch, "_on_gc", lambda self, phase, info: None)
    assert mistake(waits_while_another_thread_collects).kind == "blocked"  # not counted: blamed


def test_awaiting_the_same_time_is_not_blocking():
    assert asyncio.run(call_async(sleeps_politely, 7)) == 7


def test_blocking_is_allowed_when_the_check_says_so():
    assert asyncio.run(call_async(sleeps_blocking_then_returns, 7, allow_blocking=True)) == 7


@pytest.mark.parametrize(
    "fn, inside",
    [(forgets_await, ""), (forgets_await_in_a_list, "inside the list"), (returns_a_task, "Task")],
)
def test_a_forgotten_await_is_named(fn, inside):
    error = mistake(fn, 1)
    assert error.kind == "missing_await"
    assert "forgotten `await`" in error.hint
    assert inside in error.hint


def test_plain_def_where_async_def_was_needed():
    error = mistake(plain_def, 1)
    assert error.kind == "not_async"
    assert "must be an `async def`" in error.hint


def test_async_def_where_plain_def_was_needed():
    error = mistake(async_def, 1, call=call_sync)
    assert error.kind == "not_sync"
    assert "plain `def`" in error.hint


def test_a_right_answer_returns_its_value():
    assert asyncio.run(call_async(fetch, 3)) == 3
    assert call_sync(plain_def, 3) == 3


# A broken set-up is not a wrong answer.


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def get_json(url):
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()


def test_a_site_that_stops_during_a_check_and_then_is_handed_to_one_is_named_each_time():
    """One site, two moments (a site start is ~0.45 s CPU): it exits while a check's own request
    runs; then, stopped (as Run All's last cell leaves it), it is handed to another check."""
    from tutorial.site import start_site

    @exercise("99", "probe", hints=("Look at the site.", "Closer."))
    async def probe(fn, where):
        """Check that fn returns what the site says."""
        where.stop()  # the site exits while the check runs
        await get_json(where.url)

    site = start_site()
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(probe(fetch, where=site))
    assert caught.value.kind == "setup"
    assert str(caught.value).startswith(
        f"[99_probe] Nothing answers at {site.url}: the companion site is not running"
    )
    assert "ConnectError" not in str(caught.value) and "Hint" not in str(caught.value)

    ran = []

    @exercise("99", "with_site", hints=("Look at the site.", "Closer."))
    def with_site(fn, site):
        """Check that fn works with the site."""
        ran.append(fn)

    with pytest.raises(ExerciseFailed) as caught:
        with_site(plain_def, site)
    assert caught.value.kind == "setup" and not ran
    assert str(caught.value).startswith("[99_with_site] The companion site was stopped")
    assert "Run the set-up cell at the top again" in str(caught.value)
    assert "Hint" not in str(caught.value)  # their answer was not judged: no hint step


def test_a_refused_connection_elsewhere_is_their_exception(closed_port):
    # Lesson 06's fan-out has a URL nobody listens on, on purpose: not a set-up problem.
    error = mistake(get_json, closed_port + "/")
    assert error.kind == "exception"
    assert "get_json raised ConnectError" in error.hint


def test_another_exception_in_a_check_is_not_hidden():
    @exercise("99", "buggy", hints=("Look.", "Closer."))
    def check(fn):
        """Check that fn is called."""
        return {}["missing"]

    with pytest.raises(KeyError):
        check(plain_def)


# exercise(): registration, ✓ on success, the hint on failure.


def make_check():
    @exercise("99", "double", hint="Multiply by two; do not add.")
    def double(fn):
        """Check that double(x) returns twice x."""
        if call_sync(fn, 21) != 42:
            fail("double(21) should be 42.")

    return double


def test_a_check_registers_with_its_hint():
    make_check()
    assert REGISTRY["99_double"].hint == "Multiply by two; do not add."
    assert REGISTRY["99_double"].lesson == "99"


def test_a_passing_check_prints_a_tick(capsys):
    make_check()(lambda x: 2 * x)
    assert (
        capsys.readouterr().out.strip() == "\x1b[32m✓ [99_double] double(x) returns twice x\x1b[0m"
    )


def test_a_wrong_value_fails_with_the_specific_then_the_general_hint():
    check = make_check()
    with pytest.raises(ExerciseFailed) as caught:
        check(lambda x: x + 2)
    error = caught.value
    assert error.kind == "wrong"
    assert str(error) == "[99_double] double(21) should be 42.\nHint: Multiply by two; do not add."


def make_stepped_check():
    @exercise("99", "triple", hints=("Look at the factor.", "Three, not two."))
    def triple(fn):
        """Check that triple(x) returns three times x."""
        if call_sync(fn, 5) != 15:
            fail("triple(5) should be 15.")

    return triple


def failure_of(check, fn):
    with pytest.raises(ExerciseFailed) as caught:
        check(fn)
    return str(caught.value)


def test_each_wrong_answer_gives_the_next_hint_step_then_the_solution():
    check = make_stepped_check()
    assert failure_of(check, lambda x: 2 * x).endswith("Hint 1/2: Look at the factor.")
    assert failure_of(check, lambda x: 2 * x).endswith("Hint 2/2: Three, not two.")
    last = failure_of(check, lambda x: 2 * x)
    assert last.endswith("Still stuck? The worked answer to triple is in solutions/.")


def test_asking_for_a_hint_goes_one_step_further(capsys):
    check = make_stepped_check()
    failure_of(check, lambda x: x)
    hint("99_triple")
    assert capsys.readouterr().out.strip() == "Hint 2/2: Three, not two."
    hint("99_nothing")
    assert "No exercise '99_nothing'" in capsys.readouterr().out


def test_the_last_step_names_the_lessons_solution_notebook():
    from tutorial.checks import lesson05  # noqa: F401 — registers 05_classify

    assert REGISTRY["05_classify"].solution_pointer().endswith("solutions/05_async_views.ipynb.")


@pytest.mark.parametrize(
    "kind, about, gets_a_step",
    [
        ("wrong", (), True),
        ("shape", (), False),
        ("blocked", (), False),
        ("blocked", ("blocked",), True),
        ("lazy_relation", (), False),
    ],
)
def test_hint_steps_follow_only_failures_about_the_concept(kind, about, gets_a_step):
    @exercise("99", "kinds", hints=("Step one.", "Step two."), about=about)
    def check(fn):
        """Check that fn fails in one way."""
        fail("What is wrong.", kind=kind)

    with pytest.raises(ExerciseFailed) as caught:
        check(plain_def)
    assert ("Hint 1/2: Step one." in str(caught.value)) is gets_a_step


def test_a_learner_mistake_gets_no_general_hint():
    with pytest.raises(ExerciseFailed) as caught:
        make_check()(untouched_sync)
    assert "Hint:" not in str(caught.value)
    assert caught.value.kind == "not_started"


def test_an_async_check_prints_a_tick(capsys):
    @exercise("99", "fetch", hint="Await it.")
    async def check(fn):
        """Check that fetch(x) returns x."""
        if await call_async(fn, 5) != 5:
            fail("fetch(5) should be 5.")

    asyncio.run(check(fetch))
    assert "✓ [99_fetch]" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match="forgotten `await`"):
        asyncio.run(check(forgets_await))


def test_a_check_without_a_claim_is_refused():
    with pytest.raises(ValueError, match="Check that"):

        @exercise("99", "vague", hint="?")
        def vague(fn):
            """Runs fn."""


def test_the_rendered_failure_is_a_red_cross_and_the_hint():
    error = ExerciseFailed("first line\nsecond line", exercise="99_x")
    assert error._render_traceback_() == ["\x1b[31m✗ [99_x] first line\x1b[0m", "second line"]


# In a real kernel: what the learner sees is the hint, not a traceback.

KERNEL_CELLS = [
    """
from types import SimpleNamespace
from tutorial.checks import call_async, call_sync, exercise, fail

@exercise("99", "double", hint="Multiply by two; do not add.")
def double(fn):
    '''Check that double(x) returns twice x.'''
    if call_sync(fn, 21) != 42:
        fail("double(21) should be 42.")

@exercise("99", "fetch", hint="Await it.")
async def fetch(fn):
    '''Check that fetch(x) returns x.'''
    await call_async(fn, 1)

checks = SimpleNamespace(double=double, fetch=fetch)
""",
    "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError",
    "checks.double(double)",
    "def double(x):\n    return x + x + 1",
    "checks.double(double)",
    "async def fetch(x):\n    values = []\n    return values[x]",
    "await checks.fetch(fetch)",
    "def double(x):\n    return x * 2",
    "checks.double(double)",
    """
@exercise("99", "spin", hint="Return.")
async def check_spin(fn):
    '''Check that spin() returns.'''
    await call_async(fn, timeout=0.3)

@exercise("99", "spin_sync", hint="Return.")
def check_spin_sync(fn):
    '''Check that spin_sync() returns.'''
    call_sync(fn, timeout=0.3)
""",
    "async def spin():\n    while True:\n        pass",
    "await check_spin(spin)",
    "def spin_sync():\n    while True:\n        pass",
    "check_spin_sync(spin_sync)",
    "print('the kernel goes on')",
]


@pytest.mark.parametrize(
    "cell, says",
    [
        (2, "✗ [99_double] Not started: double still raises NotImplementedError"),
        (4, "✗ [99_double] double(21) should be 42.\nHint: Multiply by two; do not add."),
        (
            6,
            "✗ [99_fetch] fetch raised IndexError: list index out of range\n"
            "  at line 3 of your cell: return values[x]",
        ),
        (
            11,
            "✗ [99_spin] spin did not return in 0.3 s: an endless loop? It was stopped there\n"
            "  at line 2 of your cell: while True:",
        ),
        (
            13,
            "✗ [99_spin_sync] spin_sync did not return in 0.3 s: an endless loop? It was stopped"
            " there\n  at line 2 of your cell: while True:",
        ),
    ],
)
def test_in_a_kernel_a_failed_check_shows_only_the_hint(kernel_outputs, cell, says):
    error = nbs.error_of(kernel_outputs[cell])
    assert error is not None, "the check cell must fail, so Run All stops and nbval sees it"
    assert error.ename == "ExerciseFailed", error
    shown = "\n".join(error.traceback).replace("\x1b[31m", "").replace("\x1b[0m", "")
    assert shown.startswith(says)
    assert len(shown.splitlines()) <= MAX_HINT_LINES
    assert "Traceback" not in shown and "File " not in shown


def test_in_a_kernel_a_passing_check_prints_the_tick(kernel_outputs):
    cell = kernel_outputs[8]
    assert nbs.error_of(cell) is None
    assert "✓ [99_double] double(x) returns twice x" in nbs.text_of(cell)


def test_in_a_kernel_the_endless_loops_were_stopped_and_the_kernel_goes_on(kernel_outputs):
    assert nbs.text_of(kernel_outputs[14]) == "the kernel goes on\n"


# Short tracebacks in a real kernel: the kernel loads tutorial.tracebacks at start.

TRACEBACK_CELLS = [
    "await checks.fetch_both(fetch_both, site)",  # a kernel restarted: nothing defined yet
    "# raises: SynchronousOnlyOperation\n"
    "from django.utils.asyncio import async_unsafe\n\n\n"
    "@async_unsafe\ndef count():\n    return 0\n\n\n"
    "async def view():\n    return count()\n\n\n"
    "await view()",
    "print(not_defined_yet)",
    "# raises: ConnectError\n"
    "import httpx\n"
    "from tutorial.site import start_site\n\n"
    "site = start_site()\n"
    "site.stop()\n"
    "httpx.get(site.url)",
    "def helper():\n    return not_defined_in_a_def\n\n\nhelper()",
    "%xmode Verbose",
    "await view()",
]


# One kernel runs both lists (a kernel start is ~0.4 s CPU): first the traceback cells up to
# %xmode Verbose, the first of them before anything is defined, then the check cells, then
# %xmode Verbose and its cell, so that no other cell runs in Verbose mode.
VERBOSE = TRACEBACK_CELLS.index("%xmode Verbose")


@pytest.fixture(scope="module")
def one_kernel(tmp_path_factory):
    """The executed cells of TRACEBACK_CELLS and KERNEL_CELLS, run in one fresh kernel."""
    cells = TRACEBACK_CELLS[:VERBOSE] + KERNEL_CELLS + TRACEBACK_CELLS[VERBOSE:]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    return nbs.execute(nb, cwd=tmp_path_factory.mktemp("kernel"), timeout=60).cells


@pytest.fixture
def kernel_outputs(one_kernel):
    """The executed KERNEL_CELLS, by their index in that list."""
    return one_kernel[VERBOSE : VERBOSE + len(KERNEL_CELLS)]


@pytest.fixture
def traceback_outputs(one_kernel):
    """The executed TRACEBACK_CELLS, by their index in that list."""
    return one_kernel[:VERBOSE] + one_kernel[VERBOSE + len(KERNEL_CELLS) :]


def shown(cell):
    error = nbs.error_of(cell)
    assert error is not None, "the cell must still raise: Run All stops, nbval sees it"
    text = "\n".join(error.traceback)
    for code in ("\x1b[31m", "\x1b[0m"):
        text = text.replace(code, "")
    return error, text.splitlines()


def test_in_a_kernel_a_name_from_the_setup_cell_says_to_run_it(traceback_outputs):
    error, lines = shown(traceback_outputs[0])
    assert error.ename == "NameError"
    assert lines == [
        "NameError: name 'checks' is not defined",
        "  at line 1 of your cell: await checks.fetch_both(fetch_both, site)",
        "  Run the set-up cell at the top of this notebook first: `checks` comes from it "
        "(a kernel restart forgets every cell: Run ▸ Run All Above Selected Cell).",
    ]


def test_in_a_kernel_an_intended_exception_is_its_type_message_and_line(traceback_outputs):
    error, lines = shown(traceback_outputs[1])
    assert error.ename == "SynchronousOnlyOperation"  # what conftest's `# raises:` compares
    assert len(lines) <= 8
    assert lines[0] == (
        "SynchronousOnlyOperation: You cannot call this from an async context - use a thread "
        "or sync_to_async."
    )
    assert lines[1] == "  at line 11 of your cell: return count()"
    assert lines[-1].startswith("  (1 frame inside django not shown: %xmode Verbose")


def test_in_a_kernel_an_unknown_name_may_be_a_typo(traceback_outputs):
    _, lines = shown(traceback_outputs[2])
    assert lines[2].startswith("  A typo, or the cell that defines `not_defined_yet` has not run")


def test_in_a_kernel_a_request_to_a_stopped_site_says_what_to_rerun(traceback_outputs):
    error, lines = shown(traceback_outputs[3])
    assert error.ename == "ConnectError" and len(lines) <= 8
    assert lines[1] == "  at line 7 of your cell: httpx.get(site.url)"
    assert any(
        line.startswith("  Nothing answers at http://127.0.0.1:")
        and "Run the set-up cell at the top again" in line
        for line in lines
    ), lines


def test_in_a_kernel_a_name_missing_inside_a_def_is_their_bug_not_the_setup(traceback_outputs):
    error, lines = shown(traceback_outputs[4])
    assert error.ename == "NameError"
    assert not any("Run All Above" in line or "set-up cell" in line for line in lines), lines


def test_in_a_kernel_xmode_verbose_shows_every_frame(traceback_outputs):
    _, lines = shown(traceback_outputs[6])
    assert len(lines) > 8 and any("django/utils/asyncio.py" in line for line in lines)


def test_outside_a_kernel_installing_does_nothing():
    assert tracebacks.install() is False


def test_a_tls_context_being_built_is_not_blamed_on_the_learner():
    """httpx.AsyncClient() loads the CA bundle on the loop (~0.1 s, more when the machine is busy):
    a right answer that makes its own client must not be called a blocked loop for that."""
    import os
    import sys

    from tutorial.checks import learner

    ssl_like = {}
    source = "def build(probe):\n    return probe()\n"
    exec(compile(source, os.path.join(os.path.dirname(os.__file__), "ssl.py"), "exec"), ssl_like)

    def learner_makes_a_client():
        return ssl_like["build"](lambda: learner._learner_line(sys._getframe(1)))

    def learner_sleeps():
        return learner._learner_line(sys._getframe())

    assert learner_makes_a_client() == ""
    assert "learner_sleeps" not in learner_sleeps()  # a line, not a function name
    assert learner_sleeps().startswith("line ")


def test_a_loop_waiting_for_events_is_not_blamed_on_the_script_that_started_it():
    """A busy machine can leave the loop's thread unscheduled while it waits in select: the
    sampler then sees the loop's machinery, and beyond it whoever called asyncio.run() (here,
    this file; in CI, tests/run_check.py) — not code of the learner's that the loop runs."""
    import sys
    import threading

    from tutorial.checks import learner

    waiting, seen = threading.Event(), {}

    async def wait_a_moment():
        waiting.set()
        await asyncio.sleep(0.5)

    def script():
        asyncio.run(wait_a_moment())  # this frame: outside the loop, below it on the stack

    runner = threading.Thread(target=script)
    runner.start()
    waiting.wait(5)
    time.sleep(0.1)  # the loop is back in select by now
    seen["frame"] = sys._current_frames()[runner.ident]
    seen["line"] = learner._learner_line(seen["frame"])
    runner.join()
    assert seen["line"] == "", seen["line"]
