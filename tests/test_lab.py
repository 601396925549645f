"""A learner's JupyterLab, as `make lab` (tools/lab.py) starts it, in a real headless Chromium.

One JupyterLab on a copy of the checkout and one browser page for the module, used the way a
learner does: open the URL make lab printed (lesson 00, no pop-up, the folders in view), open
lesson 05 from the file browser and close it (nothing changed, no save prompt), run lesson 00
(no unexpected error, its live-page link opens through Jupyter's proxy, the WebSocket room too),
then Run All of an exercise whose answer loops forever (stopped, with a short hint; so are a
stopped site and a forgotten set-up). Each test brings its notebook to the front itself (lesson
00's tab, or the file browser), so any one of them also runs alone.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from tests.browser import (
    ROOT,
    SCREENSHOTS,
    MakeLab,
    chromium,
    needs_chromium,
    wait_until,
)
from tools import lab as make_lab
from tutorial.notebooks import normalise_metadata

SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front
DIRTY_TAB = ".lm-TabBar-tab.jp-mod-dirty"
ERRORS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
PROMPTS = f"""() => [...document.querySelectorAll(
    "{SHOWN} .jp-CodeCell .jp-InputPrompt")].map(p => p.textContent)"""


def test_the_url_opens_lesson_00_with_the_file_browser_at_the_top():
    url = make_lab.lesson_url(8888, "abc")
    assert url == (
        "http://127.0.0.1:8888/lab/tree/notebooks/00_start_here.ipynb?file-browser-path=/&token=abc"
    )


def test_the_tutorials_lab_settings_come_first_and_turn_the_news_off():
    env = make_lab.lab_env({"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [
        str(make_lab.JUPYTER_CONFIG),
        "/elsewhere",
    ]
    config = make_lab.JUPYTER_CONFIG / "labconfig" / "page_config.json"
    assert json.loads(config.read_text())["disabledExtensions"] == {
        "@jupyterlab/apputils-extension:announcements": True
    }


LEARNER_CELLS = [
    '''from types import SimpleNamespace

from tutorial.checks import call_async, exercise
from tutorial.site import start_site


@exercise("99", "spin", hints=("Return something.", "Closer."))
async def check_spin(spin, site):
    """Check that spin() returns."""
    await call_async(spin, timeout=1)


checks = SimpleNamespace(spin=check_spin)
site = start_site()''',
    "async def spin():\n    while True:\n        pass",
    "await checks.spin(spin, site)",
    "site.stop()\nawait checks.spin(spin, site)",
    "%reset -f\nawait checks.spin(spin, site)",
]
SAYS = [
    "✗ [99_spin] spin did not return in 1 s: an endless loop? It was stopped there",
    "✗ [99_spin] The companion site was stopped",
    "Run the set-up cell at the top of this notebook first: `checks` comes from it",
]
LEARNER_NOTEBOOK = "exercises/99_spin_exercises.ipynb"


def learner_notebook():
    """An exercise whose answer loops forever, then a stopped site, then a forgotten set-up."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in LEARNER_CELLS])
    for cell in nb.cells[2:]:
        cell.metadata["tags"] = ["raises-exception"]  # Run All goes on past each failing check
    normalise_metadata(nb)  # a kernelspec, or Lab asks which kernel to start
    return nb


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """make lab on a copy of the tutorial's folders, plus the endless-loop exercise."""
    tmp_path = tmp_path_factory.mktemp("make-lab")
    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / "solutions").mkdir()
    (root / "exercises").mkdir()
    nbformat.write(learner_notebook(), root / LEARNER_NOTEBOOK)
    server = MakeLab(root, tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as context:
        yield context


@pytest.fixture(scope="module")
def page(lab, browser):
    """The learner's one tab: the URL make lab printed, with lesson 00 open in it."""
    page = browser.new_page()
    page.goto(lab.url)
    page.locator(f"{SHOWN} .jp-Cell").first.wait_for(timeout=60_000)
    yield page
    page.close()


def in_front(page, lab, name):
    """Wait until `name` is the notebook in front and its kernel is idle, in the server and in
    the page (which then has the kernel's metadata: Lab writes it into the notebook on connect)."""
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text=name).wait_for(timeout=30_000)
    page.locator(f"{SHOWN} .jp-Cell").first.wait_for(timeout=60_000)
    wait_until(lambda: lab.kernel_state(name) == "idle", 60, f"no idle kernel for {name}")
    # "No Kernel | Initializing" until the page has connected to it
    status = page.locator(".jp-StatusBar-TextItem", has_text="Python 3 (ipykernel) | Idle")
    status.wait_for(timeout=60_000)
    page.locator(f"{SHOWN} .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(
        timeout=60_000
    )


