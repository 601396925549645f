"""`python -m tutorial progress`: run your exercises/ headless and show which ones pass.

Each exercises/NN_name_exercises.ipynb runs in a fresh kernel, in memory: your files are never written.
The verdict of each exercise comes from its check cell (tagged `check`): a `✓` line means passed,
an ExerciseFailed whose hint opens with "Not started" means not started, any other error means
failed, with the first line of what it said.
"""

from dataclasses import dataclass

from tqdm import tqdm

from . import notebooks as nbs
from .checks.learner import NOT_STARTED

PASSED, FAILED, NOT_STARTED_YET = "passed", "failed", "not started"


@dataclass(frozen=True)
class Result:
    exercise: str  # "05_fetch_all"
    lesson: str  # "05_async_views"
    status: str  # PASSED, FAILED or NOT_STARTED_YET
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


def results_of(executed, lesson_stem):
    """A Result per check cell of an executed exercise notebook."""
    lesson = nbs.lesson_number(f"{lesson_stem}.ipynb")
    results = []
    for number, cell in enumerate(nbs.check_cells(executed), start=1):
        exercise = nbs.checked_exercise(cell, lesson) or f"{lesson} check {number}"
        results.append(Result(exercise, lesson_stem, *verdict(cell)))
    return results


def run(path, timeout=120):
    """Execute one exercise notebook (in memory) and return its Results."""
    nb = nbs.read(path)
    try:
        executed = nbs.execute(nb, cwd=path.parent, timeout=timeout)
    except Exception as error:  # the kernel died or would not start: every check failed
        detail = f"the notebook could not run: {type(error).__name__}: {_first_line(str(error))}"
        return [
            Result(r.exercise, r.lesson, FAILED, detail)
            for r in results_of(nb, nbs.lesson_stem(path))
        ]
    return results_of(executed, nbs.lesson_stem(path))


def table(results):
    rows = [("exercise", "lesson", "status"), *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
    lines.insert(1, "-" * min(max(len(line) for line in lines), 80))
    return "\n".join(lines)


def summary(results):
    counts = {s: sum(r.status == s for r in results) for s in (PASSED, FAILED, NOT_STARTED_YET)}
    return (
        f"{counts[PASSED]} of {len(results)} passed, {counts[FAILED]} failed, "
        f"{counts[NOT_STARTED_YET]} not started."
    )


def main(root=nbs.ROOT, timeout=120):
    paths = nbs.numbered("exercises", root)
    if not paths:
        print("No exercises/NN_*.ipynb found: run `make exercises` first.")
        return 1
    results = []
    with tqdm(paths, desc="Running your exercises", unit="notebook") as bar:
        for path in bar:
            bar.set_postfix_str(path.name)
            results.extend(run(path, timeout))
    print(table(results))
    print(summary(results))
    return 0
