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
    """How large an `n` makes sum_of_squares(n) take about `seconds` of CPU on this machine.

    Times a small sample `tries` times in this thread's CPU time, and keeps the fastest. CPU
    time, not the clock: on a busy machine the thread waits for a core part of the time, and
    timed by the clock the work would come out several times smaller than asked (a check then
    saw 0.6 s of asked-for work hold the loop for less than its 0.25 s limit).
    """
    fastest = fastest_by_clock = float("inf")
    for _ in range(tries):
        started, started_by_clock = time.thread_time(), time.perf_counter()
        sum_of_squares(sample)
        fastest = min(fastest, time.thread_time() - started)
        fastest_by_clock = min(fastest_by_clock, time.perf_counter() - started_by_clock)
    if fastest <= 0:  # a CPU clock too coarse to see it (Windows counts in 15.6 ms steps)
        fastest = fastest_by_clock
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
