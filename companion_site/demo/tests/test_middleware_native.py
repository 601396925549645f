"""demo.middleware_native gives the same answers as Django's own middleware, without their hops.

Each scenario is a short conversation (cookies kept from one request to the next) sent once
through Django's default stack and once through the native twins, each with a fresh client
and CSRF checks enforced as a browser would meet them. Every response is compared: status,
headers, body, and each cookie's attributes (values are random tokens: only whether one is set).
"""

import os
import runpy
from collections import Counter
from pathlib import Path
from unittest import mock

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.test import AsyncClient, Client, TestCase, override_settings

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "config" / "settings.py"
# Set per request by the site's own middleware: where and how long, never the same twice.
VARYING = {"Server-Timing", "X-Middleware-Thread"}
COOKIE_ATTRIBUTES = ("max-age", "path", "domain", "samesite", "httponly", "secure")


def stack(**env):
    """settings.MIDDLEWARE as config/settings.py builds it with these environment switches."""
    with mock.patch.dict(os.environ, env):
        return runpy.run_path(str(SETTINGS_FILE))["MIDDLEWARE"]


STOCK, NATIVE = stack(), stack(COMPANION_NATIVE_MIDDLEWARE="1")


def seen(response):
    """What a client can observe of a response, with random token values reduced to 'set'."""
    cookies = {
        name: {
            "value": "set" if morsel.value else "empty",
            "expires": bool(morsel["expires"]),
            **{attribute: morsel[attribute] for attribute in COOKIE_ATTRIBUTES},
        }
        for name, morsel in response.cookies.items()
    }
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    return {"status": response.status_code, "headers": headers, "body": response.content,
            "cookies": cookies}  # fmt: skip


def token(client):
    return client.cookies[settings.CSRF_COOKIE_NAME].value


async def csrf_conversation(client, url="/p/form/"):
    form = await client.get(url)
    return [
        form,
        await client.post(url, {"note": "no token"}),  # 403: CSRF cookie set, token missing
        await client.post(url, {"note": "header"}, headers={"X-CSRFToken": token(client)}),
        await client.post(url, {"note": "field", "csrfmiddlewaretoken": token(client)}),
        await client.post(url, {"note": "bad", "csrfmiddlewaretoken": "x" * 64}),
        await client.post(url, {"note": "origin"}, headers={"X-CSRFToken": token(client),
                                                              "Origin": "http://evil.example"}),
        await client.put(url, "", headers={"X-CSRFToken": token(client)}),  # unsafe, token ok
        await client.delete(url),  # unsafe, no token
        await client.head(url),
        await client.options(url),
    ]  # fmt: skip


async def session_conversation(client):
    return [
        await client.get("/p/peek/"),  # no session yet: nothing set, nothing varied
        await client.get("/p/remember/"),
        await client.get("/p/remember/"),
        await client.get("/p/peek/"),
        await client.get("/p/fail/"),  # 5xx: not saved
        await client.get("/p/peek/"),
        await client.get("/p/forget/"),  # emptied: the cookie is deleted
        await client.get("/p/peek/"),
        await client.get("/p/browser-close/"),  # no Max-Age
    ]


async def login_conversation(client):
    await client.get("/p/form/")
    headers = {"X-CSRFToken": token(client)}
    return [
        await client.get("/p/whoami/"),
        await client.post("/p/login/", {"username": "ada"}),  # refused: no token
        await client.post("/p/login/", {"username": "ada"}, headers=headers),
        await client.get("/p/whoami/"),
        await client.post("/p/logout/", headers={"X-CSRFToken": token(client)}),
        await client.get("/p/whoami/"),
    ]


async def common_and_frames_conversation(client):
    return [
        await client.get("/p/form"),  # APPEND_SLASH: 301 to /p/form/
        await client.get("/p/form?next=1"),
        await client.get("/no/such/page"),  # no view with a slash either: a plain 404
        await client.post("/p/form", {}),  # a POST to a URL without its slash
        await client.get("/p/frameable/"),
        await client.get("/p/same-origin-frame/"),
        await client.get("/hello/async/"),
        await client.get("/hello/sync/"),
        await client.get("/async/sleep/?delay=nope"),  # the site's own 400
    ]


