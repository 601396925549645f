"""Start and stop the companion site in the background, from a notebook or a test.

    site = start_site()                 # uvicorn, a fresh migrated SQLite file, a free port
    httpx.get(site.url + "/health/")
    site.stop()

or `with start_site("gunicorn") as site: ...`. Servers: uvicorn, daphne, hypercorn, granian
(ASGI) and gunicorn (WSGI, or ASGI through uvicorn-worker with `worker_class="uvicorn"`).
`start_site(database="postgres")` runs it on a fresh database of a private PostgreSQL cluster
(`tutorial.postgres`); pass `postgres=start_postgres()` to let several sites share one cluster.

No orphans: the server runs through `tutorial.services`, whose supervisor takes its whole process
tree down and removes its temp folder when its stdin pipe from this process closes — on stop(),
at exit, on kernel restart and when the kernel is killed with SIGKILL.

Fast starts: the migrations run once per checkout into a template (a SQLite file under .cache/,
a template database per PostgreSQL cluster) and each start gets a copy. uvicorn with one worker
is forked from a process with Django imported already (tutorial/preload.py), so it imports only
the site's own settings, apps and views: ~0.15 s to the first answer instead of ~0.5 s.
`fresh=True` (or TUTORIAL_PRELOAD=0) starts a new interpreter instead, as production does.
"""

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from tutorial.services import (
    ROOT,
    Service,
    ServiceFailedToStart,
    _running,  # noqa: F401 (the checks look for sites a learner left running)
    listening_socket,
    make_workdir,
    start_service,
    warm_up_preload,
)

SITE_DIR = ROOT / "companion_site"
CACHE_DIR = ROOT / ".cache"
SERVERS = ("uvicorn", "daphne", "hypercorn", "granian", "gunicorn")
DATABASES = ("sqlite", "postgres")
# "0": every start is a new interpreter, as with fresh=True (the benchmarks' records are).
PRELOAD_VAR = "TUTORIAL_PRELOAD"
# The site connects as an ordinary role, as in production: PostgreSQL keeps the last few
# connection slots for superusers, so a leaking site cannot lock out the lesson's counting.
SITE_ROLE = "companion"


class SiteFailedToStart(ServiceFailedToStart):
    """The server exited or did not answer its health URL in time; the message holds its log tail."""


