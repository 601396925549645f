"""Two headless Chromium pages in one room of the companion site: what one types, the other sees."""

import secrets

import pytest

from tests.browser import SCREENSHOTS, launch_chromium, needs_chromium
from tutorial.site import start_site

pytestmark = [pytest.mark.browser, needs_chromium]
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

CONNECTED = "document.getElementById('status').textContent === 'connected'"


@pytest.fixture
def browser(tmp_path):
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path)
        yield context
        context.close()


def say(page, text):
    page.fill("#text", text)
    page.click("button")


def test_a_message_typed_in_one_page_appears_in_the_other(browser):
    room = f"lobby-{secrets.token_hex(2)}"
    with start_site() as site:
        ada, bob = browser.new_page(), browser.new_page()
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
