"""`make lab` (tools/lab.py): one last line with lesson 00's URL, no news pop-up, and opening a
lesson in JupyterLab changes nothing in it."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.browser import ROOT, free_port, launch_chromium, needs_chromium
from tools import lab

DIRTY_TAB = ".lm-TabBar-tab.jp-mod-dirty"


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


@pytest.fixture
def make_lab(tmp_path):
    """`python tools/lab.py --no-browser` on a free port: (process, every line it printed)."""
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "lab.py"), "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    printed = []
    for line in process.stdout:
        printed.append(line.rstrip("\n"))
        if line.startswith("http"):
            break
    yield process, printed
    # Kernels first (through the API), then the server: Ctrl-C's signal, as a learner would.
    url = printed[-1] if printed else ""
    if url.startswith("http"):
        base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[1]
        for kernel in httpx.get(f"{base}/api/kernels", params={"token": token}).json():
            httpx.delete(f"{base}/api/kernels/{kernel['id']}", params={"token": token})
    process.send_signal(2)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
def test_make_lab_prints_the_lesson_url_last_and_opening_a_lesson_changes_nothing(
    make_lab, tmp_path
):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    _, printed = make_lab
    assert printed and printed[-1].startswith("http://127.0.0.1:"), printed
    assert len(printed) <= 3, printed  # Jupyter's own start-up lines went to .lab.log
    url = printed[-1]
    base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[1]
    lesson = ROOT / "notebooks" / "05_async_views.ipynb"
    before = lesson.read_bytes()

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, tmp_path)
        page = browser.new_page()
        page.goto(url)
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
        assert "00_start_here.ipynb" in page.locator(".lm-TabBar-tabLabel").all_inner_texts()
        folders = page.locator(".jp-DirListing-item[title*='exercises']")
        folders.first.wait_for(timeout=10_000)  # the file browser moves to the top first
        listed = page.locator(".jp-DirListing-itemText").all_inner_texts()
        assert {"notebooks", "exercises", "solutions"} <= set(listed), listed
        wait_for_idle_kernels(base, token, 1)

        page.goto(f"{base}/lab/tree/notebooks/05_async_views.ipynb?token={token}")
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
        wait_for_idle_kernels(base, token, 2)
        time.sleep(1)  # Lab writes the kernel's metadata into the model once it is idle
        assert page.locator(".Toastify__toast").count() == 0, "a pop-up greets the learner"
        assert page.locator(DIRTY_TAB).count() == 0, "opening a lesson marked it changed"
        page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Close Tab").first.click()
        time.sleep(0.5)
        assert page.locator(".jp-Dialog").count() == 0, "closing asked to save changes"
        browser.close()
    assert lesson.read_bytes() == before
