"""The WebSocket consumers through the site's whole ASGI stack, with Channels' WebsocketCommunicator.

`config.asgi.application` is what uvicorn serves: origin check, session/auth middleware, URL
router. Every test may touch the database, even for an echo: Channels 4.3 closes stale database
connections before each message, and the communicator turns that off only while it sends or
receives (lesson 14, "Test a consumer"). TransactionTestCase, because consumers reach the ORM
from another thread.
"""

import asyncio
import json
import threading

from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from config.asgi import application
from django.contrib.auth.models import User
from django.test import Client, TestCase, TransactionTestCase

from demo.consumers.codes import MAX_TEXT_BYTES, OUTBOX_SIZE, Close
from demo.consumers.rooms import room_group
from demo.models import Item

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def connect_to(path, *, origin=ORIGIN, cookie=None, app=application):
    headers = [(b"host", b"127.0.0.1:8000")] + ([origin] if origin else [])
    headers += [(b"cookie", cookie.encode())] if cookie else []
    return WebsocketCommunicator(app, path, headers=headers)


def with_stuck_sends(stuck_after, released):
    """The site's application, but every websocket.send past the first `stuck_after` waits for
    `released`, as it does in a real server when the client stopped reading and TCP is full."""

    async def app(scope, receive, send):
        sent = 0

        async def stuck_send(message):
            nonlocal sent
            if message["type"] == "websocket.send":
                sent += 1
                if sent > stuck_after:
                    await released.wait()
            await send(message)

        await application(scope, receive, stuck_send)

    return app


async def closed_with(communicator, code):
    """Read until the server closes; return True when it closed with `code`."""
    while True:
        output = await communicator.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            await communicator.wait()
            return output.get("code") == code


class EchoAndScopeTests(TransactionTestCase):
    async def test_echo_sends_the_text_back(self):
        ws = connect_to("/ws/echo/")
        connected, _ = await ws.connect()
        self.assertTrue(connected)
        await ws.send_to(text_data="hello")
        self.assertEqual(await ws.receive_from(), "hello")
        await ws.disconnect()

    async def test_the_scope_holds_path_headers_and_an_anonymous_user(self):
        ws = connect_to("/ws/scope/?x=1")
        await ws.connect()
        scope = await ws.receive_json_from()
        self.assertEqual((scope["type"], scope["path"]), ("websocket", "/ws/scope/"))
        self.assertEqual(scope["query_string"], "x=1")
        self.assertEqual(scope["headers"]["origin"], "http://127.0.0.1:8000")
        self.assertIsNone(scope["user"])
        self.assertIn("url_route", scope["keys"])
        await ws.disconnect()


class BadInputTests(TransactionTestCase):
    async def assert_closes(self, path, code, frame=None):
        ws = connect_to(path)
        with self.assertLogs("demo.ws", "WARNING") as logs:
            connected, _ = await ws.connect()
            self.assertTrue(connected)
            if frame is not None:
                await ws.send_to(**frame)
            self.assertTrue(await closed_with(ws, code), f"{path} did not close with {code}")
        self.assertIn(Close(code).name, logs.output[0])

    async def test_an_unknown_path_is_closed_with_4404(self):
        await self.assert_closes("/ws/no-such-thing/", Close.UNKNOWN_PATH)

    async def test_invalid_json_is_closed_with_4400(self):
        await self.assert_closes("/ws/room/a/", Close.INVALID_JSON, {"text_data": "{nope"})

    async def test_json_without_the_field_is_closed_with_4400(self):
        frame = {"text_data": json.dumps({"txt": "hi"})}
        await self.assert_closes("/ws/room/a/", Close.INVALID_JSON, frame)

    async def test_a_binary_frame_is_closed_with_1003(self):
        frame = {"bytes_data": b"\x00\x01"}
        await self.assert_closes("/ws/room/a/", Close.BINARY_NOT_ACCEPTED, frame)

    async def test_a_frame_too_large_is_closed_with_1009(self):
        frame = {"text_data": "x" * (MAX_TEXT_BYTES + 1)}
        await self.assert_closes("/ws/echo/", Close.TOO_BIG, frame)

    async def test_a_foreign_or_missing_origin_is_refused_at_the_handshake(self):
        for origin in ((b"origin", b"http://evil.example"), None):
            connected, _ = await connect_to("/ws/echo/", origin=origin).connect()
            self.assertFalse(connected)

    async def test_the_server_keeps_serving_after_bad_input(self):
        await self.assert_closes("/ws/room/a/", Close.INVALID_JSON, {"text_data": "[1, 2]"})
        ws = connect_to("/ws/echo/")
        await ws.connect()
        await ws.send_to(text_data="still here")
        self.assertEqual(await ws.receive_from(), "still here")
        await ws.disconnect()


