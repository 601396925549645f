"""`python -m benchmarks [--quick]`: start each configuration, load it, write the results.

Each configuration gets a fresh server from tutorial.site on 127.0.0.1 (so its peak threads and
memory are its own), then one bounded load run per concurrency level while a sampler watches
the server's process tree. The whole round is repeated (--repeats, 3 by default), one
configuration after another each time, so a busy moment on the machine hits every
configuration rather than all runs of one; the table shows the median and the spread. A server
that fails to start, or a generator that is missing, is one clear line: the other
configurations still run. No server is left behind (checked at the end).
"""

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path

import httpx
import psutil
from tqdm import tqdm

from tutorial.hops import time_hops
from tutorial.site import start_site

from . import configs, database, held, loadgen, report
from .sampler import PeakSampler
from .stats import aggregate_all, summarize

RESULTS = Path(__file__).resolve().parent / "results"
CEILING_CONCURRENCY = 200


def _args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="the quick run: ≤ 60 s")
    parser.add_argument("--configs", nargs="+", metavar="NAME", help="only these configurations")
    parser.add_argument("--levels", nargs="+", type=int, metavar="C", help="concurrency levels")
    parser.add_argument("--duration", type=float, help="seconds of load measured per level")
    parser.add_argument("--warmup", type=float, help="seconds of load before it is measured")
    parser.add_argument("--max-requests", type=int, help="request budget per level")
    parser.add_argument("--delay", type=float, default=configs.DELAY, help="I/O delay, seconds")
    parser.add_argument("--repeats", type=int, help=f"rounds (default {configs.REPEATS})")
    parser.add_argument("--note", default="", help="a line for the header, e.g. 'shared machine'")
    parser.add_argument("--generator", default="auto", help="auto, asyncio or wrk")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--no-hops", action="store_true", help="skip the one-hop microbenchmark")
    parser.add_argument("--no-ceiling", action="store_true", help="skip measuring the generator")
    parser.add_argument("--no-held", action="store_true", help="skip the long-lived connections")
    parser.add_argument("--no-database", action="store_true", help="skip the database section")
    parser.add_argument("--held-levels", nargs="+", type=int, metavar="N",
                        help="open streams held at once")  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS, help="results folder")
    return parser.parse_args(argv)


def request_budget(concurrency, delay, duration, io=True):
    """Enough requests for `duration` at 1.5 × the ideal rate, within the generator's cap."""
    if not io:
        return loadgen.MAX_REQUESTS
    return min(loadgen.MAX_REQUESTS, math.ceil(1.5 * concurrency / delay * duration) + concurrency)


def describe(result, delay):
    """One line per level, every figure also as a fraction of the ideal."""
    p50, p99 = (
        f"{x * 1000:.0f} ms" if not math.isnan(x) else "—" for x in (result.p50, result.p99)
    )
    if result.ratio is not None:
        rate = (f"{result.throughput:.0f} req/s = {result.ratio:.2f} of ideal "
                f"{result.concurrency / delay:.0f}")  # fmt: skip
        p50 += f" ({result.p50 / delay:.1f}× delay)" if not math.isnan(result.p50) else ""
        p99 += f" ({result.p99 / delay:.1f}× delay)" if not math.isnan(result.p99) else ""
    else:
        rate = f"{result.throughput:.0f} req/s"
    return (f"{result.config} C={result.concurrency}: {rate}; p50 {p50}, p99 {p99}; "
            f"{result.errors} errors, {report.count_text(result.unfinished)} unfinished; "
            f"peak {result.peak_threads} threads, {result.peak_rss_mb:.0f} MB; "
            f"server CPU {result.cpu_ms:.2f} ms per request")  # fmt: skip


def measure(site, config, concurrency, *, options, generator, sampling=None):
    """Load `site` with `config`'s URL at `concurrency`; a Result with peaks filled in.

    `sampling(site)`: a context manager with a `.peak` that watches something more during the
    run (the database section counts PostgreSQL connections); it lands in `db_connections`.
    """
    url = config.url(site.url, options.delay)
    budget = options.max_requests or request_budget(
        concurrency, options.delay, options.duration + options.warmup, config.io
    )
    extra = sampling(site) if sampling else contextlib.nullcontext()
    with PeakSampler(site.pids) as peak, extra:
        outcome = generator(url, concurrency=concurrency, duration=options.duration,
                            max_requests=budget, timeout=options.timeout, grace=options.grace,
                            processes=options.processes, warmup=options.warmup)  # fmt: skip
    result = summarize(config.name, outcome, delay=options.delay if config.io else None)
    result.peak_rss_mb, result.peak_threads = peak.rss / 2**20, peak.threads
    if sampling:
        result.db_connections = extra.peak
    served = outcome.get("served", result.ok)  # the CPU was spent on the warm-up's requests too
    result.cpu_ms = peak.cpu / served * 1000 if served else math.nan
    if outcome.get("error_kinds"):
        kinds = ", ".join(f"{k} ×{n}" for k, n in outcome["error_kinds"].items() if n)
        result.note = f"errors: {kinds}" if kinds else ""
    if outcome.get("budget_reached"):
        budget_note = "request budget reached before the duration ended: req/s reads low"
        result.note = f"{result.note}; {budget_note}" if result.note else budget_note
    return result