def _server_command(server, fd, port, *, app, workers, threads, worker_class, access_log):
    python = [sys.executable, "-m"]
    if server == "uvicorn":
        # tutorial.uvicorn_fd: uvicorn's CLI, but with TCP_NODELAY on (+40 ms per request without).
        cmd = python + ["tutorial.uvicorn_fd", app or "config.asgi:application", "--fd", str(fd)]
        cmd += ["--workers", str(workers)] if workers > 1 else []
        return cmd + ([] if access_log else ["--no-access-log"])
    if server == "daphne":
        cmd = python + ["daphne", "--fd", str(fd), app or "config.asgi:application"]
        return cmd + ([] if access_log else ["--access-log", os.devnull])
    if server == "hypercorn":
        cmd = python + ["hypercorn", "--bind", f"fd://{fd}", "--workers", str(workers)]
        return (
            cmd
            + (["--access-logfile", "-"] if access_log else [])
            + [app or "config.asgi:application"]
        )
    if server == "granian":
        # granian cannot adopt a socket: it binds the port we just released (a tiny race window).
        cmd = python + [
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        cmd += ["--workers", str(workers)] + (["--access-log"] if access_log else [])
        return cmd + [app or "config.asgi:application"]
    if server == "gunicorn":
        asgi = worker_class == "uvicorn"
        cmd = python + ["gunicorn", "--bind", f"fd://{fd}", "--workers", str(workers)]
        # newer gunicorns open a control socket at one fixed path: two sites would fight over it.
        cmd += ["--no-control-socket"] if _gunicorn_has_control_socket() else []
        cmd += ["--worker-class", "uvicorn_worker.UvicornWorker" if asgi else worker_class]
        cmd += ["--threads", str(threads)] if threads else []
        cmd += ["--access-logfile", "-"] if access_log else []
        return cmd + [app or ("config.asgi:application" if asgi else "config.wsgi:application")]
    raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")


def _gunicorn_has_control_socket():
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


class Site(Service):
    """A running companion site: `.url`, `.logs()`, `.pids()`, `.stop()`; a context manager too.

    `.database` is "sqlite" (then `.db_path` is its file) or "postgres" (then `.dsn` is its
    database and `.postgres` the cluster: stopping the site drops that database, and stops the
    cluster too when start_site() started it).
    """

    server = database = db_path = dsn = postgres = None
    _own_postgres = False

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<Site {self.server} {self.url} {self.database} {state}>"

    def browser_url(self, path="/"):
        """`path` on this site as your browser reaches it: through Jupyter's proxy when it has one."""
        from tutorial.links import browser_url  # why and how: tutorial/links.py

        return browser_url(self.url, path)

    def stop(self, timeout=5.0):
        """Stop the server and its workers, then remove this run's files (and database)."""
        super().stop(timeout)
        postgres, self.postgres = self.postgres, None
        if postgres is None:
            return
        if self._own_postgres:
            postgres.stop()
        elif postgres.running:
            postgres.drop_database(self.dsn.rsplit("/", 1)[1])


def start_site(
    server="uvicorn",
    *,
    workers=1,
    threads=None,
    worker_class="sync",
    app=None,
    env=None,
    db=None,
    database="sqlite",
    postgres=None,
    access_log=False,
    health_path="/health/",
    timeout=15.0,
    fresh=False,
):
    """Start the companion site with `server` on a free 127.0.0.1 port and wait until it answers.

    server:       "uvicorn", "daphne", "hypercorn", "granian" or "gunicorn"
    workers:      server processes (gunicorn, uvicorn, hypercorn, granian)
    threads:      gunicorn threads per worker (with worker_class="gthread")
    worker_class: gunicorn only: "sync", "gthread", or "uvicorn" (ASGI via uvicorn-worker)
    app:          "module:attribute" to serve instead of the companion site's own
    env:          extra environment variables, e.g. {"COMPANION_SYNC_MIDDLEWARE": "1"}
    db:           path of the SQLite file; default: a fresh one in a temporary folder
    database:     "sqlite" (default) or "postgres": a fresh, migrated database of `postgres`,
                  a cluster from tutorial.postgres.start_postgres() (default: one of its own)
    fresh:        True: a new interpreter imports Django, as in production. Default: uvicorn
                  with one worker is a fork of a process that has imported it already (a
                  quicker start; the fork shares those pages, so measure memory with fresh=True)
    Raises SiteFailedToStart, with the server's last log lines, if it does not come up.
    """
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")
    if database not in DATABASES:
        raise ValueError(f"unknown database {database!r}; choose one of {', '.join(DATABASES)}")
    if postgres is not None and database != "postgres":
        raise ValueError('postgres= is for database="postgres"')
    own_postgres = database == "postgres" and postgres is None
    if own_postgres:
        from tutorial.postgres import start_postgres

        postgres = start_postgres()
    workdir = make_workdir(f"site-{server}")
    try:
        db_env, db_path, dsn = _fresh_database(database, db, workdir, postgres, migrate=not app)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        if own_postgres:
            postgres.stop()
        raise
    sock = listening_socket()
    port = sock.getsockname()[1]
    fd = sock.fileno()
    if server == "granian":
        sock.close()  # granian cannot adopt a socket: it binds the port we just released
    command = _server_command(
        server, fd, port, app=app, workers=workers, threads=threads,
        worker_class=worker_class, access_log=access_log,
    )  # fmt: skip
    child_env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(SITE_DIR), str(ROOT), os.environ.get("PYTHONPATH")])
        ),
        **db_env,
        **(env or {}),
    }
    site = None

    # One for every poll, without a certificate store (~30 ms of CPU to load; plain HTTP here).
    client = httpx.Client(timeout=2.0, verify=False)

    def answers(site):
        return _answers(client, site, health_path)

    def attach(name, process, workdir, log, url=None):
        nonlocal site
        site = Site(name, process, workdir, log, url=url)
        site.server, site.database, site.db_path, site.dsn = server, database, db_path, dsn
        site.postgres, site._own_postgres = postgres, own_postgres
        return site

    try:
        return start_service(
            server,
            command,
            workdir=workdir,
            ready=answers,
            env=child_env,
            cwd=SITE_DIR,
            fd=None if server == "granian" else fd,
            url=f"http://127.0.0.1:{port}",
            timeout=timeout,
            handle=attach,
            error=SiteFailedToStart,
            preload=not fresh and _can_preload(server, workers, env),
        )
    except BaseException:
        if site is None:  # the supervisor never started: nothing else cleans these up
            shutil.rmtree(workdir, ignore_errors=True)
            if own_postgres:
                postgres.stop()
        raise
    finally:
        client.close()
        if server != "granian":
            sock.close()  # the child holds it now


def _can_preload(server, workers, env):
    """Fork one uvicorn process from a process with Django imported (tutorial/preload.py: ~0.35 s
    of CPU less per start)? Not where TUTORIAL_PRELOAD=0, not for uvicorn's own multiprocess
    supervisor, not with a PYTHON* variable: the interpreter reads those as it starts."""
    if os.environ.get(PRELOAD_VAR) == "0":
        return False
    startup_vars = [
        name for name in env or {} if name.startswith("PYTHON") and name != "PYTHONPATH"
    ]
    return server == "uvicorn" and workers == 1 and not startup_vars


def _answers(client, site, health_path):
    try:
        response = client.get(site.url + health_path)
    except httpx.TransportError:
        return False
    if response.status_code >= 500:  # it runs but is broken: waiting will not help
        raise SiteFailedToStart(
            site.failure(f"answered {health_path} with HTTP {response.status_code}")
        )
    return response.status_code == 200


