import json

from django.test import TestCase

from demo.models import Item


class ItemsApiTests(TestCase):
    async def post(self, body, raw=False):
        data = body if raw else json.dumps(body)
        return await self.async_client.post("/items/", data, content_type="application/json")

    async def test_create_then_list_then_get_then_delete(self):
        created = await self.post({"name": "teapot", "category": "kitchen"})
        self.assertEqual(created.status_code, 201)
        item = created.json()
        self.assertEqual((item["name"], item["category"]), ("teapot", "kitchen"))

        listing = (await self.async_client.get("/items/")).json()
        self.assertEqual(listing["count"], 1)
        self.assertEqual(listing["items"][0]["category"], "kitchen")

        detail = await self.async_client.get(f"/items/{item['id']}/")
        self.assertEqual(detail.json()["name"], "teapot")

        deleted = await self.async_client.delete(f"/items/{item['id']}/")
        self.assertEqual(deleted.json(), {"deleted": item["id"]})
        self.assertEqual(await Item.objects.acount(), 0)

    async def test_rejected_writes_leave_the_database_unchanged(self):
        bad_bodies = ["not json", "[1, 2]", json.dumps({"name": ""}), json.dumps({"name": 3}),
                      json.dumps({"name": "x" * 101}), json.dumps({"name": "ok", "category": 5})]  # fmt: skip
        for body in bad_bodies:
            with self.subTest(body=body):
                response = await self.post(body, raw=True)
                self.assertEqual(response.status_code, 400)
                self.assertIn("error", response.json())
        self.assertEqual(await Item.objects.acount(), 0)

    async def test_unknown_item_is_a_json_404(self):
        response = await self.async_client.get("/items/999/")
        self.assertEqual(response.status_code, 404)
        self.assertIn("999", response.json()["error"])

    async def test_bad_limit_is_a_400(self):
        for bad in ["0", "x", "100000"]:
            response = await self.async_client.get("/items/", {"limit": bad})
            self.assertEqual(response.status_code, 400)
