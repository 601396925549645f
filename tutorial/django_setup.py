"""Configure the companion site's Django inside this process, for the lessons about the ORM.

    db = setup_django()          # a fresh, migrated SQLite file; returns its path
    from demo.models import Item
    await Item.objects.acount()

Every other lesson talks to the site over HTTP; lessons 07 and 11 use Django in the notebook on
purpose. Settings can be configured only once per process, so setup_django() is idempotent: call
it again and you get the same database back; ask for a different one and it says why it cannot.
"""

import os
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = ROOT / "companion_site"
SETTINGS = "config.settings"

_db_path = None


def setup_django(db=None):
    """Point Django at the companion site's settings and a migrated SQLite file; return its path.

    db: path of the SQLite file to use; default: a fresh one in a temporary folder, removed
        when Python exits. Never `:memory:`: an in-memory database belongs to one connection,
        and Django opens one connection per thread, so other threads would see an empty one.
    Safe to call from a notebook (a running event loop): the migration runs in a thread.
    """
    global _db_path
    if db is not None and (str(db).strip() == ":memory:" or "mode=memory" in str(db)):
        raise ValueError(
            "setup_django() needs a file: a ':memory:' SQLite database belongs to one connection, "
            "and Django opens one connection per thread (each a-method runs in another thread)."
        )
    wanted = Path(db).resolve() if db is not None else None
    if _db_path is not None:
        if wanted is not None and wanted != _db_path:
            raise RuntimeError(
                f"Django is already set up in this process with {_db_path}; settings can be "
                "configured only once per process. Restart the kernel to use another database."
            )
        return _db_path
    from django.conf import settings

    if settings.configured:
        return _configured_elsewhere(settings, wanted)
    path = wanted or _fresh_database()
    if str(SITE_DIR) not in sys.path:
        sys.path.insert(0, str(SITE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["COMPANION_DB"] = str(path)

    import django

    django.setup()
    _bring_up_to_date(path)
    _db_path = path
    return path


def _bring_up_to_date(path):
    """Migrate the database, unless it is a new SQLite file: that becomes a copy of the migrated
    template start_site() copies too (half the CPU of migrating, in every kernel calling this).
    An existing file may hold someone's data: it is migrated, never replaced."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    new_sqlite_file = database["ENGINE"].endswith("sqlite3") and not path.exists()
    if new_sqlite_file and Path(database["NAME"]) == path:
        from tutorial.site import _sqlite_template  # made once per checkout, under .cache/

        shutil.copyfile(_sqlite_template(), path)
    else:
        _run_in_a_thread(_migrate)


def _configured_elsewhere(settings, wanted):
    """Django was set up before us: fine if by a test runner for the same settings (pytest-django,
    manage.py test), which then owns the database and its migrations; an error otherwise."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    name = Path(settings.DATABASES["default"]["NAME"])
    if module != SETTINGS or (wanted is not None and wanted != name):
        raise RuntimeError(
            f"Django's settings were configured in this process before setup_django() "
            f"(DJANGO_SETTINGS_MODULE={module!r}, database {name}). "
            "Restart the kernel and call setup_django() first."
        )
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    return name


_keeper = None  # holds the folder of the fresh database: it goes when this process does


def _fresh_database():
    # Not mkdtemp + atexit: a kernel killed with SIGKILL runs no atexit, and left these behind.
    global _keeper
    from tutorial.services import owned_folder

    _keeper = owned_folder("notebook-db")
    return _keeper.workdir / "db.sqlite3"


def _migrate():
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", interactive=False, verbosity=0)
    finally:
        connections.close_all()  # this thread's connection; it ends with the thread


def _run_in_a_thread(work):
    """Run sync ORM work where no event loop runs (a notebook's thread has one); re-raise errors."""
    errors = []

    def target():
        try:
            work()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, name="setup_django")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
