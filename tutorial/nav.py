"""Navigation cells: `< prev | Contents | next >` at the top and bottom of every notebook.

The path through the tutorial is lesson → its exercise → next lesson, in the order of the
NN_ file names in notebooks/. A solution links like its exercise. Nav cells are tagged `nav`
and rebuilt from scratch each time, so running this twice changes nothing. Links in markdown to
an exercise by its lesson's name (exercises/NN_name.ipynb) are pointed at its real file.
"""

import os
import re
from pathlib import Path

import nbformat

from . import notebooks as nbs

TAG = "nav"
# exercises/05_async_views.ipynb, not yet …_exercises.ipynb
_OLD_EXERCISE_LINK = re.compile(r"\bexercises/(\d\d_\w+?)(?<!_exercises)\.ipynb")


def _titles(root):
    return {p.stem: nbs.title(nbs.read(p), p.stem) for p in nbs.numbered("notebooks", root)}


def path_through(root=nbs.ROOT):
    """[(folder, lesson stem, link text)] in reading order: each lesson, then its exercise if any."""
    root = Path(root)
    steps = []
    for stem, title in _titles(root).items():
        steps.append(("notebooks", stem, title))
        if (root / "solutions" / f"{stem}.ipynb").exists():
            steps.append(("exercises", stem, f"Exercise: {title}"))
    return steps


def step_path(step, root=nbs.ROOT):
    """The notebook file of a step of `path_through`."""
    folder, stem, _ = step
    if folder == "exercises":
        return nbs.exercise_path(stem, root)
    return Path(root) / folder / f"{stem}.ipynb"


def _neighbours(folder, stem, steps):
    """(previous step, next step) of a notebook; a solution sits where its exercise does."""
    place = "exercises" if folder == "solutions" else folder
    keys = [(f, s) for f, s, _ in steps]
    if (place, stem) not in keys:
        return None, None
    i = keys.index((place, stem))
    return (steps[i - 1] if i > 0 else None), (steps[i + 1] if i + 1 < len(steps) else None)


def nav_text(path, root=nbs.ROOT, steps=None):
    """The markdown of the nav line for the notebook at `path`."""
    path, root = Path(path), Path(root)
    steps = path_through(root) if steps is None else steps
    before, after = _neighbours(path.parent.name, nbs.lesson_stem(path), steps)

    def link(text, target, anchor=""):
        return f"[{text}]({Path(os.path.relpath(target, path.parent)).as_posix()}{anchor})"

    parts = []
    if before:
        parts.append(link(f"< {before[2]}", step_path(before, root)))
    parts.append(link("Contents", root / "README.md", "#lessons"))
    if after:
        parts.append(link(f"{after[2]} >", step_path(after, root)))
    return " | ".join(parts)


def retarget_exercise_links(nb):
    """Point markdown links and mentions of exercises/NN_name.ipynb at NN_name_exercises.ipynb."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _OLD_EXERCISE_LINK.sub(
                lambda m: f"exercises/{nbs.exercise_name(m.group(1))}", cell.source
            )
    return nb


def _cell(text, where):
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [TAG]})
    cell["id"] = f"nav-{where}"
    return cell


def apply(nb, path, root=nbs.ROOT, steps=None):
    """Put fresh nav cells after the header cell and at the end of `nb` (in place)."""
    nb.cells = [c for c in nb.cells if TAG not in nbs.tags(c)]
    retarget_exercise_links(nb)
    text = nav_text(path, root, steps)
    header = nbs.header_index(nb)
    nb.cells.insert(0 if header is None else header + 1, _cell(text, "top"))
    nb.cells.append(_cell(text, "bottom"))
    return nb


def targets(root=nbs.ROOT):
    """The notebooks whose nav this module writes (exercises get theirs from the generator)."""
    return [*nbs.numbered("notebooks", root), *nbs.numbered("solutions", root)]


def update(root=nbs.ROOT, check=False):
    """Refresh nav in notebooks/ and solutions/; return the paths that changed (or would)."""
    steps = path_through(root)
    changed = []
    for path in targets(root):
        nb = apply(nbs.read(path), path, root, steps)
        if check:
            if path.read_text(encoding="utf-8") != nbs.dumps(nb):
                changed.append(path)
        elif nbs.write(nb, path):
            changed.append(path)
    return changed
