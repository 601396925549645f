"""`python -m tutorial progress`: run your exercises/ headless and show which ones pass.

Each exercises/NN_name_exercises.ipynb runs in a fresh kernel, in memory, as it is saved on disk:
your files are never written (save in JupyterLab first). The verdict of each exercise comes from
its check cell (tagged `check`): a `✓` line means passed, an ExerciseFailed whose hint opens with
"Not started" means not started, any other error means failed, with the first line of what it
said. A notebook still running its wall-clock limit after its first cell started has its kernel
killed: its remaining checks are "hung". A kernel that dies before the first cell is started
once more; if it dies again its checks "could not run — try again", and its stderr is kept in
.progress/NN_name.log.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from . import notebooks as nbs
from .checks.learner import NOT_STARTED

PASSED, FAILED, NOT_STARTED_YET = "passed", "failed", "not started"
HUNG, COULD_NOT_RUN = "hung", "could not run — try again"
LOGS = ".progress"  # under the repository root; ignored by git
BAR_WIDTH = 30


@dataclass(frozen=True)
class Result:
    exercise: str  # "05_fetch_all"
    lesson: str  # "05_async_views"
    status: str  # PASSED, FAILED, NOT_STARTED_YET, HUNG or COULD_NOT_RUN
    detail: str = ""  # the first line of the hint or error

    def row(self):
        said = f": {self.detail}" if self.detail else ""
        return (self.exercise, self.lesson, self.status + said)


def _first_line(text):
    return (text.strip().splitlines() or [""])[0]


def verdict(cell):
    """(status, detail) of one executed check cell."""
    error = nbs.error_of(cell)
    if error is None:
        if "✓" in nbs.text_of(cell):
            return PASSED, ""
        return FAILED, "the check printed no ✓: is the check cell as it was generated?"
    if error.ename == "ExerciseFailed":
        hint = error.evalue.split("] ", 1)[-1] if error.evalue.startswith("[") else error.evalue
        if hint.startswith(NOT_STARTED):
            return NOT_STARTED_YET, ""
        return FAILED, _first_line(hint)
    return FAILED, _first_line(f"{error.ename}: {error.evalue}")


def results_of(executed, lesson_stem, stopped_at=None, stopped_detail="", hung=True):
    """A Result per check cell of an executed exercise notebook.

    With `stopped_at` (the index of the cell that was running when the kernel was killed or
    died), the check cells from there on never ran to their end: HUNG, or FAILED if it died.
    """
    lesson = nbs.lesson_number(f"{lesson_stem}.ipynb")
    results = []
    checks = [(i, c) for i, c in enumerate(executed.cells) if c in nbs.check_cells(executed)]
    for number, (index, cell) in enumerate(checks, start=1):
        exercise = nbs.checked_exercise(cell, lesson) or f"{lesson} check {number}"
        if stopped_at is not None and index >= stopped_at:
            results.append(Result(exercise, lesson_stem, HUNG if hung else FAILED, stopped_detail))
            continue
        status, detail = verdict(cell)
        earlier = _earlier_error(executed, index)
        if status == FAILED and detail.startswith("NameError") and earlier:
            detail = f"an earlier cell failed, so this check could not run: {earlier}"
        results.append(Result(exercise, lesson_stem, status, detail))
    return results


def _earlier_error(executed, index):
    """'ImportError: …' of the first cell above `index` that failed unexpectedly, or ''."""
    for cell in executed.cells[:index]:
        error = nbs.error_of(cell) if cell.cell_type == "code" else None
        if error and not {"check", "raises-exception"} & set(nbs.tags(cell)):
            return _first_line(f"{error.ename}: {error.evalue}")
    return ""


def _cell_line(nb, index):
    lines = nb.cells[index].source.strip().splitlines() if index < len(nb.cells) else []
    return lines[0][:60] if lines else ""


def log_path(path, root=nbs.ROOT):
    return Path(root) / LOGS / f"{nbs.lesson_stem(path)}.log"


def run(path, timeout=60, limit=180, root=nbs.ROOT):
    """Execute one exercise notebook (in memory) and return its Results."""
    nb = nbs.read(path)
    stem = nbs.lesson_stem(path)
    log = log_path(path, root)
    log.parent.mkdir(exist_ok=True)
    with log.open("w", encoding="utf-8") as stderr:
        for attempt in (1, 2):  # under load a kernel may die before it answers: once more
            try:
                executed = nbs.execute(
                    nb, cwd=path.parent, timeout=timeout, limit=limit, stderr=stderr
                )
            except nbs.KernelDidNotStart as error:
                stderr.write(f"\n[progress] attempt {attempt}: the kernel did not start: {error}\n")
                continue
            except nbs.NotebookStopped as stopped:
                cell = _cell_line(nb, stopped.cell_index)
                if stopped.hung:
                    detail = (
                        f"still running after {stopped.seconds:g} s in the cell {cell!r}, "
                        "so it was stopped: an endless loop?"
                    )
                else:
                    detail = f"the kernel died in the cell {cell!r} (see {nbs.relative(log, root)})"
                return results_of(stopped.executed, stem, stopped.cell_index, detail, stopped.hung)
            return results_of(executed, stem)
    detail = f"the kernel did not start twice; what it said is in {nbs.relative(log, root)}"
    return [Result(r.exercise, stem, COULD_NOT_RUN, detail) for r in results_of(nb, stem)]


def _by_lesson(results):
    lessons = {}
    for result in results:
        lessons.setdefault(result.lesson, []).append(result)
    return lessons


def table(results):
    """A line per lesson with how many of its exercises pass, then a line per exercise."""
    lessons = _by_lesson(results)
    width = max([len(r.exercise) + 2 for r in results] + [len(name) for name in lessons] + [8])
    lines = []
    for lesson, rows in lessons.items():
        passed = sum(r.status == PASSED for r in rows)
        lines.append(f"{lesson:<{width}}  {passed} of {len(rows)} pass")
        lines += [f"  {r.exercise:<{width - 2}}  {r.row()[2]}" for r in rows]
    return "\n".join(lines)


def bar(passed, total, width=BAR_WIDTH):
    """'[#########---------------------] 9 of 30 exercises pass'"""
    filled = round(width * passed / total) if total else 0
    return f"[{'#' * filled}{'-' * (width - filled)}] {passed} of {total} exercises pass"


def summary(results):
    counts = {s: sum(r.status == s for r in results) for s in (PASSED, FAILED, NOT_STARTED_YET)}
    others = [
        f"{n} {status}"
        for status in (HUNG, COULD_NOT_RUN)
        if (n := sum(r.status == status for r in results))
    ]
    return (
        ", ".join(
            [
                f"{counts[PASSED]} of {len(results)} passed",
                f"{counts[FAILED]} failed",
                f"{counts[NOT_STARTED_YET]} not started",
                *others,
            ]
        )
        + "."
    )


def next_exercise(results, root=nbs.ROOT):
    """'Next exercise: 05_classify in exercises/05_async_views_exercises.ipynb', or all done."""
    for result in results:
        if result.status != PASSED:
            where = nbs.relative(nbs.exercise_path(result.lesson, root), root)
            return f"Next exercise: {result.exercise} in {where}"
    return "Every exercise passes. Well done!"


def report(results, root=nbs.ROOT):
    passed = sum(r.status == PASSED for r in results)
    return "\n".join(
        [
            table(results),
            "",
            bar(passed, len(results)),
            summary(results),
            next_exercise(results, root),
        ]
    )


class Checked(dict):
    """{path: its Results}; `interrupted` when Ctrl-C stopped the run before the last one."""

    interrupted = False


def run_all(paths, timeout=60, limit=180, root=nbs.ROOT):
    """{path: its Results} for every exercise notebook, with a progress bar on stderr.

    Ctrl-C stops the run (the running notebook's kernel is shut down on the way out) and
    returns what was checked so far, with `interrupted` set: no traceback.
    """
    results = Checked()
    with tqdm(paths, desc="Running your exercises", unit="notebook", file=sys.stderr) as shown:
        try:
            for path in shown:
                shown.set_postfix_str(path.name)
                results[path] = run(path, timeout, limit, root)
        except KeyboardInterrupt:
            results.interrupted = True
    return results


def flat(results_by_path):
    return [r for path in sorted(results_by_path) for r in results_by_path[path]]


def main(root=nbs.ROOT, timeout=60, limit=180):
    paths = nbs.numbered("exercises", root)
    if not paths:
        print("No exercises/NN_*_exercises.ipynb found: run `make exercises` first.")
        return 1
    print("Checking your exercise notebooks as they are saved on disk (save in JupyterLab first).")
    results = run_all(paths, timeout, limit, root)
    if results.interrupted:
        print(f"Stopped with Ctrl-C after {len(results)} of {len(paths)} notebooks; so far:")
    if results:
        print(report(flat(results), root))
    return 130 if results.interrupted else 0
