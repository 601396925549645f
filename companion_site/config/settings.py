"""Settings for the companion site: a small, real Django 6.1 project served over ASGI or WSGI.

Everything a lesson may change comes from the environment, so `tutorial.site.start_site()` can
start several differently configured copies side by side without editing files:

- COMPANION_DB               path of the SQLite file (each start_site() gets its own, migrated)
- DJANGO_SECRET_KEY          generated per start by start_site(); a random one per process otherwise
- DJANGO_DEBUG=1             debug pages (off by default: learners should see what production sees)
- COMPANION_SYNC_MIDDLEWARE=1  add one sync-only middleware (lesson 09: what mixing costs)
- COMPANION_LEAN_MIDDLEWARE=1  only the async-capable timing middleware, none of Django's
                               built-in ones (lesson 15: what their thread hops cost under ASGI)
- COMPANION_NATIVE_MIDDLEWARE=1  the same protections, each Django middleware replaced by its
                               async-native twin in demo/middleware_native.py (lesson 15)
- COMPANION_REUSE_THREADS=1    ASGI requests borrow a thread instead of starting two
                               (config/reused_threads.py; lesson 15)
- COMPANION_LOG_LEVEL        level of the `django.request` and `demo` loggers (default INFO)
- COMPANION_SQLITE_NAIVE=1    SQLite without the options below (deferred transactions, rollback
                               journal) and timeout 0: lesson 07's "database is locked"
- COMPANION_CONN_MAX_AGE       seconds to keep a DB connection between requests (default 0; lessons
                               12, 13: under ASGI on PostgreSQL anything above 0 leaks connections)
- COMPANION_DB_URL             postgresql://user@host:port/name: PostgreSQL instead of SQLite
                               (start_site(database="postgres") sets it; lesson 13)
- COMPANION_ATOMIC_REQUESTS=1  ATOMIC_REQUESTS on (lesson 13: async views refuse it)
- COMPANION_CONN_SEED_FILE     a file holding the seed that fixes which /conn/mystery/ endpoint
                               leaks (shuffled per start); the site removes it once read
- COMPANION_DB_POOL=1          psycopg's connection pool ("OPTIONS": {"pool": ...}), sized by
                               COMPANION_DB_POOL_MIN / _MAX and waiting COMPANION_DB_POOL_TIMEOUT
                               seconds for a free connection (psycopg_pool's defaults: 4, 4, 30)
- COMPANION_TASKS_BACKEND      django.tasks backend: "immediate" (default) or "dummy" (lesson 10)
- COMPANION_CHANNEL_LAYER    where consumers' group messages travel: "memory" (default, one
                               process only) or "postgres" (across processes; lesson 14)
- COMPANION_MARKER_DIR         where background-work demos write marker files (default: beside the
                               DB file, or a temp folder without COMPANION_DB) (lesson 10)
"""

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _flag(name):
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}


