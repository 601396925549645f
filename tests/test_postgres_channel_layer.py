"""The PostgreSQL channel layer (COMPANION_CHANNEL_LAYER=postgres): a broadcast reaches every socket
exactly once, through one LISTEN per process — the released channels-postgres starts one per
consumer that arrives while the first is starting (demo/consumers/postgres_layer.py). Lesson 14
shows the same layer crossing two worker processes."""

import asyncio
import json

from tutorial.site import start_site
from tutorial.sockets import close_all, nothing_arrives, open_many, recv_json

SOCKETS = 30


async def deliveries(ws):
    """How many messages arrive before the socket has been quiet for a second."""
    count = 0
    while not await nothing_arrives(ws, within=0.5 if count else 10.0):
        count += 1
    return count


def listeners(pg, database):
    with pg.connect() as connection:
        query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' AND datname = %s"
        return connection.execute(query, (database,)).fetchone()[0]


def test_sockets_opened_at_once_share_one_listener_and_get_each_broadcast_once(postgres):
    # The session's cluster (conftest.py): the site's database is its own, and so are its LISTENs.
    layer = {"COMPANION_CHANNEL_LAYER": "postgres"}
    pg = postgres
    with start_site(database="postgres", postgres=pg, env=layer) as site:

        async def scenario():
            sockets = await open_many(site, "/ws/room/everyone/", SOCKETS, at_once=SOCKETS)
            await asyncio.gather(*(recv_json(ws, timeout=20) for ws in sockets))  # "joined"
            await asyncio.sleep(0.5)  # the process's listener is up
            listening = listeners(pg, site.dsn.rsplit("/", 1)[1])
            await sockets[0].send(json.dumps({"text": "once"}))
            counts = await asyncio.gather(*(deliveries(ws) for ws in sockets))
            await close_all(sockets)
            return listening, counts

        listening, counts = asyncio.run(scenario())
        log = site.logs(10_000)
    assert listening == 1
    assert counts == [1] * SOCKETS
    assert "Traceback" not in log
