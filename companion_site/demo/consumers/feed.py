"""A feed that HTTP views push into: an async view directly, sync code through async_to_sync."""

import os

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .frames import GuardedConsumer

FEED_GROUP = "feed"


async def publish(event):
    """From async code (an async view): send `event` to every socket on the feed."""
    await get_channel_layer().group_send(
        FEED_GROUP, {"type": "feed.event", "event": event, "sent_by_pid": os.getpid()}
    )


def publish_from_sync(event):
    """From sync code (a sync view, a model's save): the same, through async_to_sync.

    group_send is a coroutine function; calling it without async_to_sync only makes a
    coroutine object that never runs, and the feed never hears of it.
    """
    async_to_sync(publish)(event)


class FeedConsumer(GuardedConsumer):
    """Listens only: every event a view publishes to the feed group arrives as one message."""

    groups = [FEED_GROUP]  # joined on connect, left on disconnect, by Channels itself

    async def receive_json(self, data):
        pass  # the feed is one-way; anything the client sends is ignored

    async def feed_event(self, event):
        await self.push({**event["event"], "sent_by_pid": event["sent_by_pid"], "pid": os.getpid()})
