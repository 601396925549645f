import asyncio
from unittest import mock

import httpx
from django.core.handlers.asgi import ASGIHandler
from django.test import SimpleTestCase

from demo.views import fanout


def overlapped(a, b):
    return a["started"] < b["ended"] and b["started"] < a["ended"]


class FanOutTests(SimpleTestCase):
    """The fan-out view, its upstreams reached in-process: the test client has no port to call."""

    # The in-process upstream requests run Django's end-of-request connection cleanup in their
    # own threads; allow it, or a connection an earlier test left open trips pytest-django's guard.
    databases = "__all__"

    def setUp(self):
        def in_process_client():
            transport = httpx.ASGITransport(app=ASGIHandler())
            return httpx.AsyncClient(transport=transport, limits=fanout.POOL_LIMITS)

        self.upstream = fanout.SharedClient(in_process_client)
        patcher = mock.patch.object(fanout, "UPSTREAM", self.upstream)
        patcher.start()
        self.addCleanup(patcher.stop)

    async def fan_out(self, **query):
        return await self.async_client.get("/fanout/", {k: str(v) for k, v in query.items()})

    async def test_concurrent_modes_overlap_and_sequential_does_not(self):
        for mode, overlaps in [("gather", True), ("taskgroup", True), ("sequential", False)]:
            with self.subTest(mode=mode):
                body = (await self.fan_out(n=3, delay=0.05, mode=mode)).json()
                upstream = [call["body"] for call in body["calls"]]
                self.assertEqual([b["n"] for b in upstream], [0, 1, 2])
                self.assertIs(overlapped(upstream[0], upstream[2]), overlaps)

    async def test_a_limit_caps_this_request_s_calls_in_flight(self):
        body = (await self.fan_out(n=5, delay=0.05, limit=2)).json()
        upstream = [call["body"] for call in body["calls"]]
        most = max(sum(overlapped(a, b) for b in upstream) for a in upstream)
        self.assertEqual((body["ok"], body["limit"], most), (5, 2, 2))

    async def test_a_bad_limit_is_a_400(self):
        for bad in ["-1", "x", "21"]:
            with self.subTest(limit=bad):
                self.assertEqual((await self.fan_out(limit=bad)).status_code, 400)

    async def test_a_failing_upstream_is_recorded_and_the_page_still_answers(self):
        response = await self.fan_out(n=3, delay=0.01, fail=1)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual((body["ok"], body["failed"]), (2, 1))
        self.assertEqual(body["calls"][0]["status"], 503)
        self.assertIn("503", body["calls"][0]["error"])

    async def test_a_slow_upstream_trips_its_own_timeout_only(self):
        body = (await self.fan_out(n=3, delay=0.01, slow=1, timeout=0.1)).json()
        slow, *others = body["calls"]
        self.assertEqual((slow["kind"], slow["state"]), ("slow", "failed"))
        self.assertEqual(slow["error"], "TimeoutError")
        self.assertEqual([c["state"] for c in others], ["done", "done"])
        self.assertLess(body["elapsed"], fanout.SLOW_DELAY / 2)

    async def test_strict_gather_leaves_the_other_calls_running(self):
        response = await self.fan_out(n=3, delay=0.1, fail=1, strict=1, mode="gather")
        self.assertEqual(response.status_code, 502)
        body = response.json()
        self.assertEqual((body["failed"], body["still_running"], body["cancelled"]), (1, 2, 0))
        await asyncio.sleep(0.2)  # let the orphans finish before this test's loop closes

    async def test_strict_taskgroup_cancels_the_other_calls(self):
        response = await self.fan_out(n=3, delay=0.1, fail=1, strict=1, mode="taskgroup")
        self.assertEqual(response.status_code, 502)
        body = response.json()
        self.assertEqual((body["failed"], body["still_running"], body["cancelled"]), (1, 0, 2))
        self.assertIn("503", body["error"])

    async def test_strict_sequential_stops_at_the_first_failure(self):
        body = (await self.fan_out(n=3, delay=0.01, fail=1, strict=1, mode="sequential")).json()
        self.assertEqual([c["state"] for c in body["calls"]], ["failed"] + ["not started"] * 2)

    async def test_one_client_serves_every_request_on_the_loop(self):
        first = (await self.fan_out(n=2, delay=0.01)).json()["client"]
        second = (await self.fan_out(n=2, delay=0.01)).json()["client"]
        self.assertTrue(first["shared"])
        self.assertEqual(first["id"], second["id"])
        self.assertEqual(self.upstream.created, 1)
        await self.upstream.get().aclose()

    async def test_bad_parameters_are_a_400_with_a_message(self):
        bad = [
            {"n": 0}, {"n": fanout.MAX_FANOUT + 1}, {"n": "many"}, {"mode": "parallel"},
            {"timeout": 0}, {"timeout": "nan"}, {"strict": 2}, {"n": 2, "fail": 2, "slow": 1},
        ]  # fmt: skip
        for query in bad:
            with self.subTest(query=query):
                response = await self.fan_out(**query)
                self.assertEqual(response.status_code, 400)
                self.assertTrue(response.json()["error"])


class UpstreamTests(SimpleTestCase):
    async def test_item_answers_its_number_after_its_delay(self):
        body = (await self.async_client.get("/upstream/item/7/", {"delay": "0.02"})).json()
        self.assertEqual((body["n"], body["delay"]), (7, 0.02))
        self.assertGreaterEqual(body["ended"] - body["started"], 0.02)

    async def test_fail_answers_503(self):
        response = await self.async_client.get("/upstream/fail/")
        self.assertEqual(response.status_code, 503)