async def secure_conversation(client):
    return [
        await client.get("/p/form/"),  # SECURE_SSL_REDIRECT: 301 to https
        await client.get("/p/form/", secure=True),  # HSTS on the https answer
        await client.post("/p/form/", {"note": "no referer"}, secure=True,
                          headers={"X-CSRFToken": "x" * 32}),  # https: Referer checked
    ]  # fmt: skip


async def refused_agent_conversation(client):
    return [
        await client.get("/p/form/", headers={"User-Agent": "BadBot/1.0"}),
        await client.get("/p/form/", headers={"User-Agent": "Friendly/1.0"}),
    ]


@override_settings(ROOT_URLCONF="demo.tests.protected_urls")
class NativeMiddlewareTests(TestCase):
    async def both(self, conversation, client_class=AsyncClient):
        """Run `conversation` through each stack with a fresh client; return what each saw."""
        seen_by = {}
        for name, middleware in (("django", STOCK), ("native", NATIVE)):
            with override_settings(MIDDLEWARE=middleware):
                client = client_class(enforce_csrf_checks=True)
                responses = await conversation(client)
            seen_by[name] = [seen(response) for response in responses]
        return seen_by

    async def assert_same(self, conversation, **kwargs):
        seen_by = await self.both(conversation, **kwargs)
        for index, (theirs, ours) in enumerate(
            zip(seen_by["django"], seen_by["native"], strict=True)
        ):
            with self.subTest(request=index):
                self.assertEqual(ours, theirs)
        return seen_by["native"]

    def test_the_native_stack_replaces_each_django_class_in_the_same_order(self):
        self.assertEqual(len(NATIVE), len(STOCK))
        for theirs, ours in zip(STOCK, NATIVE, strict=True):
            if theirs.startswith("django."):
                self.assertEqual(ours, f"demo.middleware_native.{theirs.rsplit('.', 1)[1]}")
            else:
                self.assertEqual(ours, theirs)
        self.assertIn("django.middleware.csrf.CsrfViewMiddleware", STOCK)

    async def test_csrf_refusals_and_acceptances_are_the_same(self):
        answers = await self.assert_same(csrf_conversation)
        self.assertEqual(
            [a["status"] for a in answers], [200, 403, 200, 200, 403, 403, 200, 403, 200, 200]
        )
        self.assertEqual(answers[0]["cookies"][settings.CSRF_COOKIE_NAME]["value"], "set")

    @override_settings(CSRF_USE_SESSIONS=True)
    async def test_csrf_with_the_token_in_the_session_is_the_same(self):
        async def conversation(client):
            form = await client.get("/p/form/")  # the token is now in the session
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            store = __import__("importlib").import_module(settings.SESSION_ENGINE).SessionStore
            secret = (await store(session).aload())["_csrftoken"]
            return [
                form,
                await client.post("/p/form/", {"note": "none"}),
                await client.post("/p/form/", {"note": "ok"}, headers={"X-CSRFToken": secret}),
            ]

        answers = await self.assert_same(conversation)
        self.assertEqual([a["status"] for a in answers], [200, 403, 200])

    async def test_csrf_for_a_sync_view_is_the_same(self):
        answers = await self.assert_same(lambda client: csrf_conversation(client, "/p/sync-form/"))
        self.assertEqual(answers[2]["body"], b'{"accepted": "header"}')

    async def test_session_cookies_vary_and_deletion_are_the_same(self):
        answers = await self.assert_same(session_conversation)
        statuses = [a["status"] for a in answers]
        self.assertEqual(statuses, [200, 200, 200, 200, 500, 200, 200, 200, 200])
        self.assertEqual(answers[2]["body"], b'{"visits": 2}')
        self.assertEqual(answers[5]["body"], b'{"visits": 2}')  # the 500's change was not saved
        self.assertEqual(answers[6]["cookies"][settings.SESSION_COOKIE_NAME]["value"], "empty")
        self.assertEqual(answers[8]["cookies"][settings.SESSION_COOKIE_NAME]["max-age"], "")
        self.assertEqual(answers[3]["headers"]["Vary"], "Cookie")

    async def test_login_and_logout_are_the_same(self):
        answers = await self.assert_same(login_conversation)
        self.assertEqual([a["status"] for a in answers], [200, 403, 200, 200, 200, 200])
        self.assertEqual(answers[3]["body"], b'{"authenticated": true, "username": "ada"}')
        self.assertEqual(answers[5]["body"], b'{"authenticated": false, "username": ""}')

    async def test_redirects_404s_and_frame_options_are_the_same(self):
        answers = await self.assert_same(common_and_frames_conversation)
        self.assertEqual(answers[0]["status"], 301)
        self.assertEqual(answers[0]["headers"]["Location"], "/p/form/")
        self.assertEqual(answers[1]["headers"]["Location"], "/p/form/?next=1")
        self.assertEqual(answers[2]["status"], 404)
        self.assertNotIn("X-Frame-Options", answers[4]["headers"])
        self.assertEqual(answers[5]["headers"]["X-Frame-Options"], "SAMEORIGIN")
        self.assertEqual(answers[6]["headers"]["X-Frame-Options"], "DENY")
        self.assertEqual(answers[6]["headers"]["X-Content-Type-Options"], "nosniff")
        self.assertEqual(answers[8]["status"], 400)

    @override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600, SECURE_HSTS_PRELOAD=True)
    async def test_ssl_redirect_and_hsts_are_the_same(self):
        answers = await self.assert_same(secure_conversation)
        self.assertEqual(answers[0]["status"], 301)
        self.assertTrue(answers[0]["headers"]["Location"].startswith("https://"))
        self.assertEqual(
            answers[1]["headers"]["Strict-Transport-Security"], "max-age=3600; preload"
        )
        self.assertEqual(answers[2]["status"], 403)

    @override_settings(DISALLOWED_USER_AGENTS=[__import__("re").compile("BadBot")])
    async def test_a_refused_user_agent_is_the_same(self):
        answers = await self.assert_same(refused_agent_conversation)
        self.assertEqual([a["status"] for a in answers], [403, 200])

    def test_under_wsgi_the_native_classes_behave_as_djangos(self):
        async def sync_conversation(client):
            # The sync test client: every middleware runs its plain sync path.
            return [
                client.get("/p/sync-form/"),
                client.post("/p/sync-form/", {"note": "no token"}),
                client.post(
                    "/p/sync-form/", {"note": "ok"}, headers={"X-CSRFToken": token(client)}
                ),
                client.get("/p/sync-form"),
            ]

        from asgiref.sync import async_to_sync

        answers = async_to_sync(self.assert_same)(sync_conversation, client_class=Client)
        self.assertEqual([a["status"] for a in answers], [200, 403, 200, 301])

    async def test_the_native_stack_makes_no_middleware_hop(self):
        calls = Counter()
        original = SyncToAsync.__call__

        async def counted(self, *args, **kwargs):
            owner = getattr(self.func, "__self__", None)
            calls[type(owner).__name__ if owner is not None else self.func.__qualname__] += 1
            return await original(self, *args, **kwargs)

        hops = {}
        for name, middleware in (("django", STOCK), ("native", NATIVE)):
            calls.clear()
            with (
                override_settings(MIDDLEWARE=middleware),
                mock.patch.object(SyncToAsync, "__call__", counted),
            ):
                client = AsyncClient(enforce_csrf_checks=True)
                await client.get("/p/form/")
                await client.post("/p/form/", {"note": "x"}, headers={"X-CSRFToken": token(client)})
            hops[name] = sum(n for what, n in calls.items() if "Middleware" in what)
        self.assertGreaterEqual(hops["django"], 20)  # ~11 per request
        self.assertEqual(hops["native"], 1)  # the POST's CSRF check, kept in a thread on purpose
