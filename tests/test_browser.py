"""What a learner sees, in a real headless Chromium: JupyterLab running a lesson, the site's pages."""

import asyncio
import re
import threading
import time

import nbformat
import pytest

from tests.browser import ROOT, SCREENSHOTS, Lab, launch_chromium, needs_chromium
from tutorial.load import fire
from tutorial.site import start_site

ERRORS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
pytestmark = [pytest.mark.browser, needs_chromium]
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


# One Chromium and one JupyterLab for the module (each costs seconds of CPU to start): every
# test opens pages of its own and closes them, and each lesson runs in a kernel of its own.
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium"))
        yield context
        context.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


PROMPTS = (
    "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent)"
)


def wait_until_every_cell_ran(page, lab, notebook, timeout=150):
    """Every code cell shows an execution count; fail early if Run All stopped at an error."""
    deadline = time.monotonic() + timeout
    stalled = 0
    while time.monotonic() < deadline:
        prompts = page.evaluate(PROMPTS)
        if prompts and all(re.search(r"\[\d+\]", p) for p in prompts):
            return
        queued = any("*" in p for p in prompts)
        idle = any(
            s["path"].endswith(notebook) and s["kernel"]["execution_state"] == "idle"
            for s in lab.sessions()
        )
        stalled = stalled + 1 if idle and not queued else 0
        if stalled >= 6:  # idle for 3 s with cells never run: Run All stopped at an error
            errors = page.locator(ERRORS)
            shown = [errors.nth(i).inner_text()[-600:] for i in range(errors.count())]
            pytest.fail(f"Run All stopped before the end of {notebook}: {prompts} {shown}")
        time.sleep(0.5)
    pytest.fail(f"{notebook} did not finish within {timeout} s under JupyterLab")


@pytest.mark.parametrize("notebook", ["00_start_here.ipynb", "02_blocking_the_loop.ipynb"])
def test_a_lesson_runs_all_in_jupyterlab_without_unexpected_errors(lab, page, notebook):
    if not (ROOT / "notebooks" / notebook).exists():
        pytest.fail(f"notebooks/{notebook} is missing")
    try:
        run_lesson(lab, page, notebook)
    finally:
        lab.shut_down_kernels()  # the next lesson starts in a Lab with no kernel running


def run_lesson(lab, page, notebook):
    # A workspace of its own: the shared Lab would otherwise reopen the previous lesson beside it.
    workspace = notebook.removesuffix(".ipynb")
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/notebooks/{notebook}?token={lab.token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
    lab.wait_for_idle_kernel(notebook)
    run_all(page)
    wait_until_every_cell_ran(page, lab, notebook)

    # Cell by cell: an error output is fine only where the notebook tags the cell raises-exception.
    tagged = [
        "raises-exception" in cell.metadata.get("tags", [])
        for cell in nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells
        if cell.cell_type == "code"
    ]
    cells = page.locator(".jp-CodeCell")
    assert cells.count() == len(tagged)
    for index, intended in enumerate(tagged):
        errors = cells.nth(index).locator(".jp-OutputArea-output.jp-mod-error, " + ERRORS)
        texts = [errors.nth(i).inner_text() for i in range(errors.count())]
        failed = [
            t for t in texts if "Error" in t or "Traceback" in t or t.lstrip().startswith("✗")
        ]
        assert intended or not failed, f"code cell {index + 1} of {notebook} failed: {failed}"
    plots = page.locator(".jp-OutputArea-output img")
    assert plots.count() >= 1, "the timeline plot is missing"
    plots.first.scroll_into_view_if_needed()
    plots.first.wait_for(state="visible")
    page.wait_for_timeout(500)  # JupyterLab paints cells scrolled into view a moment later
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(
        path=SCREENSHOTS / f"lab-{notebook.removesuffix('.ipynb')}.png", full_page=False
    )


def test_the_root_page_lists_every_endpoint(page):
    with start_site() as site:
        page.goto(site.url + "/")
        rows = page.locator("tbody tr")
        assert rows.count() >= 10
        # /async/blocking/, /auth/signup-on-loop/, /auth/whoami-request-user/ and lesson 02's
        # /culprits/<name>/ are marked as such
        assert page.locator("td", has_text="THE MISTAKE").count() == 4
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "site-root.png", full_page=True)


def test_the_live_page_shows_requests_in_flight_while_a_load_runs(page):
    with start_site() as site:
        page.goto(site.url + "/live/")
        page.wait_for_function("document.getElementById('status').textContent === 'live'")

        load = threading.Thread(
            target=asyncio.run, args=(fire(site.url + "/async/sleep/?delay=2", n=40),)
        )
        load.start()
        try:
            page.wait_for_function(
                "Number(document.getElementById('in-flight').textContent) >= 20", timeout=10_000
            )
            page.wait_for_timeout(1000)  # let the history chart fill a little for the picture
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "site-live.png", full_page=True)
            assert "/async/sleep/" in page.locator("#paths").inner_text()
        finally:
            load.join(30)
        page.wait_for_function("document.getElementById('in-flight').textContent === '0'")
        assert int(page.locator("#served").inner_text()) >= 40
