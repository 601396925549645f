"""Pages and pushes for the WebSocket consumers (lesson 14): a chat room, a feed views publish to."""

from channels.layers import get_channel_layer
from django.http import JsonResponse
from django.shortcuts import render

from .. import params
from ..consumers.feed import publish, publish_from_sync
from ..consumers.rooms import room_group
from ..http import json_api
from ..models import Item

MAX_TEXT = 1000


def _text(request):
    text = request.GET.get("text", "")
    if not text or len(text) > MAX_TEXT:
        raise params.BadRequest(f"text must be 1 to {MAX_TEXT} characters")
    return text


@json_api("GET")
def room_page(request, room):
    """A chat room in the browser: a WebSocket to /ws/room/<room>/, a message box, the log."""
    return render(request, "demo/room.html", {"room": room})


@json_api("POST")
async def feed_push(request):
    """Async view: `await group_send` publishes ?text= to every socket on /ws/feed/."""
    text = _text(request)
    await publish({"type": "pushed", "text": text, "by": "async view"})
    return JsonResponse({"published": text})


@json_api("POST")
def feed_save(request):
    """Sync view: saves an Item, then async_to_sync(group_send) tells /ws/feed/ about it."""
    item = Item.objects.create(name=_text(request)[:100])
    publish_from_sync({"type": "saved", "id": item.id, "name": item.name, "by": "sync view"})
    return JsonResponse({"id": item.id, "name": item.name}, status=201)


async def _members(layer, group):
    if hasattr(layer, "groups"):  # InMemoryChannelLayer: a dict in this process
        return len(layer.groups.get(group, {}))
    from channels_postgres.models import GroupChannel  # the PostgreSQL layer: a table

    key = f"{layer.prefix}:group:{group}"
    return await GroupChannel.objects.using("channels_postgres").filter(group_key=key).acount()


@json_api("GET")
async def room_members(request, room):
    """How many channels the layer holds in a room's group: 0 again once every socket left."""
    members = await _members(get_channel_layer(), room_group(room))
    return JsonResponse({"room": room, "members": members})
