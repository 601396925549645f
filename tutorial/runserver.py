"""Run the companion site under `manage.py runserver`, the way most Django tutorials start a site.

    dev = start_runserver()              # Django's development server: threaded WSGI
    dev = start_runserver(daphne=True)   # "daphne" first in INSTALLED_APPS: daphne's runserver, ASGI
    dev.stop()

It returns the same handle as `tutorial.site.start_site()` (`.url`, `.logs()`, `.stop()`) and runs
under the same supervisor (`tutorial.services`), so the server dies with this kernel, a kill -9
included. runserver cannot adopt a socket, so it binds a free port we just released (a tiny race).
"""

import os
import secrets
import shutil
import sys

import httpx

from . import site as _site
from .services import free_port, make_workdir, start_service
from .tls import shared_context

# daphne's app must come before the others: the first app that provides `runserver` wins.
_DAPHNE_SETTINGS = (
    "from config.settings import *  # noqa: F403\n"
    'INSTALLED_APPS = ["daphne", *INSTALLED_APPS]  # noqa: F405\n'
)


def start_runserver(*, daphne=False, timeout=20.0):
    """Start `manage.py runserver --noreload` on a free 127.0.0.1 port; wait until it answers.

    daphne=True puts "daphne" first in INSTALLED_APPS (in a settings module of this run's own),
    which replaces Django's runserver command with daphne's ASGI one.
    """
    name = "runserver-daphne" if daphne else "runserver"
    workdir = make_workdir(f"site-{name}")
    try:
        db_env, db_path, _ = _site._fresh_database("sqlite", None, workdir, None, migrate=True)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    settings = "config.settings"
    if daphne:
        (workdir / "runserver_settings.py").write_text(_DAPHNE_SETTINGS)
        settings = "runserver_settings"
    port = free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": settings,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PYTHONPATH": os.pathsep.join(map(str, [workdir, _site.SITE_DIR, _site.ROOT])),
        **db_env,
    }

    def attach(service_name, process, workdir, log, url=None):
        handle = _site.Site(service_name, process, workdir, log, url=url)
        handle.server, handle.database, handle.db_path = name, "sqlite", db_path
        return handle

    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    client = httpx.Client(timeout=2.0, verify=shared_context())

    def answers(handle):
        try:
            response = client.get(handle.url + "/health/")
        except httpx.TransportError:
            return False
        if response.status_code >= 500:  # it runs but is broken: waiting will not help
            raise _site.SiteFailedToStart(
                handle.failure(f"answered /health/ with {response.status_code}")
            )
        return response.status_code == 200

    try:
        return start_service(
            name,
            command,
            workdir=workdir,
            ready=answers,
            env=env,
            cwd=_site.SITE_DIR,
            url=f"http://127.0.0.1:{port}",
            timeout=timeout,
            handle=attach,
            error=_site.SiteFailedToStart,
        )
    finally:
        client.close()