def _postgres_database(url):
    """DATABASES["default"] for postgresql://user[:password]@host:port/name (lesson 13)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"} or not parts.path.strip("/"):
        raise ImproperlyConfigured(
            f"COMPANION_DB_URL must be postgresql://user@host:port/name, not {url!r}"
        )
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.strip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": {},
    }
    if _flag("COMPANION_DB_POOL"):
        # psycopg_pool's own defaults (min_size 4, max_size = min_size, timeout 30 s) unless set.
        sizes = {"min_size": "COMPANION_DB_POOL_MIN", "max_size": "COMPANION_DB_POOL_MAX"}
        pool = {key: int(os.environ[var]) for key, var in sizes.items() if os.environ.get(var)}
        if "max_size" in pool:  # a pool smaller than psycopg's default minimum of 4
            pool.setdefault("min_size", min(4, pool["max_size"]))
        if os.environ.get("COMPANION_DB_POOL_TIMEOUT"):
            pool["timeout"] = float(os.environ["COMPANION_DB_POOL_TIMEOUT"])
        database["OPTIONS"]["pool"] = pool or True
    return database


# Never committed: start_site() passes one per run; a bare `manage.py` gets a throwaway one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = _flag("DJANGO_DEBUG")
# The site only ever listens on the loopback interface. Through jupyter-server-proxy a request
# keeps the Host its browser sent (a hub's name, *.app.github.dev): COMPANION_ALLOWED_HOSTS,
# comma-separated, names those (tutorial/links.py; set by the hub, Binder and Codespaces files).
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"] + [
    host.strip()
    for host in os.environ.get("COMPANION_ALLOWED_HOSTS", "").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "demo.middleware.RequestTimingMiddleware",
    "demo.inflight.InFlightMiddleware",
]
if _flag("COMPANION_LEAN_MIDDLEWARE"):
    # Lesson 15: Django's built-in middleware are MiddlewareMixin classes, whose async path runs
    # each process_request/process_response through sync_to_async — about ten thread hops per
    # request under ASGI. This switch measures what they cost, and removes what they protect:
    # security headers, sessions, CSRF checks, request.user (COMPANION_NATIVE_MIDDLEWARE keeps them).
    MIDDLEWARE = ["demo.middleware.RequestTimingMiddleware"]
if _flag("COMPANION_NATIVE_MIDDLEWARE"):
    # Lesson 15: Django's protections kept, without their hops: demo.middleware_native has a
    # twin of the same name for each built-in one (same methods, called on the event loop).
    MIDDLEWARE = [
        f"demo.middleware_native.{path.rsplit('.', 1)[1]}" if path.startswith("django.") else path
        for path in MIDDLEWARE
    ]
if _flag("COMPANION_SYNC_MIDDLEWARE"):
    # Deliberately sync-only: Django must adapt it with sync_to_async for every request.
    MIDDLEWARE.append("demo.middleware.SyncOnlyMiddleware")

# Read by config/asgi.py, which then serves through config.reused_threads.
COMPANION_REUSE_THREADS = _flag("COMPANION_REUSE_THREADS")

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("COMPANION_DB") or BASE_DIR / "db.sqlite3",
        "OPTIONS": {
            # Concurrent async writers: wait for the lock instead of failing at once, take the
            # write lock when the transaction starts, and let readers run beside one writer.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
if _flag("COMPANION_SQLITE_NAIVE"):
    # Deliberately bad: no waiting for the lock, and transactions that read first take the write
    # lock only when they write, so concurrent read-then-write transactions fail at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 0}
if os.environ.get("COMPANION_DB_URL"):
    DATABASES["default"] = _postgres_database(os.environ["COMPANION_DB_URL"])
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("COMPANION_CONN_MAX_AGE") or 0)
# Lesson 13: a transaction per request. Django refuses it for async views, with a RuntimeError.
DATABASES["default"]["ATOMIC_REQUESTS"] = _flag("COMPANION_ATOMIC_REQUESTS")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django.tasks (Django 6.0+): both built-in backends are for development only; neither runs a
# task in the background (lesson 10).
_TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "dummy": "django.tasks.backends.dummy.DummyBackend",
}
TASKS = {
    "default": {"BACKEND": _TASK_BACKENDS[os.environ.get("COMPANION_TASKS_BACKEND") or "immediate"]}
}
_DB_FOLDER = Path(os.environ["COMPANION_DB"]).parent if os.environ.get("COMPANION_DB") else None
MARKER_DIR = Path(
    os.environ.get("COMPANION_MARKER_DIR")
    or (_DB_FOLDER or Path(tempfile.gettempdir())) / "companion-markers"
)

# Channels (lesson 14): the channel layer carries group messages between consumers. The
# in-memory one lives inside one process: with two worker processes a group message reaches only
# the sockets of the process that sent it. The PostgreSQL one (channels_postgres) goes through the
# site's own database (LISTEN/NOTIFY and a message table), so every process sees every message.
CHANNEL_LAYER = os.environ.get("COMPANION_CHANNEL_LAYER") or "memory"
_ON_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _ON_POSTGRES:
    # channels_postgres's two tables and its NOTIFY trigger: migrated with the site's own on
    # every PostgreSQL database, so that any start may choose the layer.
    INSTALLED_APPS.append("channels_postgres")
if CHANNEL_LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif CHANNEL_LAYER == "postgres":
    if not _ON_POSTGRES:
        raise ValueError("COMPANION_CHANNEL_LAYER=postgres needs the site on PostgreSQL")
    # Its own psycopg pool, not Django's; TIME_ZONE because it builds a Django DatabaseWrapper
    # from this dict, which reads the key (a KeyError there makes get_channel_layer() None).
    _layer_db = {**DATABASES["default"], "OPTIONS": {}, "TIME_ZONE": None}
    # channels_postgres sends through psycopg itself, and runs group_discard through this alias.
    # demo.consumers.postgres_layer: its layer with one listener per process (1.1.4 starts one
    # per consumer that arrives while the first is starting: duplicates, a connection each).
    DATABASES["channels_postgres"] = dict(_layer_db)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "demo.consumers.postgres_layer.PostgresChannelLayer",
            "CONFIG": {**_layer_db, "PSYCOPG_OPTIONS": {"min_size": 2, "max_size": 8}},
        }
    }
else:
    raise ValueError(f"COMPANION_CHANNEL_LAYER must be memory or postgres, not {CHANNEL_LAYER!r}")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"

LOG_LEVEL = os.environ.get("COMPANION_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "demo": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "channels_postgres": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
