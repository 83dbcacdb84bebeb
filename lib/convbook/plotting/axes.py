"""Axes helpers the chapters' figures share: logarithmic axes labelled with plain numbers.

Matplotlib labels a logarithmic axis ``10^0, 10^1, ...`` by default; the book's timing figures read better with
``1, 2, 5, 10, 20, ...``. One function does that for every chapter.
"""

from __future__ import annotations

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["plain_log_axes"]

_WHICH = ("x", "y", "xy")


def plain_log_axes(ax, plain: str = "xy", *, xbase: float = 10) -> None:
    """Put both axes of ``ax`` on a logarithmic scale and label the ``plain`` ones with plain numbers.

    The axes named in ``plain`` get major ticks at 1-2-5 steps (1, 2, 5, 10, 20, ...) written as plain numbers,
    and no labels on the minor ticks. The x axis uses base ``xbase`` (2 for dilations or channel counts), the
    y axis base 10.

    Parameters
    ----------
    ax : matplotlib Axes
    plain : {"xy", "x", "y"}
        The axes whose ticks become plain numbers; the others keep matplotlib's ticks.
    xbase : float
        The base of the logarithmic x axis; plain ticks on x need base 10.
    """
    if not isinstance(plain, str):
        raise TypeError(f"plain_log_axes: plain must be a str, one of {_WHICH}, got {type(plain).__name__}")
    if plain not in _WHICH:
        raise ValueError(f"plain_log_axes: plain must be one of {_WHICH}, got {plain!r}")
    if "x" in plain and xbase != 10:
        raise ValueError(f"plain_log_axes: plain ticks on x need xbase=10 (1-2-5 steps), got xbase={xbase!r}")
    ax.set_xscale("log", base=xbase)
    ax.set_yscale("log")
    for name in plain:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
