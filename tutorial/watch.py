"""`python -m tutorial watch` (`make watch`): check an exercise notebook again each time it is saved.

Like rustlings' watch mode: every exercise notebook runs once, then each save of one of them
(Ctrl-S in JupyterLab) runs that notebook again, headless and in memory like `make progress`,
and prints its checks, the progress bar over all exercises and the next exercise. Ctrl-C stops.
"""

import time

from . import notebooks as nbs
from . import progress

POLL_EVERY = 0.5  # seconds between looks at the files' modification times


def stamps(root=nbs.ROOT):
    """{exercise notebook: (mtime_ns, size)} as they are on disk now."""
    found = {}
    for path in nbs.numbered("exercises", root):
        try:
            stat = path.stat()
        except FileNotFoundError:  # saved by rename: between the two steps
            continue
        found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def saved_since(before, now):
    """The notebooks whose file changed (or appeared) between two `stamps`."""
    return sorted(path for path, stamp in now.items() if before.get(path) != stamp)


def show(path, results_by_path, root=nbs.ROOT):
    everything = progress.flat(results_by_path)
    passed = sum(r.status == progress.PASSED for r in everything)
    print(f"\n— {nbs.relative(path, root)}, saved at {time.strftime('%H:%M:%S')}")
    print(progress.table(results_by_path[path]))
    print(progress.bar(passed, len(everything)))
    print(progress.next_exercise(everything, root))


def main(root=nbs.ROOT, timeout=60, limit=180, rechecks=None):
    """Watch until Ctrl-C (or, for tests, until `rechecks` saves have been checked)."""
    paths = nbs.numbered("exercises", root)
    if not paths:
        print("No exercises/NN_*_exercises.ipynb found: run `make exercises` first.")
        return 1
    print("Checking every exercise once, then again each time you save its notebook.")
    seen = stamps(root)
    results = progress.run_all(paths, timeout, limit, root)
    if results.interrupted:
        print("\nStopped watching.")
        return 0
    print(progress.report(progress.flat(results), root))
    print("\nWatching exercises/ — save a notebook (Ctrl-S) to check it again; Ctrl-C stops.")
    done = 0
    try:
        while rechecks is None or done < rechecks:
            time.sleep(POLL_EVERY)
            now = stamps(root)
            for path in saved_since(seen, now):
                results[path] = progress.run(path, timeout, limit, root)
                show(path, results, root)
                done += 1
            seen = now
    except KeyboardInterrupt:
        print("\nStopped watching.")
    return 0