def open_from_the_file_browser(page, lab, path):
    """Double-click through the folders from the top, as a learner does (no page reload)."""
    page.locator(".jp-BreadCrumbs-home").click()
    for name in path.split("/"):
        item = page.locator(".jp-DirListing-item", has=page.get_by_text(name, exact=True))
        item.dblclick()
    in_front(page, lab, path.rsplit("/", 1)[-1])


def changed(page, name):
    """The tab of `name` shows Lab's 'changed since saved' mark."""
    return page.locator(DIRTY_TAB, has_text=name).count() > 0


def menu(page, top, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


@pytest.mark.browser
@needs_chromium
def test_make_labs_last_line_opens_lesson_00_with_no_pop_up_and_the_folders_in_view(lab, page):
    assert lab.printed and lab.printed[-1].startswith("http://127.0.0.1:"), lab.printed
    assert len(lab.printed) <= 3, lab.printed  # Jupyter's own start-up lines went to its log
    in_front(page, lab, "00_start_here.ipynb")
    folders = page.locator(".jp-DirListing-item[title*='exercises']")
    folders.first.wait_for(timeout=10_000)  # the file browser moves to the top first
    listed = page.locator(".jp-DirListing-itemText").all_inner_texts()
    assert {"notebooks", "exercises", "solutions"} <= set(listed), listed
    assert page.locator(".Toastify__toast").count() == 0, "a pop-up greets the learner"
    assert not changed(page, "00_start_here.ipynb"), "opening lesson 00 marked it changed"


@pytest.mark.browser
@needs_chromium
def test_opening_a_lesson_and_closing_it_changes_nothing(lab, page):
    lesson = lab.root / "notebooks" / "05_async_views.ipynb"
    before = lesson.read_bytes()
    open_from_the_file_browser(page, lab, "notebooks/05_async_views.ipynb")
    assert not changed(page, "05_async_views.ipynb"), "opening a lesson marked it changed"
    assert page.locator(".Toastify__toast").count() == 0, "a pop-up greets the learner"
    menu(page, "File", "Close Tab")
    # A lesson Lab changed on opening asks to save on closing, instead of closing.
    tab = page.locator(".lm-TabBar-tab", has_text="05_async_views.ipynb")
    wait_until(
        lambda: tab.count() == 0 or page.locator(".jp-Dialog").count() > 0,
        timeout=10,
        message="lesson 05's tab neither closed nor asked",
    )
    assert page.locator(".jp-Dialog").count() == 0, "closing asked to save changes"
    assert lesson.read_bytes() == before


@pytest.mark.browser
@needs_chromium
def test_lesson_00_runs_in_jupyterlab_and_its_live_page_link_opens_through_jupyters_proxy(
    lab, page, browser
):
    notebook = "00_start_here.ipynb"
    page.locator(".lm-TabBar-tab", has_text=notebook).click()  # make lab opened it
    in_front(page, lab, notebook)
    # Run up to the links, as a learner reading along would: the last cell stops the site.
    links_read = page.locator(f"{SHOWN} .jp-Cell", has_text="Your first request, the familiar way")
    links_read.first.click()
    menu(page, "Run", "Run All Above Selected Cell")
    link = page.locator(f"{SHOWN} .jp-OutputArea-output a", has_text="/live/").first
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    assert href.startswith("/proxy/") and href.endswith("/live/"), href
    with browser.expect_page() as opened:
        link.click()
    live = opened.value
    live.wait_for_load_state()
    assert live.url.startswith(f"{lab.base}/proxy/"), live.url
    # 'live' appears once the page's event stream flows, through the proxy as well.
    live.wait_for_function(
        "document.getElementById('status').textContent === 'live'", timeout=15_000
    )
    SCREENSHOTS.mkdir(exist_ok=True)
    live.screenshot(path=SCREENSHOTS / "live-through-jupyter-proxy.png")
    # The WebSocket room page: its socket goes through the proxy too.
    live.goto(live.url.removesuffix("/live/") + "/room/lobby/")
    live.wait_for_function(
        "document.getElementById('status').textContent === 'connected'", timeout=15_000
    )
    live.locator("#text").fill("through the proxy")
    live.locator("#send button").click()
    live.locator("#log", has_text="through the proxy").wait_for(timeout=10_000)
    live.close()

    links_read.first.click()
    menu(page, "Run", "Run Selected Cell and All Below")
    wait_until_every_cell_ran(page, lab, notebook)
    assert_no_unexpected_errors(page, notebook)
    plots = page.locator(f"{SHOWN} .jp-OutputArea-output img")
    assert plots.count() >= 1, "the timeline plot is missing"
    plots.first.scroll_into_view_if_needed()
    plots.first.wait_for(state="visible")
    page.wait_for_timeout(500)  # JupyterLab paints cells scrolled into view a moment later
    page.screenshot(path=SCREENSHOTS / "lab-00_start_here.png", full_page=False)


def wait_until_every_cell_ran(page, lab, notebook, timeout=150):
    """Every code cell shows an execution count; fail early if Run All stopped at an error."""
    deadline = time.monotonic() + timeout
    stalled = 0
    while time.monotonic() < deadline:
        prompts = page.evaluate(PROMPTS)
        if prompts and all(re.search(r"\[\d+\]", p) for p in prompts):
            return
        queued = any("*" in p for p in prompts)
        stalled = stalled + 1 if lab.kernel_state(notebook) == "idle" and not queued else 0
        if stalled >= 6:  # idle for 3 s with cells never run: Run All stopped at an error
            errors = page.locator(f"{SHOWN} {ERRORS}")
            shown = [errors.nth(i).inner_text()[-600:] for i in range(errors.count())]
            pytest.fail(f"Run All stopped before the end of {notebook}: {prompts} {shown}")
        time.sleep(0.5)
    pytest.fail(f"{notebook} did not finish within {timeout} s under JupyterLab")


def assert_no_unexpected_errors(page, notebook):
    """Cell by cell: an error output is fine only where the notebook tags the cell
    raises-exception (the lesson as committed, not the copy Lab may have saved)."""
    tagged = [
        "raises-exception" in cell.metadata.get("tags", [])
        for cell in nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells
        if cell.cell_type == "code"
    ]
    cells = page.locator(f"{SHOWN} .jp-CodeCell")
    assert cells.count() == len(tagged)
    for index, intended in enumerate(tagged):
        errors = cells.nth(index).locator(".jp-OutputArea-output.jp-mod-error, " + ERRORS)
        texts = [errors.nth(i).inner_text() for i in range(errors.count())]
        failed = [
            t for t in texts if "Error" in t or "Traceback" in t or t.lstrip().startswith("✗")
        ]
        assert intended or not failed, f"code cell {index + 1} of {notebook} failed: {failed}"


@pytest.mark.browser
@needs_chromium
def test_run_all_of_an_exercise_stops_an_endless_loop_and_says_what_to_run_again(lab, page):
    """The check stops the answer that loops forever and says so; a stopped site and a
    forgotten set-up each say what to run again, in a few lines."""
    open_from_the_file_browser(page, lab, LEARNER_NOTEBOOK)
    menu(page, "Run", "Run All Cells")
    outputs = page.locator(f"{SHOWN} .jp-CodeCell .jp-OutputArea")
    wait_until(
        lambda: SAYS[-1] in outputs.nth(4).inner_text(),
        timeout=90,
        message=f"the last check's hint never showed: {outputs.all_inner_texts()}",
    )
    shown = [outputs.nth(i).inner_text() for i in (2, 3, 4)]
    for text, says in zip(shown, SAYS, strict=True):
        assert says in text, shown
        assert len(text.strip().splitlines()) <= 5, text


def test_a_busy_port_is_said_in_one_line_not_a_different_url(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "lab.py"), "--no-browser", "--port", str(port)]
            + ["--log", str(tmp_path / "lab.log")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert ran.returncode == 1
    assert ran.stdout.splitlines()[-1] == f"Port {port} is busy: `make lab LAB_PORT=8899`."
    assert "http://" not in ran.stdout


@pytest.mark.parametrize("to_group", [False, True], ids=["SIGTERM to lab.py", "SIGHUP to all"])
def test_a_kill_or_a_closed_terminal_stops_jupyter_through_its_own_shutdown(tmp_path, to_group):
    """SIGTERM to lab.py only (a terminal's Ctrl-C reaches its whole process group), or SIGHUP
    to the whole group (the terminal closed): Jupyter stops too, through its own shutdown (it
    removes its jpserver-*.json), not left running unowned or killed without it."""
    import psutil

    (tmp_path / "root" / "notebooks").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "root" / make_lab.FIRST_NOTEBOOK)
    server = MakeLab(tmp_path / "root", tmp_path)
    (jupyter,) = psutil.Process(server.process.pid).children()
    try:
        assert list((tmp_path / "runtime").glob("jpserver-*.json"))
        if to_group:
            os.killpg(server.process.pid, signal.SIGHUP)
        else:
            os.kill(server.process.pid, signal.SIGTERM)
        server.process.wait(60)  # a hang guard: lab.py waits for Jupyter to end
        assert not jupyter.is_running()
        assert not list((tmp_path / "runtime").glob("jpserver-*.json"))
        assert server.process.stdout.read().strip() == "JupyterLab stopped."
    finally:
        if jupyter.is_running():  # the failure: lab.py gone, Jupyter on; stop() would skip it
            jupyter.terminate()
        server.stop()
