"""The lesson 11 check runs the learner's test against the real /items/ view and broken copies:
a test passes the check only if it passes on the first and fails on every broken one."""

import asyncio

import pytest

from tutorial.checks import ExerciseFailed
from tutorial.checks import lesson11 as checks

# pytest-django sets Django up for the suite; the views' queries run in other threads.
pytestmark = pytest.mark.django_db(transaction=True)

NAME = "teapot from the test"


def run(test, check=checks.create_then_list):
    asyncio.run(check(test))


def failure(test, check=checks.create_then_list):
    with pytest.raises(ExerciseFailed) as caught:
        run(test, check)
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


# --- stream_test ------------------------------------------------------------------------------


async def events_of(client, count):
    response = await client.get("/stream/", {"count": count, "interval": 0})
    return response, [chunk.decode() async for chunk in response.streaming_content]


async def thorough_stream(client, count):
    response, events = await events_of(client, count)
    assert response.streaming
    assert response["Content-Type"].startswith("text/event-stream")
    ticks, last = events[:-1], events[-1]
    assert [event.splitlines()[0] for event in ticks] == [f"id: {n}" for n in range(count)]
    assert all("event: tick" in event for event in ticks)
    assert last.startswith("event: done")


def stream_failure(test):
    return failure(test, checks.stream_test)


def test_a_thorough_stream_test_passes(capsys):
    run(thorough_stream, checks.stream_test)
    assert "✓ [11_stream_test]" in capsys.readouterr().out


def test_untouched_stream_test_fails_with_not_started():
    async def test_stream(client, count):
        raise NotImplementedError

    assert stream_failure(test_stream).kind == "not_started"


def test_a_plain_for_over_the_stream_is_named():
    async def test_stream(client, count):
        response = await client.get("/stream/", {"count": count, "interval": 0})
        assert len(list(response.streaming_content)) == count + 1

    error = stream_failure(test_stream)
    assert error.kind == "exception"
    assert "async for" in error.hint and len(error.hint.splitlines()) <= 5


def test_reading_content_of_a_stream_is_named():
    async def test_stream(client, count):
        response = await client.get("/stream/", {"count": count, "interval": 0})
        assert b"event: done" in response.content

    assert "has no .content" in stream_failure(test_stream).hint


def test_a_hard_coded_count_fails_on_the_real_view():
    async def test_stream(client, count):
        await thorough_stream(client, 5)  # the lesson's number, not the one given
        assert count == 5

    assert stream_failure(test_stream).kind == "fails_on_working_view"


def test_counting_ticks_only_misses_a_missing_done():
    async def test_stream(client, count):
        _, events = await events_of(client, count)
        assert sum("event: tick" in event for event in events) == count

    assert "never sends its done event" in stream_failure(test_stream).hint


def test_no_look_at_the_ids_misses_renumbered_events():
    async def test_stream(client, count):
        response, events = await events_of(client, count)
        assert response.streaming and response["Content-Type"].startswith("text/event-stream")
        assert sum("event: tick" in event for event in events) == count
        assert events[-1].startswith("event: done")

    assert "numbers its events" in stream_failure(test_stream).hint


def test_reading_the_events_without_asking_if_it_streams_misses_a_buffered_body():
    async def test_stream(client, count):
        response = await client.get("/stream/", {"count": count, "interval": 0})
        body = b"".join(
            [chunk async for chunk in response.streaming_content]
            if response.streaming
            else [response.content]
        ).decode()
        events = [event + "\n\n" for event in body.split("\n\n") if event]
        assert response["Content-Type"].startswith("text/event-stream")
        assert [e.splitlines()[0] for e in events[:-1]] == [f"id: {n}" for n in range(count)]
        assert events[-1].startswith("event: done")

    assert "is no stream" in stream_failure(test_stream).hint


def test_testing_the_generator_instead_of_the_view_is_named():
    async def test_stream(client, count):
        from demo.views.streaming import _ticks

        events = [event async for event in _ticks(count, 0, "")]
        assert len(events) == count + 1 and "event: done" in events[-1]

    error = stream_failure(test_stream)
    assert error.kind == "wrong"
    assert "never asked the client it was given" in error.hint


# --- disconnect_test --------------------------------------------------------------------------

SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/stream/",
    "query_string": b"count=1000&interval=0.01",
    "headers": [(b"host", b"testserver")],
}


async def first_event(app):
    from asgiref.testing import ApplicationCommunicator

    communicator = ApplicationCommunicator(app, SCOPE)
    await communicator.send_input({"type": "http.request"})
    assert (await communicator.receive_output(timeout=2))["status"] == 200
    assert b"event: tick" in (await communicator.receive_output(timeout=2))["body"]
    return communicator


