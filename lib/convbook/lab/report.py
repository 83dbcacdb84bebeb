"""Numbers written for a checked notebook cell: coarse enough to print the same after a rerun of the reference.

A measured time or ratio changes in its third digit from run to run; a checked cell (nbval compares its output)
prints it with :func:`sig`, two significant digits.
"""

from __future__ import annotations

import numbers

__all__ = ["sig"]


def sig(v) -> str:
    """``v`` to two significant digits, written plainly: ``sig(1234.5) == "1200"``, ``sig(0.01234) == "0.012"``."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"sig: v must be a real number, got {type(v).__name__}")
    return f"{float(f'{v:.2g}'):g}"
