import json

from django.contrib.auth.models import User
from django.core.exceptions import SynchronousOnlyOperation
from django.test import TestCase

ADA = {"username": "ada", "password": "correct horse battery"}


class AccountsTests(TestCase):
    async def post(self, url, body):
        return await self.async_client.post(url, json.dumps(body), content_type="application/json")

    async def test_signup_login_whoami_logout(self):
        anonymous = (await self.async_client.get("/auth/whoami/")).json()
        self.assertEqual(anonymous, {"authenticated": False, "username": None})
        self.assertEqual((await self.post("/auth/signup/", ADA)).status_code, 201)
        self.assertEqual((await self.post("/auth/signup/", ADA)).status_code, 409)
        self.assertEqual((await self.post("/auth/login/", ADA)).status_code, 200)
        me = (await self.async_client.get("/auth/whoami/")).json()
        self.assertEqual(me, {"authenticated": True, "username": "ada"})
        await self.post("/auth/logout/", {})
        self.assertFalse((await self.async_client.get("/auth/whoami/")).json()["authenticated"])

    async def test_both_signups_store_a_password_that_logs_in(self):
        for url, name in (("/auth/signup/", "ada"), ("/auth/signup-on-loop/", "bob")):
            with self.subTest(url=url):
                self.assertEqual((await self.post(url, {**ADA, "username": name})).status_code, 201)
                self.assertEqual((await self.post(url, {**ADA, "username": name})).status_code, 409)
                user = await User.objects.aget(username=name)
                self.assertNotEqual(user.password, ADA["password"])  # hashed, not stored as is
                self.assertTrue(await user.acheck_password(ADA["password"]))
                login = await self.post("/auth/login/", {**ADA, "username": name})
                self.assertEqual(login.status_code, 200)

    async def test_request_user_in_an_async_view_raises_once_there_is_a_session(self):
        anonymous = (await self.async_client.get("/auth/whoami-request-user/")).json()
        self.assertEqual(anonymous["authenticated"], False)  # no session: no query, no error
        await self.post("/auth/signup/", ADA)
        await self.post("/auth/login/", ADA)
        with self.assertRaises(SynchronousOnlyOperation):
            await self.async_client.get("/auth/whoami-request-user/")

    async def test_wrong_password_is_a_401(self):
        await self.post("/auth/signup/", ADA)
        response = await self.post("/auth/login/", {**ADA, "password": "not the password"})
        self.assertEqual(response.status_code, 401)

    async def test_bad_credentials_are_a_400(self):
        for body in ({}, {"username": "ada"}, {"username": "ada", "password": "short"}, []):
            with self.subTest(body=body):
                self.assertEqual((await self.post("/auth/login/", body)).status_code, 400)

    async def test_the_session_counts_visits(self):
        counts = [
            (await self.async_client.get("/session/visits/")).json()["visits"] for _ in range(3)
        ]
        self.assertEqual(counts, [1, 2, 3])
