import asyncio
import tempfile
import threading
from pathlib import Path

from django.test import RequestFactory, SimpleTestCase, override_settings

from demo import markers

SLEEPERS = ["/async/sleep/", "/sync/sleep/", "/async/blocking/", "/async/cbv-sleep/"]


class SleepingViewTests(SimpleTestCase):
    async def test_each_sleeper_reports_its_delay_and_its_timing(self):
        for url in SLEEPERS:
            with self.subTest(url=url):
                body = (await self.async_client.get(url, {"delay": "0.01"})).json()
                self.assertEqual(body["delay"], 0.01)
                self.assertGreaterEqual(body["ended"] - body["started"], 0.01)

    async def test_bad_delays_are_a_400_with_a_message(self):
        for bad in ["abc", "-1", "nan", "inf", "11", "1e9"]:
            for url in SLEEPERS:
                with self.subTest(url=url, delay=bad):
                    response = await self.async_client.get(url, {"delay": bad})
                    self.assertEqual(response.status_code, 400)
                    self.assertIn("delay", response.json()["error"])

    async def test_async_view_runs_on_the_event_loop_thread(self):
        body = (await self.async_client.get("/async/thread/")).json()
        self.assertEqual(body["thread_id"], threading.get_ident())

    async def test_sync_view_runs_in_another_thread_under_asgi(self):
        body = (await self.async_client.get("/sync/thread/")).json()
        self.assertNotEqual(body["thread_id"], threading.get_ident())

    async def test_awaiting_views_overlap_and_blocking_views_do_not(self):
        def overlapped(bodies):
            a, b = bodies
            return a["started"] < b["ended"] and b["started"] < a["ended"]

        async def two(url):
            responses = await asyncio.gather(
                *(self.async_client.get(url, {"delay": "0.05"}) for _ in range(2))
            )
            return [r.json() for r in responses]

        self.assertTrue(overlapped(await two("/async/sleep/")))
        self.assertFalse(overlapped(await two("/async/blocking/")))

    async def test_hello_views_answer(self):
        for kind in ["async", "sync"]:
            body = (await self.async_client.get(f"/hello/{kind}/")).json()
            self.assertEqual(body, {"hello": kind})


class ClientLeavesTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folder = tempfile.TemporaryDirectory(prefix="markers-")  # gone after the class
        cls.addClassCleanup(folder.cleanup)
        cls.enterClassContext(override_settings(MARKER_DIR=Path(folder.name)))

    async def test_a_finished_view_marks_finished(self):
        for url, name in [("/async/cancellable/", "a1"), ("/sync/uncancellable/", "s1")]:
            with self.subTest(url=url):
                response = await self.async_client.get(url, {"delay": "0", "marker": name})
                self.assertEqual(response.status_code, 200)
                self.assertEqual(markers.read(name)["outcome"], "finished")

    async def test_a_cancelled_async_view_marks_cancelled_and_stays_cancelled(self):
        from demo.views.sleeping import async_cancellable

        request = RequestFactory().get("/", {"delay": "5", "marker": "c1"})
        task = asyncio.create_task(async_cancellable(request))
        await asyncio.sleep(0.01)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertEqual(markers.read("c1")["outcome"], "cancelled")

    async def test_a_bad_marker_is_a_400(self):
        for url in ["/async/cancellable/", "/sync/uncancellable/"]:
            with self.subTest(url=url):
                response = await self.async_client.get(url, {"marker": "../x"})
                self.assertEqual(response.status_code, 400)
