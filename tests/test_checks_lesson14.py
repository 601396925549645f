"""The lesson 14 checks pass the worked answers and name each wrong one: a learner's mistake, and a
shortcut that gets the right messages another way (an echo, a list of sockets, asyncio.run, the
query string)."""

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer, JsonWebsocketConsumer
from channels.layers import get_channel_layer

from tests.child_results import results_of_child
from tutorial.checks import ExerciseFailed, real_layer
from tutorial.checks import lesson14 as checks
from tutorial.postgres import PostgresUnavailable

# pytest-django sets Django up for the suite; consumers close stale connections between messages.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def in_memory_only(monkeypatch):
    """Here, on pytest-django's settings, each check stops after its in-memory stage; the stage on
    the PostgreSQL layer across processes runs in a child set up as the notebook is (below)."""

    async def no_site():
        return None

    monkeypatch.setattr(checks, "_companion_on_postgres", no_site)


def failure(check, answer):
    with pytest.raises(ExerciseFailed) as caught:
        asyncio.run(check(answer))
    return caught.value


# ---------------------------------------------------------------- relay


class Relay(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = "room." + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive_json(self, content):
        await self.channel_layer.group_send(
            self.group, {"type": "room.message", "text": content["text"]}
        )

    async def room_message(self, event):
        await self.send_json({"text": event["text"]})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)


def test_the_worked_relay_passes(capsys):
    asyncio.run(checks.relay(Relay))
    assert "✓ [14_relay]" in capsys.readouterr().out


def test_an_untouched_relay_is_not_started():
    class RelayConsumer(AsyncJsonWebsocketConsumer):
        async def connect(self):
            raise NotImplementedError

    assert failure(checks.relay, RelayConsumer).kind == "not_started"


def test_an_echo_instead_of_a_broadcast_is_named():
    class Echo(Relay):
        async def receive_json(self, content):
            await self.send_json({"text": content["text"]})

    assert "that is an echo" in failure(checks.relay, Echo).hint


class SocketList(AsyncJsonWebsocketConsumer):
    """The shortcut: relay to a class-level list of consumers instead of a channel-layer group."""

    sockets = []

    async def connect(self):
        self.room = self.scope["url_route"]["kwargs"]["room"]
        self.sockets.append(self)
        await self.accept()

    async def receive_json(self, content):
        for other in self.sockets:
            if other.room == self.room:
                await other.send_json({"text": content["text"]})

    async def disconnect(self, code):
        self.sockets.remove(self)


def test_a_list_of_sockets_instead_of_a_group_is_named():
    error = failure(checks.relay, SocketList)
    assert error.kind == "wrong"
    assert "group" in error.hint


def test_a_list_of_sockets_plus_a_group_for_outside_messages_still_fails():
    class Both(SocketList):
        async def connect(self):
            await self.channel_layer.group_add("room." + self.scope["url_route"]["kwargs"]["room"],
                                               self.channel_name)  # fmt: skip
            await super().connect()

        async def room_message(self, event):
            await self.send_json({"text": event["text"]})

    assert "never went through group_send" in failure(checks.relay, Both).hint


def test_a_list_of_sockets_that_also_leaves_the_group_still_fails():
    """The sockets hear each other and the view's message, and the group is left: only a member
    that no consumer of this process knows of (another worker's socket) shows the shortcut."""

    class Tidy(SocketList):
        async def connect(self):
            self.group = "room." + self.scope["url_route"]["kwargs"]["room"]
            await self.channel_layer.group_add(self.group, self.channel_name)
            await super().connect()

        async def room_message(self, event):
            await self.send_json({"text": event["text"]})

        async def disconnect(self, code):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await super().disconnect(code)

    error = failure(checks.relay, Tidy)
    assert error.kind == "wrong"
    assert "never went through group_send" in error.hint
    assert len(error.hint.splitlines()) <= 5


def test_sending_to_each_channel_of_the_group_instead_of_group_send_is_named():
    class EachChannel(Relay):
        async def receive_json(self, content):
            for channel in list(self.channel_layer.groups.get(self.group, {})):
                await self.channel_layer.send(
                    channel, {"type": "room.message", "text": content["text"]}
                )

    assert "never went through group_send" in failure(checks.relay, EachChannel).hint


def test_a_group_message_of_another_type_is_named():
    class OwnType(Relay):
        async def receive_json(self, content):
            await self.channel_layer.group_send(
                self.group, {"type": "chat.message", "text": content["text"]}
            )

        async def chat_message(self, event):
            await self.room_message(event)

    assert "'type': 'room.message'" in failure(checks.relay, OwnType).hint


