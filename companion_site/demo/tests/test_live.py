import asyncio
import json

from django.test import SimpleTestCase

from demo import inflight


class LivePageTests(SimpleTestCase):
    async def test_live_page_subscribes_to_the_event_stream(self):
        html = (await self.async_client.get("/live/")).content.decode()
        self.assertIn('new EventSource("events/")', html)

    async def test_a_request_being_served_shows_up_in_flight(self):
        slow = asyncio.create_task(self.async_client.get("/async/sleep/", {"delay": "0.3"}))
        for _ in range(100):  # wait until the slow request has entered the middleware
            if inflight.snapshot()["paths"].get("/async/sleep/"):
                break
            await asyncio.sleep(0.01)
        self.assertGreaterEqual(inflight.snapshot()["paths"].get("/async/sleep/", 0), 1)
        await slow
        self.assertEqual(inflight.snapshot()["paths"].get("/async/sleep/", 0), 0)

    async def test_events_stream_snapshots_and_ends_by_itself(self):
        response = await self.async_client.get(
            "/live/events/", {"interval": "0.05", "seconds": "0.1"}
        )
        chunks = [chunk.decode() async for chunk in response.streaming_content]
        snapshots = [json.loads(c.split("data: ", 1)[1]) for c in chunks if "snapshot" in c]
        self.assertEqual(len(snapshots), 2)
        self.assertIn("in_flight", snapshots[0])
        self.assertIn("event: done", chunks[-1])

    async def test_bad_interval_is_a_400(self):
        response = await self.async_client.get("/live/events/", {"interval": "0"})
        self.assertEqual(response.status_code, 400)
