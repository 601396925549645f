"""Committed notebooks are clean, and the tools that keep them clean work.

Each rule is one test over every notebook in notebooks/, solutions/ and exercises/, naming every
notebook that breaks it. `make clean-outputs`, `python -m tutorial nav` and `make exercises`
fix most of them.
"""

import nbformat
import pytest

from tests.test_exercises import code, md, notebook
from tutorial import nav
from tutorial import notebooks as nbs
from tutorial.__main__ import main as cli
from tutorial.exercises import NOTICE_ID

COMMITTED = [p for folder in nbs.FOLDERS for p in sorted((nbs.ROOT / folder).glob("*.ipynb"))]


def offenders(rule):
    """'folder/name.ipynb: what is wrong' for each committed notebook `rule` finds fault with."""
    found = []
    for path in COMMITTED:
        problem = rule(nbs.read(path), path)
        if problem:
            found.append(f"{nbs.relative(path)}: {problem}")
    return "\n".join(found)


def outputs(nb, path):
    return "outputs or execution counts (run `make clean-outputs`)" if nbs.has_outputs(nb) else ""


def kernel(nb, path):
    name = nb.metadata.get("kernelspec", {}).get("name")
    return "" if name == "python3" else f"kernelspec {name!r}, not 'python3'"


def kernel_metadata(nb, path):
    """What Lab writes when the kernel starts, or opening the notebook would change it."""
    wrong = [
        key
        for key, value in (("kernelspec", nbs.KERNELSPEC), ("language_info", nbs.LANGUAGE_INFO))
        if nb.metadata.get(key) != value
    ]
    if not wrong:
        return ""
    return f"{' and '.join(wrong)} not as a fresh kernel writes them (run `make clean-outputs`)"


def header(nb, path):
    cells = [c for c in nb.cells if c.get("id") != NOTICE_ID]
    first = cells[0] if cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        return "the first cell is not a markdown header opening with '# '"
    return ""


def tagged_cells(nb, path):
    problems = []
    for index, cell in enumerate(nb.cells):
        tags = nbs.tags(cell)
        if {"check", "raises-exception"} & set(tags) and cell.cell_type != "code":
            problems.append(f"cell {index} is markdown but tagged {tags}")
        if "check" in tags and "raises-exception" in tags:
            # nbval would then accept a failing check: a broken solution would pass CI.
            problems.append(f"check cell {index} is also tagged raises-exception")
    return "; ".join(problems)


def stops_its_site(nb, path):
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    starts = any("= start_site(" in s for s in sources)
    if starts and ".stop()" not in sources[-1]:
        return "starts a site but the last code cell does not stop it (site.stop())"
    return ""


RULES = [outputs, kernel, kernel_metadata, header, tagged_cells, stops_its_site]


@pytest.mark.parametrize("rule", RULES)
def test_committed_notebooks_follow_the_rule(rule):
    found = offenders(rule)
    assert not found, f"{rule.__name__}:\n{found}"


def test_navigation_is_up_to_date():
    stale = nav.update(check=True)
    assert not stale, "Run `python -m tutorial nav`; out of date: " + ", ".join(
        nbs.relative(p) for p in stale
    )


# The rules catch what they should (on notebooks made here).


def test_each_rule_names_what_it_finds():
    ran = notebook(code("site = start_site()"), code("x = 1"))
    ran.cells[0].outputs, ran.cells[0].execution_count = [], 1
    ran.cells[1].metadata["tags"] = ["check", "raises-exception"]
    ran.metadata["kernelspec"]["name"] = "conda-env-x"
    assert outputs(ran, None) and kernel(ran, None) and header(ran, None)
    assert kernel_metadata(ran, None) == (
        "kernelspec and language_info not as a fresh kernel writes them (run `make clean-outputs`)"
    )
    assert "also tagged raises-exception" in tagged_cells(ran, None)
    assert "does not stop it" in stops_its_site(ran, None)
    clean = notebook(md("# 01 · Title"), code("site = start_site()"), code("site.stop()"))
    nbs.normalise_metadata(clean)
    assert not any(rule(clean, None) for rule in RULES)


# clean-outputs


def test_clean_outputs_strips_and_lists_what_it_changed(tmp_path, capsys):
    ran = notebook(md("# 01 · Title"), code("print(1)"))
    ran.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    ran.cells[1].execution_count = 4
    nbs.normalise_metadata(ran)
    nbs.write(ran, tmp_path / "solutions" / "01_ran.ipynb")
    clean = notebook(md("# 02 · Clean"))
    nbs.normalise_metadata(clean)
    nbs.write(clean, tmp_path / "notebooks" / "02_clean.ipynb")

    assert cli(["--root", str(tmp_path), "clean-outputs"]) == 0
    out = capsys.readouterr().out
    assert "solutions/01_ran.ipynb" in out and "02_clean" not in out
    assert not nbs.has_outputs(nbs.read(tmp_path / "solutions" / "01_ran.ipynb"))
    cli(["--root", str(tmp_path), "clean-outputs"])
    assert "No notebook had outputs or other kernel metadata." in capsys.readouterr().out


def test_clean_outputs_puts_back_the_kernel_metadata_and_nothing_else(tmp_path):
    # As a notebook is committed by nbformat-built scripts (and as Lab on another Python
    # leaves it): a short kernelspec and language_info, plus a key of its own to keep.
    short = notebook(md("# 01 · Title"), code("x = 1"))
    short.metadata["language_info"] = {"name": "python", "version": "3.12.9"}
    short.metadata["celltoolbar"] = "Tags"
    path = tmp_path / "notebooks" / "01_short.ipynb"
    nbs.write(short, path)
    cells_before = nbs.read(path).cells

    assert cli(["--root", str(tmp_path), "clean-outputs"]) == 0
    after = nbs.read(path)
    assert after.metadata.kernelspec == nbs.KERNELSPEC
    assert after.metadata.language_info == nbs.LANGUAGE_INFO
    assert after.metadata.celltoolbar == "Tags" and after.cells == cells_before


