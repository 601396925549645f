"""Every route answers bad input with a 4xx and a JSON message, never a 500 or an exception.

The test client re-raises any exception a view lets escape, so an unhandled error fails here
even before it would have become a 500.
"""

import re

from django.test import TransactionTestCase
from django.urls import get_resolver

from demo.params import MAX_DELAY

GARBAGE = {
    "delay": ["abc", "-1", "nan", "inf", str(MAX_DELAY * 100)],
    "n": ["x", "-5", "100000"],
    "count": ["x", "0", "10000000"],
    "interval": ["x", "-1"],
    "limit": ["x", "0"],
    "label": ["<script>", "x" * 500],
    "mode": ["nonsense"],
    "seconds": ["x", "1e9"],
}
METHODS = ["post", "put", "patch", "delete"]
# Routes whose whole point is to fail: the upstream that answers 503 for lesson 06.
FAILS_ON_PURPOSE = {"/upstream/fail/"}


def routes():
    """Every route of the demo app, with path converters filled in with 1 / 'x'."""
    for pattern in get_resolver().url_patterns[0].url_patterns:
        route = "/" + str(pattern.pattern)
        route = re.sub(r"<int:\w+>", "1", route)
        route = re.sub(r"<(?:slug|str):\w+>", "x", route)
        if route not in FAILS_ON_PURPOSE:
            yield route


class BadInputTests(TransactionTestCase):
    def test_garbage_parameters_are_a_4xx_with_a_message_on_every_route(self):
        rounds = max(len(values) for values in GARBAGE.values())
        for route in routes():
            for i in range(rounds):  # every parameter garbled at once, a different way each round
                query = {name: values[i % len(values)] for name, values in GARBAGE.items()}
                with self.subTest(route=route, query=query):
                    response = self.client.get(route, query)
                    self.assertLess(response.status_code, 500)
                    if response.status_code >= 400 and response["Content-Type"].startswith(
                        "application/json"
                    ):
                        self.assertIn("error", response.json())

    def test_wrong_methods_and_junk_bodies_never_fail(self):
        for route in routes():
            for method in METHODS:
                with self.subTest(route=route, method=method):
                    send = getattr(self.client, method)
                    response = send(route, data="{not json", content_type="application/json")
                    self.assertLess(response.status_code, 500)
