"""Every route of the demo app; the root page lists them with their views' first docstring line."""

from django.urls import path

from .views import bridges, items, pages, sleeping, streaming

urlpatterns = [
    path("", pages.index, name="index"),
    path("health/", pages.health, name="health"),
    path("stats/", pages.stats, name="stats"),
    path("async/sleep/", sleeping.async_sleep, name="async-sleep"),
    path("sync/sleep/", sleeping.sync_sleep, name="sync-sleep"),
    path("async/blocking/", sleeping.async_blocking, name="async-blocking"),
    path("async/cbv-sleep/", sleeping.SleepView.as_view(), name="cbv-sleep"),
    path("sync/thread/", sleeping.sync_thread, name="sync-thread"),
    path("async/thread/", sleeping.async_thread, name="async-thread"),
    path("hello/async/", sleeping.hello_async, name="hello-async"),
    path("hello/sync/", sleeping.hello_sync, name="hello-sync"),
    path("bridge/sensitive/", bridges.bridge_sensitive, name="bridge-sensitive"),
    path("bridge/insensitive/", bridges.bridge_insensitive, name="bridge-insensitive"),
    path("items/", items.items, name="items"),
    path("items/<int:item_id>/", items.item_detail, name="item-detail"),
    path("stream/", streaming.stream, name="stream"),
]
