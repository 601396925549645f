"""Short tracebacks in the notebooks: the exception, its message and the line that is yours.

An intended exception in a lesson (`Item.objects.count()` in async code) is raised from deep in
Django and asgiref: IPython would show 25–40 lines of their frames above the one line that
matters. Installed in a kernel (by `import tutorial`, and at kernel start through the IPython
config that `tools/link_repo.py` writes), this shows instead, in at most 8 lines:

    SynchronousOnlyOperation: You cannot call this from an async context - use a thread or ...
      at line 3 of your cell: Item.objects.count()
      (12 frames inside django, asgiref not shown: %xmode Verbose shows them)

The cell still raises — Run All stops, nbval and conftest's `# raises: Name` see the same
exception — only its display is shorter. A NameError at the top of a cell (`checks` or `site`
after a kernel restart or a skipped set-up cell) says which cells to run again. `%xmode Verbose`
(or any mode other than the default, Context) turns the filter off for that kernel.
"""

import linecache
import os
import sys

# Frames from these files are not the learner's: the standard library, installed packages and
# the tutorial's own helpers. The notebook's cells and the companion site's code are.
_LIBRARY_PARTS = ("site-packages", "/lib/python3", "/tutorial/")
_DEFAULT_MODE = "Context"
MAX_MESSAGE_LINES = 4
SETUP_NAMES = ("checks", "site", "start_site")
RED, RESET = "\x1b[31m", "\x1b[0m"


def is_library(filename):
    return filename.startswith("<frozen") or any(part in filename for part in _LIBRARY_PARTS)


def place(filename):
    """What the learner calls a file: 'your cell' for a notebook cell, else its name."""
    # ipykernel stores each cell as /tmp/ipykernel_<pid>/<hash>.py
    return "your cell" if "ipykernel_" in filename else os.path.basename(filename)


def line_of(filename, lineno):
    return f"line {lineno} of {place(filename)}: {linecache.getline(filename, lineno).strip()}"


def _frames(tb):
    while tb is not None:
        yield tb.tb_frame.f_code, tb.tb_lineno
        tb = tb.tb_next


def _package(filename):
    """'django' for …/site-packages/django/db/…, 'asyncio' for …/lib/python3.13/asyncio/…"""
    from pathlib import Path  # here: `import tutorial` in a service's supervisor skips it (~10 ms)

    parts = Path(filename).parts
    for marker in ("site-packages", "tutorial"):
        if marker in parts and parts.index(marker) + 1 < len(parts):
            return "tutorial" if marker == "tutorial" else parts[parts.index(marker) + 1]
    folder = Path(filename).parent.name
    return Path(filename).stem if folder.startswith("python3") or not folder else folder


def short(etype, value, tb, names=None):
    """The lines to show for an exception, or None when the usual traceback is as short.

    `names` are the notebook's variables: a stopped companion site among them explains a
    refused connection.
    """
    frames = list(_frames(tb))
    while frames and is_library(frames[0][0].co_filename):
        frames.pop(0)  # IPython's own frames, above the cell: never shown anyway
    mine = [(code, line) for code, line in frames if not is_library(code.co_filename)]
    hidden = [code.co_filename for code, _ in frames if is_library(code.co_filename)]
    message = str(value).strip().splitlines()
    name = etype.__name__
    setup = _setup_advice(etype, value, frames, names or {})
    if not hidden and not setup:
        return None
    lines = [f"{RED}{name}{RESET}: {message[0] if message else ''}".rstrip(": ")]
    lines += message[1:MAX_MESSAGE_LINES]
    if mine:
        code, lineno = mine[-1]
        lines.append(f"  at {line_of(code.co_filename, lineno)}")
    # Only an explicit `raise ... from cause`: an implicit context is mostly the library's own
    # business (a cache miss, asyncio's CancelledError behind a TimeoutError).
    cause = value.__cause__
    if cause is not None and (type(cause).__name__, str(cause)) != (name, str(value)):
        said = (str(cause).strip().splitlines() or [""])[0][:120]
        lines.append(f"  raised while handling {type(cause).__name__}: {said}".rstrip(": "))
    if setup:
        lines.append(f"  {setup}")
    if hidden:
        packages = ", ".join(dict.fromkeys(_package(f) for f in hidden))
        frames_word = "frame" if len(hidden) == 1 else "frames"
        lines.append(
            f"  ({len(hidden)} {frames_word} inside {packages} not shown: "
            "%xmode Verbose shows them)"
        )
    return lines


def _setup_advice(etype, value, frames, names):
    """One line saying what to run again, when the exception means the set-up is gone."""
    in_cells = frames and all(not is_library(code.co_filename) for code, _ in frames)
    # At the top level of a cell (not inside a def): a name some cell above should have made.
    if etype is NameError and in_cells and frames[-1][0].co_name == "<module>":
        return _missing_name(getattr(value, "name", None))
    from .checks.learner import setup_problem

    return setup_problem(value, list(names.values()))


def _missing_name(name):
    if name in SETUP_NAMES:
        return (
            f"Run the set-up cell at the top of this notebook first: `{name}` comes from it "
            "(a kernel restart forgets every cell: Run ▸ Run All Above Selected Cell)."
        )
    return (
        f"A typo, or the cell that defines `{name}` has not run in this kernel "
        "(after a restart: Run ▸ Run All Above Selected Cell)."
    )


def install(shell=None):
    """Make `shell` (the running IPython, if any) show short tracebacks. Safe to call twice."""
    if shell is None:
        if "IPython" not in sys.modules:  # not in a kernel: nothing to do, and no import cost
            return False
        shell = sys.modules["IPython"].get_ipython()
    if shell is None or getattr(shell, "_tutorial_tracebacks", False):
        return bool(shell)
    formatter = shell.InteractiveTB
    full = formatter.structured_traceback

    def structured_traceback(etype, value, tb, tb_offset=None, *args, **kwargs):
        if getattr(formatter, "mode", _DEFAULT_MODE) == _DEFAULT_MODE:
            try:
                lines = short(etype, value, tb, shell.user_ns)
            except Exception:  # never lose the real error to a bug in the short form
                lines = None
            if lines:
                return lines
        return full(etype, value, tb, tb_offset, *args, **kwargs)

    formatter.structured_traceback = structured_traceback
    shell._tutorial_tracebacks = True
    return True


def load_ipython_extension(shell):
    """`%load_ext tutorial.tracebacks`, and the kernel start-up config, call this."""
    install(shell)
