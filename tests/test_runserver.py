"""tutorial.runserver: manage.py runserver under the tutorial's supervisor, as lesson 00 shows it."""

import httpx

from tutorial.runserver import start_runserver


def test_runserver_is_a_threaded_wsgi_server_and_leaves_nothing_behind():
    with start_runserver() as dev:
        response = httpx.get(dev.url + "/sync/thread/")
        workdir = dev.workdir
        assert response.headers["server"].startswith("WSGIServer/")
        assert "process_request_thread" in response.json()["thread"]
    assert not dev.running
    assert not workdir.exists()