def what_lab_writes_when_the_kernel_starts(kernel_name):
    """{kernelspec, language_info} as JupyterLab sets them once a kernel of `kernel_name` runs.

    Lab takes `name` from the kernel, `display_name` and `language` from the spec the server
    lists (jupyter_client's KernelSpecManager, the one jupyter_server uses), and language_info
    from the kernel's kernel_info reply: so start that kernel, the way the server does.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    manager, client = start_new_kernel(kernel_name=kernel_name)
    try:
        reply = client.kernel_info(reply=True, timeout=30)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return {
        "kernelspec": {
            "name": kernel_name,
            "display_name": spec.display_name,
            "language": spec.language,
        },
        "language_info": reply["content"]["language_info"],
    }


def test_opening_a_notebook_in_jupyter_changes_nothing_in_it():
    """Every committed notebook already has what Lab writes when its kernel starts."""
    names = {nbs.read(p).metadata.get("kernelspec", {}).get("name") for p in COMMITTED}
    written = {name: what_lab_writes_when_the_kernel_starts(name) for name in names}
    version_only = []
    for path in COMMITTED:
        nb = nbs.read(path)
        lab = written[nb.metadata.kernelspec.name]
        kept = {key: nb.metadata.get(key) for key in lab}
        if kept == lab:
            continue
        other_python = {**lab["language_info"], "version": nbs.LANGUAGE_INFO["version"]}
        if kept == {**lab, "language_info": other_python}:
            version_only.append(nbs.relative(path))
            continue
        pytest.fail(f"{nbs.relative(path)}: opening it in Lab would write {lab}, it has {kept}")
    if version_only:
        pytest.skip(
            f"this Python reports {written['python3']['language_info']['version']}; the notebooks "
            f"say {nbs.LANGUAGE_INFO['version']} (the set-up's): all else is as Lab writes it"
        )


# nav


@pytest.fixture
def tree(tmp_path):
    """Lessons 01–03; lessons 01 and 03 have an exercise."""
    for stem in ("01_one", "02_two", "03_three"):
        nbs.write(
            notebook(md(f"# {stem[:2]} · {stem[3:].title()}"), code("x = 1")),
            tmp_path / "notebooks" / f"{stem}.ipynb",
        )
    for stem in ("01_one", "03_three"):
        nbs.write(
            notebook(md("# Exercise"), code("y = 2")), tmp_path / "solutions" / f"{stem}.ipynb"
        )
    return tmp_path


def nav_line(root, relative):
    cells = nbs.read(root / relative).cells
    navs = [i for i, c in enumerate(cells) if "nav" in nbs.tags(c)]
    assert navs == [1, len(cells) - 1], "nav right after the header and at the very end"
    assert cells[1].source == cells[-1].source
    return cells[1].source


def test_nav_runs_lesson_exercise_next_lesson(tree):
    assert cli(["--root", str(tree), "nav"]) == 0
    assert nav_line(tree, "notebooks/01_one.ipynb") == (
        "[Contents](../README.md#lessons) | [Exercise: 01 · One >](../exercises/01_one_exercises.ipynb)"
    )
    assert nav_line(tree, "notebooks/02_two.ipynb") == (
        "[< Exercise: 01 · One](../exercises/01_one_exercises.ipynb) | [Contents](../README.md#lessons)"
        " | [03 · Three >](03_three.ipynb)"
    )
    assert nav_line(tree, "solutions/01_one.ipynb") == (
        "[< 01 · One](../notebooks/01_one.ipynb) | [Contents](../README.md#lessons)"
        " | [02 · Two >](../notebooks/02_two.ipynb)"
    )
    assert nav_line(tree, "notebooks/03_three.ipynb").endswith(
        "| [Exercise: 03 · Three >](../exercises/03_three_exercises.ipynb)"
    )


def test_nav_is_idempotent_and_check_notices_a_new_lesson(tree, capsys):
    cli(["--root", str(tree), "nav"])
    before = (tree / "notebooks" / "03_three.ipynb").read_text()
    assert cli(["--root", str(tree), "nav"]) == 0
    assert cli(["--root", str(tree), "nav", "--check"]) == 0
    assert (tree / "notebooks" / "03_three.ipynb").read_text() == before

    nbs.write(notebook(md("# 04 · Four")), tree / "notebooks" / "04_four.ipynb")
    capsys.readouterr()
    assert cli(["--root", str(tree), "nav", "--check"]) == 1
    out = capsys.readouterr().out
    assert "solutions/03_three.ipynb" in out and "notebooks/04_four.ipynb" in out
    assert (tree / "notebooks" / "03_three.ipynb").read_text() == before  # --check wrote nothing


def undeclared_raises(nb, path):
    """A raises-exception cell opens with '# raises: Name', which conftest.py holds it to."""
    bad = [
        index
        for index, cell in enumerate(nb.cells)
        if "raises-exception" in nbs.tags(cell) and not cell.source.startswith("# raises: ")
    ]
    return f"cells {bad} are tagged raises-exception without a '# raises: Name' line" if bad else ""


def test_every_intended_error_names_the_exception_it_raises():
    assert not offenders(undeclared_raises)
