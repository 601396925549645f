from django.test import TransactionTestCase

URL = "/async/executor-orm/"


class ExecutorOrmTests(TransactionTestCase):
    async def test_reports_both_threads_and_the_item_count(self):
        body = (await self.async_client.get(URL, {"delay": "0.01"})).json()
        self.assertEqual(body["delay"], 0.01)
        self.assertGreaterEqual(body["ended"] - body["started"], 0.01)
        for route in ("run_in_executor", "sync_to_async"):
            with self.subTest(route=route):
                self.assertEqual(body[route]["items"], 0)
        # The loop's default executor names its threads asyncio_N; sync_to_async goes elsewhere.
        self.assertTrue(body["run_in_executor"]["thread"].startswith("asyncio_"))
        self.assertNotEqual(body["run_in_executor"]["thread"], body["sync_to_async"]["thread"])

    async def test_bad_delay_is_a_400(self):
        response = await self.async_client.get(URL, {"delay": "-1"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("delay", response.json()["error"])
