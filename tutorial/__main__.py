"""`python -m tutorial COMMAND`: the maintainer's and learner's tools for the notebooks.

exercises [--check]   write exercises/ from solutions/ (or list what differs)
nav [--check]         write the < prev | Contents | next > cells of notebooks/ and solutions/
clean-outputs         strip outputs and execution counts, and put back the kernel metadata
progress              run your saved exercises/ headless and show which ones pass
watch                 check an exercise notebook again each time you save it
"""

import argparse
import sys
from pathlib import Path

from . import notebooks as nbs


def _listed(paths, root):
    for path in paths:
        print(f"  {nbs.relative(path, root)}")


def exercises(args):
    from .exercises import generate

    report = generate(args.root, check=args.check, force=args.force)
    if report.errors:
        print("Solutions with broken markers (their exercises were not written):")
        print("\n".join(f"  {e}" for e in report.errors))
    if report.changed:
        print("Out of date — run `make exercises`:" if args.check else "Wrote:")
        _listed(report.changed, args.root)
    if report.kept:
        print(
            "Not overwritten: your answers are in these (a `# YOUR CODE HERE` is gone). "
            "`python -m tutorial exercises --force` replaces them:"
        )
        _listed(report.kept, args.root)
    if report.orphans:
        print("Exercises without a solution" + (":" if args.check else " (removed):"))
        _listed(report.orphans, args.root)
    if report.ok:
        print("exercises/ is up to date with solutions/.")
    failed = report.errors or report.kept or (args.check and not report.ok)
    return 1 if failed else 0


def nav(args):
    from .nav import update

    changed = update(args.root, check=args.check)
    if changed:
        print("Navigation out of date — run `python -m tutorial nav`:" if args.check else "Wrote:")
        _listed(changed, args.root)
    else:
        print("Navigation is up to date.")
    return 1 if args.check and changed else 0


def clean_outputs(args):
    """Every notebook as committed: no outputs, and the metadata a fresh kernel writes.

    Run it again after merging branches that add notebooks: it is how their metadata is made
    the same as everyone's (it touches nothing else in them).
    """
    changed = []
    for folder in nbs.FOLDERS:
        for path in sorted((Path(args.root) / folder).glob("*.ipynb")):
            nb = nbs.read(path)
            cleared = nbs.clear_outputs(nb)
            normalised = nbs.normalise_metadata(nb)
            if (cleared or normalised) and nbs.write(nb, path):
                changed.append(path)
    if changed:
        print("Cleared outputs or kernel metadata of:")
        _listed(changed, args.root)
    else:
        print("No notebook had outputs or other kernel metadata.")
    return 0


def progress(args):
    from .progress import main

    return main(args.root, timeout=args.timeout, limit=args.limit)


def watch(args):
    from .watch import main

    return main(args.root, timeout=args.timeout, limit=args.limit)


def _run_options(command):
    command.add_argument("--timeout", type=float, default=60, help="seconds per cell")
    command.add_argument(
        "--limit", type=float, default=180, help="seconds per notebook, then its kernel is killed"
    )


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tutorial", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=nbs.ROOT, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("exercises", help="write exercises/ from solutions/")
    command.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    command.add_argument("--force", action="store_true", help="overwrite exercises you worked in")
    command.set_defaults(run=exercises)
    command = commands.add_parser("nav", help="write the nav cells of notebooks/ and solutions/")
    command.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    command.set_defaults(run=nav)
    commands.add_parser("clean-outputs", help="strip outputs, reset kernel metadata").set_defaults(
        run=clean_outputs
    )
    command = commands.add_parser("progress", help="which of your exercises pass")
    _run_options(command)
    command.set_defaults(run=progress)
    command = commands.add_parser("watch", help="check an exercise again each time it is saved")
    _run_options(command)
    command.set_defaults(run=watch)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
