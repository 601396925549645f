import threading

from django.test import SimpleTestCase

BRIDGES = ["/bridge/sensitive/", "/bridge/insensitive/"]


class BridgeViewTests(SimpleTestCase):
    async def test_each_bridge_waits_its_delay_in_a_thread_off_the_event_loop(self):
        for url in BRIDGES:
            with self.subTest(url=url):
                body = (await self.async_client.get(url, {"delay": "0.01"})).json()
                self.assertEqual(body["delay"], 0.01)
                self.assertGreaterEqual(body["ended"] - body["started"], 0.01)
                self.assertNotEqual(body["thread_id"], threading.get_ident())

    async def test_thread_insensitive_runs_in_the_loop_pool_and_sensitive_does_not(self):
        sensitive = (await self.async_client.get(BRIDGES[0], {"delay": "0"})).json()
        insensitive = (await self.async_client.get(BRIDGES[1], {"delay": "0"})).json()
        # The loop's default executor names its threads "asyncio_N". Thread-sensitive calls go
        # elsewhere: under uvicorn a one-thread executor per request, here (the test runner
        # wraps async tests in async_to_sync) the test's own main thread.
        self.assertTrue(insensitive["thread"].startswith("asyncio_"), insensitive["thread"])
        self.assertFalse(sensitive["thread"].startswith("asyncio_"), sensitive["thread"])

    async def test_bad_delays_are_a_400_with_a_message(self):
        for url in BRIDGES:
            for bad in ["abc", "-1", "11"]:
                with self.subTest(url=url, delay=bad):
                    response = await self.async_client.get(url, {"delay": bad})
                    self.assertEqual(response.status_code, 400)
                    self.assertIn("delay", response.json()["error"])
