from django.test import SimpleTestCase


class SyncStreamTests(SimpleTestCase):
    def test_a_sync_generator_streams_its_events_then_done(self):
        response = self.client.get("/stream/sync/", {"count": 3, "interval": 0})
        self.assertEqual(response["Content-Type"], "text/event-stream")
        self.assertTrue(response.streaming)
        body = b"".join(response.streaming_content).decode()
        self.assertEqual(body.count("event: tick"), 3)
        self.assertTrue(body.endswith("event: done\ndata: {}\n\n"))

    def test_bad_parameters_are_a_400(self):
        for query in ({"count": 0}, {"interval": -1}, {"count": "x"}):
            with self.subTest(query=query):
                self.assertEqual(self.client.get("/stream/sync/", query).status_code, 400)
