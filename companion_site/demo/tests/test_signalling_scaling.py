from django.test import SimpleTestCase, TestCase


class SignalTests(SimpleTestCase):
    async def test_asend_runs_sync_receivers_in_a_thread_then_async_ones_together(self):
        body = (await self.async_client.get("/signals/ping/", {"delay": "0.05"})).json()
        receivers = {r["receiver"]: r for r in body["receivers"]}
        self.assertEqual(len(receivers), 3)
        first, second = receivers["first_async_receiver"], receivers["second_async_receiver"]
        self.assertNotEqual(receivers["sync_receiver"]["thread"], first["thread"])
        self.assertGreaterEqual(first["started"], receivers["sync_receiver"]["ended"])
        self.assertLess(second["started"], first["ended"])  # the async ones overlapped


class MiddlewareThreadTests(SimpleTestCase):
    async def test_timing_middleware_reports_its_thread(self):
        response = await self.async_client.get("/hello/async/")
        self.assertIn("X-Middleware-Thread", response)


class ScalingTests(TestCase):
    def test_cpu_view_reports_its_work(self):
        body = self.client.get("/scaling/cpu/", {"n": "1000"}).json()
        self.assertEqual(body["n"], 1000)
        self.assertEqual(self.client.get("/scaling/cpu/", {"n": "0"}).status_code, 400)

    def test_db_connection_view_counts_connections_opened(self):
        body = self.client.get("/scaling/db-connection/").json()
        self.assertGreaterEqual(body["opened"], 0)
        self.assertEqual(body["conn_max_age"], 0)
