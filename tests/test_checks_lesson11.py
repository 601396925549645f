"""The lesson 11 check runs the learner's test against the real /items/ view and broken copies:
a test passes the check only if it passes on the first and fails on every broken one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson11 as checks

# pytest-django sets Django up for the suite; the views' queries run in other threads.
pytestmark = pytest.mark.django_db(transaction=True)

NAME = "teapot from the test"


def run(test):
    asyncio.run(checks.create_then_list(test))


def failure(test):
    with pytest.raises(ExerciseFailed) as caught:
        run(test)
    return caught.value


async def post(client, name=NAME):
    return await client.post("/items/", {"name": name}, content_type="application/json")


async def listed_names(client):
    response = await client.get("/items/")
    assert response.status_code == 200
    return [item["name"] for item in response.json()["items"]]


async def thorough(client):
    created = await post(client)
    assert created.status_code == 201
    assert created.json()["name"] == NAME
    assert NAME in await listed_names(client)


def test_a_thorough_test_passes(capsys):
    run(thorough)
    assert "✓ [11_create_then_list]" in capsys.readouterr().out


def test_untouched_exercise_fails_with_not_started():
    async def test_create_then_list(client):
        raise NotImplementedError

    assert failure(test_create_then_list).kind == "not_started"


def test_a_test_that_never_looks_at_the_status_misses_a_200():
    async def test_create_then_list(client):
        await post(client)
        assert NAME in await listed_names(client)

    assert "answers 200 instead of 201" in failure(test_create_then_list).hint


def test_a_test_of_status_codes_only_misses_a_view_that_saves_nothing():
    async def test_create_then_list(client):
        assert (await post(client)).status_code == 201
        assert (await client.get("/items/")).status_code == 200

    assert "saves nothing" in failure(test_create_then_list).hint


def test_counting_items_misses_a_view_that_ignores_the_name():
    async def test_create_then_list(client):
        before = len(await listed_names(client))
        assert (await post(client)).status_code == 201
        assert len(await listed_names(client)) == before + 1

    assert "'untitled'" in failure(test_create_then_list).hint


def test_trusting_the_post_body_misses_a_stale_listing():
    async def test_create_then_list(client):
        created = await post(client)
        assert created.status_code == 201
        assert created.json()["name"] == NAME
        await listed_names(client)

    assert "saves nothing" in failure(test_create_then_list).hint


def test_a_test_that_expects_an_empty_database_fails_on_the_real_view():
    async def test_create_then_list(client):
        assert (await post(client)).status_code == 201
        assert (await listed_names(client))[0] == NAME

    error = failure(test_create_then_list)
    assert error.kind == "fails_on_working_view"
    assert "line" in error.hint


def test_a_form_post_fails_on_the_real_view():
    async def test_create_then_list(client):
        response = await client.post("/items/", {"name": NAME})
        assert response.status_code == 201

    assert "content_type='application/json'" in failure(test_create_then_list).hint


def test_a_forgotten_await_is_named():
    async def test_create_then_list(client):
        response = client.get("/items/")
        try:
            assert response.status_code == 200
        finally:
            response.close()

    assert failure(test_create_then_list).kind == "missing_await"


def test_the_sync_client_in_a_running_loop_is_named():
    async def test_create_then_list(client):
        from django.test import Client

        assert Client().get("/items/").status_code == 200

    assert failure(test_create_then_list).kind == "sync_client"


def test_a_plain_def_is_named():
    def test_create_then_list(client):
        pass

    assert failure(test_create_then_list).kind == "not_async"