class ForgetsToAwaitGroupAdd(Relay):
    async def connect(self):
        self.group = "room." + self.scope["url_route"]["kwargs"]["room"]
        self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()


class ForgetsToAwaitGroupSend(Relay):
    async def receive_json(self, content):
        self.channel_layer.group_send(self.group, {"type": "room.message", "text": content["text"]})


class ForgetsToAwaitSendJson(Relay):
    async def room_message(self, event):
        self.send_json({"text": event["text"]})


class ForgetsToAwaitGroupDiscard(Relay):
    async def disconnect(self, code):
        self.channel_layer.group_discard(self.group, self.channel_name)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize(
    ("answer", "method"),
    [
        (ForgetsToAwaitGroupAdd, "group_add"),
        (ForgetsToAwaitGroupSend, "group_send"),
        (ForgetsToAwaitSendJson, "send_json"),
        (ForgetsToAwaitGroupDiscard, "group_discard"),
    ],
)
def test_a_forgotten_await_is_named_not_what_it_led_to(answer, method):
    error = failure(checks.relay, answer)
    assert error.kind == "missing_await"
    assert f"called {method}() without `await`" in error.hint


class Polls(Relay):
    """The shortcut: each socket polls a shared list for new messages instead of a group."""

    box = {}

    async def connect(self):
        await super().connect()
        self.seen = len(self.box.setdefault(self.group, []))
        self.poller = asyncio.ensure_future(self.poll())

    async def poll(self):
        while True:
            while self.seen < len(self.box[self.group]):
                await self.send_json({"text": self.box[self.group][self.seen]})
                self.seen += 1
            await asyncio.sleep(0.02)

    async def receive_json(self, content):
        self.box[self.group].append(content["text"])

    async def disconnect(self, code):
        self.poller.cancel()
        await super().disconnect(code)


def test_polling_a_shared_list_instead_of_a_group_is_named():
    assert "never went through group_send" in failure(checks.relay, Polls).hint


def test_a_relay_that_sends_each_message_twice_is_named():
    class Twice(Relay):
        async def room_message(self, event):
            await self.send_json({"text": event["text"]})
            await self.send_json({"text": event["text"]})

    assert "more than once" in failure(checks.relay, Twice).hint


def test_extra_keys_beside_the_text_are_fine(capsys):
    class WithSender(Relay):
        async def room_message(self, event):
            await self.send_json({"text": event["text"], "room": self.group})

    asyncio.run(checks.relay(WithSender))
    assert "✓ [14_relay]" in capsys.readouterr().out


def test_a_relay_that_never_leaves_the_group_is_named():
    class Forgets(Relay):
        async def disconnect(self, code):
            pass

    assert "group_discard" in failure(checks.relay, Forgets).hint


def test_a_group_not_named_after_the_room_is_named():
    class OneBigRoom(Relay):
        async def connect(self):
            self.group = "everyone"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()

    assert "has 0 members" in failure(checks.relay, OneBigRoom).hint


def test_a_relay_that_forgets_to_accept_is_named():
    class NoAccept(Relay):
        async def connect(self):
            self.group = "room." + self.scope["url_route"]["kwargs"]["room"]
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.close()

    assert "accept" in failure(checks.relay, NoAccept).hint


def test_a_relay_that_blocks_the_loop_is_named():
    class Sleeps(Relay):
        async def receive_json(self, content):
            time.sleep(0.5)
            await super().receive_json(content)

    assert failure(checks.relay, Sleeps).kind == "blocked"


def test_a_sync_consumer_is_named():
    class SyncRelay(JsonWebsocketConsumer):
        pass

    assert failure(checks.relay, SyncRelay).kind == "not_async"


def test_a_relay_that_raises_names_the_exception():
    class Typo(Relay):
        async def receive_json(self, content):
            await self.channel_layer.group_send(self.group, {"type": "room.message",
                                                             "text": content["txt"]})  # fmt: skip

    error = failure(checks.relay, Typo)
    assert error.kind == "exception" and "KeyError" in error.hint


# ---------------------------------------------------------------- notify_room


def notify(room, text):
    async_to_sync(get_channel_layer().group_send)(
        "room." + room, {"type": "room.message", "text": text}
    )


def test_the_worked_notify_room_passes(capsys):
    asyncio.run(checks.notify_room(notify))
    assert "✓ [14_notify_room]" in capsys.readouterr().out


def test_an_untouched_notify_room_is_not_started():
    def notify_room(room, text):
        raise NotImplementedError

    assert failure(checks.notify_room, notify_room).kind == "not_started"


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
def test_group_send_without_async_to_sync_is_named():
    def notify_room(room, text):
        get_channel_layer().group_send("room." + room, {"type": "room.message", "text": text})

    error = failure(checks.notify_room, notify_room)
    assert error.kind == "missing_await" and "async_to_sync" in error.hint


