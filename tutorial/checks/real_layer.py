"""Lesson 14's checks, once more on the real thing: the companion site in another process, on a
private PostgreSQL with the PostgreSQL channel layer, and that same layer in this process.

    pg, site = await companion_on_postgres()     # started once per process (~2 s), then reused
    async with postgres_layer(site) as layer:    # get_channel_layer() is it, until the block ends
        ...                                      # the learner's consumer runs on it here
    async with site_room(site, room) as browser: # a socket in the site's own RoomConsumer

Raises tutorial.postgres.PostgresUnavailable where this machine has no PostgreSQL. The cluster
and the site run through tutorial.services: they go with this process, however it ends.
"""

import asyncio
import contextlib
import json

ALIAS = "channels_postgres"  # the Django database alias channels_postgres's group_discard uses
APPLICATION_NAME = "lesson 14 check"  # on this process's connections to the site's database
ARRIVES = 5.0  # through a database and another process, on a busy machine

_companion = []  # [cluster, site] once started


async def companion_on_postgres():
    """(cluster, site): the companion site under uvicorn on PostgreSQL, with the PostgreSQL layer."""
    if not (_companion and all(service.running for service in _companion)):
        for service in reversed(_companion):  # one of them died: start both afresh
            service.stop()
        _companion[:] = await asyncio.to_thread(_start)
    return tuple(_companion)


def _start():
    from tutorial.postgres import start_postgres
    from tutorial.site import start_site

    cluster = start_postgres()
    try:
        env = {"COMPANION_CHANNEL_LAYER": "postgres"}
        return [cluster, start_site(database="postgres", postgres=cluster, env=env)]
    except BaseException:
        cluster.stop()
        raise


def stop_companion():
    """Stop the cached site and cluster now (tests; a notebook lets them go with the kernel)."""
    for service in reversed(_companion):
        service.stop()
    _companion.clear()


@contextlib.asynccontextmanager
async def postgres_layer(site):
    """The site's PostgreSQL channel layer, built in this process on the site's database and put
    in Channels' "default" slot; on leaving, the in-memory one is back and nothing stays open."""
    from channels.layers import channel_layers
    from config.settings import _postgres_database

    options = {"application_name": APPLICATION_NAME}  # pg_stat_activity tells them apart
    database = {**_postgres_database(site.dsn), "OPTIONS": options, "TIME_ZONE": None}
    # In a thread: the first time, this imports psycopg, its pool and channels_postgres, which
    # on the loop stalls it (0.9 s on a busy machine), blamed on the learner's consumer.
    site_layer = await asyncio.to_thread(_site_layer_module, database)

    class PostgresChannelLayer(site_layer.PostgresChannelLayer):  # the name a learner may see
        listener = None

        async def listen_to_all_channels(self):
            self.listener = asyncio.current_task()  # to end it: upstream never does
            await super().listen_to_all_channels()

        async def listening(self):
            """Wait until this process LISTENs: a message sent before that could be missed."""
            async with asyncio.timeout(ARRIVES):
                while not (
                    self.listener_task_is_running and self.listener_task_is_running.is_set()
                ):
                    await asyncio.sleep(0.01)

    layer = PostgresChannelLayer(**database, PSYCOPG_OPTIONS={"min_size": 1, "max_size": 4})
    channel_layers.backends["default"] = layer
    try:
        yield layer
    finally:
        channel_layers.backends.pop("default", None)
        await _close(layer)


def _site_layer_module(database):
    _install_channels_postgres(database)
    from demo.consumers import postgres_layer

    return postgres_layer


def _install_channels_postgres(database):
    """channels_postgres imports its models (group_discard deletes through the ORM): on the
    notebook's SQLite settings its app is not installed, nor its database alias. Add both."""
    from django.apps import AppConfig, apps
    from django.db import DEFAULT_DB_ALIAS, connections

    if not apps.is_installed("channels_postgres"):
        config = AppConfig.create("channels_postgres")
        config.apps = apps
        apps.app_configs[config.label] = config
        config.import_models()
        apps.clear_cache()
    default = connections.settings[DEFAULT_DB_ALIAS]
    wanted = connections.configure_settings({DEFAULT_DB_ALIAS: default, ALIAS: dict(database)})
    connections.settings[ALIAS] = wanted[ALIAS]


async def _close(layer):
    """End the listener and the clean-up tasks, close the layer's pool and connection."""
    import channels_postgres.core
    import channels_postgres.db
    from asgiref.sync import sync_to_async

    if layer.listener is not None:
        layer.listener.cancel()
        await asyncio.wait([layer.listener])  # its CancelledError stays in the task
    # group_discard leaves a task that sleeps 10-20 minutes, then deletes expired messages
    # through the pool: housekeeping of a database that goes with the cluster anyway.
    tidying = [
        task for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("DatabaseLayer.")
    ]  # fmt: skip
    for task in tidying:
        task.cancel()
    if tidying:
        await asyncio.wait(tidying)
    # One pool per process in channels_postgres, bound to this event loop: gone with the layer.
    pool, channels_postgres.db.connection_pool = channels_postgres.db.connection_pool, None
    channels_postgres.db.is_creating_connection_pool = asyncio.Lock()
    if pool is not None:
        await pool.close()
    queues = channels_postgres.core.ASYNCIO_EVENT_CHANNEL_MAPPING
    for channel in [name for name in queues if layer.client_prefix in name]:
        del queues[channel]
    await sync_to_async(_close_alias)()


def _close_alias():
    from django.db import connections

    connections[ALIAS].close()
    del connections[ALIAS]


@contextlib.asynccontextmanager
async def site_room(site, room):
    """A socket in the site's room `room` (its RoomConsumer, in the site's process), once the site
    LISTENs: its own message has come back through the layer."""
    from tutorial.sockets import connect, recv_json

    async with connect(site, f"/ws/room/{room}/") as browser:
        await recv_json(browser, ARRIVES)  # "joined": in the room's group
        # channels_postgres 1.1.4 reads the queued messages, then LISTENs: one sent in between
        # is lost. Until the site's listener runs, ask again.
        async with asyncio.timeout(ARRIVES):
            while True:
                await browser.send(json.dumps({"text": PING}))
                with contextlib.suppress(TimeoutError):
                    await recv_json(browser, 0.2)  # an answer (late ones: next_text skips them)
                    break
        yield browser


PING = "are you listening?"


async def next_text(browser, within=None):
    """The text of the next message the site sends down `browser` (readiness answers skipped),
    or None if none comes."""
    from tutorial.sockets import recv_json

    try:
        async with asyncio.timeout(within or ARRIVES):
            while (text := (await recv_json(browser, within or ARRIVES)).get("text")) == PING:
                pass  # a late answer to site_room's question
    except TimeoutError:
        return None
    return text
