"""The verdict of a check: ✓ and a sentence, or ✗ and a short hint that fails the cell.

A failed check raises ExerciseFailed. IPython renders an exception that has
`_render_traceback_` with those lines instead of a traceback, so the learner sees the hint and
nothing else, while the cell still fails — Run All stops there and nbval/nbclient see an error.
"""

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
NOT_STARTED = "Not started"  # every "not started" hint opens with this (progress reads it)

RED, GREEN, RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"


class ExerciseFailed(AssertionError):
    """A check failed; `hint` says what to look at. `kind` names the learner's mistake."""

    def __init__(self, hint, *, kind="wrong", exercise=None):
        super().__init__(hint)
        self.hint, self.kind, self.exercise = hint, kind, exercise

    def __str__(self):
        prefix = f"[{self.exercise}] " if self.exercise else ""
        return f"{prefix}{self.hint}"

    def _render_traceback_(self):
        lines = str(self).splitlines() or [""]
        return [f"{RED}✗ {lines[0]}{RESET}", *lines[1:]]


# Kinds of failure that are about the exercise's concept, so the exercise's hint steps fit them:
# "wrong" (the default of fail). Every other kind names its own mistake — "shape" (the value's
# type, length or order, not the method), "not_started", "exception", "timeout",
# "endless_loop", "blocked", "missing_await", "not_async", "not_sync", "setup", or a lesson's
# own ("lazy_relation") — and gets no general step, unless the exercise lists it in `about`.
CONCEPT = "wrong"


def fail(hint, *, kind=CONCEPT):
    """Fail the current check with `hint` (one to three short lines, what to look at).

    Keep the default kind for a wrong answer to the exercise's question; say kind="shape" when
    the value has the wrong type, length or order, where the hint steps about the method would
    not fit.
    """
    raise ExerciseFailed(hint, kind=kind)


@dataclass(frozen=True)
class Exercise:
    id: str  # "00_fetch_both": lesson number and the name of the function the learner writes
    lesson: str
    hints: tuple  # steps, from "where to look" to "closer"; never the answer itself
    check: object

    @property
    def hint(self):
        return self.hints[0]

    def solution_pointer(self):
        """The last step: where the worked answer is."""
        found = sorted(SOLUTIONS.glob(f"{self.lesson}_*.ipynb"))
        where = f"solutions/{found[0].name}" if found else "solutions/"
        name = self.id.split("_", 1)[1]
        return f"Still stuck? The worked answer to {name} is in {where}."


REGISTRY: dict[str, Exercise] = {}
_failures: dict[str, int] = {}  # exercise id -> wrong answers seen in this kernel


def next_hint(exercise_id):
    """The next hint step for `exercise_id` (and count it): hints in order, then the solution."""
    entry = REGISTRY[exercise_id]
    step = _failures.get(exercise_id, 0)
    _failures[exercise_id] = step + 1
    if step < len(entry.hints):
        label = f"Hint {step + 1}/{len(entry.hints)}" if len(entry.hints) > 1 else "Hint"
        return f"{label}: {entry.hints[step]}"
    return entry.solution_pointer()


def hint(exercise_id):
    """Print the next hint for an exercise, e.g. `checks.hint("05_classify")`.

    Each call goes one step further: where to look, then closer, then where the answer is.
    """
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none yet: run the set-up cell first"
        print(f"No exercise {exercise_id!r}. Exercises loaded: {known}")
        return
    print(next_hint(exercise_id))


def exercise(lesson, name, *, hint=None, hints=None, about=()):
    """Register a check function for exercise `name` of `lesson`, with its hint steps.

    `hints` is a tuple of steps, from where to look to closer (at least two); `hint` a single
    step. `about` names other kinds of failure the steps fit (e.g. ("blocked",) when the
    exercise is about keeping the loop free). The check's docstring opens with one sentence saying what it checks ("Check that ...").
    Calling the wrapped check prints `✓ ...` on success; on failure it raises ExerciseFailed
    whose message is the specific hint, then — for a wrong answer (not for a set-up problem, a
    forgotten await or an exception, which the specific hint already names) — the next step:
    the first failure shows step 1, the next one step 2, then where the solution is. A site
    passed in that was stopped, or a call the check makes to a site that is gone, fails with
    kind "setup" and says which cell to run again, not a traceback.
    """
    steps = tuple(hints) if hints else (hint,) if hint else ()
    if not steps:
        raise ValueError(f"exercise {lesson}_{name}: give hints=(where to look, closer)")

    def decorate(check):
        doc = (check.__doc__ or "").strip()
        if not doc.startswith("Check that"):
            raise ValueError(f"{check.__qualname__}: docstring must open with 'Check that ...'")
        exercise_id = f"{lesson}_{name}"
        claim = doc.split("\n\n")[0].replace("\n", " ").removeprefix("Check that ").rstrip(".")

        def passed():
            print(f"{GREEN}✓ [{exercise_id}] {claim}{RESET}")

        def failed(error):
            error.exercise = exercise_id
            if error.kind == CONCEPT and error.hint.startswith(NOT_STARTED):
                error.kind = "not_started"  # a check's own "Not started: ..." is not a wrong answer
            fits = error.kind == CONCEPT or error.kind in about
            if fits and not any(step in error.hint for step in steps):
                error.hint = f"{error.hint}\n{next_hint(exercise_id)}"
            # Hide the check's own frames: the learner needs the hint, not our call stack.
            return error.with_traceback(None)

        def broken_setup(error, args, kwargs):
            """The check's own call failed because the site it was given is gone: say so."""
            from .learner import setup_problem

            problem = setup_problem(error, [*args, *kwargs.values()])
            return failed(ExerciseFailed(problem, kind="setup")) if problem else None

        def before(args, kwargs):
            from .learner import stopped_site

            stopped_site([*args, *kwargs.values()])

        if inspect.iscoroutinefunction(check):

            @functools.wraps(check)
            async def run(*args, **kwargs):
                try:
                    before(args, kwargs)
                    await check(*args, **kwargs)
                except ExerciseFailed as error:
                    raise failed(error) from None
                except Exception as error:
                    if (setup := broken_setup(error, args, kwargs)) is None:
                        raise
                    raise setup from None
                passed()

        else:

            @functools.wraps(check)
            def run(*args, **kwargs):
                try:
                    before(args, kwargs)
                    check(*args, **kwargs)
                except ExerciseFailed as error:
                    raise failed(error) from None
                except Exception as error:
                    if (setup := broken_setup(error, args, kwargs)) is None:
                        raise
                    raise setup from None
                passed()

        run.exercise_id = exercise_id
        REGISTRY[exercise_id] = Exercise(exercise_id, lesson, steps, run)
        return run

    return decorate
