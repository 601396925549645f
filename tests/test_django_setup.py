"""setup_django(): the one way a notebook configures Django in-process, on a migrated file DB.

Each behaviour that needs a fresh interpreter (settings are configured once per process) runs
in a subprocess; pytest-django has already configured this one.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tutorial import django_setup
from tutorial.django_setup import setup_django

ROOT = Path(__file__).resolve().parent.parent


def run_python(code):
    """Run `code` in a fresh interpreter without Django settings; return its last line as JSON."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "COMPANION_DB")
    }
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=env, cwd=ROOT / "tests", timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


TABLES = """
    def tables():
        from django.db import connection
        return sorted(connection.introspection.table_names())
"""


@pytest.fixture(scope="module")
def fresh():
    """One fresh interpreter, as a notebook uses it: the first call inside a running event loop
    (it creates and migrates in a thread: the ORM refuses sync work on a loop's thread), the ORM
    used from async code, then two more calls."""
    return run_python(
        TABLES
        + """
    import asyncio, json, os, sys
    from tutorial.django_setup import SITE_DIR, setup_django

    async def main():
        db = setup_django()
        from demo.models import Item
        await Item.objects.acreate(name="teapot")
        return db, await Item.objects.acount()

    db, count = asyncio.run(main())
    print(json.dumps({"db": str(db), "exists": db.is_file(), "tables": tables(), "count": count,
                      "settings": os.environ["DJANGO_SETTINGS_MODULE"],
                      "env_db": os.environ["COMPANION_DB"], "site_on_path": str(SITE_DIR) in sys.path,
                      "again": [str(setup_django()), str(setup_django(db))]}))
    """
    )


def test_creates_a_migrated_sqlite_file_in_a_temp_folder_and_returns_its_path(fresh):
    assert fresh["exists"] and fresh["db"].endswith(".sqlite3")
    assert "demo_item" in fresh["tables"] and "demo_category" in fresh["tables"]
    assert fresh["settings"] == "config.settings" and fresh["env_db"] == fresh["db"]
    assert fresh["site_on_path"]
    assert not Path(fresh["db"]).parent.exists(), "the temporary folder outlived the process"


def test_a_second_call_returns_the_same_database(fresh):
    assert fresh["again"] == [fresh["db"], fresh["db"]]


def test_works_inside_a_running_event_loop_like_a_notebook(fresh):
    assert fresh["count"] == 1


def test_uses_the_file_it_is_given_and_refuses_another_after_it(tmp_path):
    db = tmp_path / "mine.sqlite3"
    result = run_python(
        TABLES
        + f"""
    import json
    from tutorial.django_setup import setup_django
    given = setup_django({str(db)!r})
    try:
        setup_django("/tmp/another.sqlite3")
    except RuntimeError as error:
        refused = str(error)
    print(json.dumps([str(given), tables(), refused]))
    """
    )
    assert result[0] == str(db) and db.is_file()
    assert "demo_item" in result[1]
    assert "only once per process" in result[2]


def test_settings_configured_for_another_project_are_refused():
    result = run_python(
        """
    import json, os, sys
    from tutorial.django_setup import SITE_DIR, setup_django
    sys.path.insert(0, str(SITE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_production"
    os.environ["DJANGO_SECRET_KEY"] = "x" * 60
    from django.conf import settings
    settings.INSTALLED_APPS  # configures them
    try:
        setup_django()
    except RuntimeError as error:
        print(json.dumps(str(error)))
    """
    )
    assert "before setup_django()" in result


@pytest.mark.parametrize("memory", [":memory:", "file:memorydb?mode=memory&cache=shared"])
def test_an_in_memory_database_is_refused(memory):
    with pytest.raises(ValueError, match="one connection per thread"):
        setup_django(memory)


@pytest.mark.django_db
def test_under_a_test_runner_it_uses_the_runners_database():
    from django.conf import settings

    assert django_setup._db_path is None
    assert setup_django() == Path(settings.DATABASES["default"]["NAME"])
    assert django_setup._db_path is None  # nothing of ours to remember
