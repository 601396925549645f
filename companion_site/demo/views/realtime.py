"""Pages and pushes for the WebSocket consumers (lesson 14): a chat room, a feed views publish to."""

from django.http import JsonResponse
from django.shortcuts import render

from .. import params
from ..consumers.feed import publish, publish_from_sync
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
