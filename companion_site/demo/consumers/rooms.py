"""A chat room: every message goes to a group, and the group to every socket in the room."""

import os

from .frames import GuardedConsumer


def room_group(room):
    """The channel-layer group of a room (letters, digits, '-', '_' and '.' only)."""
    return f"room.{room}"


class RoomConsumer(GuardedConsumer):
    """Joins the room's group on connect; {"text": ...} goes to everyone in the room, sender too.

    Each message says which server process sent it and which delivered it ("pid"): with two
    worker processes and the in-memory layer, a message never crosses from one to the other.
    """

    async def connect(self):
        self.group = room_group(self.scope["url_route"]["kwargs"]["room"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.push({"type": "joined", "room": self.group, "pid": os.getpid()})

    async def receive_json(self, data):
        text = await self.text_field(data, "text")
        message = {"type": "room.message", "text": text, "sent_by_pid": os.getpid()}
        await self.channel_layer.group_send(self.group, message)

    async def room_message(self, event):
        """A group message of type "room.message" arrives here (the dot becomes an underscore)."""
        await self.push(
            {"type": "message", "text": event["text"], "sent_by_pid": event.get("sent_by_pid"),
             "pid": os.getpid()}
        )  # fmt: skip

    async def disconnect(self, code):
        # Without this the layer keeps the dead channel in the group, and every later message
        # to the room is sent to it too, until the layer's group_expiry.
        await self.channel_layer.group_discard(self.group, self.channel_name)
