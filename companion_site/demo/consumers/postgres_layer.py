"""channels_postgres's layer with its listener started once per process (channels-postgres 1.1.4).

PostgresChannelLayer.receive() starts a task that LISTENs on a connection of its own, and tells
whether to start it from an asyncio.Event that the task sets only once LISTEN is running. Every
consumer whose first receive() comes before that moment starts another listener: open a hundred
sockets at once and a process holds up to a hundred extra connections, each delivering every
message again — each socket gets each broadcast many times (benchmarks/websockets_held.py
showed it). Here the first call of a process's loop claims the listener; later calls wait for it.
"""

import asyncio

from channels_postgres.core import PostgresChannelLayer as Upstream


class PostgresChannelLayer(Upstream):
    """channels_postgres.core.PostgresChannelLayer, one listener per event loop."""

    _listener_loop = None

    def _get_or_create_listener_task(self):
        running, is_new = super()._get_or_create_listener_task()
        loop = asyncio.get_running_loop()
        if is_new and self._listener_loop is loop and not running.is_set():
            return running, False  # one is starting already: receive() waits for its Event
        if is_new:
            self._listener_loop = loop
        return running, is_new
