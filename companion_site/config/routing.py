"""WebSocket routes, as config/urls.py is for HTTP: each path picks a consumer (lesson 14)."""

from demo.consumers import accounts, blocking, echo, feed, items, rooms, unknown
from django.urls import path, re_path

websocket_urlpatterns = [
    path("ws/echo/", echo.EchoConsumer.as_asgi()),
    path("ws/echo-sync/", echo.SyncEchoConsumer.as_asgi()),
    path("ws/scope/", echo.ScopeConsumer.as_asgi()),
    path("ws/room/<slug:room>/", rooms.RoomConsumer.as_asgi()),
    path("ws/feed/", feed.FeedConsumer.as_asgi()),
    path("ws/items/", items.ItemsConsumer.as_asgi()),
    path("ws/blocking/", blocking.BlockingConsumer.as_asgi()),
    path("ws/whoami/", accounts.WhoAmIConsumer.as_asgi()),
    # Last: any other path is closed with a code, instead of a traceback from URLRouter.
    re_path(r"", unknown.UnknownPathConsumer.as_asgi()),
]
