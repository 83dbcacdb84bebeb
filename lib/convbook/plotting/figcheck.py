"""Checks that every figure the book shows is readable: labelled axes, and no text drawn over other text.

:func:`figure_problems` inspects one matplotlib figure after drawing it:

* every visible axes has its x and y axes labelled (an axes that shares an axis
  with a labelled neighbour, or a figure with ``supxlabel``/``supylabel``,
  counts as labelled), or, when its axis lines are off (an image), a title;
  colour bars are exempt;
* no two visible text elements (titles, axis labels, tick labels, legend
  entries, annotations, figure texts) overlap: matplotlib reports each one's
  extent in display pixels through ``get_window_extent``.

``make test-notebooks`` runs the notebooks under nbval with an IPython startup
file (``tests/figcheck_startup.py``) that calls :func:`install_ipython_hook`:
after each cell, every open figure is checked and problems are appended to the
report file named by ``CONVBOOK_FIGURE_REPORT``, before the inline backend shows
the figure. ``python -m convbook.plotting.figcheck REPORT`` then fails if the report holds
anything. Nothing here runs on import.
"""

from __future__ import annotations

import os
import sys

__all__ = ["figure_problems", "install_ipython_hook", "main"]

_OVERLAP_PX = 1.0  # overlaps of at most this many pixels (anti-aliasing) are not reported


def _label_ok(ax, which: str) -> bool:
    axis = ax.xaxis if which == "x" else ax.yaxis
    if not axis.get_visible() or not any(t.get_visible() and t.get_text() for t in axis.get_ticklabels()):
        return True  # an axis without tick labels has nothing to explain
    if axis.get_label_text().strip():
        return True
    fig = ax.figure
    sup = getattr(fig, "_supxlabel" if which == "x" else "_supylabel", None)
    if sup is not None and sup.get_text().strip():
        return True
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in shared.get_siblings(ax):
        other_axis = other.xaxis if which == "x" else other.yaxis
        if other is not ax and other.get_visible() and other_axis.get_label_text().strip():
            return True
    # subplots in one column (x) or one row (y) that repeat a neighbour's axis meaning are often unshared
    for other in fig.axes:
        if other is ax or not other.get_visible() or not hasattr(other, "get_subplotspec"):
            continue
        spec, mine = other.get_subplotspec(), ax.get_subplotspec()
        if spec is None or mine is None or spec.get_gridspec() is not mine.get_gridspec():
            continue
        same_line = spec.colspan == mine.colspan if which == "x" else spec.rowspan == mine.rowspan
        other_axis = other.xaxis if which == "x" else other.yaxis
        if same_line and other_axis.get_label_text().strip():
            return True
    return False


def _texts(fig) -> list:
    """Every visible, non-empty text of the figure, with a short description."""
    found, seen = [], set()

    def add(text, what):
        if text is not None and id(text) not in seen and text.get_visible() and text.get_text().strip():
            seen.add(id(text))
            found.append((text, what))

    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        add(getattr(fig, name, None), "figure title")
    for t in fig.texts:
        add(t, "figure text")
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        where = f"axes '{ax.get_title() or ax.get_label() or '?'}'"
        for loc in ("left", "center", "right"):
            add(ax._left_title if loc == "left" else ax.title if loc == "center" else ax._right_title, f"{where} title")
        add(ax.xaxis.label, f"{where} x label")
        add(ax.yaxis.label, f"{where} y label")
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            if not axis.get_visible():
                continue
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - 1e-9 * (abs(lo) + abs(hi) + 1) <= tick.get_loc() <= hi + 1e-9 * (abs(lo) + abs(hi) + 1):
                    for label in (tick.label1, tick.label2):
                        if label.get_visible():
                            add(label, f"{where} {name} tick label")
        for t in ax.texts:
            add(t, f"{where} text")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            add(legend.get_title(), f"{where} legend title")
            for t in legend.get_texts():
                add(t, f"{where} legend entry")
    for legend in getattr(fig, "legends", []):
        for t in legend.get_texts():
            add(t, "figure legend entry")
    return found


