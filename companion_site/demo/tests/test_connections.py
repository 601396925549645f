import asyncio
import json

from django.test import TestCase, TransactionTestCase

from demo.models import Item
from demo.views import connections


class QueryThenWaitTests(TestCase):
    async def test_reports_its_query_and_wait_on_the_servers_clock(self):
        await Item.objects.acreate(name="one")
        body = (await self.async_client.get("/conn/query/", {"delay": "0.05"})).json()
        self.assertEqual(body["items"], 1)
        self.assertLessEqual(body["started"], body["queried"])
        self.assertGreaterEqual(body["ended"] - body["queried"], 0.05)

    async def test_bad_delay_is_a_400(self):
        for delay in ("soon", "-1", "1e9", "nan"):
            response = await self.async_client.get("/conn/query/", {"delay": delay})
            self.assertEqual(response.status_code, 400, delay)
            self.assertIn("delay", response.json()["error"])


class MysteryTests(TestCase):
    def test_the_three_behaviours_are_shuffled_over_the_three_letters(self):
        self.assertEqual(set(connections._MYSTERY), set(connections.MYSTERIES))
        self.assertEqual(len(set(connections._MYSTERY.values())), 3)

    async def test_each_letter_answers_and_an_unknown_one_is_a_404(self):
        for letter in connections.MYSTERIES:
            response = await self.async_client.get(f"/conn/mystery/{letter}/")
            self.assertEqual(response.status_code, 200, letter)
        await asyncio.sleep(0.1)  # let the scheduled counts run before the test database goes
        response = await self.async_client.get("/conn/mystery/z/")
        self.assertEqual(response.status_code, 404)
        self.assertIn("try a, b, c", response.json()["error"])


class FireAndForgetTests(TestCase):
    async def test_both_answer_at_once_and_schedule_their_count(self):
        for path in ("/conn/fire-and-forget/", "/conn/fire-and-forget-closed/"):
            response = await self.async_client.get(path, {"delay": "0"})
            self.assertEqual(response.status_code, 200)
            self.assertIn("after the response", response.json()["scheduled"])
        await asyncio.sleep(0.1)


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