def _fresh_database(database, db, workdir, postgres, *, migrate):
    """(environment for the site, SQLite path or None, PostgreSQL DSN or None) of a new database."""
    if database == "postgres":
        name = f"site_{secrets.token_hex(6)}"
        postgres.create_role(SITE_ROLE)
        template = _postgres_template(postgres) if migrate else None
        postgres.create_database(name, template=template, owner=SITE_ROLE)
        dsn = postgres.dsn_for(name, user=SITE_ROLE)
        markers = workdir / "companion-markers"  # no SQLite file for them to go beside
        return {"COMPANION_DB_URL": dsn, "COMPANION_MARKER_DIR": str(markers)}, None, dsn
    db_path = Path(db) if db else workdir / "db.sqlite3"
    if migrate and db_path.exists():
        _migrate({"COMPANION_DB": str(db_path)})  # someone's own database: bring it up to date
    elif migrate:
        shutil.copyfile(_sqlite_template(), db_path)
    return {"COMPANION_DB": str(db_path)}, db_path, None


def _schema_key():
    """Changes when the tables could: Django's version, the settings, any migration file."""
    import django

    digest = hashlib.sha256(django.get_version().encode())
    files = [SITE_DIR / "config" / "settings.py", *sorted(SITE_DIR.glob("*/migrations/*.py"))]
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sqlite_template():
    """A migrated SQLite file for this checkout's schema, made once and copied per start."""
    template = CACHE_DIR / f"companion-template-{_schema_key()}.sqlite3"
    if not template.exists():
        CACHE_DIR.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as folder:
            fresh = Path(folder) / "db.sqlite3"
            _migrate({"COMPANION_DB": str(fresh)})
            os.replace(fresh, template)  # atomic: a concurrent start sees all of it or nothing
        for old in CACHE_DIR.glob("companion-template-*.sqlite3"):
            if old != template:
                old.unlink(missing_ok=True)
    return template


def _postgres_template(postgres):
    """A migrated template database in `postgres`, made once per cluster and cloned per site."""
    name = f"companion_template_{_schema_key()}"
    with postgres.admin_connection() as connection:
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))  # one migrator
        try:
            done = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s AND datistemplate", (name,)
            ).fetchone()
            if not done:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
                connection.execute(f'CREATE DATABASE "{name}" OWNER "{SITE_ROLE}"')
                _load_schema(postgres, name)
                connection.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true')
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return name


def _load_schema(postgres, name):
    """Migrate database `name`: from this checkout's cached schema dump when there is one (a
    few SQL statements, ~50 ms), else with `manage.py migrate` (~1.5 s), dumped for next time."""
    dump = CACHE_DIR / f"companion-schema-{_schema_key()}-pg{_version_key(postgres)}.sql"
    if dump.exists():
        # pg_dump's plain SQL, minus psql's own commands (lines starting with a backslash).
        sql = "\n".join(line for line in dump.read_text().splitlines() if not line.startswith("\\"))
        with postgres.connect(name, user=SITE_ROLE, autocommit=True) as connection:
            connection.execute(sql)
        return
    _migrate({"COMPANION_DB_URL": postgres.dsn_for(name, user=SITE_ROLE)})
    command = [str(postgres.bin_dir / "pg_dump"), "--inserts", "--no-owner", "--no-privileges"]
    result = subprocess.run(
        [*command, postgres.dsn_for(name, user=SITE_ROLE)], capture_output=True, text=True
    )
    if result.returncode == 0:  # without a dump, the next cluster migrates again: slower, fine
        CACHE_DIR.mkdir(exist_ok=True)
        fresh = dump.with_suffix(f".{os.getpid()}.tmp")
        fresh.write_text(result.stdout)
        os.replace(fresh, dump)


def _version_key(postgres):
    with postgres.admin_connection() as connection:
        return connection.execute("SHOW server_version_num").fetchone()[0]


def _migrate(db_env):
    """Run the companion site's migrations in a child (this process may be a notebook)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE_DIR), str(ROOT)])),
        **db_env,
    }
    env.pop("COMPANION_DB" if "COMPANION_DB_URL" in db_env else "COMPANION_DB_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=SITE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if result.returncode:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise SiteFailedToStart(f"migrating the companion site's database failed:\n{tail}")


def _in_a_jupyter_kernel():
    kernel = sys.modules.get("ipykernel.kernelapp")
    return kernel is not None and kernel.IPKernelApp.initialized()


# A lesson's set-up cell imports this module, then starts the site: in a kernel the preload
# server starts booting now, alongside the cell's other imports (~0.5 s to the first answer of
# the kernel's first site without it, ~0.1 s with it).
if _in_a_jupyter_kernel() and _can_preload("uvicorn", 1, None):
    warm_up_preload()
