"""The load generator: closed-loop HTTP/1.1 keep-alive clients, bounded in count and in time.

`concurrency` clients each open one connection, wait until all are connected, then send request
after request for `warmup` + `duration` seconds or until the shared budget of `max_requests` is
spent. Requests still out `grace` seconds after that are abandoned and counted as unfinished.
The first `warmup` seconds are not measured: every client starts at the same instant, so the
first round of requests queues together, which a steady server never sees. Throughput counts
the successes within the `duration` after the warm-up, each by the share of its own time that
falls in that window (`window_share`): a request half in the window counts one half, so a
window shorter than a request's latency does not round the rate to 0 or to C per window.
Latencies are those of the requests sent after the warm-up, including the ones that ended
after it; `served` counts every success, the warm-up's included.

Why not httpx here: its per-request overhead (~0.3 ms of CPU) caps one process at a few thousand
requests/s, on the same two cores as the server. This client parses just enough HTTP/1.1
(status line, Content-Length) to cost a fraction of that. `python -m benchmarks` measures its
ceiling against the Starlette peer and prints it, so a result is never the generator's limit
passed off as the server's. With `wrk` installed (Debian package `wrk`), `--generator wrk` uses it,
with benchmarks/wrk_budget.lua for the request budget; wrk stops at its duration without waiting
for the requests still out, so it cannot count unfinished ones (they read None).

Run one load as a separate process (so it has a core and an event loop of its own):
    python -m benchmarks.loadgen URL --concurrency 50 --duration 2 --max-requests 5000
prints one JSON object: latencies (s) of the successful requests, errors, unfinished, elapsed.
"""

import argparse
import asyncio
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from tutorial.fresh_loop import run_in_fresh_loop
from tutorial.load import check_local

MAX_CONCURRENCY = 5000
MAX_DURATION = 60.0
MAX_REQUESTS = 200_000


def window_share(start, end, window_start, window_end):
    """The fraction of a request's time [start, end] that lies inside the window."""
    if end <= start:
        return float(window_start <= end <= window_end)
    overlap = min(end, window_end) - max(start, window_start)
    return max(0.0, overlap) / (end - start)


class GeneratorMissing(RuntimeError):
    """The chosen load generator is not installed."""


def validate(url, concurrency, duration, max_requests):
    """Refuse load that is not bounded, or that would go anywhere but this machine."""
    check_local(url)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION:g}] s, got {duration}")
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ValueError(f"max_requests must be 1..{MAX_REQUESTS}, got {max_requests}")


async def _read_response(reader):
    """Read one response (Content-Length or chunked body); return (status, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep_alive, chunked = 0, True, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            keep_alive = False
        elif name == b"transfer-encoding" and value == b"chunked":
            chunked = True
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)  # the chunk and its CRLF
        await reader.readuntil(b"\r\n")  # no trailers expected: the empty line
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


async def drive(url, *, concurrency, duration, max_requests, timeout=10.0, grace=2.0, warmup=0.0):
    """Run the closed loop against `url`; return the raw outcome as a dict (see module doc)."""
    validate(url, concurrency, duration, max_requests)
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: benchmarks\r\n\r\n"
    request = request.encode()
    latencies, errors, in_window, served = [], Counter(), [0], [0]
    budget = [max_requests]
    go = asyncio.Event()
    connected = [0]
    state = {}

    async def connect():
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        # Small writes must leave at once: Nagle + delayed ACK would add ~40 ms per request.
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def client():
        try:
            reader, writer = await connect()
        except (OSError, TimeoutError) as error:
            errors[f"connect: {type(error).__name__}"] += 1
            reader = writer = None
        connected[0] += 1
        if connected[0] == concurrency:  # the last one in starts the clock for everyone
            state["t0"] = time.perf_counter()
            state["measure_from"] = state["t0"] + warmup
            state["stop_at"] = state["measure_from"] + duration
            go.set()
        await go.wait()
        while budget[0] > 0 and time.perf_counter() < state["stop_at"]:
            budget[0] -= 1
            try:
                if writer is None:
                    reader, writer = await connect()
                started = time.perf_counter()
                writer.write(request)
                status, keep_alive = await asyncio.wait_for(_read_response(reader), timeout)
                if status < 400:
                    ended = time.perf_counter()
                    served[0] += 1
                    if started >= state["measure_from"]:
                        latencies.append(ended - started)
                    in_window[0] += window_share(started, ended, state["measure_from"],
                                                 state["stop_at"])  # fmt: skip
                else:
                    errors[f"HTTP {status}"] += 1
                if not keep_alive:
                    writer.close()
                    writer = None
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
                errors[type(error).__name__] += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(client()) for _ in range(concurrency)]
    await go.wait()
    t0 = state["t0"]
    done, pending = await asyncio.wait(tasks, timeout=warmup + duration + grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.perf_counter() - t0
    for task in done:
        if task.exception() is not None:
            errors[f"client crashed: {type(task.exception()).__name__}"] += 1
    return {
        "generator": "asyncio",
        "url": url,
        "concurrency": concurrency,
        "elapsed": elapsed,
        "latencies": latencies,
        "window": duration,  # successes that ended within it give the throughput
        "in_window": in_window[0],
        "served": served[0],  # every success, the warm-up's included: what the CPU was spent on
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        # Each abandoned client had one request out that the server did not answer in time.
        "unfinished": len(pending),
    }


def run_asyncio(url, *, concurrency, duration, max_requests, timeout=10.0, grace=2.0, processes=1,
                warmup=0.0):  # fmt: skip
    """Drive `url` from `processes` child processes (uvloop when installed); merge their results."""
    validate(url, concurrency, duration, max_requests)
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    children = []
    for share in shares:
        command = [sys.executable, "-m", "benchmarks.loadgen", url, "--concurrency", str(share),
                   "--duration", str(duration), "--timeout", str(timeout), "--grace", str(grace),
                   "--warmup", str(warmup),
                   "--max-requests", str(max(1, max_requests * share // concurrency))]  # fmt: skip
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outcomes = []
    limit = warmup + duration + grace + timeout + 30  # connecting 1000 clients takes a moment
    for child in children:
        try:
            out, err = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.decode(errors='replace')[-500:]}")
        outcomes.append(json.loads(out))
    return merge(outcomes)


def run_inline(url, *, concurrency, duration, max_requests, timeout=10.0, grace=2.0, processes=1,
               warmup=0.0):  # fmt: skip
    """Drive `url` from a new thread of this process, with an event loop of its own.

    For notebooks: no process to start (fast), and it works while the kernel's loop runs.
    It shares this process's GIL with whatever else runs here, so prefer run_asyncio for
    the committed results.
    """
    validate(url, concurrency, duration, max_requests)
    return run_in_fresh_loop(
        drive, url, concurrency=concurrency, duration=duration, max_requests=max_requests,
        timeout=timeout, grace=grace, warmup=warmup, name="loadgen",
    )  # fmt: skip


def merge(outcomes):
    """One outcome from several processes' outcomes of the same run."""
    first = outcomes[0]
    kinds = Counter()
    for outcome in outcomes:
        kinds.update(outcome["error_kinds"])
    return {
        **first,
        "concurrency": sum(o["concurrency"] for o in outcomes),
        "elapsed": max(o["elapsed"] for o in outcomes),
        "latencies": [x for o in outcomes for x in o["latencies"]],
        "in_window": sum(o["in_window"] for o in outcomes),
        "served": sum(o.get("served", len(o["latencies"])) for o in outcomes),
        "errors": sum(o["errors"] for o in outcomes),
        "error_kinds": dict(kinds),
        "unfinished": sum(o["unfinished"] for o in outcomes),
        "processes": len(outcomes),
    }


