"""`make lab` (tools/lab.py): one last line with lesson 00's URL, no news pop-up, and opening a
lesson in JupyterLab changes nothing in it."""

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.browser import ROOT, free_port, launch_chromium, needs_chromium
from tools import lab
from tutorial.notebooks import normalise_metadata

DIRTY_TAB = ".lm-TabBar-tab.jp-mod-dirty"
SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front


def test_the_url_opens_lesson_00_with_the_file_browser_at_the_top():
    url = lab.lesson_url(8888, "abc")
    assert url == (
        "http://127.0.0.1:8888/lab/tree/notebooks/00_start_here.ipynb?file-browser-path=/&token=abc"
    )


def test_the_tutorials_lab_settings_come_first_and_turn_the_news_off():
    env = lab.lab_env({"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(lab.JUPYTER_CONFIG), "/elsewhere"]
    page_config = json.loads((lab.JUPYTER_CONFIG / "labconfig" / "page_config.json").read_text())
    assert page_config["disabledExtensions"] == {
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
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in LEARNER_CELLS])
    for cell in nb.cells[2:]:
        cell.metadata["tags"] = ["raises-exception"]  # Run All goes on past each failing check
    normalise_metadata(nb)  # a kernelspec, or Lab asks which kernel to start
    return nb


@pytest.fixture
def make_lab(tmp_path):
    """`python tools/lab.py --no-browser` on a copy of the tutorial's folders and a free port:
    (base URL, token, root, every line it printed)."""
    import nbformat

    root = tmp_path / "checkout"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / "solutions").mkdir()
    (root / "exercises").mkdir()
    nbformat.write(learner_notebook(), root / LEARNER_NOTEBOOK)
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    command = [sys.executable, str(ROOT / "tools" / "lab.py"), "--no-browser", "--port", str(port)]
    command += ["--log", str(tmp_path / "lab.log"), "--root", str(root)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    printed = []
    for line in process.stdout:
        printed.append(line.rstrip("\n"))
        if line.startswith("http"):
            break
    url = printed[-1] if printed else ""
    base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[-1]
    yield base, token, root, printed
    # Kernels first (through the API), then the server: Ctrl-C's signal, as a learner would.
    if url.startswith("http"):
        for kernel in httpx.get(f"{base}/api/kernels", params={"token": token}).json():
            httpx.delete(f"{base}/api/kernels/{kernel['id']}", params={"token": token})
    process.send_signal(2)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def wait_for_idle_kernels(base, token, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = httpx.get(f"{base}/api/sessions", params={"token": token}).json()
        idle = [s for s in sessions if s["kernel"]["execution_state"] == "idle"]
        if len(idle) >= count:
            return
        time.sleep(0.25)
    raise TimeoutError(f"fewer than {count} idle kernels after {timeout} s")


@pytest.mark.browser
@needs_chromium
def test_a_learner_in_jupyterlab_from_make_lab_to_a_stopped_endless_loop(make_lab, tmp_path):
    """make lab's last line opens lesson 00 (no pop-up, the folders in view); opening lesson 05
    and closing it changes nothing; Run All of an exercise whose answer loops forever: the check
    stops it and says so, a stopped site and a forgotten set-up each say what to run again."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    base, token, root, printed = make_lab
    assert printed and printed[-1].startswith("http://127.0.0.1:"), printed
    assert len(printed) <= 3, printed  # Jupyter's own start-up lines went to its log
    lesson = root / "notebooks" / "05_async_views.ipynb"
    before = lesson.read_bytes()

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, tmp_path)
        page = browser.new_page()
        page.goto(printed[-1])
        page.locator(f"{SHOWN} .jp-Cell").first.wait_for(timeout=60_000)
        assert "00_start_here.ipynb" in page.locator(".lm-TabBar-tabLabel").all_inner_texts()
        folders = page.locator(".jp-DirListing-item[title*='exercises']")
        folders.first.wait_for(timeout=10_000)  # the file browser moves to the top first
        listed = page.locator(".jp-DirListing-itemText").all_inner_texts()
        assert {"notebooks", "exercises", "solutions"} <= set(listed), listed
        wait_for_idle_kernels(base, token, 1)

        page.goto(f"{base}/lab/tree/notebooks/05_async_views.ipynb?token={token}")
        page.locator(f"{SHOWN} .jp-Cell").first.wait_for(timeout=60_000)
        wait_for_idle_kernels(base, token, 2)
        time.sleep(1)  # Lab writes the kernel's metadata into the model once it is idle
        assert page.locator(".Toastify__toast").count() == 0, "a pop-up greets the learner"
        assert page.locator(DIRTY_TAB).count() == 0, "opening a lesson marked it changed"
        page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Close Tab").first.click()
        time.sleep(0.5)
        assert page.locator(".jp-Dialog").count() == 0, "closing asked to save changes"

        page.goto(f"{base}/lab/tree/{LEARNER_NOTEBOOK}?token={token}")
        page.locator(f"{SHOWN} .jp-Cell").first.wait_for(timeout=60_000)
        wait_for_idle_kernels(base, token, 3)
        run_all(page)
        outputs = page.locator(f"{SHOWN} .jp-CodeCell .jp-OutputArea")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and SAYS[-1] not in outputs.nth(4).inner_text():
            time.sleep(0.5)
        shown = [outputs.nth(i).inner_text() for i in (2, 3, 4)]
        browser.close()
    assert lesson.read_bytes() == before
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
