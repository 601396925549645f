"""Write a run's results: a Markdown table with the machine in its header, a JSON file, a PNG."""

import json
import math
import os
import platform
import sys
from importlib import metadata

PACKAGES = ("django", "asgiref", "uvicorn", "uvloop", "httptools", "gunicorn", "starlette")


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


def markdown(results, *, info, generator, ceiling, delay, hops=None, failures=(), whys=None,
             title="Benchmark"):  # fmt: skip
    """The whole report as Markdown: header, the I/O table, the trivial-view table, notes."""
    whys = whys or {}
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines = [
        f"# {title}",
        "",
        f"- Machine: {info['cores']} cores, Python {info['python']}, {info['platform']}; "
        f"load average at start {info['load_average']}",
        f"- Packages: {packages}",
        f"- Load generator: {generator}; its ceiling against the Starlette peer's /hello/: "
        f"{ceiling:.0f} req/s"
        if ceiling
        else f"- Load generator: {generator}",
        f"- I/O delay per request: {delay:g} s, so the ideal throughput is C / {delay:g} s",
        "- req/s: successes that ended within the load window ÷ the window; unfinished: still "
        "out after the grace period (n/a with wrk, which does not wait for them); CPU ms/req: the server's CPU time during the run ÷ "
        "successes (it includes idle work, so it reads high at C=1); peaks: sampled every "
        "50 ms over the server's whole process tree",
        "",
        "## Views that wait on I/O",
        "",
        "| configuration | C | req/s | ideal | ratio | p50 ms | p99 ms | errors | unfinished "
        "| peak threads | peak RSS MB | CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    io = [r for r in results if r.ratio is not None]
    trivial = [r for r in results if r.ratio is None]
    for r in io:
        ideal = r.concurrency / delay
        lines.append(
            f"| {r.config} | {r.concurrency} | {r.throughput:.0f} | {ideal:.0f} | "
            f"{_ratio(r.ratio)} | {_ms(r.p50)} | {_ms(r.p99)} | {r.errors} | {count_text(r.unfinished)} | "
            f"{r.peak_threads} | {_mb(r.peak_rss_mb)} | {_cpu(r.cpu_ms)} |"
        )
    if trivial:
        peer = {r.concurrency: r.throughput for r in trivial if "starlette" in r.config}
        lines += [
            "",
            "## Trivial views (no I/O): what the framework itself costs",
            "",
            "| configuration | C | req/s | vs Starlette | p50 ms | p99 ms | errors | peak threads "
            "| peak RSS MB | CPU ms/req |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in trivial:
            versus = r.throughput / peer[r.concurrency] if peer.get(r.concurrency) else None
            lines.append(
                f"| {r.config} | {r.concurrency} | {r.throughput:.0f} | {_ratio(versus)} | "
                f"{_ms(r.p50)} | {_ms(r.p99)} | {r.errors} | {r.peak_threads} | "
                f"{_mb(r.peak_rss_mb)} | {_cpu(r.cpu_ms)} |"
            )
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
    """Throughput vs C (ideal dashed), and beside it peak threads, peak RSS and CPU per request."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tutorial.plots import plot_throughput

    io = [r for r in results if r.ratio is not None]
    # More configurations than tab10 has colours: tab20's dark shades, then its light ones.
    colours = plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2]
    with plt.rc_context({"axes.prop_cycle": plt.cycler(color=colours)}):
        fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    plot_throughput(
        [(r.config, r.concurrency, max(r.throughput, 0.1)) for r in io],
        ideal=lambda c: c / delay, title=title or f"I/O delay {delay:g} s", ax=axes[0][0],
    )  # fmt: skip
    axes[0][0].legend(fontsize=7)
    panels = (
        (axes[0][1], "peak_threads", "peak threads (server process tree)", "log"),
        (axes[1][0], "peak_rss_mb", "peak RSS, MB (server process tree)", "linear"),
        (axes[1][1], "cpu_ms", "server CPU ms per request", "log"),
    )
    for ax, field, label, yscale in panels:
        by_config = {}
        for r in io:
            value = getattr(r, field)
            if value and not math.isnan(value):  # nothing to draw for a level with no answers
                by_config.setdefault(r.config, []).append((r.concurrency, value))
        for config, points in by_config.items():
            points.sort()
            ax.plot([c for c, _ in points], [v for _, v in points], "o-", label=config)
        ax.set_xscale("log")
        ax.set_yscale(yscale)
        ax.set_xlabel("concurrent requests")
        ax.set_title(label)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save(results, directory, stem, *, text, info, generator, ceiling, delay, hops):
    """Write <stem>.md, <stem>.json and <stem>.png into `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    md, js, png = (directory / f"{stem}.{ext}" for ext in ("md", "json", "png"))
    md.write_text(text)
    payload = {"machine": info, "generator": generator, "ceiling": ceiling, "delay": delay,
               "hops": hops, "results": [r.as_dict() for r in results]}  # fmt: skip
    js.write_text(json.dumps(payload, indent=1, allow_nan=True))
    if any(r.ratio is not None for r in results):
        plot(results, png, delay=delay)
    return md, js, png