# --- wrk, when Debian's package is installed -------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(number) * _UNITS[unit]


WRK_BUDGET_SCRIPT = Path(__file__).with_name("wrk_budget.lua")


def parse_wrk(text, concurrency, budget=None):
    """The outcome dict from `wrk --latency` output (percentiles instead of raw latencies).

    `budget`: the request budget the run had; reaching it is recorded, because wrk then still
    reports its whole duration as elapsed, so requests/s read low.
    """
    requests, elapsed = re.search(r"(\d+) requests in ([\d.]+\w+)", text).groups()
    percentiles = {
        int(p): _seconds(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", text, re.M)
    }
    if int(requests) == 0:
        percentiles = {}  # wrk prints 0us percentiles when nothing was answered: there are none
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    socket_errors = sum(map(int, socket.groups())) if socket else 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    http_errors = int(non_2xx.group(1)) if non_2xx else 0
    ok = int(requests) - http_errors
    totals = re.search(r"Requests sent: (\d+), answered: (\d+)", text)
    answered = int(totals.group(2)) if totals else None
    return {
        "generator": "wrk",
        "concurrency": concurrency,
        "elapsed": _seconds(elapsed),
        "ok": ok,
        "percentiles": percentiles,
        "errors": socket_errors + http_errors,
        "error_kinds": {"socket": socket_errors, "non-2xx": http_errors},
        "unfinished": None,  # wrk does not wait for the requests still out at its end
        "budget_reached": bool(budget and answered is not None and answered >= budget),
    }


def run_wrk(url, *, concurrency, duration, max_requests, timeout=10.0, grace=2.0, processes=1,
            warmup=0.0):  # fmt: skip
    """Drive `url` with wrk, bounded by duration and (through wrk_budget.lua) by max_requests.

    wrk has no warm-up: its whole run is measured (`warmup` is accepted and not used)."""
    validate(url, concurrency, duration, max_requests)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise GeneratorMissing("wrk is not installed (Debian: apt-get install wrk)")
    threads = max(1, min(processes, concurrency))
    per_thread = max(1, max_requests // threads)
    command = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{math.ceil(duration)}s",
               f"--timeout={timeout:g}s", "--latency", "-s", str(WRK_BUDGET_SCRIPT), url,
               "--", str(per_thread)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip()[-300:]}")
    return parse_wrk(done.stdout, concurrency, budget=per_thread * threads)


GENERATORS = {"asyncio": run_asyncio, "inline": run_inline, "wrk": run_wrk}


def choose(name="auto"):
    """(name, function, why) of the generator to use; 'auto' takes wrk when it is installed."""
    if name == "auto":
        if shutil.which("wrk"):
            return "wrk", run_wrk, "wrk found on PATH"
        return "asyncio", run_asyncio, "wrk not installed; the project's own asyncio generator"
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose auto, {', '.join(GENERATORS)}")
    if name == "wrk" and not shutil.which("wrk"):
        raise GeneratorMissing("wrk is not installed (Debian: apt-get install wrk)")
    return name, GENERATORS[name], "chosen with --generator"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--max-requests", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        import uvloop  # part of uvicorn[standard]; a faster loop leaves more CPU to the server

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    outcome = runner(
        drive(args.url, concurrency=args.concurrency, duration=args.duration,
              max_requests=args.max_requests, timeout=args.timeout, grace=args.grace,
              warmup=args.warmup)
    )  # fmt: skip
    json.dump(outcome, sys.stdout)


if __name__ == "__main__":
    main()
