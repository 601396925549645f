import asyncio
import contextlib
import tempfile
from pathlib import Path

from django.tasks import task_backends
from django.test import SimpleTestCase, override_settings


def forget_task_backends():
    """django.tasks caches TASKS and its backends; nothing resets them when a test overrides it."""
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    with contextlib.suppress(AttributeError):
        del task_backends["default"]


# A TemporaryDirectory, not mkdtemp(): it is removed when the test process exits.
_MARKERS = tempfile.TemporaryDirectory(prefix="markers-")


@override_settings(MARKER_DIR=Path(_MARKERS.name))
class BackgroundTests(SimpleTestCase):
    async def marker(self, name):
        return await self.async_client.get(f"/background/marker/{name}/")

    async def test_created_task_writes_its_marker_after_the_response(self):
        response = await self.async_client.get(
            "/background/create-task/", {"marker": "later", "delay": "0.05"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual((await self.marker("later")).status_code, 404)  # not yet
        await asyncio.sleep(0.2)
        self.assertEqual((await self.marker("later")).json()["status"], "done")

    def test_under_wsgi_the_task_is_cancelled_with_its_one_off_loop(self):
        self.client.get("/background/create-task/", {"marker": "wsgi", "delay": "1"})
        self.assertEqual(self.client.get("/background/marker/wsgi/").json()["status"], "cancelled")

    async def test_enqueue_from_the_loop_fails_on_the_immediate_backend(self):
        body = (
            await self.async_client.get(
                "/background/enqueue/", {"marker": "e1", "delay": "0", "how": "enqueue"}
            )
        ).json()
        self.assertEqual((body["backend"], body["status"]), ("ImmediateBackend", "FAILED"))
        self.assertIn("AsyncToSync", body["errors"][0])

    async def test_aenqueue_runs_the_task_before_the_response(self):
        body = (
            await self.async_client.get("/background/enqueue/", {"marker": "e2", "delay": "0"})
        ).json()
        self.assertEqual(body["status"], "SUCCESSFUL")
        self.assertEqual((await self.marker("e2")).json()["by"], "django.tasks")

    async def test_the_dummy_backend_never_runs_the_task(self):
        dummy = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
        self.enterContext(override_settings(TASKS=dummy))
        forget_task_backends()
        self.addCleanup(forget_task_backends)
        body = (
            await self.async_client.get("/background/enqueue/", {"marker": "e3", "delay": "0"})
        ).json()
        self.assertEqual((body["backend"], body["status"]), ("DummyBackend", "READY"))
        self.assertEqual((await self.marker("e3")).status_code, 404)

    async def test_the_executor_recipe_finishes_before_the_response(self):
        body = (
            await self.async_client.get("/background/executor/", {"marker": "x", "delay": "0.01"})
        ).json()
        self.assertLessEqual((await self.marker("x")).json()["written"], body["ended"])

    async def test_bad_input_is_a_400(self):
        for params in ({"marker": "../etc"}, {"marker": ""}, {"marker": "ok", "delay": "-1"}):
            with self.subTest(params=params):
                response = await self.async_client.get("/background/create-task/", params)
                self.assertEqual(response.status_code, 400)
        bad_how = {"marker": "ok", "how": "later"}
        self.assertEqual(
            (await self.async_client.get("/background/enqueue/", bad_how)).status_code, 400
        )
