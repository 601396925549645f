import asyncio
import threading
import time

import uvloop
from django.test import SimpleTestCase

from demo.views import loopwatch


class LoopWatchdogTests(SimpleTestCase):
    async def stop_watchdog(self):
        """Each async test runs on a loop of its own: end the heartbeat task before it closes."""
        loopwatch._current.stop()
        await asyncio.sleep(0.02)

    async def test_a_stall_is_reported_with_the_line_that_held_the_loop(self):
        for name, helper in [("thumbnail", "_make_thumbnail"), ("report", "_render_report")]:
            with self.subTest(culprit=name):
                start = await self.async_client.post("/watchdog/start/?seconds=5")
                self.assertEqual(start.status_code, 200)
                await asyncio.sleep(0.02)  # one beat first
                body = (await self.async_client.get(f"/culprits/{name}/", {"delay": "0.2"})).json()
                self.assertEqual(body["culprit"], name)
                await asyncio.sleep(0.02)  # the beat after the stall closes it
                report = (await self.async_client.get("/watchdog/report/")).json()
                self.assertTrue(report["running"])
                (stall,) = [
                    s for s in report["stalls"] if any(f["function"] == helper for f in s["stack"])
                ]
                innermost = stall["stack"][0]
                self.assertEqual(innermost["function"], helper)
                self.assertEqual(innermost["file"], "demo/views/loopwatch.py")
                self.assertTrue(innermost["project"])
                self.assertGreaterEqual(stall["seconds"], 0.1)
                await self.stop_watchdog()

    async def test_a_subprocess_culprit_shows_library_frames_first(self):
        await self.async_client.post("/watchdog/start/?seconds=5")
        await asyncio.sleep(0.02)
        await self.async_client.get("/culprits/convert/", {"delay": "0.2"})
        await asyncio.sleep(0.02)
        stalls = (await self.async_client.get("/watchdog/report/")).json()["stalls"]
        # The culprit's stall; a loaded machine may add one of its own elsewhere.
        (stall,) = [
            s for s in stalls if any(f["function"] == "_convert_document" for f in s["stack"])
        ]
        self.assertFalse(stall["stack"][0]["project"])
        mine = next(f for f in stall["stack"] if f["project"])
        self.assertEqual(mine["function"], "_convert_document")
        await self.stop_watchdog()

    def test_a_late_heartbeat_with_the_loop_waiting_is_no_stall(self):
        """A busy machine: the process waited for a CPU while its loop sat in the selector. The
        heartbeat is late either way; only a loop held by code is a stall."""

        async def late_beat(hold):
            watchdog = loopwatch.Watchdog(threshold=0.05, seconds=5)
            watchdog.stop()  # its own sampler and heartbeat end: this test looks by itself

            def look_while_the_loop_is_in_its_second_half():
                time.sleep(0.1)
                watchdog._last_beat = time.perf_counter() - 1  # a second late
                watchdog.look()

            looker = threading.Thread(target=look_while_the_loop_is_in_its_second_half)
            looker.start()
            await asyncio.sleep(0.02)
            if hold:
                time.sleep(0.2)  # the loop held
            else:
                await asyncio.sleep(0.2)  # the loop waiting in its selector
            looker.join()
            return [frame["function"] for stall in watchdog.stalls for frame in stall["stack"]]

        for run in (asyncio.run, uvloop.run):
            with self.subTest(loop=run.__module__):
                self.assertEqual(run(late_beat(hold=False)), [])
                held = run(late_beat(hold=True))
                self.assertEqual(held[0], "late_beat")

    def test_a_stall_has_the_stack_where_the_loop_was_held_most_of_it(self):
        """The first look can find the loop somewhere it stays only briefly (e.g. the process
        waited for a CPU just before the blocking call): one stall, the longer place named."""

        def briefly_here():
            time.sleep(0.1)

        def held_here():
            time.sleep(0.3)

        async def one_stall():
            watchdog = loopwatch.Watchdog(threshold=0.05, seconds=5)
            await asyncio.sleep(0.02)  # a beat first
            briefly_here()  # the stall opens here, 0.05 s in ...
            held_here()  # ... and goes on here, with no beat in between
            await asyncio.sleep(0.02)  # the beat that closes it
            watchdog.stop()
            return watchdog.stalls

        (stall,) = asyncio.run(one_stall())
        self.assertEqual(stall["stack"][0]["function"], "held_here")
        self.assertGreaterEqual(stall["seconds"], 0.35)

    async def test_the_report_before_any_watchdog_is_empty(self):
        loopwatch._current = None
        report = (await self.async_client.get("/watchdog/report/")).json()
        self.assertEqual(report, {"running": False, "threshold": None, "stalls": []})

    async def test_bad_input_is_a_4xx_with_a_message(self):
        for query in ["threshold=0", "threshold=abc", "seconds=99", "seconds=nan"]:
            with self.subTest(query=query):
                response = await self.async_client.post(f"/watchdog/start/?{query}")
                self.assertEqual(response.status_code, 400)
                self.assertIn("error", response.json())
        self.assertEqual((await self.async_client.get("/watchdog/start/")).status_code, 405)
        missing = await self.async_client.get("/culprits/nobody/")
        self.assertEqual(missing.status_code, 404)
        self.assertIn("thumbnail", missing.json()["error"])
        bad_delay = await self.async_client.get("/culprits/report/", {"delay": "-1"})
        self.assertEqual(bad_delay.status_code, 400)

    def test_under_wsgi_the_watchdog_says_it_needs_asgi(self):
        response = self.client.post("/watchdog/start/")
        self.assertEqual(response.status_code, 409)
        self.assertIn("ASGI", response.json()["error"])
