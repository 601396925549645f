"""The ORM from a consumer: database_sync_to_async, which also closes stale connections."""

import threading

from channels.db import database_sync_to_async

from ..models import Item
from .frames import GuardedConsumer


@database_sync_to_async
def create_item(name):
    """Runs in a thread, like any sync ORM code under ASGI; returns what the client needs."""
    item = Item.objects.create(name=name[:100])
    return {"id": item.id, "name": item.name, "count": Item.objects.count(),
            "thread": threading.current_thread().name}  # fmt: skip


class ItemsConsumer(GuardedConsumer):
    """{"name": ...} creates an Item through the ORM and answers with its id and the count."""

    async def connect(self):
        await self.accept()
        await self.push({"type": "ready", "count": await Item.objects.acount()})

    async def receive_json(self, data):
        name = await self.text_field(data, "name")
        await self.push({"type": "created", **await create_item(name)})