class RoomTests(TransactionTestCase):
    async def join(self, room):
        ws = connect_to(f"/ws/room/{room}/")
        await ws.connect()
        self.assertEqual((await ws.receive_json_from())["type"], "joined")
        return ws

    async def test_a_message_reaches_everyone_in_the_room_and_no_one_outside(self):
        alice, bob, other = await self.join("r1"), await self.join("r1"), await self.join("r2")
        await alice.send_json_to({"text": "hi"})
        for ws in (alice, bob):
            self.assertEqual((await ws.receive_json_from())["text"], "hi")
        self.assertTrue(await other.receive_nothing(timeout=0.1))
        for ws in (alice, bob, other):
            await ws.disconnect()

    async def test_a_group_send_from_outside_reaches_the_room(self):
        ws = await self.join("outside")
        message = {"type": "room.message", "text": "from a view", "sent_by_pid": 0}
        await get_channel_layer().group_send(room_group("outside"), message)
        self.assertEqual((await ws.receive_json_from())["text"], "from a view")
        await ws.disconnect()

    async def test_disconnect_removes_the_channel_from_the_group(self):
        layer = get_channel_layer()
        ws = await self.join("leaving")
        self.assertEqual(len(layer.groups[room_group("leaving")]), 1)
        await ws.disconnect()
        self.assertNotIn(room_group("leaving"), layer.groups)

    async def test_a_client_that_stops_reading_is_closed_with_4408(self):
        released = asyncio.Event()
        ws = connect_to("/ws/room/slow/", app=with_stuck_sends(1, released))
        await ws.connect()
        self.assertEqual((await ws.receive_json_from())["type"], "joined")
        message = {"type": "room.message", "text": "x", "sent_by_pid": 0}
        with self.assertLogs("demo.ws", "WARNING") as logs:
            for _ in range(OUTBOX_SIZE + 2):
                await get_channel_layer().group_send(room_group("slow"), message)
            async with asyncio.timeout(2):
                while not logs.output:  # the consumer has given up on this client
                    await asyncio.sleep(0.01)
            released.set()  # the client reads again: what is left on the way, then the close
            self.assertTrue(await closed_with(ws, Close.TOO_SLOW))
        self.assertIn("TOO_SLOW", "".join(logs.output))
        self.assertNotIn(room_group("slow"), get_channel_layer().groups)


class FeedTests(TransactionTestCase):
    async def test_the_async_view_and_the_sync_view_both_reach_the_feed(self):
        ws = connect_to("/ws/feed/")
        await ws.connect()
        response = await self.async_client.post("/feed/push/?text=hello")
        self.assertEqual(response.status_code, 200)
        self.assertEqual((await ws.receive_json_from())["text"], "hello")
        response = await self.async_client.post("/feed/save/?text=a%20thing")
        self.assertEqual(response.status_code, 201)
        event = await ws.receive_json_from()
        self.assertEqual((event["type"], event["name"]), ("saved", "a thing"))
        self.assertEqual(await Item.objects.filter(name="a thing").acount(), 1)
        await ws.disconnect()

    async def test_bad_text_is_a_400_and_get_a_405(self):
        self.assertEqual((await self.async_client.post("/feed/push/")).status_code, 400)
        self.assertEqual((await self.async_client.get("/feed/push/?text=x")).status_code, 405)


class ItemsAndAuthTests(TransactionTestCase):
    async def test_the_orm_consumer_creates_items_in_a_thread(self):
        ws = connect_to("/ws/items/")
        await ws.connect()
        self.assertEqual(await ws.receive_json_from(), {"type": "ready", "count": 0})
        await ws.send_json_to({"name": "from a socket"})
        created = await ws.receive_json_from()
        self.assertEqual((created["name"], created["count"]), ("from a socket", 1))
        self.assertNotEqual(created["thread"], threading.current_thread().name)  # not the loop's
        await ws.disconnect()

    async def test_anonymous_is_closed_with_4401_and_a_logged_in_user_is_greeted(self):
        ws = connect_to("/ws/whoami/")
        await ws.connect()
        self.assertTrue(await closed_with(ws, Close.NOT_LOGGED_IN))

        def session_cookie():
            User.objects.create_user("ada", password="correct horse")
            client = Client()
            client.login(username="ada", password="correct horse")
            return f"sessionid={client.cookies['sessionid'].value}"

        from asgiref.sync import sync_to_async

        ws = connect_to("/ws/whoami/", cookie=await sync_to_async(session_cookie)())
        await ws.connect()
        self.assertEqual(await ws.receive_json_from(), {"type": "hello", "username": "ada"})
        await ws.disconnect()


class RoomPageTests(TestCase):
    def test_the_room_page_opens_a_socket_to_its_room(self):
        response = self.client.get("/room/lobby/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "/ws/room/")
        self.assertContains(response, '"lobby"')
