"""Lesson 13's checks on a real PostgreSQL: the worked answers pass; the untouched exercise, the
learner's mistakes and a shortcut per check (a guessed letter, an oversized pool, a Python lock)
fail with the hint that names them."""

import asyncio

import pytest

from tests import answers13 as answers
from tests.child_results import results_of_child
from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson13 as checks
from tutorial.site import start_site


def failure(check, answer, postgres):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer, postgres))
    return caught.value


def test_counting_after_each_endpoint_finds_the_leak(postgres, capsys):
    asyncio.run(checks.find_leak(answers.find_leak, postgres))
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "kind", "phrase"),
    [
        (answers.find_leak_untouched, "not_started", "Not started"),
        (answers.always_b, "wrong", "counting the connections 0 time(s)"),  # a typed-in letter
        (answers.least_growth, "wrong", "does not leak"),  # measured, read backwards
        # The right letter, by a guess (or by timing: only the plain endpoint is slower), with
        # two counts for show: counts that never changed saw no leak.
        (answers.counts_before_any_call_then_a_lucky_guess, "wrong", "never showed in them"),
        # The shortcut of reading the shuffle's seed from the server's environment: the check
        # hands find_leak the site's address, database and cluster, not its process.
        (answers.seed_from_the_sites_environment, "exception", "AttributeError"),
        # ... nor from any process's environment: the site reads its seed from a file it
        # removes as it starts, so the exec'ed supervisor's /proc/PID/environ holds no seed.
        (answers.seed_from_any_processs_environment, "exception", "FileNotFoundError"),
    ],
)
def test_wrong_leak_answers_fail_with_a_hint(postgres, answer, kind, phrase):
    error = failure(checks.find_leak, answer, postgres)
    assert error.kind == kind
    assert phrase in error.hint


def test_the_untouched_or_sync_find_leak_fails_before_any_site_starts(postgres, monkeypatch):
    started = []
    monkeypatch.setattr(checks, "start_site", lambda *args, **kwargs: started.append(kwargs))

    def find_leak_sync(site):  # `def` where the exercise needs `async def`
        return "a"

    assert failure(checks.find_leak, answers.find_leak_untouched, postgres).kind == "not_started"
    assert failure(checks.find_leak, find_leak_sync, postgres).kind == "not_async"
    assert started == []


def test_the_check_knows_the_sites_shuffle():
    # The check reads the leaky letter from the seed, as the site shuffles: both must agree.
    letters = {checks.leaky_letter(str(seed)) for seed in range(30)}
    assert letters == set(checks.MYSTERIES)


def test_a_pool_sized_by_the_rule_passes(postgres, capsys):
    asyncio.run(checks.pool_size(answers.pool_size, postgres))
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (answers.pool_size_per_share, "some would wait"),
        (answers.pool_size_default, "some would wait"),  # psycopg's default of 4
        (answers.pool_size_huge, "more than max_connections"),  # the shortcut: never too small
        (answers.pool_size_never_raises, "raise ValueError"),
    ],
)
def test_wrong_pool_sizes_fail_with_a_hint(postgres, answer, phrase):
    error = failure(checks.pool_size, answer, postgres)
    assert error.kind == "wrong"
    assert phrase in error.hint


def test_the_untouched_pool_exercise_is_not_started(postgres):
    def untouched(in_flight, processes, max_connections, headroom):
        raise NotImplementedError

    assert failure(checks.pool_size, untouched, postgres).kind == "not_started"


# The ticket check needs Django configured on PostgreSQL in-process, as the exercise notebook
# does; this test process has pytest-django's SQLite settings, so the answers run in a child, on
# a migrated database of this process's cluster (a site's, as in the notebook).
TICKET_CHILD = """
    import asyncio, json, os, types
    import psycopg
    from tutorial.postgres import HELPER_NAME
    from tutorial.checks import ExerciseFailed, lesson13 as checks
    from tests import answers13 as answers

    def admin_connection():  # what the check asks of the cluster: a connection it does not count
        return psycopg.connect(
            {admin!r}, autocommit=True, application_name=HELPER_NAME, connect_timeout=5
        )

    async def main():
        os.environ["COMPANION_DB_URL"] = {dsn!r}
        from tutorial.django_setup import setup_django
        await asyncio.to_thread(setup_django)
        pg = types.SimpleNamespace(admin_connection=admin_connection)
        results = {{}}
        for name in {names!r}:
            try:
                await checks.fix_ticket_race(getattr(answers, name), pg)
                results[name] = ["passed", ""]
            except ExerciseFailed as error:
                results[name] = [error.kind, error.hint]
        print("RESULTS " + json.dumps(results), flush=True)

    asyncio.run(main())
"""

TICKET_ANSWERS = {
    "issue_ticket_locked": ("passed", ""),
    "issue_ticket_racy": ("wrong", "distinct numbers"),
    "issue_ticket_python_lock": ("wrong", "kept apart in Python"),  # the shortcut
    "issue_ticket_lock_outside_atomic": ("exception", "TransactionManagementError"),
    "issue_ticket_async": ("not_sync", "plain `def`"),
}


@pytest.fixture(scope="module")
def ticket_results(postgres):
    with start_site(database="postgres", postgres=postgres) as site:
        child = TICKET_CHILD.format(dsn=site.dsn, admin=postgres.dsn, names=list(TICKET_ANSWERS))
        return results_of_child(child)


@pytest.mark.parametrize("name", list(TICKET_ANSWERS))
def test_ticket_answers_are_judged_on_the_real_database(ticket_results, name):
    kind, phrase = TICKET_ANSWERS[name]
    assert ticket_results[name][0] == kind, ticket_results[name]
    assert phrase in ticket_results[name][1]
