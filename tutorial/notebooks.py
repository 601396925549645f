"""Read, write and walk the tutorial's notebooks the same way everywhere.

Every tool that writes a notebook (exercise generator, nav, clean-outputs) goes through `write`,
so the JSON is always nbformat's and a file is only touched when its text changes.
"""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "solutions", "exercises")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
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


def execute(nb, cwd, timeout=60):
    """Run `nb` (a copy) headless in a python3 kernel of this interpreter; return the copy.

    Errors do not stop the run (allow_errors): the caller reads each cell's outputs.
    """
    import copy
    import subprocess

    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    class ThisInterpreter(KernelSpecManager):
        # Not whatever `python3` kernelspec is installed: this venv's Python, like nbval's
        # --nbval-current-env.
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    nb = copy.deepcopy(nb)
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
    client = NotebookClient(
        nb,
        km=manager,
        timeout=timeout,
        interrupt_on_timeout=True,  # a hung cell becomes an error in that cell; the rest runs
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    # The kernel process's own stderr (an "unencrypted TCP" warning) is noise here; what cells
    # print comes over the kernel protocol.
    # cleanup_kc: we made the kernel manager, so nbclient would leave the kernel running.
    client.execute(cleanup_kc=True, stderr=subprocess.DEVNULL)
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
