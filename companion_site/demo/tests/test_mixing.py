import asyncio
import inspect

from django.test import SimpleTestCase, override_settings
from django.urls import path

from demo.views import mixing

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


# A fixed order for these tests: lock, await, blocking, sync thread (the site draws one per start).
urlpatterns = [
    *(path(f"mystery/{letter}/", view) for letter, view in mixing.mystery_views("abcd").items()),
    path("mystery/probe/", mixing.mystery_probe),
    path("mystery/seen/", mixing.mystery_seen),
]


@override_settings(ROOT_URLCONF=__name__)
class MysteryTests(SimpleTestCase):
    async def test_each_mystery_reports_its_letter_and_delay_but_not_its_thread(self):
        for url in MYSTERIES:
            with self.subTest(url=url):
                body = (await self.async_client.get(url, {"delay": "0.01"})).json()
                self.assertEqual(body["view"], "mystery_" + url.split("/")[2])
                self.assertEqual(body["delay"], 0.01)
                self.assertNotIn("thread", body)

    async def test_bad_delays_and_tags_are_a_400(self):
        for url in MYSTERIES:
            with self.subTest(url=url):
                response = await self.async_client.get(url, {"delay": "-1"})
                self.assertEqual(response.status_code, 400)
                response = await self.async_client.get(url, {"tag": "../etc"})
                self.assertEqual(response.status_code, 400)
        self.assertEqual((await self.async_client.get("/mystery/seen/")).status_code, 400)

    async def test_awaiting_mysteries_overlap_and_the_others_do_not(self):
        async def three(url):
            responses = await asyncio.gather(
                *(self.async_client.get(url, {"delay": "0.05"}) for _ in range(3))
            )
            return [r.json() for r in responses]

        self.assertEqual(most_at_once(await three("/mystery/b/")), 3)  # awaits
        self.assertEqual(most_at_once(await three("/mystery/a/")), 1)  # waits for a lock
        self.assertEqual(most_at_once(await three("/mystery/c/")), 1)  # blocks the loop

    async def test_tagged_requests_and_probes_are_remembered(self):
        await self.async_client.get("/mystery/b/", {"delay": "0", "tag": "t1"})
        await self.async_client.get("/mystery/probe/", {"tag": "t1"})
        await self.async_client.get("/mystery/probe/", {"tag": "t1"})
        seen = (await self.async_client.get("/mystery/seen/", {"tag": "t1"})).json()
        self.assertEqual((len(seen["requests"]), len(seen["probes"])), (1, 2))
        nothing = (await self.async_client.get("/mystery/seen/", {"tag": "never"})).json()
        self.assertEqual(nothing, {"requests": [], "probes": []})


class MysteryOrderTests(SimpleTestCase):
    def test_the_environment_fixes_the_order(self):
        self.assertEqual(mixing.mystery_order({"COMPANION_MYSTERY_ORDER": "dcba"}), "dcba")

    def test_without_it_each_start_draws_a_permutation(self):
        orders = {mixing.mystery_order({}) for _ in range(50)}
        self.assertTrue(all(sorted(order) == list("abcd") for order in orders))
        self.assertGreater(len(orders), 1)

    def test_a_bad_order_is_refused(self):
        with self.assertRaises(ValueError):
            mixing.mystery_order({"COMPANION_MYSTERY_ORDER": "aabc"})

    def test_letters_and_behaviours_follow_the_order(self):
        views = mixing.mystery_views("cadb")
        self.assertEqual(sorted(views), list("abcd"))
        self.assertFalse(inspect.iscoroutinefunction(views["b"]))  # 4th behaviour: sync
        self.assertTrue(all(inspect.iscoroutinefunction(views[x]) for x in "acd"))
