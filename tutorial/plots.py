"""Timeline and throughput plots for the lessons (matplotlib, one figure per call)."""

import matplotlib.pyplot as plt


def plot_timeline(spans, *, title=None, ax=None, xlabel="seconds", color_by=None):
    """Draw one horizontal bar per (label, start, end) span: what ran when, and what overlapped.

    `spans`: an iterable of (label, start, end) tuples, e.g. `LoadResult.spans()`.
    `color_by`: optional function span -> category name; one colour (and legend entry) each.
    Returns the matplotlib Axes.
    """
    spans = list(spans)
    if ax is None:
        height = min(8, 1 + 0.25 * max(len(spans), 1))
        _, ax = plt.subplots(figsize=(8, height))
    colours = {}
    for row, span in enumerate(spans):
        _, start, end = span[:3]
        category = color_by(span) if color_by else None
        if category not in colours:
            colours[category] = f"C{len(colours)}"
        ax.barh(row, max(end - start, 0.002), left=start, color=colours[category],
                label=category if category is not None else None)  # fmt: skip
    ax.set_yticks(range(len(spans)), [str(s[0]) for s in spans])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    if color_by:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_throughput(rows, *, ideal=None, title=None, ax=None):
    """Throughput against concurrency, one line per configuration.

    `rows`: iterable of (configuration, concurrency, requests_per_second).
    `ideal`: optional function concurrency -> ideal requests/s, drawn dashed.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    by_config = {}
    for config, concurrency, rps in rows:
        by_config.setdefault(config, []).append((concurrency, rps))
    levels = sorted({c for points in by_config.values() for c, _ in points})
    if ideal and levels:
        ax.plot(levels, [ideal(c) for c in levels], "k--", label="ideal")
    for config, points in by_config.items():
        points.sort()
        ax.plot([c for c, _ in points], [r for _, r in points], "o-", label=config)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("requests / s")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return ax


def plot_timelines(panels, *, title=None, color_by=None):
    """Several timelines stacked on one time axis, to compare them at a glance.

    `panels`: a dict {panel title: spans}, each spans as for `plot_timeline`.
    Returns the list of Axes.
    """
    panels = dict(panels)
    rows = [max(len(list(spans)), 1) for spans in panels.values()]
    height = min(10, 1 + sum(0.25 * r + 0.6 for r in rows))
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, height), sharex=True, height_ratios=rows, squeeze=False
    )
    axes = [row[0] for row in axes]
    for ax, (name, spans) in zip(axes, panels.items(), strict=True):
        plot_timeline(spans, title=name, ax=ax, color_by=color_by)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes
