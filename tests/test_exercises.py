"""Exercises: generated from solutions/, failing untouched with the learner's hint, and progress.

The unit tests build tiny notebooks in a temp dir; the rest run over the real solutions/ and
exercises/, one test per notebook, whose untouched exercises run in two kernels, not sixteen.
"""

import concurrent.futures
import contextlib
import importlib
import pkgutil
import subprocess
import sys
import threading
import time
from collections import Counter

import nbformat
import pytest

import tutorial.checks
from tutorial import exercises, nav, progress, watch
from tutorial import notebooks as nbs
from tutorial.__main__ import main as cli

KERNELSPEC = nbs.KERNELSPEC
SOLUTIONS = nbs.numbered("solutions")

# A self-contained exercise: the check is defined in the set-up cell, so no site is needed.
SETUP = '''from types import SimpleNamespace

from tutorial.checks import call_sync, exercise, fail


@exercise("99", "double", hint="Multiply by two; do not add.")
def check_double(double):
    """Check that double(x) returns twice x."""
    if call_sync(double, 21) != 42:
        fail("double(21) should be 42.")


checks = SimpleNamespace(double=check_double)'''
ANSWER = '''def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    twice = 2 * x
    return twice
    ### END SOLUTION'''
STUB = '''def double(x):
    """Twice x."""
    # YOUR CODE HERE
    raise NotImplementedError'''


def notebook(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text, *tags):
    return nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)} if tags else {})


def solution(answer=ANSWER):
    ran = code(answer)
    ran.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    ran.execution_count = 3
    return notebook(
        md("# Exercise 99 · Double\n\nWrite `double`."),
        code(SETUP),
        ran,
        md("Check that `double` doubles."),
        code("checks.double(double)", "check"),
    )


@pytest.fixture
def root(tmp_path):
    """A tutorial tree with lessons 98 and 99 and the solution of 99."""
    for stem, title in (("98_first", "98 · First"), ("99_double", "99 · Double")):
        nbs.write(
            notebook(md(f"# {title}\n\nText."), code("x = 1")),
            tmp_path / "notebooks" / f"{stem}.ipynb",
        )
    nbs.write(solution(), tmp_path / "solutions" / "99_double.ipynb")
    return tmp_path


EXERCISE = "exercises/99_double_exercises.ipynb"


def generated(root):
    return nbs.read(root / EXERCISE)


# The generator.


def test_a_region_becomes_the_stub_at_the_indentation_of_begin():
    assert exercises.strip_solution(ANSWER) == STUB


def test_code_around_regions_is_kept():
    source = (
        "def f():\n    a = 1\n    ### BEGIN SOLUTION\n    return a\n    ### END SOLUTION\n\n\nb = 2"
    )
    assert exercises.strip_solution(source) == (
        "def f():\n    a = 1\n    # YOUR CODE HERE\n    raise NotImplementedError\n\n\nb = 2"
    )


@pytest.mark.parametrize(
    "source, problem",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1", "without ### END"),
        ("def f():\n    return 1\n    ### END SOLUTION", "without ### BEGIN"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    ### END SOLUTION",
            "inside",
        ),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "inside a function body"),
        ("def f():\n    ## BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "is not"),
        ("def f():\n    ### BEGIN SOLUTIONS\n    return 1\n    ### END SOLUTION", "is not"),
    ],
)
def test_unbalanced_or_misspelt_markers_are_refused(source, problem):
    with pytest.raises(exercises.MarkerError, match=problem):
        exercises.strip_solution(source)


def test_the_exercise_is_the_solution_without_answers_and_outputs(root):
    assert exercises.generate(root).ok is False  # it wrote a file
    nb = generated(root)
    assert nb.cells[0].source.startswith("*Your copy: write your answers here")
    assert "`solutions/99_double.ipynb`" in nb.cells[0].source
    assert "not this file" not in nb.cells[0].source
    assert nb.cells[1].source.startswith("# Exercise 99")
    assert "nav" in nbs.tags(nb.cells[2]) and "nav" in nbs.tags(nb.cells[-1])
    sources = [c.source for c in nb.cells]
    assert STUB in sources and "twice = 2 * x" not in "".join(sources)
    assert not nbs.has_outputs(nb)
    assert nb.metadata.kernelspec == KERNELSPEC


def test_generating_twice_changes_nothing_and_check_agrees(root):
    exercises.generate(root)
    text = (root / EXERCISE).read_text()
    assert exercises.generate(root).ok
    assert exercises.generate(root, check=True).ok
    assert (root / EXERCISE).read_text() == text
    assert cli(["--root", str(root), "exercises", "--check"]) == 0


def test_check_lists_a_stale_exercise_and_an_orphan(root, capsys):
    exercises.generate(root)
    path = root / EXERCISE
    path.write_text(path.read_text().replace("Write `double`.", "Stale task text."))
    orphan = root / "exercises" / "97_gone_exercises.ipynb"
    nbs.write(solution(), orphan)
    assert cli(["--root", str(root), "exercises", "--check"]) == 1
    out = capsys.readouterr().out
    assert EXERCISE in out and "exercises/97_gone_exercises.ipynb" in out
    assert cli(["--root", str(root), "exercises"]) == 0
    assert not orphan.exists()
    assert exercises.generate(root, check=True).ok


def test_make_exercises_keeps_a_learners_answers_unless_forced(root, capsys):
    exercises.generate(root)
    path = root / EXERCISE
    answered = path.read_text().replace("# YOUR CODE HERE", "return x * 2  # mine")
    path.write_text(answered)
    assert cli(["--root", str(root), "exercises"]) == 1
    assert "Not overwritten: your answers are in these" in capsys.readouterr().out
    assert path.read_text() == answered
    assert cli(["--root", str(root), "exercises", "--force"]) == 0
    assert "# mine" not in path.read_text()


def test_broken_markers_fail_the_command_and_name_the_solution(root, capsys):
    broken = solution("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x")
    nbs.write(broken, root / "solutions" / "98_first.ipynb")
    assert cli(["--root", str(root), "exercises"]) == 1
    out = capsys.readouterr().out
    assert "solutions/98_first.ipynb" in out and "without ### END SOLUTION" in out
    assert (root / EXERCISE).exists()  # the others are still written


def test_the_exercise_has_a_name_of_its_own_and_old_names_go_unless_written_in(root, capsys):
    old = root / "exercises" / "99_double.ipynb"  # the name exercises had before
    exercises.generate(root)
    nbs.write(generated(root), old)
    assert cli(["--root", str(root), "exercises"]) == 0
    assert not old.exists() and (root / EXERCISE).exists()
    answered = (root / EXERCISE).read_text().replace("# YOUR CODE HERE", "return x * 2  # mine")
    old.write_text(answered)
    capsys.readouterr()
    assert cli(["--root", str(root), "exercises"]) == 1
    assert "exercises/99_double.ipynb" in capsys.readouterr().out
    assert old.read_text() == answered  # a learner's answers are never deleted


def test_a_solution_without_any_region_is_refused(root):
    nbs.write(solution("def double(x):\n    return 2 * x"), root / "solutions" / "99_double.ipynb")
    report = exercises.generate(root)
    assert report.errors and "no ### BEGIN SOLUTION region" in report.errors[0]


# Progress, on a temp copy: untouched, solved, wrong, hung.

ENDLESS_AT_TOP_LEVEL = (
    "import os\n"
    "os.write(2, b'what the kernel wrote to stderr\\n')\n"
    "async def spin():\n    while True:\n        pass\n"
    "await spin()"
)


def test_progress_reports_each_lesson_its_exercises_and_the_next_one(root, capsys):
    exercises.generate(root)
    untouched = generated(root)
    solved, wrong = nbs.read(root / "solutions" / "99_double.ipynb"), generated(root)
    wrong.cells = [
        code("def double(x):\n    return x + 2") if c.source == STUB else c for c in wrong.cells
    ]
    # An endless loop outside any check: only the notebook's wall-clock limit stops it.
    hung = nbs.read(root / "solutions" / "99_double.ipynb")
    hung.cells.insert(2, code(ENDLESS_AT_TOP_LEVEL))
    hung_sync = nbs.read(root / "solutions" / "99_double.ipynb")
    hung_sync.cells.insert(2, code("while True:\n    pass"))
    copies = {"95_sync": hung_sync, "96_hung": hung, "97_untouched": untouched}
    copies |= {"98_solved": solved, "99_wrong": wrong}
    for stem, nb in copies.items():
        nbs.write(nb, root / "exercises" / nbs.exercise_name(stem))
    (root / EXERCISE).unlink()
    before = {p: p.read_bytes() for p in (root / "exercises").iterdir()}

    # --limit 1: the hung ones spin that long (wall and CPU); the others finish their cells in
    # ~0.1 s (0.14 s at most on a 2-core machine at load 5), the kernel start not counted.
    assert cli(["--root", str(root), "progress", "--timeout", "30", "--limit", "1"]) == 0

    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("Checking your exercise notebooks as they are saved on disk")
    assert lines[1:11] == [
        "95_sync       0 of 1 pass",
        "  95_double   hung: still running after 1 s in the cell 'while True:', so it was stopped:"
        " an endless loop?",
        "96_hung       0 of 1 pass",
        "  96_double   hung: still running after 1 s in the cell 'import os', so it was stopped:"
        " an endless loop?",  # 1 s: the limit; ipykernel's interrupt cannot stop `await spin()`
        "97_untouched  0 of 1 pass",
        "  97_double   not started",
        "98_solved     1 of 1 pass",
        "  98_double   passed",
        "99_wrong      0 of 1 pass",
        "  99_double   failed: double(21) should be 42.",
    ]
    assert lines[-3:] == [
        "[######------------------------] 1 of 5 exercises pass",
        "1 of 5 passed, 1 failed, 1 not started, 2 hung.",
        "Next exercise: 95_double in exercises/95_sync_exercises.ipynb",
    ]
    assert "Running your exercises" in captured.err  # the tqdm bar
    assert {p: p.read_bytes() for p in (root / "exercises").iterdir()} == before
    log = (root / ".progress" / "96_hung.log").read_text()
    assert "what the kernel wrote to stderr" in log


def test_ctrl_c_stops_progress_with_what_ran_so_far_and_no_traceback(root, tmp_path):
    exercises.generate(root)
    hung = nbs.read(root / "solutions" / "99_double.ipynb")
    marker = tmp_path / "sleeping"  # written by the second notebook's kernel, just before it sleeps
    hung.cells.insert(
        2, code(f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(600)")
    )
    nbs.write(hung, root / "exercises" / nbs.exercise_name("99_zz_sleeps"))
    command = [sys.executable, "-m", "tutorial", "--root", str(root), "progress", "--limit", "60"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as ran:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ran.poll() is None and not marker.exists():
            time.sleep(0.2)
        ran.send_signal(2)  # Ctrl-C
        out, err = ran.communicate(timeout=60)
    assert ran.returncode == 130, err
    assert "Stopped with Ctrl-C after 1 of 2 notebooks; so far:" in out
    assert "0 of 1 passed, 0 failed, 1 not started." in out  # the one checked before Ctrl-C
    assert "Traceback" not in out + err
    import psutil

    kernels = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            cmdline = " ".join(process.info["cmdline"] or [])
            if "ipykernel_launcher" in cmdline and process.cwd() == str(root / "exercises"):
                kernels.append(process)
    assert not kernels, "a kernel outlived Ctrl-C"


def fake_execute(failures, real=nbs.execute):
    """nbs.execute whose kernel dies before the first cell `failures` times, then runs."""
    calls = []

    def execute(nb, cwd, timeout=60, limit=None, stderr=None):
        calls.append(cwd)
        if len(calls) <= failures:
            stderr.write(f"kernel start {len(calls)} failed\n")
            raise nbs.KernelDidNotStart("RuntimeError: Kernel died before replying to kernel_info")
        executed = nbs.read(nbs.exercise_path("99_double", cwd.parent))
        executed.cells[-2].outputs = [nbformat.v4.new_output("stream", text="✓ ok\n")]
        return executed

    return execute, calls


def test_a_kernel_that_dies_at_start_is_started_once_more(root, monkeypatch):
    exercises.generate(root)
    execute, calls = fake_execute(failures=1)
    monkeypatch.setattr(nbs, "execute", execute)
    [result] = progress.run(root / EXERCISE, root=root)
    assert len(calls) == 2 and result.status == progress.PASSED


def test_a_kernel_that_dies_twice_could_not_run_and_its_stderr_is_kept(root, monkeypatch):
    exercises.generate(root)
    execute, calls = fake_execute(failures=2)
    monkeypatch.setattr(nbs, "execute", execute)
    [result] = progress.run(root / EXERCISE, root=root)
    assert len(calls) == 2
    assert result.status == "could not run — try again"
    assert result.detail.endswith("what it said is in .progress/99_double.log")
    log = (root / ".progress" / "99_double.log").read_text()
    assert "kernel start 1 failed" in log and "kernel start 2 failed" in log


def test_the_bar_and_the_next_exercise_when_all_pass():
    done = [progress.Result("05_a", "05_x", progress.PASSED)] * 3
    assert progress.bar(3, 3, width=10) == "[##########] 3 of 3 exercises pass"
    assert progress.bar(0, 0, width=4) == "[----] 0 of 0 exercises pass"
    assert progress.next_exercise(done) == "Every exercise passes. Well done!"


def test_watch_checks_a_notebook_again_when_it_is_saved(root, monkeypatch, capsys):
    exercises.generate(root)
    path = root / EXERCISE

    def run(notebook_path, timeout=60, limit=180, root=root):
        solved = "return x * 2" in notebook_path.read_text()
        status = progress.PASSED if solved else progress.NOT_STARTED_YET
        return [progress.Result("99_double", "99_double", status)]

    def save_an_answer():
        time.sleep(0.3)
        text = path.read_text().replace("# YOUR CODE HERE", "return x * 2")
        path.write_text(text)

    monkeypatch.setattr(progress, "run", run)
    monkeypatch.setattr(watch, "POLL_EVERY", 0.05)
    saver = threading.Thread(target=save_an_answer)
    saver.start()
    assert watch.main(root, rechecks=1) == 0
    saver.join()
    out = capsys.readouterr().out
    first, _, again = out.partition("Watching exercises/")
    assert "[------------------------------] 0 of 1 exercises pass" in first
    assert f"— {EXERCISE}, saved at" in again
    assert "[##############################] 1 of 1 exercises pass" in again
    assert "Every exercise passes" in again


def test_watch_sees_a_save_and_a_new_notebook_but_not_an_untouched_one(root):
    exercises.generate(root)
    before = watch.stamps(root)
    assert watch.saved_since(before, watch.stamps(root)) == []
    nbs.write(generated(root), root / "exercises" / "98_new_exercises.ipynb")
    assert watch.saved_since(before, watch.stamps(root)) == [
        root / "exercises" / "98_new_exercises.ipynb"
    ]


def test_a_check_that_could_not_run_names_the_cell_that_failed_before_it():
    executed = notebook(code("from tutorial.checks import lesson99 as checks"), code("x", "check"))
    executed.cells[0].outputs = [
        nbformat.v4.new_output("error", ename="ImportError", evalue="cannot import name 'x'")
    ]
    executed.cells[1].outputs = [
        nbformat.v4.new_output("error", ename="NameError", evalue="name 'checks' is not defined")
    ]
    [result] = progress.results_of(executed, "99_double")
    assert result.detail == (
        "an earlier cell failed, so this check could not run: ImportError: cannot import name 'x'"
    )


def test_a_check_cell_that_prints_no_tick_is_not_a_pass():
    executed = notebook(code("checks.double(double)", "check"))
    executed.cells[0].outputs = [nbformat.v4.new_output("stream", text="something\n")]
    [result] = progress.results_of(executed, "99_double")
    assert result.status == progress.FAILED


def test_another_error_in_a_check_cell_is_a_failure_with_its_name():
    executed = notebook(code("checks.double(double)", "check"))
    executed.cells[0].outputs = [
        nbformat.v4.new_output("error", ename="NameError", evalue="name 'double' is not defined")
    ]
    [result] = progress.results_of(executed, "99_double")
    assert (result.status, result.detail) == (
        progress.FAILED,
        "NameError: name 'double' is not defined",
    )


# The real solutions/ and exercises/.


def lesson_check_modules():
    """Import every tutorial.checks.lessonNN so REGISTRY holds every exercise."""
    names = [
        m.name
        for m in pkgutil.iter_modules(tutorial.checks.__path__)
        if m.name.startswith("lesson")
    ]
    for name in names:
        importlib.import_module(f"tutorial.checks.{name}")
    return names


def checked_in(path):
    lesson = nbs.lesson_number(path)
    return {nbs.checked_exercise(c, lesson) for c in nbs.check_cells(nbs.read(path))}


def committed_text(path):
    """The file as the last commit has it, or None outside a git checkout."""
    relative = path.relative_to(nbs.ROOT).as_posix()
    shown = subprocess.run(
        ["git", "show", f"HEAD:{relative}"],
        cwd=nbs.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return shown.stdout if shown.returncode == 0 else None


def test_exercises_are_what_make_exercises_writes():
    report = exercises.generate(check=True)
    assert not report.errors, "Solutions with broken markers:\n" + "\n".join(report.errors)
    built, _ = exercises.expected()
    # A learner's answers in exercises/ are theirs: what must match is the working tree or, if
    # they have typed into it, the committed copy.
    stale = [p for p in report.changed if committed_text(p) != nbs.dumps(built[p])]
    assert not stale, "Run `make exercises`; out of date: " + ", ".join(
        nbs.relative(p) for p in stale
    )
    assert not report.orphans, "Exercises without a solution: " + ", ".join(
        nbs.relative(p) for p in report.orphans
    )


def test_the_exercises_make_exercises_writes_are_ruff_clean(tmp_path):
    """ruff skips exercises/ (a learner's half-done answers); what is generated still passes."""
    built, _ = exercises.expected()
    folder = tmp_path / "generated"  # not "exercises": ruff's exclude would skip it
    for path, nb in built.items():
        nbs.write(nb, folder / path.name)
    config = ["--config", str(nbs.ROOT / "pyproject.toml"), "--no-cache"]
    for command in (["check", *config, str(folder)], ["format", "--check", *config, str(folder)]):
        ran = subprocess.run(
            [sys.executable, "-m", "ruff", *command], capture_output=True, text=True, check=False
        )
        assert ran.returncode == 0, f"ruff {command[0]}:\n{ran.stdout}{ran.stderr}"


def test_ruff_skips_a_learners_exercises():
    """A half-done answer in exercises/ does not fail `make test`'s ruff before any test."""
    half_done = nbs.ROOT / "exercises" / "00_start_here_exercises.ipynb"
    ran = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", "."],
        cwd=nbs.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert half_done.exists() and str(half_done) not in ran.stdout
    assert str(nbs.ROOT / "solutions" / "00_start_here.ipynb") in ran.stdout


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_has_a_check_cell_calling_a_registered_check(path):
    lesson_check_modules()
    ids = checked_in(path)
    assert ids, f"{path.name}: no code cell tagged `check`"
    assert None not in ids, f"{path.name}: a check cell that does not call `checks.NAME(...)`"
    unknown = ids - set(tutorial.checks.REGISTRY)
    assert not unknown, f"{path.name}: check cells call unregistered exercises {sorted(unknown)}"


def test_every_registered_exercise_has_a_hint_and_a_check_cell():
    assert lesson_check_modules()
    in_notebooks = set().union(*(checked_in(p) for p in SOLUTIONS))
    registry = tutorial.checks.REGISTRY
    without_hint = sorted(i for i, e in registry.items() if not e.hint.strip())
    one_step = sorted(i for i, e in registry.items() if len(e.hints) < 2)
    unchecked = sorted(set(registry) - in_notebooks)
    assert not without_hint, f"exercises without a hint: {without_hint}"
    assert not one_step, f"exercises with fewer than two hint steps: {one_step}"
    assert not unchecked, f"registered, but called in no solutions/ check cell: {unchecked}"


def test_every_lesson_has_three_checked_exercises_and_lesson_00_two():
    assert lesson_check_modules()
    counts = Counter(e.lesson for e in tutorial.checks.REGISTRY.values())
    lessons = {nbs.lesson_number(p.name) for p in SOLUTIONS}
    short = {n: counts[n] for n in sorted(lessons) if counts[n] < (2 if n == "00" else 3)}
    assert not short, f"lessons with too few checked exercises: {short}"


# Every lesson's untouched exercise, run as `make exercises` writes it (in memory), as a learner
# who changed nothing. Not sixteen kernels: one kernel runs each lesson's cells in turn, after a
# cell that empties the namespace (no lesson sees another's names), so a kernel start (~0.4 s
# CPU) and importing Django and the checks are paid once; and the lessons' `start_site()` get
# one companion site (a start is ~0.45 s CPU), which their `site.stop()` leaves running for the
# next. An untouched check fails before it measures the site. The set-up cells start and stop
# sites of their own, in fresh kernels, in the solutions under nbval. A lesson that points the
# kernel's Django at another database gets a kernel of its own: settings are configured once per
# process.
OWN_KERNEL = ("COMPANION_DB_URL",)
# The namespace is emptied by hand, not with `%reset -f`: that runs gc.collect() twice, ~0.13 s
# of CPU per lesson in a kernel that holds Django (half the shared kernel's CPU); the assert
# below checks the same emptiness either way.
EMPTY_NAMESPACE = """for _name in [
    n
    for n in get_ipython().user_ns
    if n not in get_ipython().user_ns_hidden and not (n[:2] == n[-2:] == "__")
]:  # the kernel's own names (In, Out, __name__, ...) are hidden: they stay
    del get_ipython().user_ns[_name]
globals().pop("_name", None)
Out.clear()  # the last lesson's outputs, and what they hold
assert not get_ipython().run_line_magic("who_ls", ""), "the last lesson left names behind"
"""
SHARE_A_SITE = """import tutorial.site


def one_site(start_site):
    site = start_site()
    site.stop = lambda timeout=5.0: None  # a lesson's last cell
    return lambda *args, **kwargs: site if not (args or kwargs) else start_site(*args, **kwargs)


tutorial.site.start_site = one_site(tutorial.site.start_site)"""
STOP_THE_SITE = """import tutorial.site

site = tutorial.site.start_site()
del site.stop
site.stop()"""


def kernel_groups(paths):
    """[[the paths that share a kernel], [a path with a kernel of its own], ...]."""
    own = [p for p in paths if any(word in p.read_text() for word in OWN_KERNEL)]
    return [group for group in [[p for p in paths if p not in own], *([p] for p in own)] if group]


def run_untouched(paths, cwd):
    """{solution name: the executed cells of its untouched exercise}, all in one kernel."""
    shared = len(paths) > 1
    combined, spans = notebook(*([code(SHARE_A_SITE)] if shared else [])), {}
    for path in paths:
        combined.cells.append(code(EMPTY_NAMESPACE))
        start = len(combined.cells)
        combined.cells += exercises.make_exercise(nbs.read(path), path).cells
        spans[path.name] = (start, len(combined.cells))
    if shared:
        combined.cells.append(code(STOP_THE_SITE))
    executed = nbs.execute(combined, cwd=cwd, timeout=60).cells
    ours = [(0, "sharing a site")] if shared else []
    ours += [(start - 1, f"before {name}") for name, (start, _) in spans.items()]
    ours += [(len(executed) - 1, "stopping the site")] if shared else []
    for index, what in ours:
        error = nbs.error_of(executed[index])
        assert error is None, f"{what}: {error.ename}: {error.evalue}"
    return {name: executed[start:end] for name, (start, end) in spans.items()}


@pytest.fixture(scope="module")
def untouched_runs():
    """The kernels side by side: an untouched check fails before it times anything."""
    cwd = nbs.ROOT / "exercises"
    cwd = cwd if cwd.is_dir() else SOLUTIONS[0].parent
    groups = kernel_groups(SOLUTIONS)
    runs = {}
    with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
        for run in pool.map(run_untouched, groups, [cwd] * len(groups)):
            runs |= run
    return runs


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_untouched_exercise_fails_with_hint(path, untouched_runs):
    cells = untouched_runs[path.name]
    assert any("check" in nbs.tags(c) for c in cells), f"{path.name}: no check cell ran"
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        error = nbs.error_of(cell)
        where = f"{path.name}, cell {index} ({cell.source.splitlines()[0][:60]!r})"
        if "check" in nbs.tags(cell):
            assert error is not None, f"{where}: the untouched exercise passes its check"
            assert error.ename == "ExerciseFailed", f"{where}: {error.ename}: {error.evalue}"
            assert "] Not started: " in error.evalue, f"{where}: {error.evalue}"
            assert len(error.traceback) <= 5, f"{where}: hint of {len(error.traceback)} lines"
        elif "raises-exception" not in nbs.tags(cell):
            assert error is None, f"{where}: {error.ename}: {error.evalue}"


def test_nav_path_runs_lesson_then_its_exercise_then_the_next_lesson(root):
    steps = nav.path_through(root)
    assert [nbs.relative(nav.step_path(step, root), root) for step in steps] == [
        "notebooks/98_first.ipynb",
        "notebooks/99_double.ipynb",
        EXERCISE,
    ]


def test_links_to_an_exercise_by_its_lessons_name_are_retargeted():
    nb = notebook(md("Open [exercises/05_x.ipynb](../exercises/05_x.ipynb), then 06_y_exercises."))
    nb.cells.append(md("Already right: `exercises/06_y_exercises.ipynb`."))
    nav.retarget_exercise_links(nb)
    assert nb.cells[0].source == (
        "Open [exercises/05_x_exercises.ipynb](../exercises/05_x_exercises.ipynb), then 06_y_exercises."
    )
    assert nb.cells[1].source == "Already right: `exercises/06_y_exercises.ipynb`."
