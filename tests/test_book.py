"""The rendered book (`make book`): what a reader who has not installed anything sees.

These tests read the built site in docs/book/_build/html, so they need `make book` first and are
left out of `make test` (pyproject.toml deselects the `book` marker); .ci/run builds the book
after `make test` and then runs `pytest -n 0 -m book tests/test_book.py`.
"""

import functools
import html
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import ROOT, SCREENSHOTS, launch_chromium, needs_chromium

BOOK = ROOT / "docs" / "book" / "_build" / "html"
LESSONS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
EXERCISES = sorted(path.stem for path in (ROOT / "exercises").glob("*.ipynb"))
pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def book():
    if not (BOOK / "index.html").exists():
        pytest.fail(f"no built book in {BOOK}: run `make book` first")
    return BOOK


def page_text(book, name):
    return (book / f"{name}.html").read_text()


CELL = re.compile(r'<div class="cell((?: tag_[\w-]+)*) docutils container">')


def cells(page):
    """(tags, input source, output HTML) of each code cell of a built page."""
    parts = CELL.split(page)[1:]
    found = []
    for tags, block in zip(parts[::2], parts[1::2], strict=True):
        source, _, output = block.partition('<div class="cell_output')
        tags = {tag.removeprefix("tag_") for tag in tags.split()}
        found.append((tags, html.unescape(re.sub(r"<[^>]+>", "", source)), output))
    return found


def test_every_lesson_and_exercise_is_a_page_and_no_solution_is(book):
    for name in LESSONS:
        assert (book / "notebooks" / f"{name}.html").exists(), f"lesson {name} has no page"
    for name in EXERCISES:
        assert (book / "exercises" / f"{name}.html").exists(), f"exercise {name} has no page"
    assert not (book / "solutions").exists()
    assert not list(book.rglob("*solution*.html"))


def test_exercise_pages_have_the_blanks_and_not_the_answers(book):
    for name in EXERCISES:
        text = page_text(book, f"exercises/{name}")
        assert "YOUR CODE HERE" in text, f"exercises/{name}: the cells to fill in are missing"
        assert "BEGIN SOLUTION" not in text, f"exercises/{name} shows an answer"


def test_lessons_were_executed_and_fail_only_where_they_mean_to(book):
    for name in LESSONS:
        page_cells = cells(page_text(book, f"notebooks/{name}"))
        assert any(output for *_, output in page_cells), f"{name} was not executed: no outputs"
        for tags, source, output in page_cells:
            if "raises-exception" in tags:
                intended = re.search(r"^# raises: (\w+)", source, re.M).group(1)
                assert "output traceback" in output, f"{name}: {source[:60]!r} shows no exception"
                # A check's failure shows its one-line hint (✗ …), as in JupyterLab, not a traceback.
                shown = "✗" if intended == "ExerciseFailed" else intended
                assert shown in html.unescape(re.sub(r"<[^>]+>", "", output)), (
                    f"{name}: the cell meant to raise {intended} shows something else"
                )
            else:
                assert "output traceback" not in output, f"{name}: {source[:80]!r} failed"


@pytest.fixture(scope="module")
def served(book):
    """The built book over HTTP on 127.0.0.1, as a static host would serve it."""
    handler = functools.partial(QuietHandler, directory=str(book))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("book-browser"))
        yield context
        context.close()


@pytest.fixture
def open_page(served, chromium):
    def open_(path):
        page = chromium.new_page()
        page.goto(f"{served}/{path}")
        return page

    return open_


@pytest.mark.browser
@needs_chromium
def test_lesson_02_page_shows_its_timeline_plot_as_an_image(open_page):
    page = open_page("notebooks/02_blocking_the_loop.html")
    plots = page.locator(".cell_output img")
    assert plots.count() >= 1, "lesson 02's page has no plot"
    plots.first.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('.cell_output img')]"
        ".every(img => img.complete && img.naturalWidth > 200)"
    )  # loaded and decoded: a broken image has naturalWidth 0
    assert "time.sleep" in page.locator("main").inner_text()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "book-02_blocking_the_loop.png")


@pytest.mark.browser
@needs_chromium
def test_the_search_box_finds_a_lesson(open_page):
    page = open_page("search.html?q=TaskGroup")  # where the search box sends you
    page.locator("#search-results a[href*='01_event_loop']").first.wait_for(timeout=15_000)


@pytest.mark.browser
@needs_chromium
def test_the_navigation_lists_every_lesson(open_page):
    page = open_page("notebooks/00_start_here.html")
    nav = page.locator(".bd-sidebar-primary")
    for name in LESSONS:
        assert nav.locator(f"a[href*='{name}']").count() >= 1, f"{name} is not in the navigation"