def figure_problems(fig) -> list[str]:
    """What makes ``fig`` hard to read (see the module docstring); an empty list when nothing does."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    for ax in fig.axes:
        if not ax.get_visible() or hasattr(ax, "_colorbar") or getattr(ax, "_colorbar_info", None) is not None:
            continue
        if type(ax).__name__ == "Axes3D" or getattr(ax, "name", "") == "3d":
            name = ax.get_title() or "?"
            if not ax.get_title().strip() and not all(a.get_label_text() for a in (ax.xaxis, ax.yaxis, ax.zaxis)):
                problems.append(f"3-D axes '{name}' needs a title or labels on all three axes")
            continue
        title = ax.get_title() or ax.get_title("left") or ax.get_title("right")
        if not ax.axison:
            if not title.strip():
                problems.append(f"an image axes (axis off) has no title (at {_where(ax)})")
            continue
        for which in ("x", "y"):
            if not _label_ok(ax, which):
                problems.append(f"axes '{title or '?'}' has no {which} label (at {_where(ax)})")
    texts = _texts(fig)
    boxes = []
    for text, what in texts:
        try:
            box = text.get_window_extent(renderer)
        except (RuntimeError, ValueError):
            continue
        if box.width > 0 and box.height > 0:
            boxes.append((box, what, text.get_text().strip()))
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            (a, what_a, ta), (b, what_b, tb) = boxes[i], boxes[j]
            dx = min(a.x1, b.x1) - max(a.x0, b.x0)
            dy = min(a.y1, b.y1) - max(a.y0, b.y0)
            if dx > _OVERLAP_PX and dy > _OVERLAP_PX:
                problems.append(f"text overlaps text: {what_a} {ta[:40]!r} and {what_b} {tb[:40]!r}")
    return problems


def _where(ax) -> str:
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        return "a free axes"
    rows, cols = spec.rowspan, spec.colspan
    return f"row {rows.start}, column {cols.start}"


def install_ipython_hook(report_path: str) -> None:
    """Check every figure a notebook shows and append its problems to ``report_path``.

    Figures are checked when ``plt.show()`` is called (wrapped here) and after
    each cell (an IPython ``post_execute`` callback placed before the inline
    backend's, which shows and closes the figures left open).
    """
    # only inside a Jupyter kernel: IPython exists there, and pyplot is loaded only when the hook is installed
    import matplotlib.pyplot as plt
    from IPython import get_ipython  # noqa: I001 (see the comment above)

    ip = get_ipython()
    if ip is None:
        return
    current = {"cell": ""}

    def remember(info):
        lines = [line for line in (info.raw_cell or "").splitlines() if line.strip() and not line.startswith("#")]
        current["cell"] = lines[0][:60] if lines else ""

    def check(*_):
        lines = []
        for num in plt.get_fignums():
            fig = plt.figure(num)
            name = (fig._suptitle.get_text() if fig._suptitle else "") or next(
                (a.get_title() for a in fig.axes if a.get_title()), "untitled"
            )
            try:
                problems = figure_problems(fig)
            except Exception as exc:  # a check must never break the notebook it checks
                problems = [f"could not be checked: {exc!r}"]
            where = f"{os.getcwd()}, the cell starting {current['cell']!r}, figure {name[:50]!r}"
            lines += [f"{where}: {p}" for p in problems]
        if lines:
            with open(report_path, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")

    original_show = plt.show

    def show(*args, **kwargs):
        check()
        return original_show(*args, **kwargs)

    plt.show = show
    ip.events.register("pre_run_cell", remember)
    ip.events.register("post_execute", check)
    callbacks = ip.events.callbacks["post_execute"]
    callbacks.insert(0, callbacks.pop(callbacks.index(check)))  # before the inline backend shows and closes


def main(argv: list[str] | None = None) -> int:
    """``python -m convbook.plotting.figcheck REPORT``: exit 1, printing the report, if it lists any problem."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m convbook.plotting.figcheck REPORT", file=sys.stderr)
        return 2
    if not os.path.exists(argv[0]):
        print(f"figure check: no report at {argv[0]}; no notebook was checked", file=sys.stderr)
        return 1
    with open(argv[0], encoding="utf-8") as f:
        text = f.read().splitlines()
    kernels = sum(line.startswith("# checked:") for line in text)
    lines = [line for line in text if line.strip() and not line.startswith("#")]
    if not kernels:
        print(
            f"figure check: {argv[0]} shows no checked kernel; was the IPython startup file installed?", file=sys.stderr
        )
        return 1
    if lines:
        print(f"figure check: {len(lines)} problem(s):", *lines, sep="\n", file=sys.stderr)
        return 1
    print(f"figure check: {kernels} notebook kernels; every figure shown has labelled axes and no overlapping text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
