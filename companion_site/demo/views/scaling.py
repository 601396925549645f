"""What scaling decisions rest on: CPU work per worker, and database connections per request."""

import time

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.http import JsonResponse

from .. import params
from ..http import json_api
from .common import where_and_when

# Connections this process has opened since it started, counted by Django's own signal.
_opened = {"count": 0}


def _count_connection(sender, connection, **kwargs):
    _opened["count"] += 1  # under the GIL; a rare lost update would not change the lesson


connection_created.connect(_count_connection)


def _sum_of_squares(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


@json_api("GET")
def cpu(request):
    """Sync view that burns CPU (a pure-Python loop of `n` steps): one core per worker at most."""
    started = time.time()
    n = params.number(request, "n", 100_000, low=1, high=5_000_000, kind=int)
    _sum_of_squares(n)
    return JsonResponse(where_and_when("cpu", started, n=n))


@json_api("GET")
def db_connection(request):
    """Sync view that runs one query: how many DB connections has this process opened (CONN_MAX_AGE)?"""
    started = time.time()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse(
        where_and_when(
            "db_connection",
            started,
            opened=_opened["count"],
            conn_max_age=settings.DATABASES["default"]["CONN_MAX_AGE"],
        )
    )