def measure_ceiling(options, generator):
    """Requests/s the generator reaches against the Starlette peer's trivial /hello/."""
    with start_site("uvicorn", app=configs.PEER_APP, fresh=True) as site:
        outcome = generator(site.url + "/hello/", concurrency=CEILING_CONCURRENCY,
                            duration=options.duration, max_requests=loadgen.MAX_REQUESTS,
                            timeout=options.timeout, grace=options.grace,
                            processes=options.processes, warmup=options.warmup)  # fmt: skip
    return summarize("ceiling", outcome).throughput


def warm_up(site, config, requests=5):
    """A few requests first, so the first-request work (imports, URL resolver) is not measured."""
    with httpx.Client(timeout=10) as client:
        for _ in range(requests):
            client.get(config.url(site.url, delay=0))


def answers_promptly(site, result, timeout=2.0):
    """After a generator that cannot count unfinished requests (wrk): is the server free again?

    A server still working through queued requests answers a health probe late, or not at all.
    """
    if result.unfinished is not None:
        return True
    try:
        return httpx.get(site.url + "/health/", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def restart_reason(site, result):
    """Why the server must start afresh before the next level, or None if it need not."""
    if not site.running:
        return "the server exited"
    if result.unfinished:
        return f"{result.unfinished} requests still unanswered after the run"
    if not answers_promptly(site, result):
        return "no prompt answer to a health probe after the run"
    return None


def run_configuration(config, levels, *, options, generator, bar, failures, sampling=None):
    """One configuration at each of `levels` in turn (repeats included), on one server.

    Restarts the server after a level that left requests unanswered.
    """
    results, site = [], None
    try:
        for concurrency in levels:
            if site is None:
                site = start_site(config.server, fresh=True, **config.site)
                warm_up(site, config)
            result = measure(site, config, concurrency, options=options, generator=generator,
                             sampling=sampling)  # fmt: skip
            restart = restart_reason(site, result)
            if restart:
                # Queued requests would keep the server busy into the next level: start afresh.
                site.stop()
                site = None
                result.note = "; ".join(filter(None, [result.note, f"{restart}: server restarted"]))
            results.append(result)
            bar.write(describe(result, options.delay))
            bar.update()
    except Exception as error:  # one configuration failing must not stop the others
        line = f"{config.name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        failures.append(line)
        bar.write(f"✗ {line}")
        bar.update(len(levels) - len(results))
    finally:
        if site is not None:
            site.stop()
    return results


def run_rounds(chosen, levels, *, repeats, options, generator, failures, fresh_servers=True,
               sampling=None):  # fmt: skip
    """Every single run's Result: `repeats` runs of each configuration at each level.

    fresh_servers=True: `repeats` rounds over all configurations, a new server each time (a
    busy moment on the machine then hits every configuration, not all runs of one).
    False (the quick run): one server per configuration, its levels run `repeats` times each.
    A configuration that failed once is not tried again.
    """
    runs, failed = [], set()
    total = repeats * sum(len(config.levels(levels)) for config in chosen)
    rounds = repeats if fresh_servers else 1
    per_round = 1 if fresh_servers else repeats
    with tqdm(total=total, unit="run", file=sys.stderr) as bar:
        for round_ in range(rounds):
            for config in chosen:
                if config.name in failed:
                    bar.update(per_round * len(config.levels(levels)))
                    continue
                bar.set_description(f"{round_ + 1}/{rounds} {config.name[:36]}")
                before = len(failures)
                repeated = [c for c in config.levels(levels) for _ in range(per_round)]
                runs += run_configuration(config, repeated, options=options, generator=generator,
                                          bar=bar, failures=failures, sampling=sampling)  # fmt: skip
                if len(failures) > before:
                    failed.add(config.name)
    return runs


def compare(names, levels, *, duration=1.0, delay=configs.DELAY, grace=3.0, repeats=1):
    """Run the configurations `names` at each concurrency in `levels` now; return their Results.

    For a notebook: no report is written and no generator ceiling is measured. With
    `repeats` > 1 each Result is the median of that many runs, its `spread` the range. Look a
    result up with `results_by(results)[name, concurrency]`.
    """
    options = _args(["--duration", str(duration), "--delay", str(delay)])
    options.timeout, options.grace, options.warmup = 10.0, grace, min(0.5, duration / 2)
    failures = []
    runs = run_rounds(configs.select(names), levels, repeats=repeats, options=options,
                      generator=loadgen.run_inline, failures=failures)  # fmt: skip
    if failures:
        raise RuntimeError("; ".join(failures))
    return aggregate_all(runs)


def results_by(results):
    """{(configuration name, concurrency): Result} for the Results of a run."""
    return {(r.config, r.concurrency): r for r in results}


def live_children():
    """This process's descendants that still run (an exited child not yet waited for is not)."""
    alive = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
    return alive


def leftover_servers(before=()):
    """Processes this run started that are still alive (there should be none). `before`: the
    PIDs of those alive when it began (a caller's own services, e.g. a test's PostgreSQL)."""
    return [p for p in live_children() if p.pid not in before]


def main(argv=None):
    options = _args(argv)
    already_running = {p.pid for p in live_children()}
    options.duration = options.duration or (0.8 if options.quick else 1.2)
    options.warmup = options.warmup if options.warmup is not None else 0.4
    options.repeats = options.repeats or configs.REPEATS
    # Grace: time for the requests still out when the load stops to come back (not errors).
    options.timeout, options.grace = 10.0, (3.0 if options.quick else 10.0)
    levels = options.levels or (configs.QUICK_LEVELS if options.quick else configs.LEVELS)
    try:
        chosen = configs.select(options.configs, quick=options.quick)
    except ValueError as error:
        sys.exit(f"python -m benchmarks: {error}")
    started = time.perf_counter()
    failures = []
    info = report.machine()

    try:
        name, generator, why = loadgen.choose(options.generator)
    except (loadgen.GeneratorMissing, ValueError) as error:
        name, generator, why = "asyncio", loadgen.run_asyncio, f"{error}; using the asyncio one"
        failures.append(str(error))
    print(f"Load generator: {name} ({why}); {options.processes} process(es)")
    print(f"Machine: {info['cores']} cores, Python {info['python']}, load average "
          f"{info['load_average']}")  # fmt: skip

    ceiling = None
    if not options.no_ceiling:
        try:
            ceiling = measure_ceiling(options, generator)
            print(f"Generator ceiling: {ceiling:.0f} req/s against Starlette /hello/ at "
                  f"C={CEILING_CONCURRENCY}; an ideal above that measures the generator too")  # fmt: skip
        except Exception as error:
            failures.append(f"ceiling not measured: {type(error).__name__}: {error}")
            print(f"✗ {failures[-1]}")

    runs = run_rounds(chosen, levels, repeats=options.repeats, options=options,
                      generator=generator, failures=failures,
                      fresh_servers=not options.quick)  # fmt: skip
    results = aggregate_all(runs)

    sections, extra = [], {}
    if not options.no_held:
        settle = 1.5 if options.quick else 3.0
        held_levels = options.held_levels or (held.QUICK_LEVELS if options.quick else held.LEVELS)
        print("Long-lived connections:")
        held_results = held.run(held.select(quick=options.quick), held_levels, settle=settle,
                                failures=failures)  # fmt: skip
        sections.append(held.markdown(held_results, settle=settle))
        extra["held"] = [r.as_dict() for r in held_results]

    if not options.no_database:
        print("A database in the loop:")
        db_chosen = database.select(quick=options.quick)
        db_levels = database.QUICK_LEVELS if options.quick else database.LEVELS
        db_repeats = 1 if options.quick else options.repeats  # quick: one run each, ≤ 60 s in all
        db_runs = database.run(db_chosen, db_levels, repeats=db_repeats, options=options,
                               generator=generator, failures=failures,
                               fresh_servers=not options.quick)  # fmt: skip
        db_results = aggregate_all(db_runs)
        if db_results:
            sections.append(database.markdown(db_results, delay=options.delay, repeats=db_repeats,
                                              whys={c.name: c.why for c in db_chosen}))  # fmt: skip
        extra["database"] = [r.as_dict() for r in db_results]
        extra["database_runs"] = [r.as_dict() for r in db_runs]

    hops = None
    if not options.no_hops:
        hops = time_hops(n=100 if options.quick else 300)
        for hop, us in hops.items():
            print(f"  hop {hop}: {us:.1f} µs")

    left = leftover_servers(already_running)
    if left:
        for process in left:
            process.kill()
        failures.append(f"{len(left)} processes were left behind and have been killed")
    print("No server left behind." if not left else f"✗ {failures[-1]}")

    stem = "quick" if options.quick else "full"
    whys = {c.name: c.why for c in chosen}
    info["note"] = options.note
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    text = report.markdown(results, info=info, generator=f"{name} ({why})", ceiling=ceiling,
                           delay=options.delay, hops=hops, failures=failures, whys=whys,
                           sections=sections,
                           title=f"Benchmark ({stem} run, {time.perf_counter() - started:.0f} s)")  # fmt: skip
    paths = report.save(results, options.output, stem, text=text, info=info, generator=name,
                        ceiling=ceiling, delay=options.delay, hops=hops, runs=runs,
                        extra=extra)  # fmt: skip
    print(f"Wrote {', '.join(str(p) for p in paths if p.exists())} "
          f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    return results, failures


if __name__ == "__main__":
    main()
