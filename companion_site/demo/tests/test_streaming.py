import asyncio
import json

from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncRequestFactory, SimpleTestCase

from demo.views.streaming import OPEN


def events(text):
    """The `data:` of each server-sent event in `text`, parsed."""
    return [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


class StreamTests(SimpleTestCase):
    async def test_stream_sends_count_ticks_then_done(self):
        response = await self.async_client.get("/stream/", {"count": "3", "interval": "0"})
        self.assertEqual(response["Content-Type"], "text/event-stream")
        text = b"".join([chunk async for chunk in response.streaming_content]).decode()
        ticks = events(text)
        self.assertEqual([t["n"] for t in ticks[:-1]], [0, 1, 2])
        self.assertEqual(ticks[-1], {})
        self.assertIn("event: done", text)
        self.assertEqual(OPEN.count, 0)

    async def test_a_disconnect_cancels_the_generator_which_cleans_up_and_logs(self):
        scope = AsyncRequestFactory()._base_scope(
            path="/stream/", query_string=b"count=100&interval=0.05&label=t1"
        )
        communicator = ApplicationCommunicator(ASGIHandler(), scope)
        with self.assertLogs("demo.stream", "INFO") as logs:
            await communicator.send_input({"type": "http.request"})
            start = await communicator.receive_output(timeout=2)
            self.assertEqual(start["status"], 200)
            first = await communicator.receive_output(timeout=2)
            self.assertIn(b"data:", first["body"])
            self.assertEqual(OPEN.count, 1)
            await communicator.send_input({"type": "http.disconnect"})
            await communicator.wait(timeout=2)
        self.assertIn("stream cancelled: client disconnected after 1 events [t1]", logs.output[0])
        self.assertEqual(OPEN.count, 0)

    async def test_open_streams_answers_the_count(self):
        body = (await self.async_client.get("/stream/open/")).json()
        self.assertEqual(body, {"open": 0})

    async def test_bad_parameters_are_a_400(self):
        for query in [{"count": "0"}, {"count": "x"}, {"interval": "-1"}, {"label": "a b"}]:
            with self.subTest(query=query):
                response = await self.async_client.get("/stream/", query)
                self.assertEqual(response.status_code, 400)

    async def test_a_sync_iteration_of_the_async_stream_warns_and_buffers(self):
        """What a WSGI server does: Django must consume the whole async iterator first."""
        response = await self.async_client.get("/stream/", {"count": "2", "interval": "0"})
        with self.assertWarnsRegex(Warning, "must consume asynchronous iterators"):
            chunks = await asyncio.to_thread(lambda: list(response))
        self.assertEqual(len(events(b"".join(chunks).decode())), 3)


class SyncStreamTests(SimpleTestCase):
    # response.close() sends request_finished, whose close_old_connections touches the database.
    databases = "__all__"

    def test_the_sync_generator_streams_its_events_under_wsgi(self):
        response = self.client.get("/stream/sync/", {"count": "3", "interval": "0"})
        self.assertEqual(response["Content-Type"], "text/event-stream")
        body = b"".join(response.streaming_content).decode()
        self.assertEqual([e.get("n") for e in events(body)], [0, 1, 2, None])

    def test_closing_the_sync_generator_early_cleans_up_and_logs(self):
        response = self.client.get("/stream/sync/", {"count": "50", "interval": "0", "label": "x"})
        parts = iter(response.streaming_content)
        next(parts)
        with self.assertLogs("demo.stream", "INFO") as logged:
            response.close()  # what gunicorn does once a write to the client fails
        self.assertIn("sync stream closed after", logged.output[0])
        self.assertEqual(OPEN.count, 0)

    async def test_under_asgi_a_sync_iterator_is_consumed_in_full_with_a_warning(self):
        for path in ("/stream/sync/", "/stream/file/"):
            with self.subTest(path=path):
                response = await self.async_client.get(path, {"count": "2", "interval": "0"})
                with self.assertWarnsRegex(Warning, "must consume synchronous iterators"):
                    chunks = [chunk async for chunk in response]
                self.assertEqual(
                    len(events(b"".join(chunks).decode())), 2 + (path == "/stream/sync/")
                )

    async def test_bad_parameters_are_a_400(self):
        for path in ("/stream/sync/", "/stream/file/"):
            with self.subTest(path=path):
                response = await self.async_client.get(path, {"count": "0"})
                self.assertEqual(response.status_code, 400)
