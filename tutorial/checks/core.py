"""The verdict of a check: ✓ and a sentence, or ✗ and a short hint that fails the cell.

A failed check raises ExerciseFailed. IPython renders an exception that has
`_render_traceback_` with those lines instead of a traceback, so the learner sees the hint and
nothing else, while the cell still fails — Run All stops there and nbval/nbclient see an error.
"""

import functools
import inspect
from dataclasses import dataclass

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


def fail(hint, *, kind="wrong"):
    """Fail the current check with `hint` (one to three short lines, what to look at)."""
    raise ExerciseFailed(hint, kind=kind)


@dataclass(frozen=True)
class Exercise:
    id: str  # "00_fetch_both": lesson number and the name of the function the learner writes
    lesson: str
    hint: str  # what to look at when the answer is wrong; never the answer itself
    check: object


REGISTRY: dict[str, Exercise] = {}


def exercise(lesson, name, *, hint):
    """Register a check function for exercise `name` of `lesson`, with its general hint.

    The check's docstring opens with one sentence saying what it checks ("Check that ...").
    Calling the wrapped check prints `✓ ...` on success; on failure it raises ExerciseFailed
    whose message is the specific hint, then the general one.
    """

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
            if error.kind == "wrong" and hint not in error.hint:
                error.hint = f"{error.hint}\nHint: {hint}"
            # Hide the check's own frames: the learner needs the hint, not our call stack.
            return error.with_traceback(None)

        if inspect.iscoroutinefunction(check):

            @functools.wraps(check)
            async def run(*args, **kwargs):
                try:
                    await check(*args, **kwargs)
                except ExerciseFailed as error:
                    raise failed(error) from None
                passed()

        else:

            @functools.wraps(check)
            def run(*args, **kwargs):
                try:
                    check(*args, **kwargs)
                except ExerciseFailed as error:
                    raise failed(error) from None
                passed()

        run.exercise_id = exercise_id
        REGISTRY[exercise_id] = Exercise(exercise_id, lesson, hint, run)
        return run

    return decorate
