"""The companion site on PostgreSQL: start_site(database="postgres"), its toggles, and the site's
own database tests run again on a real PostgreSQL (they run on SQLite everywhere else)."""

import os
import subprocess
import sys
import time
import uuid

import httpx

from tests.test_site_lifecycle import wait_gone
from tutorial.services import ROOT, RUN_ID_VAR
from tutorial.site import start_site

# The companion site's tests that touch the database (Django TestCase); the rest need none.
# Left out: test_accounts (its time goes to password hashing, its queries are those of items).
DB_TESTS = [
    "test_bad_input.py",
    "test_connections.py",
    "test_executor_orm.py",
    "test_items.py",
    "test_orm.py",
    "test_pages.py",
    "test_signalling_scaling.py",
]

# Lesson 07's slow query is a Python function SQLite calls inside the query: SQLite only.
NOT_ON_POSTGRES = "not GatherQueriesTests"


def test_sites_sharing_a_cluster_get_their_own_migrated_database(postgres):
    with (
        start_site(database="postgres", postgres=postgres) as one,
        start_site(database="postgres", postgres=postgres) as two,
    ):
        assert one.dsn != two.dsn
        assert httpx.post(one.url + "/items/", json={"name": "only in one"}).status_code == 201
        assert httpx.get(one.url + "/items/").json()["count"] == 1
        assert httpx.get(two.url + "/items/").json()["count"] == 0
        database = one.dsn.rsplit("/", 1)[1]
    with postgres.admin_connection() as connection:
        left = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        assert left.fetchone() is None, "stopping the site leaves its database behind"
    assert postgres.running  # a cluster passed in is the caller's: it keeps running


def test_a_site_with_its_own_cluster_takes_it_down_when_it_stops():
    site = start_site(database="postgres")
    cluster = site.postgres
    pids = site.pids() + cluster.pids()
    assert httpx.get(site.url + "/items/").json()["count"] == 0
    site.stop()
    assert wait_gone(pids, 2)
    assert not cluster.workdir.exists()


def test_the_pool_toggle_opens_the_pool_size_it_is_given(postgres):
    env = {"COMPANION_DB_POOL": "1", "COMPANION_DB_POOL_MIN": "3", "COMPANION_DB_POOL_MAX": "3"}
    with start_site(database="postgres", postgres=postgres, env=env) as site:
        httpx.get(site.url + "/items/")
        database = site.dsn.rsplit("/", 1)[1]
        # psycopg_pool opens its minimum in the background: wait for it (bounded), then it must
        # be exactly the size given — never more.
        seen = []
        for _ in range(50):
            seen.append(postgres.count_connections(database))
            if seen[-1] >= 3:
                break
            time.sleep(0.1)
        assert seen[-1] == 3, seen


def test_the_sites_database_tests_pass_on_postgresql(postgres):
    env = {
        **os.environ,
        "COMPANION_DB_URL": postgres.dsn_for("companion"),  # pytest-django makes test_companion
        RUN_ID_VAR: uuid.uuid4().hex,  # its own leftover guard must not judge our cluster
    }
    files = [f"companion_site/demo/tests/{name}" for name in DB_TESTS]
    # Only what Django's tests need: not the ini's addopts (nbval's options, -n 4), nor the
    # plugins for notebooks, workers and anyio (~1 s of CPU to import, for nothing here).
    plain = ["-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:nbval", "-p", "no:xdist"]
    plain += ["-p", "no:anyio"]
    result = subprocess.run(
        # --no-migrations: the test database's tables straight from the models, faster
        [sys.executable, "-m", "pytest", *plain, "-q", "--no-migrations", *files, "-k", NOT_ON_POSTGRES],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]