def test_asyncio_run_instead_of_async_to_sync_is_named():
    def notify_room(room, text):
        layer = get_channel_layer()
        asyncio.run(layer.group_send("room." + room, {"type": "room.message", "text": text}))

    assert "event loop of its own" in failure(checks.notify_room, notify_room).hint


def test_an_async_def_is_named():
    async def notify_room(room, text):
        await get_channel_layer().group_send("room." + room, {"type": "room.message", "text": text})

    assert failure(checks.notify_room, notify_room).kind == "not_sync"


def test_the_wrong_group_is_named():
    def notify_room(room, text):
        async_to_sync(get_channel_layer().group_send)(room, {"type": "room.message", "text": text})

    assert "the room's group is 'room." in failure(checks.notify_room, notify_room).hint


def test_a_message_type_without_a_handler_is_named():
    def notify_room(room, text):
        async_to_sync(get_channel_layer().group_send)(
            "room." + room, {"type": "chat.message", "text": text}
        )

    assert "no handler" in failure(checks.notify_room, notify_room).hint


def test_a_layer_of_its_own_is_named_not_as_a_forgotten_await():
    def notify_room(room, text):
        from channels.layers import InMemoryChannelLayer

        layer = InMemoryChannelLayer()  # not the one the site's consumers use
        async_to_sync(layer.group_send)("room." + room, {"type": "room.message", "text": text})

    error = failure(checks.notify_room, notify_room)
    assert error.kind == "wrong" and "get_channel_layer()" in error.hint


def test_sending_the_text_twice_is_named():
    def notify_room(room, text):
        for _ in range(2):
            notify(room, text)

    assert "more than once" in failure(checks.notify_room, notify_room).hint


def test_sending_to_each_channel_instead_of_the_group_is_named():
    def notify_room(room, text):
        layer = get_channel_layer()
        for channel in list(layer.groups.get("room." + room, {})):
            async_to_sync(layer.send)(channel, {"type": "room.message", "text": text})

    assert "not through the layer's group_send" in failure(checks.notify_room, notify_room).hint


# ---------------------------------------------------------------- greet


