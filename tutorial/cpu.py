"""CPU-bound work for lessons about threads, processes and the GIL.

It lives in a module, not in a notebook, on purpose: a process pool sends the function to its
workers by *name* (pickle stores `tutorial.cpu.sum_of_squares`, not the code), and a worker
process can import `tutorial.cpu` but not a function defined in a notebook cell.
"""

import time


def sum_of_squares(n):
    """0² + 1² + … + (n-1)², the slow way: a pure-Python loop that keeps one core busy.

    Pure bytecode on purpose: the interpreter hands the GIL to other threads every few
    milliseconds, so a thread running this slows others down but never freezes them.
    """
    total = 0
    for i in range(n):
        total += i * i
    return total


def expected_sum_of_squares(n):
    """What sum_of_squares(n) returns, computed in no time (the closed formula)."""
    return (n - 1) * n * (2 * n - 1) // 6 if n > 0 else 0


def rounds_for(seconds, *, sample=200_000, tries=3):
    """How large an `n` makes sum_of_squares(n) take about `seconds` on this machine.

    Times a small sample `tries` times and keeps the fastest: a busy moment makes a try slower,
    never faster, so the fastest is closest to what the machine can do.
    """
    fastest = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        sum_of_squares(sample)
        fastest = min(fastest, time.perf_counter() - started)
    return max(sample, int(seconds * sample / fastest))


def traced_sum_of_squares(n, log):
    """sum_of_squares(n), and a line in the file `log` saying which process and thread ran it,
    from when to when (time.time()). Importable, so a process pool can run it too:
    `functools.partial(traced_sum_of_squares, log=path)` pickles by name like the function."""
    import json
    import os
    import threading

    started = time.time()
    result = sum_of_squares(n)
    record = {
        "n": n,
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "started": started,
        "ended": time.time(),
    }
    # One short write with O_APPEND: lines from several processes do not interleave.
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)
    return result
