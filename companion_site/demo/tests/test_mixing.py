import asyncio

from django.test import SimpleTestCase

MYSTERIES = ["/mystery/a/", "/mystery/b/", "/mystery/c/", "/mystery/d/"]


def most_at_once(bodies):
    """How many of the views' started..ended spans were in progress at the same moment."""
    return max(
        sum(
            other["started"] < body["ended"] and body["started"] < other["ended"]
            for other in bodies
        )
        for body in bodies
    )


class WhichLoopTests(SimpleTestCase):
    async def test_async_requests_share_the_running_loop(self):
        first = (await self.async_client.get("/async/loop/")).json()
        second = (await self.async_client.get("/async/loop/")).json()
        self.assertEqual(first["loop"], second["loop"])

    def test_each_sync_request_gets_a_new_loop_as_under_wsgi(self):
        first = self.client.get("/async/loop/").json()
        second = self.client.get("/async/loop/").json()
        self.assertNotEqual(first["loop"], second["loop"])
        self.assertTrue(first["thread"].startswith("ThreadPoolExecutor"))


class MysteryTests(SimpleTestCase):
    async def test_each_mystery_reports_its_view_and_delay(self):
        for url in MYSTERIES:
            with self.subTest(url=url):
                body = (await self.async_client.get(url, {"delay": "0.01"})).json()
                self.assertEqual(body["view"], "mystery_" + url.split("/")[2])
                self.assertEqual(body["delay"], 0.01)

    async def test_bad_delays_are_a_400(self):
        for url in MYSTERIES:
            with self.subTest(url=url):
                response = await self.async_client.get(url, {"delay": "-1"})
                self.assertEqual(response.status_code, 400)

    async def test_awaiting_mysteries_overlap_and_the_others_do_not(self):
        async def three(url):
            responses = await asyncio.gather(
                *(self.async_client.get(url, {"delay": "0.05"}) for _ in range(3))
            )
            return [r.json() for r in responses]

        self.assertEqual(most_at_once(await three("/mystery/b/")), 3)  # awaits
        self.assertEqual(most_at_once(await three("/mystery/a/")), 1)  # waits for a lock
        self.assertEqual(most_at_once(await three("/mystery/c/")), 1)  # blocks the loop
