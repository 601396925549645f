from django.test import TestCase

from demo.models import Item

GATHER, TICKET = "/orm/gather/", "/orm/ticket/"


class GatherQueriesTests(TestCase):
    async def test_two_gathered_queries_run_in_one_thread_one_after_the_other(self):
        body = (await self.async_client.get(GATHER, {"delay": "0.05"})).json()
        first, second = body["queries"]
        self.assertEqual(first["thread"], second["thread"])
        self.assertLessEqual(first["ended"], second["started"])
        self.assertGreaterEqual(body["ended"] - body["started"], 2 * 0.05)

    async def test_works_on_an_empty_table_and_leaves_one_row(self):
        self.assertEqual(await Item.objects.acount(), 0)
        body = (await self.async_client.get(GATHER, {"delay": "0"})).json()
        self.assertTrue(all(body["queries"]))
        self.assertEqual(await Item.objects.acount(), 1)

    async def test_bad_delay_is_a_400_and_post_a_405(self):
        self.assertEqual((await self.async_client.get(GATHER, {"delay": "x"})).status_code, 400)
        self.assertEqual((await self.async_client.post(GATHER)).status_code, 405)


class TicketTests(TestCase):
    async def test_tickets_are_numbered_one_by_one(self):
        numbers = []
        for _ in range(3):
            response = await self.async_client.post(TICKET + "?delay=0")
            self.assertEqual(response.status_code, 201)
            numbers.append(response.json()["ticket"])
        self.assertEqual(numbers, [1, 2, 3])
        self.assertEqual(await Item.objects.filter(name="ticket 3").acount(), 1)

    async def test_get_is_a_405_and_bad_delay_a_400(self):
        self.assertEqual((await self.async_client.get(TICKET)).status_code, 405)
        response = await self.async_client.post(TICKET + "?delay=-1")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(await Item.objects.acount(), 0)