async def thorough_disconnect(app):
    communicator = await first_event(app)
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(timeout=2)
    assert not communicator.future.cancelled()  # it stopped by itself, not by wait's timeout


def disconnect_failure(test):
    return failure(test, checks.disconnect_test)


def test_a_thorough_disconnect_test_passes(capsys):
    run(thorough_disconnect, checks.disconnect_test)
    assert "✓ [11_disconnect_test]" in capsys.readouterr().out


def test_untouched_disconnect_test_fails_with_not_started():
    async def test_disconnect(app):
        raise NotImplementedError

    assert disconnect_failure(test_disconnect).kind == "not_started"


def test_waiting_without_leaving_fails_on_the_real_app():
    async def test_disconnect(app):
        communicator = await first_event(app)
        await communicator.wait(timeout=1)
        assert not communicator.future.cancelled()

    error = disconnect_failure(test_disconnect)
    assert error.kind == "fails_on_working_view"
    assert "send the disconnect" in error.hint


def test_trusting_wait_alone_misses_a_deaf_app():
    async def test_disconnect(app):  # the trap: wait() cancels a late app instead of raising
        communicator = await first_event(app)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=1)

    assert "does not raise when the app is late" in disconnect_failure(test_disconnect).hint


def test_leaving_without_waiting_misses_a_deaf_app():
    async def test_disconnect(app):
        communicator = await first_event(app)
        await communicator.send_input({"type": "http.disconnect"})

    assert "never hears the disconnect" in disconnect_failure(test_disconnect).hint


def test_the_async_client_instead_of_the_app_is_named():
    async def test_disconnect(app):
        from django.test import AsyncClient

        response = await AsyncClient().get("/stream/", {"count": 2, "interval": 0})
        assert response.streaming

    error = disconnect_failure(test_disconnect)
    assert error.kind == "wrong"
    assert "never told the app that the client left" in error.hint


def test_a_plain_def_disconnect_test_is_named():
    def test_disconnect(app):
        pass

    assert disconnect_failure(test_disconnect).kind == "not_async"


def test_creating_the_item_with_the_orm_instead_of_the_api_is_caught():
    async def test_create_then_list(client):  # a shortcut: never tests the POST
        from demo.models import Item

        await Item.objects.acreate(name=NAME)
        assert NAME in await listed_names(client)

    error = failure(test_create_then_list)
    assert error.kind == "wrong"
    assert "answers 200 instead of 201" in error.hint


# --- shortcuts: telling the real thing from a broken copy by how it is wired, not how it works --


async def asks_for_the_real_urlconf(client, *args):
    from django.conf import settings

    assert settings.ROOT_URLCONF == "config.urls"


async def asks_which_view_answers(client, *args):
    from django.urls import resolve

    view = resolve("/stream/" if args else "/items/").func
    assert view.__module__.startswith("demo.") and not hasattr(view, "broken")


async def asks_which_client_it_got(client, count):
    await client.get("/stream/", {"count": count, "interval": 0})
    assert type(client).__name__ == "_WatchedClient"


@pytest.mark.parametrize("test", [asks_for_the_real_urlconf, asks_which_view_answers])
def test_sniffing_the_urlconf_instead_of_testing_the_items_view_is_caught(test):
    assert failure(test).kind in ("wrong", "fails_on_working_view")


@pytest.mark.parametrize(
    "sniff", [asks_for_the_real_urlconf, asks_which_view_answers, asks_which_client_it_got]
)
def test_sniffing_instead_of_testing_the_stream_is_caught(sniff):
    async def test_stream(client, count):
        await client.get("/stream/", {"count": count, "interval": 0})
        await sniff(client, count)

    assert stream_failure(test_stream).kind in ("wrong", "fails_on_working_view")


def test_asking_the_app_whether_it_is_the_deaf_one_is_caught():
    async def test_disconnect(app):
        communicator = await first_event(app)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=2)
        assert not app.deaf  # passed the check while the app said which one it was

    assert disconnect_failure(test_disconnect).kind in ("wrong", "fails_on_working_view")


def test_a_test_that_reverses_the_url_name_passes(capsys):
    async def test_create_then_list(client):
        from django.urls import reverse

        created = await client.post(
            reverse("items"), {"name": NAME}, content_type="application/json"
        )
        assert created.status_code == 201
        assert created.json()["name"] == NAME
        assert NAME in await listed_names(client)

    run(test_create_then_list)
    assert "✓ [11_create_then_list]" in capsys.readouterr().out


def test_a_test_that_only_reverses_the_url_is_caught():
    async def test_create_then_list(client):  # "failed" on each broken copy: it had no names
        from django.urls import reverse

        assert reverse("items") == "/items/"

    error = failure(test_create_then_list)
    assert error.kind == "wrong" and "passed against a broken view" in error.hint
