"""Run the companion site under `manage.py runserver`, the way most Django tutorials start a site.

    dev = start_runserver()              # Django's development server: threaded WSGI
    dev = start_runserver(daphne=True)   # "daphne" first in INSTALLED_APPS: daphne's runserver, ASGI
    dev.stop()

It returns the same handle as `tutorial.site.start_site()` (`.url`, `.logs()`, `.stop()`) and runs
under the same supervisor, so the server dies with this kernel, a kill -9 included. runserver
cannot adopt a socket, so it binds a free port we just released (a tiny race window).
"""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from . import site as _site

# daphne's app must come before django.contrib.staticfiles and the others: the first app that
# provides a `runserver` command wins.
_DAPHNE_SETTINGS = (
    "from config.settings import *  # noqa: F403\n"
    'INSTALLED_APPS = ["daphne", *INSTALLED_APPS]  # noqa: F405\n'
)


def _free_port():
    sock = _site._listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def start_runserver(*, daphne=False, timeout=20.0):
    """Start `manage.py runserver --noreload` on a free 127.0.0.1 port; wait until it answers.

    daphne=True puts "daphne" first in INSTALLED_APPS (in a settings module of this run's own),
    which replaces Django's runserver command with daphne's ASGI one.
    """
    workdir = Path(tempfile.mkdtemp(prefix="companion-runserver-"))
    db_path, log_path = workdir / "db.sqlite3", workdir / "server.log"
    settings = "config.settings"
    if daphne:
        (workdir / "runserver_settings.py").write_text(_DAPHNE_SETTINGS)
        settings = "runserver_settings"
    port = _free_port()
    manage = [sys.executable, str(_site.SITE_DIR / "manage.py"), "runserver", "--noreload"]
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": settings,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "COMPANION_DB": str(db_path),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(workdir), str(_site.SITE_DIR), str(_site.ROOT)])
        ),
    }
    supervisor = [sys.executable, "-m", "tutorial.serve", "--site-dir", str(_site.SITE_DIR)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*supervisor, "--", *manage, f"127.0.0.1:{port}"],
            stdin=subprocess.PIPE,  # the supervisor's lifeline: EOF takes the server down
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=_site.ROOT,
            env=env,
            start_new_session=True,
        )
    name = "runserver (daphne)" if daphne else "runserver"
    handle = _site.Site(name, f"http://127.0.0.1:{port}", process, log_path, workdir, db_path)
    _site._running.add(handle)
    try:
        _site._wait_until_healthy(handle, "/health/", timeout)
    except BaseException:
        handle.stop()
        raise
    return handle
