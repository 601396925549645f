from django.test import SimpleTestCase, TestCase
from django.urls import get_resolver


class RootPageTests(SimpleTestCase):
    async def test_root_page_lists_every_route_with_what_it_teaches(self):
        response = await self.async_client.get("/")
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        for pattern in get_resolver().url_patterns[0].url_patterns:
            route = "/" + str(pattern.pattern)
            self.assertIn(route, html.replace("&lt;", "<").replace("&gt;", ">"))
            doc = (pattern.callback.__doc__ or "").strip()
            self.assertTrue(doc, f"view behind {route} has no docstring to show on the root page")

    async def test_root_page_marks_async_and_sync_views(self):
        html = (await self.async_client.get("/")).content.decode()
        self.assertIn('class="async">async', html)
        self.assertIn('class="sync">sync', html)


class HealthAndStatsTests(TestCase):
    async def test_health_answers_ok(self):
        response = await self.async_client.get("/health/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ok")

    async def test_stats_reports_threads_of_this_process(self):
        body = (await self.async_client.get("/stats/")).json()
        self.assertGreaterEqual(body["threads"], 1)
        self.assertIn("MainThread", body["thread_names"])


class ErrorAnswerTests(SimpleTestCase):
    async def test_unknown_route_is_a_json_404(self):
        response = await self.async_client.get("/no/such/page/")
        self.assertEqual(response.status_code, 404)
        self.assertIn("no route", response.json()["error"])

    async def test_wrong_method_is_a_json_405_naming_the_allowed_ones(self):
        response = await self.async_client.post("/async/sleep/")
        self.assertEqual(response.status_code, 405)
        self.assertEqual(response["Allow"], "GET")
        self.assertIn("use GET", response.json()["error"])

    async def test_class_based_view_rejects_wrong_method_with_json(self):
        response = await self.async_client.delete("/async/cbv-sleep/")
        self.assertEqual(response.status_code, 405)
        self.assertIn("error", response.json())
