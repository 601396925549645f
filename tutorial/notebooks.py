"""Read, write and walk the tutorial's notebooks the same way everywhere.

Every tool that writes a notebook (exercise generator, nav, clean-outputs) goes through `write`,
so the JSON is always nbformat's and a file is only touched when its text changes.
"""

import copy
import re
import sys
from pathlib import Path

# nbformat imports jsonschema, whose optional "iri" format check imports rfc3987_syntax, which
# builds an Earley parser as it is imported: ~1.4 s CPU in each process that reads a notebook
# (every `python -m tutorial progress`). No notebook schema checks a format: it stays out.
# (pytest loads tests/quick_imports.py, which imports this module, before nbval imports nbformat.)
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402 (after the line above)

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "solutions", "exercises")
# The metadata JupyterLab writes into a notebook as soon as its kernel starts: `kernelspec` from
# the python3 kernel's kernel.json (ipykernel's), `language_info` from the kernel's
# kernel_info reply. A notebook committed with exactly these is not changed by being opened
# (Lab compares before it sets), so it never shows up in `git status` or conflicts on `git pull`.
# `make clean-outputs` puts them back. `language_info.version` is the Python of the tutorial's
# set-up: with another Python, Lab writes that one, and clean-outputs takes it back out.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.13.0",
}
NUMBERED = re.compile(r"^(\d\d)_\w+\.ipynb$")
# exercises/05_async_views_exercises.ipynb: a name of its own, so a lesson tab and its
# exercise tab never read the same.
EXERCISE_SUFFIX = "_exercises"
_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\(")


def read(path):
    return nbformat.read(str(path), as_version=4)


def dumps(nb):
    """The file text nbformat.write would produce: stable keys, indent 1, final newline."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def write(nb, path):
    """Write `nb` to `path` if its text differs; return True when the file changed."""
    path = Path(path)
    text = dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def numbered(folder, root=ROOT):
    """The NN_name.ipynb files of `folder` under `root`, in lesson order."""
    directory = Path(root) / folder
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NUMBERED.match(p.name))


def lesson_number(path):
    return Path(path).name[:2]


def exercise_name(stem):
    """'05_async_views_exercises.ipynb', the exercise of lesson or solution '05_async_views'."""
    return f"{stem}{EXERCISE_SUFFIX}.ipynb"


def exercise_path(stem, root=ROOT):
    return Path(root) / "exercises" / exercise_name(stem)


def lesson_stem(path):
    """'05_async_views' for notebooks/, solutions/ or exercises/ 05_async_views[_exercises]."""
    path = Path(path)
    if path.parent.name == "exercises":
        return path.stem.removesuffix(EXERCISE_SUFFIX)
    return path.stem


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "check" in tags(c)]


def checked_exercise(cell, lesson):
    """'05_fetch_all' for a check cell `await checks.fetch_all(...)` in lesson 05, else None."""
    found = _CHECK_CALL.search(cell.source)
    return f"{lesson}_{found.group(1)}" if found else None


def clear_outputs(nb):
    """Drop outputs, execution counts and run timings in place; return True if anything went."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed = True
        cell.outputs, cell.execution_count = [], None
        if cell.metadata.pop("execution", None) is not None:
            changed = True
    return changed


def normalise_metadata(nb):
    """Give `nb` the kernelspec and language_info a fresh kernel writes; True if they changed.

    Only these two keys of the notebook's metadata: anything else in it is kept as it is.
    """
    wanted = {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO}
    changed = any(nb.metadata.get(key) != value for key, value in wanted.items())
    for key, value in wanted.items():
        nb.metadata[key] = copy.deepcopy(value)
    return changed


def has_outputs(nb):
    return any(
        c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
        for c in nb.cells
    )


def title(nb, fallback):
    """'05 · Async views' from the notebook's '# 05 · Async views' header cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return fallback


def header_index(nb):
    """Index of the header cell (first markdown cell opening with '# '), or None."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return i
    return None


def relative(path, root=ROOT):
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


class NotebookStopped(Exception):
    """The notebook did not run to its end: `executed` has the outputs of the cells that ran.

    `cell_index` is the cell that was running, for `seconds`; `hung` says why: True when it still
    ran at a time limit (the notebook's, then the kernel was killed, or the cell's, then the
    kernel died of the interrupt), False when the kernel died on its own.
    """

    def __init__(self, executed, cell_index, seconds, hung):
        why = "still running" if hung else "the kernel died"
        super().__init__(f"{why} after {seconds:.0f} s in cell {cell_index}")
        self.executed, self.cell_index, self.seconds, self.hung = (
            executed,
            cell_index,
            seconds,
            hung,
        )


class KernelDidNotStart(Exception):
    """The kernel died or gave no answer before the first cell ran (its stderr is in the log)."""


def execute(nb, cwd, timeout=60, limit=None, stderr=None):
    """Run `nb` (a copy) headless in a python3 kernel of this interpreter; return the copy.

    Errors do not stop the run (allow_errors): the caller reads each cell's outputs. A cell
    that runs longer than `timeout` is interrupted; a notebook whose cells still run `limit`
    seconds after the first one started (code the interrupt cannot stop) has its kernel killed
    and raises NotebookStopped, as does a kernel that dies (ipykernel 7 dies when interrupted in
    an endless loop under a top-level await). The kernel's start does not count against `limit`:
    on a busy machine a slow start is no endless loop (nbclient gives it its own time-out). The
    kernel's own stderr goes to `stderr` (a file), else nowhere; a kernel that dies before the
    first cell runs raises KernelDidNotStart.
    """
    import asyncio
    import subprocess

    nb = copy.deepcopy(nb)
    stderr = subprocess.DEVNULL if stderr is None else stderr
    return asyncio.run(_execute(nb, cwd, timeout, limit, stderr))


async def _execute(nb, cwd, timeout, limit, stderr):
    import asyncio
    import time

    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    class ThisInterpreter(KernelSpecManager):
        # Not whatever `python3` kernelspec is installed: this venv's Python, like nbval's
        # --nbval-current-env.
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
    running = []  # (index, start time) of the cells that started, the last one still running

    def started(cell, cell_index):
        if not running and limit is not None:  # the clock starts with the first cell
            deadline.reschedule(asyncio.get_running_loop().time() + limit)
        running.append((cell_index, time.monotonic()))

    def stopped():
        """NotebookStopped for the cell that was running when the run ended."""
        index, since = running[-1] if running else (0, time.monotonic())
        if deadline.expired():  # nbclient turns our cancellation into DeadKernelError
            return NotebookStopped(nb, index, limit, hung=True)
        if time.monotonic() - since >= timeout:  # it died of the interrupt after `timeout`
            return NotebookStopped(nb, index, timeout, hung=True)
        return NotebookStopped(nb, index, time.monotonic() - since, hung=False)

    deadline = asyncio.timeout(None)  # set when the first cell starts
    client = NotebookClient(
        nb,
        km=manager,
        timeout=timeout,
        interrupt_on_timeout=True,  # a hung cell becomes an error in that cell; the rest runs
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        on_cell_start=started,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        async with deadline:
            # cleanup_kc: we made the kernel manager, so nbclient would leave the kernel running.
            await client.async_execute(cleanup_kc=True, stderr=stderr)
    except Exception as error:  # TimeoutError from `deadline`, DeadKernelError, ...
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            # nbclient's own Ctrl-C (SIGINT/SIGTERM) handler shut the kernel down: this run
            # was stopped by the person at the keyboard, not by the notebook.
            raise KeyboardInterrupt from error
        if running and (deadline.expired() or isinstance(error, DeadKernelError)):
            raise stopped() from error
        if not running:
            raise KernelDidNotStart(f"{type(error).__name__}: {error}") from error
        raise
    finally:
        if manager.has_kernel:  # killed here if nbclient's own clean-up was cut short
            await manager.shutdown_kernel(now=True)
    return nb


def error_of(cell):
    """The error output of an executed code cell, or None."""
    return next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)


def text_of(cell):
    """Everything an executed cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)
