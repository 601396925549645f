"""Every route of the demo app; the root page lists them with their views' first docstring line."""

from django.urls import path

from .views import bridges, executor_orm, fanout, items, mixing, pages, sleeping, streaming

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
    path("async/executor-orm/", executor_orm.executor_orm, name="executor-orm"),
    path("items/", items.items, name="items"),
    path("items/<int:item_id>/", items.item_detail, name="item-detail"),
    path("stream/", streaming.stream, name="stream"),
    path("stream/open/", streaming.open_streams, name="stream-open"),
    path("fanout/", fanout.fan_out, name="fanout"),
    path("upstream/item/<int:item_id>/", fanout.upstream_item, name="upstream-item"),
    path("upstream/fail/", fanout.upstream_fail, name="upstream-fail"),
    path("async/loop/", mixing.which_loop, name="async-loop"),
    path("mystery/a/", mixing.mystery_a, name="mystery-a"),
    path("mystery/b/", mixing.mystery_b, name="mystery-b"),
    path("mystery/c/", mixing.mystery_c, name="mystery-c"),
    path("mystery/d/", mixing.mystery_d, name="mystery-d"),
]
