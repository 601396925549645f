"""What a learner sees of the companion site in a real headless Chromium: its root page, the live
page during a load, and two pages in one WebSocket room (JupyterLab itself: tests/test_lab.py).

One Chromium and one site for the module (each costs a second or more of CPU to start): every
test opens pages of its own and closes them.
"""

import asyncio
import secrets
import threading

import pytest

from tests.browser import SCREENSHOTS, chromium, needs_chromium
from tutorial.load import fire
from tutorial.site import start_site

pytestmark = [pytest.mark.browser, needs_chromium]

CONNECTED = "document.getElementById('status').textContent === 'connected'"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as context:
        yield context


@pytest.fixture(scope="module")
def site():
    with start_site() as site:
        yield site


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def test_the_root_page_lists_every_endpoint(page, site):
    page.goto(site.url + "/")
    rows = page.locator("tbody tr")
    assert rows.count() >= 10
    # /async/blocking/, /auth/signup-on-loop/, /auth/whoami-request-user/ and lesson 02's
    # /culprits/<name>/ are marked as such
    assert page.locator("td", has_text="THE MISTAKE").count() == 4
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "site-root.png", full_page=True)


def test_the_live_page_shows_requests_in_flight_while_a_load_runs(page, site):
    page.goto(site.url + "/live/")
    page.wait_for_function("document.getElementById('status').textContent === 'live'")
    served_before = int(page.locator("#served").inner_text())

    load = threading.Thread(
        target=asyncio.run, args=(fire(site.url + "/async/sleep/?delay=2", n=40),)
    )
    load.start()
    try:
        page.wait_for_function(
            "Number(document.getElementById('in-flight').textContent) >= 20", timeout=10_000
        )
        # For the picture: the history chart shows the load for 8 snapshots (0.1 s apart).
        page.wait_for_function("history.filter(n => n >= 20).length >= 8", timeout=10_000)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "site-live.png", full_page=True)
        assert "/async/sleep/" in page.locator("#paths").inner_text()
    finally:
        load.join(30)
    page.wait_for_function("document.getElementById('in-flight').textContent === '0'")
    assert int(page.locator("#served").inner_text()) >= served_before + 40


def say(page, text):
    page.fill("#text", text)
    page.click("button")


def test_a_message_typed_in_one_page_appears_in_the_other(browser, site):
    room = f"lobby-{secrets.token_hex(2)}"
    ada, bob = browser.new_page(), browser.new_page()
    try:
        for page in (ada, bob):
            page.goto(f"{site.url}/room/{room}/")
            page.wait_for_function(CONNECTED)

        say(ada, "hello from Ada")
        bob.locator("#log div", has_text="hello from Ada").wait_for(timeout=5_000)
        say(bob, "hi Ada, Bob here")
        ada.locator("#log div", has_text="hi Ada, Bob here").wait_for(timeout=5_000)

        for page in (ada, bob):  # each page shows both messages, in the order they were sent
            lines = page.locator("#log div").all_inner_texts()
            said = [line.split("sent via")[0].strip() for line in lines if "sent via" in line]
            assert said == ["hello from Ada", "hi Ada, Bob here"]
        assert "Traceback" not in site.logs(1000)
        SCREENSHOTS.mkdir(exist_ok=True)
        bob.screenshot(path=SCREENSHOTS / "site-room.png", full_page=True)

        ada.close()  # the server sees the page go and the room's group shrinks to one member
        bob.wait_for_function(
            f"fetch('/room/{room}/members/').then(r => r.json()).then(d => d.members === 1)",
            timeout=5_000,
        )
    finally:
        for page in (ada, bob):
            page.close()
