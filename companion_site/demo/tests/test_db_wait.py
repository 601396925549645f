from django.test import TransactionTestCase


class QueryThenSleepTests(TransactionTestCase):
    async def test_the_async_view_queries_then_waits(self):
        response = await self.async_client.get("/db/query-then-sleep/", {"delay": 0})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["items"], 0)
        released = await self.async_client.get("/db/query-then-sleep/", {"delay": 0, "release": 1})
        self.assertEqual(released.json()["view"], "query_then_sleep")

    def test_the_sync_view_queries_then_waits(self):
        response = self.client.get("/db/sync-query-then-sleep/", {"delay": 0})
        self.assertEqual(response.json()["items"], 0)
        released = self.client.get("/db/sync-query-then-sleep/", {"delay": 0, "release": 1})
        self.assertEqual(released.json()["view"], "sync_query_then_sleep")

    def test_bad_parameters_are_a_400(self):
        for url in ("/db/query-then-sleep/", "/db/sync-query-then-sleep/"):
            for query in ({"release": "yes"}, {"delay": -1}):
                with self.subTest(url=url, query=query):
                    self.assertEqual(self.client.get(url, query).status_code, 400)
