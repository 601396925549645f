from django.test import SimpleTestCase, override_settings

from demo.middleware import RequestTimingMiddleware


class MiddlewareTests(SimpleTestCase):
    async def test_timing_middleware_stamps_server_timing(self):
        response = await self.async_client.get("/hello/async/")
        self.assertTrue(response["Server-Timing"].startswith("app;dur="))

    def test_timing_middleware_is_async_capable_and_sync_capable(self):
        self.assertTrue(RequestTimingMiddleware.async_capable)
        self.assertTrue(RequestTimingMiddleware.sync_capable)

    def test_timing_middleware_works_in_a_sync_stack_too(self):
        response = self.client.get("/hello/sync/")
        self.assertIn("Server-Timing", response)

    @override_settings(
        MIDDLEWARE=["demo.middleware.SyncOnlyMiddleware", "demo.middleware.RequestTimingMiddleware"]
    )
    async def test_sync_only_middleware_still_serves_async_views(self):
        response = await self.async_client.get("/hello/async/")
        self.assertEqual(response.json(), {"hello": "async"})
