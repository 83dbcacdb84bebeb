"""Small statistics, so that every experiment reports spread the same way.

Each returns one of the typed records of :mod:`convbook.lab.typed` (:class:`~convbook.lab.typed.Summary`,
:class:`~convbook.lab.typed.Difference`, :class:`~convbook.lab.typed.Curve`), which an experiment puts into its
results as they are: :func:`convbook.lab.results.save` writes them with :func:`~convbook.lab.typed.to_json`, and
:func:`convbook.lab.results.load_reference` reads them back into the same types.
"""

from __future__ import annotations

import math

import numpy as np

from convbook.lab.typed import Curve, Difference, Summary

__all__ = ["learning_curve", "mean_sd", "summary", "t_quantile_975", "welch"]

_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
_T975.update({12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980})


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (for a 95 % interval).

    Exact to 3 decimals for the tabulated ``df`` (1-10, 12, 15, 20, 25, 30, 40, 60, 120); between them the
    next smaller tabulated ``df`` is used (a slightly wider, conservative interval); 1.960 beyond 120.
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)):
        raise TypeError(f"t_quantile_975: df must be a positive int, got {type(df).__name__}")
    if df < 1:
        raise ValueError(f"t_quantile_975: df must be a positive int, got {df!r}")
    if df > 120:
        return 1.960
    return _T975[max(k for k in _T975 if k <= df)]


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) of at least two values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"mean_sd: need at least 2 values for a sample standard deviation, got {v.size}")
    return float(v.mean()), float(v.std(ddof=1))


def summary(values) -> Summary:
    """``n``, ``mean``, ``sd`` (ddof = 1), ``min``, ``max`` and the 95 % t-interval of the mean (``ci95``)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    mean, sd = mean_sd(v)
    half = t_quantile_975(v.size - 1) * sd / math.sqrt(v.size)
    return Summary(
        n=int(v.size), mean=mean, sd=sd, min=float(v.min()), max=float(v.max()), ci95=(mean - half, mean + half)
    )


def welch(a, b) -> Difference:
    """Mean of ``a`` minus mean of ``b``, with a 95 % Welch interval (unequal variances).

    ``df`` is the Welch-Satterthwaite degrees of freedom (rounded down for the t quantile), ``None`` when neither
    sample varies (the interval is then the difference itself).
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError(f"welch: need at least 2 values on each side, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
    if se == 0:
        return Difference(diff=diff, ci95=(diff, diff), df=None)
    df = float((va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)))
    half = t_quantile_975(max(1, int(df))) * se
    return Difference(diff=diff, ci95=(diff - half, diff + half), df=df)


def learning_curve(runs: list[dict], key: str) -> Curve:
    """Mean and sample SD over runs of ``key`` (e.g. ``test_accuracy``) at every epoch where it was evaluated.

    ``runs`` are records with a ``history`` list (``convbook.nets.training.TrainResult.history``): dicts with the
    key ``history``, or objects with that attribute.
    """
    if not runs:
        raise ValueError("learning_curve: runs must hold at least one run, got none")
    histories = [r["history"] if isinstance(r, dict) else r.history for r in runs]
    epochs = [h["epoch"] for h in histories[0] if key in h]
    if not epochs:
        raise ValueError(f"learning_curve: key {key!r} is in no history record of the first run")
    values = np.array([[h[key] for h in history if key in h] for history in histories])  # (runs, evaluations)
    return Curve(epoch=epochs, mean=values.mean(axis=0).tolist(), sd=values.std(axis=0, ddof=1).tolist())
