"""Build exercises/NN_name_exercises.ipynb from solutions/NN_name.ipynb, each exercise's one source.

Each region between `### BEGIN SOLUTION` and `### END SOLUTION` (inside a function body) becomes
`# YOUR CODE HERE` + `raise NotImplementedError` at the indentation of the BEGIN line, outputs
and execution counts go, a first cell tells the learner this copy is theirs to write in, and nav
cells are made for exercises/. `--check` compares instead of writing, so CI can refuse a stale
exercises/. The `_exercises` suffix keeps a lesson's tab and its exercise's tab apart.
"""

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import nav
from . import notebooks as nbs

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
NOTICE_ID = "generated-notice"
# Anything that looks like a marker must be exactly one, or a typo would leak the answer.
_MARKER_LIKE = re.compile(r"^\s*#+\s*(BEGIN|END)\s+SOLUTION", re.IGNORECASE)


class MarkerError(ValueError):
    """A solution notebook whose solution markers cannot be turned into an exercise."""


def strip_solution(source, where="cell"):
    """Return `source` with each solution region replaced by the stub; raise MarkerError."""
    out, begin_line = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if _MARKER_LIKE.match(line) and marker not in (BEGIN, END):
            raise MarkerError(f"{where}, line {number}: {marker!r} is not {BEGIN!r} or {END!r}")
        if marker == BEGIN:
            if begin_line is not None:
                raise MarkerError(
                    f"{where}, line {number}: BEGIN inside the region of line {begin_line}"
                )
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise MarkerError(f"{where}, line {number}: {BEGIN} must be inside a function body")
            begin_line = number
            out.extend(indent + stub for stub in STUB)
        elif marker == END:
            if begin_line is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise MarkerError(f"{where}, line {begin_line}: {BEGIN} without {END}")
    return "\n".join(out)


def _notice(solution_name):
    cell = nbformat.v4.new_markdown_cell(
        "*Your copy: write your answers here, in place of each `# YOUR CODE HERE`, and run the "
        "check cell under it. `make watch` in a terminal checks this notebook each time you "
        "save it; `make progress` shows all your exercises (it reads the saved files). "
        f"Worked answers: `solutions/{solution_name}` (try the hints first).*"
    )
    cell["id"] = NOTICE_ID
    return cell


def make_exercise(solution, solution_path, root=nbs.ROOT, steps=None):
    """The exercise notebook for `solution` (a notebook read from `solution_path`)."""
    solution_path = Path(solution_path)
    nb = copy.deepcopy(solution)
    regions = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        stripped = strip_solution(cell.source, f"{solution_path.name}, cell {index}")
        regions += cell.source.count(BEGIN)
        cell.source = stripped
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    if not regions:
        raise MarkerError(f"{solution_path.name}: no {BEGIN} region, so nothing to exercise")
    nb.cells.insert(0, _notice(solution_path.name))
    nbs.normalise_metadata(nb)  # a learner's copy is never dirty because its kernel started
    exercise_path = nbs.exercise_path(solution_path.stem, root)
    return nav.apply(nb, exercise_path, root, steps)


@dataclass
class Report:
    changed: list = field(default_factory=list)  # exercises written, or that differ (--check)
    orphans: list = field(default_factory=list)  # exercises with no solution
    errors: list = field(default_factory=list)  # solutions that cannot be turned into exercises
    kept: list = field(default_factory=list)  # exercises a learner has worked in: not overwritten

    @property
    def ok(self):
        return not (self.changed or self.orphans or self.errors or self.kept)


def expected(root=nbs.ROOT):
    """{exercise path: notebook} for every solution, plus {solution path: error} for broken ones."""
    steps = nav.path_through(root)
    built, errors = {}, {}
    for path in nbs.numbered("solutions", root):
        try:
            built[nbs.exercise_path(path.stem, root)] = make_exercise(
                nbs.read(path), path, root, steps
            )
        except MarkerError as error:
            errors[path] = str(error)
    return built, errors


def _stubs(nb):
    return sum(c.source.count(STUB[0]) for c in nb.cells if c.cell_type == "code")


def worked_in(path, fresh):
    """True when the exercise at `path` has fewer stubs than a fresh one: a learner's answers."""
    return path.exists() and _stubs(nbs.read(path)) < _stubs(fresh)


def generate(root=nbs.ROOT, check=False, force=False):
    """Write (or with check=True, compare) exercises/ against solutions/; return a Report.

    An exercise someone has answered in (a stub is gone) is kept unless `force`: `make exercises`
    must never eat a learner's work.
    """
    report = Report()
    built, errors = expected(root)
    report.errors = [f"{nbs.relative(p, root)}: {e}" for p, e in errors.items()]
    broken = {nbs.exercise_path(p.stem, root) for p in errors}
    for path, nb in built.items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != nbs.dumps(nb):
                report.changed.append(path)
        elif not force and worked_in(path, nb):
            report.kept.append(path)
        elif nbs.write(nb, path):
            report.changed.append(path)
    for path in nbs.numbered("exercises", root):
        if path in built or path in broken:
            continue
        renamed = built.get(nbs.exercise_path(path.stem, root))
        if renamed is not None and worked_in(path, renamed):
            # The old name (exercises/NN_name.ipynb) of a copy a learner wrote in: theirs.
            report.kept.append(path)
            continue
        report.orphans.append(path)
        if not check:
            path.unlink()  # generated, untouched: its solution is gone or it was renamed
    return report
