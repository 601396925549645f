from django.test import SimpleTestCase, override_settings


class OriginTests(SimpleTestCase):
    async def test_a_plain_request_is_http_from_its_client(self):
        body = (await self.async_client.get("/deploy/origin/")).json()
        self.assertEqual(body, {"scheme": "http", "is_secure": False, "client": "127.0.0.1"})

    @override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
    async def test_the_proxy_header_counts_only_when_the_setting_trusts_it(self):
        trusted = await self.async_client.get(
            "/deploy/origin/", headers={"x-forwarded-proto": "https"}
        )
        self.assertEqual(trusted.json()["scheme"], "https")
        self.assertTrue(trusted.json()["is_secure"])

    async def test_without_the_setting_the_header_is_ignored(self):
        body = (
            await self.async_client.get("/deploy/origin/", headers={"x-forwarded-proto": "https"})
        ).json()
        self.assertFalse(body["is_secure"])

    async def test_other_methods_are_a_405(self):
        self.assertEqual((await self.async_client.post("/deploy/origin/")).status_code, 405)
