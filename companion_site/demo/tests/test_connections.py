import asyncio
import json
import os
import tempfile
from pathlib import Path
from unittest import mock

from django.db import OperationalError
from django.test import TestCase, TransactionTestCase

from demo.models import Item
from demo.views import connections


class QueryThenSleepTests(TestCase):
    """/db/query-then-sleep/ (views/db_wait.py), as lesson 13 reads it: the server's clock."""

    async def test_reports_when_its_query_answered(self):
        await Item.objects.acreate(name="one")
        body = (await self.async_client.get("/db/query-then-sleep/", {"delay": "0.05"})).json()
        self.assertEqual(body["items"], 1)
        self.assertLessEqual(body["started"], body["queried"])
        self.assertGreaterEqual(body["ended"] - body["queried"], 0.05)

    async def test_a_pool_that_runs_dry_is_a_503_that_names_it(self):
        class PoolTimeout(Exception):
            pass

        refused = OperationalError("couldn't get a connection after 0.50 sec")
        refused.__cause__ = PoolTimeout()
        with mock.patch.object(Item.objects, "acount", side_effect=refused):
            response = await self.async_client.get("/db/query-then-sleep/")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["cause"], "PoolTimeout")


async def _scheduled_counts_done():
    """Wait for the counts the views scheduled: run after the test, they would hit a dropped
    test database; waited for by a fixed sleep, a busy machine left them running."""
    await asyncio.gather(*list(connections._tasks))


# TransactionTestCase: one of the scheduled counts closes its thread's connection, which in a
# TestCase is the test's own (inside its transaction): later queries would fail, not reconnect.
class MysteryTests(TransactionTestCase):
    def test_the_three_behaviours_are_shuffled_over_the_three_letters(self):
        self.assertEqual(set(connections._MYSTERY), set(connections.MYSTERIES))
        self.assertEqual(len(set(connections._MYSTERY.values())), 3)

    def test_the_seed_comes_from_a_file_that_is_removed_once_read(self):
        with tempfile.TemporaryDirectory() as folder:
            seed_file = Path(folder) / "seed"
            seed_file.write_text("1234\n")
            with mock.patch.dict(os.environ, {"COMPANION_CONN_SEED_FILE": str(seed_file)}):
                self.assertEqual(connections._seed(), "1234")
            self.assertFalse(seed_file.exists())  # nothing left for a learner's code to read

    async def test_each_letter_answers_and_an_unknown_one_is_a_404(self):
        for letter in connections.MYSTERIES:
            response = await self.async_client.get(f"/conn/mystery/{letter}/")
            self.assertEqual(response.status_code, 200, letter)
        await _scheduled_counts_done()
        response = await self.async_client.get("/conn/mystery/z/")
        self.assertEqual(response.status_code, 404)
        self.assertIn("try a, b, c", response.json()["error"])


class FireAndForgetTests(TransactionTestCase):
    async def test_both_answer_at_once_and_schedule_their_count(self):
        for path in ("/conn/fire-and-forget/", "/conn/fire-and-forget-closed/"):
            response = await self.async_client.get(path, {"delay": "0"})
            self.assertEqual(response.status_code, 200)
            self.assertIn("after the response", response.json()["scheduled"])
        await _scheduled_counts_done()


class TicketLockedTests(TransactionTestCase):
    async def test_tickets_count_up_one_by_one(self):
        numbers = []
        for _ in range(3):
            response = await self.async_client.post("/conn/ticket-locked/?delay=0")
            self.assertEqual(response.status_code, 201)
            numbers.append(json.loads(response.content)["ticket"])
        self.assertEqual(numbers, [1, 2, 3])

    async def test_get_is_not_allowed(self):
        response = await self.async_client.get("/conn/ticket-locked/")
        self.assertEqual(response.status_code, 405)