class Greet(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        await self.accept()
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.send_json({"hello": user.get_username()})


def test_the_worked_greet_passes(capsys):
    asyncio.run(checks.greet(Greet))
    assert "✓ [14_greet]" in capsys.readouterr().out


def test_an_untouched_greet_is_not_started():
    class GreetConsumer(AsyncJsonWebsocketConsumer):
        async def connect(self):
            raise NotImplementedError

    assert failure(checks.greet, GreetConsumer).kind == "not_started"


def test_reading_the_name_from_the_query_string_is_named():
    class FromQuery(AsyncJsonWebsocketConsumer):
        async def connect(self):
            await self.accept()
            query = self.scope["query_string"].decode()
            await self.send_json({"hello": query.split("user=")[1].split("&")[0]})

    assert "query string" in failure(checks.greet, FromQuery).hint


def test_closing_before_accept_is_named():
    class RefusesAtHandshake(Greet):
        async def connect(self):
            if not self.scope["user"].is_authenticated:
                await self.close(code=4401)
                return
            await super().connect()

    assert "HTTP 403" in failure(checks.greet, RefusesAtHandshake).hint


def test_greeting_the_anonymous_is_named():
    class GreetsEveryone(AsyncJsonWebsocketConsumer):
        async def connect(self):
            await self.accept()
            await self.send_json({"hello": self.scope["user"].get_username()})

    error = failure(checks.greet, GreetsEveryone)
    assert "instead of a close 4401" in error.hint


def test_the_wrong_close_code_is_named():
    class Closes1000(Greet):
        async def connect(self):
            if not self.scope["user"].is_authenticated:
                await self.accept()
                await self.close()
                return
            await super().connect()

    assert "use 4401" in failure(checks.greet, Closes1000).hint


def test_closing_everyone_after_the_greeting_is_named():
    class ClosesAll(AsyncJsonWebsocketConsumer):
        async def connect(self):
            await self.accept()
            if self.scope["user"].is_authenticated:
                await self.send_json({"hello": self.scope["user"].get_username()})
            await self.close(code=4401)

    assert "close only the anonymous one" in failure(checks.greet, ClosesAll).hint


def test_a_group_message_only_the_in_memory_layer_can_carry_is_named():
    class SendsItself(Relay):
        async def receive_json(self, content):
            await self.channel_layer.group_send(
                self.group, {"type": "room.message", "text": content["text"], "sender": self}
            )

    error = failure(checks.relay, SendsItself)
    assert error.kind == "exception" and "cannot carry this message" in error.hint


def test_a_datetime_pushed_from_sync_code_is_named():
    def notify_room(room, text):
        from django.utils import timezone

        message = {"type": "room.message", "text": text, "at": timezone.now()}
        async_to_sync(get_channel_layer().group_send)("room." + room, message)

    error = failure(checks.notify_room, notify_room)
    assert error.kind == "exception" and "cannot carry this message" in error.hint


# ---------------------------------------------------------------- across processes


class EchoesWhenAlone(Relay):
    """Works in one process only: with no other socket of this process in the room, it answers
    the sender directly instead of through the group."""

    async def receive_json(self, content):
        if len(getattr(self.channel_layer, "groups", {}).get(self.group, {})) > 1:
            await super().receive_json(content)
        else:
            await self.send_json({"text": content["text"]})


def notify_if_anyone_here(room, text):
    """Works in one process only: it skips the send when no socket of this process is in the room."""
    layer = get_channel_layer()
    if getattr(layer, "groups", {}).get("room." + room):
        notify(room, text)


def test_without_postgresql_the_check_says_so_and_judges_in_memory(monkeypatch, capsys):
    def unavailable():
        raise PostgresUnavailable("no PostgreSQL on this machine")

    monkeypatch.undo()  # the real _companion_on_postgres, on a machine without PostgreSQL
    monkeypatch.setattr(real_layer, "_start", unavailable)
    monkeypatch.setattr(real_layer, "_companion", [])
    asyncio.run(checks.notify_room(notify))
    out = capsys.readouterr().out
    assert "✓ [14_notify_room]" in out
    assert [line for line in out.splitlines() if "No PostgreSQL" in line] == [
        line for line in out.splitlines() if "✓" not in line
    ]
    assert len(out.splitlines()) == 2


# The stage on the PostgreSQL layer needs the notebook's own set-up (setup_django() in a fresh
# process); this test process has pytest-django's settings, so the answers run in a child. One
# cluster and one site serve all of them, as in a notebook.
REAL_LAYER_CHILD = """
    import asyncio, json
    from tutorial.django_setup import setup_django
    setup_django()  # as the exercise notebook does
    from tests import test_checks_lesson14 as answers
    from tutorial.checks import ExerciseFailed, lesson14 as checks, real_layer

    async def main():
        results = {{}}
        for check, name in {cases!r}:
            # A message that never comes is waited for ARRIVES s: 1 s is enough to see that.
            real_layer.ARRIVES = 1.0 if name in {quick!r} else 5.0
            try:
                await getattr(checks, check)(getattr(answers, name))
                results[name] = ["passed", ""]
            except ExerciseFailed as error:
                results[name] = [error.kind, error.hint]
        cluster, _ = await real_layer.companion_on_postgres()
        for _ in range(100):  # a closed connection's backend takes a moment to go
            names = [row["application_name"] for row in await asyncio.to_thread(cluster.connections)]
            if real_layer.APPLICATION_NAME not in names:
                break
            await asyncio.sleep(0.02)
        results["left open"] = names.count(real_layer.APPLICATION_NAME)
        results["tasks left"] = len(asyncio.all_tasks()) - 1
        print("RESULTS " + json.dumps(results), flush=True)

    asyncio.run(main())
"""

REAL_LAYER_ANSWERS = {
    ("relay", "Relay"): ("passed", ""),
    ("notify_room", "notify"): ("passed", ""),
    ("relay", "EchoesWhenAlone"): (
        "wrong",
        "On the PostgreSQL channel layer, your consumer's message never",
    ),
    ("notify_room", "notify_if_anyone_here"): ("wrong", "On the PostgreSQL channel layer"),
}
# The one-process answers pass the in-memory stage: "On the PostgreSQL channel layer" opens the
# hints of the PostgreSQL stage alone.
QUICK = ["EchoesWhenAlone", "notify_if_anyone_here"]


@pytest.fixture(scope="module")
def real_layer_results():
    return results_of_child(REAL_LAYER_CHILD.format(cases=list(REAL_LAYER_ANSWERS), quick=QUICK))


@pytest.mark.parametrize(("check", "name"), list(REAL_LAYER_ANSWERS))
def test_answers_are_judged_across_processes_on_postgresql(real_layer_results, check, name):
    kind, phrase = REAL_LAYER_ANSWERS[check, name]
    assert real_layer_results[name][0] == kind, real_layer_results[name]
    assert phrase in real_layer_results[name][1]


def test_the_checks_leave_no_connection_or_task_behind(real_layer_results):
    assert real_layer_results["left open"] == 0
    assert real_layer_results["tasks left"] == 0
