"""Answers to lesson 13's exercises, right and wrong, for tests/test_checks_lesson13.py."""

import asyncio
import threading
import time

import httpx


async def _growth(site):
    """{letter: how many connections more after calling it}, counted around each endpoint."""
    database = site.dsn.rsplit("/", 1)[1]
    grew = {}
    async with httpx.AsyncClient() as client:
        for letter in "abc":
            before = site.postgres.count_connections(database)
            for _ in range(5):
                await client.get(f"{site.url}/conn/mystery/{letter}/")
            await asyncio.sleep(0.3)
            grew[letter] = site.postgres.count_connections(database) - before
    return grew


async def find_leak(site):
    grew = await _growth(site)
    return max(grew, key=grew.get)


async def least_growth(site):
    """Measured well, read backwards: the letter whose connections grew least."""
    grew = await _growth(site)
    return min(grew, key=grew.get)


async def always_b(site):
    return "b"


async def seed_from_the_sites_environment(site):
    """The shortcut of reading the site's source: its shuffle's seed, from the server's process."""
    from tutorial.checks import lesson13

    for pid in site.pids():
        with open(f"/proc/{pid}/environ", "rb") as environ:
            for entry in environ.read().split(b"\0"):
                if entry.startswith(b"COMPANION_CONN_SEED="):
                    return lesson13.leaky_letter(entry.split(b"=", 1)[1].decode())
    return "a"


async def seed_from_any_processs_environment(site):
    """The same shortcut without the site's pids: every process's environment this user may
    read (the site's supervisor is exec'ed with the environment it was given), counted twice
    for show. 'no seed found' when none holds it."""
    import glob

    from tutorial.checks import lesson13

    database = site.dsn.rsplit("/", 1)[1]
    site.postgres.count_connections(database)
    site.postgres.count_connections(database)
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as environ:
                entries = environ.read().split(b"\0")
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(b"COMPANION_CONN_SEED"):
                name, _, value = entry.partition(b"=")
                if name == b"COMPANION_CONN_SEED_FILE":
                    with open(value, encoding="utf-8") as seed:  # gone once the site read it
                        return lesson13.leaky_letter(seed.read().strip())
                return lesson13.leaky_letter(value.decode())
    return "no seed found"


def _letter_the_check_expects():
    """What a lucky guess names: the leaky letter, read from the check's own frame."""
    import sys

    from tutorial.checks import lesson13

    frame = sys._getframe()
    while "seed" not in frame.f_locals:
        frame = frame.f_back
    return lesson13.leaky_letter(frame.f_locals["seed"])


async def counts_before_any_call_then_a_lucky_guess(site):
    """Counts twice (for show, before calling anything), then names the right letter by luck."""
    database = site.dsn.rsplit("/", 1)[1]
    site.postgres.count_connections(database)
    site.postgres.count_connections(database)
    return _letter_the_check_expects()


async def find_leak_untouched(site):
    raise NotImplementedError


def pool_size(in_flight, processes, max_connections, headroom):
    if in_flight * processes > max_connections - headroom:
        raise ValueError("does not fit")
    return in_flight


def pool_size_per_share(in_flight, processes, max_connections, headroom):
    return max(1, (max_connections - headroom) // processes // 2)


def pool_size_huge(in_flight, processes, max_connections, headroom):
    return 100


def pool_size_never_raises(in_flight, processes, max_connections, headroom):
    return in_flight


def pool_size_default(in_flight, processes, max_connections, headroom):
    if in_flight * processes > max_connections - headroom:
        raise ValueError("does not fit")
    return 4 if in_flight > 4 else in_flight


def issue_ticket_locked(work):
    from demo.models import Category, Item
    from django.db import transaction

    counter, _ = Category.objects.get_or_create(name="ticket counter")
    with transaction.atomic():
        Category.objects.select_for_update().get(pk=counter.pk)
        issued = Item.objects.filter(name__startswith="ticket ").count()
        time.sleep(work)
        Item.objects.create(name=f"ticket {issued + 1}")
    return issued + 1


def issue_ticket_racy(work):
    from demo.models import Item
    from django.db import transaction

    with transaction.atomic():
        issued = Item.objects.filter(name__startswith="ticket ").count()
        time.sleep(work)
        Item.objects.create(name=f"ticket {issued + 1}")
    return issued + 1


_python_lock = threading.Lock()


def issue_ticket_python_lock(work):
    with _python_lock:
        return issue_ticket_racy(work)


def issue_ticket_lock_outside_atomic(work):
    from demo.models import Item

    list(Item.objects.select_for_update().filter(name__startswith="ticket "))
    return 1


async def issue_ticket_async(work):
    return 1
