"""The book's timing protocol, shared by the benchmark, the experiments and every timing cell.

A timing is only worth comparing when both sides ran under the same
conditions. This module fixes those conditions:

* :func:`fixed_threads`: one thread count for torch's intra-op pool, for
  NumPy's BLAS (through ``threadpoolctl``, which knows OpenBLAS, MKL, BLIS and
  Apple's Accelerate) and for convbook's elementwise pool; restored on exit.
  Two pools that each think they own every core oversubscribe them: on the
  2-core reference machine a tiny torch convolution timed right after NumPy
  BLAS work took 12-24 ms instead of 0.02 ms.
* :func:`time_calls`: warm-up calls, then samples taken in short blocks that
  alternate between the implementations (A B, B A, ...), so that a burst of
  load elsewhere, or a slow drift, hits every implementation alike. A ``sync``
  callable (``torch_bridge.synchronize`` for a GPU) runs before the clock
  starts and before it stops, so that queued GPU work is inside the sample.
* :class:`Timings`: medians, quartiles and ratios of medians.
* :func:`verdict`: a plain sentence that puts a live figure beside the
  reference one, and never fails: live timings vary with the machine and its
  load, so the book asserts its claims on stored reference data only.

* :class:`TimingRecord`: :meth:`Timings.to_dict` as the experiments store it, typed for
  :func:`convbook.lab.typed.from_json`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from convbook._parallel import get_num_threads, set_num_threads
from convbook.nets.torch_bridge import synchronize

__all__ = [
    "TimingRecord",
    "Timings",
    "device_sync",
    "fixed_threads",
    "thread_settings",
    "time_calls",
    "time_interleaved",
    "verdict",
]


def thread_settings() -> dict:
    """The thread counts now in force: torch, NumPy's BLAS (``None`` where none is found), convbook's pool."""
    out = {"convbook": get_num_threads(), "blas": None, "blas_library": None, "torch": torch.get_num_threads()}
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if blas:
        out["blas"], out["blas_library"] = blas[0]["num_threads"], blas[0].get("internal_api")
    return out


@contextlib.contextmanager
def fixed_threads(n: int):
    """Run the block with ``n`` threads for torch, NumPy's BLAS and convbook's pool; restore them after.

    Parameters
    ----------
    n : int
        A positive thread count, the same for every library.

    Yields
    ------
    dict
        :func:`thread_settings` inside the block (record it with the timings).
        ``blas`` is ``None`` where threadpoolctl finds no BLAS it can control.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fixed_threads: n must be a positive int, got {n!r}")
    n = int(n)
    saved_torch, saved_pool = torch.get_num_threads(), get_num_threads()
    set_num_threads(n)
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield thread_settings()
    finally:
        set_num_threads(saved_pool)
        torch.set_num_threads(saved_torch)


def device_sync(device) -> Callable[[], None]:
    """A no-argument callable that waits for ``device`` (CUDA or MPS); a no-op for the CPU or ``None``."""
    if device is None:
        return _no_sync
    device = torch.device(device)
    if device.type == "cpu":
        return _no_sync
    return lambda: synchronize(device)


def _no_sync() -> None:
    return None


def time_calls(
    fns: dict,
    repeats: int,
    warmup: int,
    pause: float = 0.15,
    per_block: int = 3,
    sync: Callable[[], None] | dict | None = None,
) -> dict:
    """Seconds per call of every function in ``fns``, ``repeats`` samples each.

    The samples are taken in blocks of ``per_block`` calls. In a block, one
    implementation runs alone: a pause, ``warmup`` untimed calls, then the
    timed calls. Implementations do *not* interleave call by call: thread
    pools keep spinning for a while after a call (OpenBLAS's workers for about
    0.1 s), and a spinning pool steals a core from whatever runs next, which on
    a 2-core machine made torch look twice as slow after each convbook call. The
    pause lets them go idle. The blocks rotate through the implementations, in
    the given order and then in reverse (A B, B A, A B, ...), so that a burst of
    load from elsewhere on a shared machine, or a slow drift, hits every
    implementation alike instead of spoiling all the samples of one.

    ``sync`` (e.g. :func:`device_sync` of a GPU) is called before the clock
    starts and before it stops, so that a sample holds the GPU's work and not
    only the time to queue it. A dict gives each name its own (names it does
    not list need none).

    Returns
    -------
    dict
        ``{name: [seconds, ...]}``, ``repeats`` samples per name.
    """
    if not fns:
        raise ValueError("time_calls: fns must name at least one function")
    for name, value in (("repeats", repeats), ("per_block", per_block)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"time_calls: {name} must be a positive int, got {value!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"time_calls: warmup must be a non-negative int, got {warmup!r}")
    syncs = {k: (sync.get(k) if isinstance(sync, dict) else sync) or _no_sync for k in fns}
    samples = {k: [] for k in fns}
    names = list(fns)
    sizes = [per_block] * (repeats // per_block) + ([repeats % per_block] if repeats % per_block else [])
    for i, count in enumerate(sizes):
        for k in names if i % 2 == 0 else names[::-1]:
            if pause:
                time.sleep(pause)
            for _ in range(warmup):
                fns[k]()
            syncs[k]()
            for _ in range(count):
                t0 = time.perf_counter()
                fns[k]()
                syncs[k]()
                samples[k].append(time.perf_counter() - t0)
    return samples


@dataclass(frozen=True)
class TimingRecord:
    """:meth:`Timings.to_dict` as stored in a result: every sample, the medians and quartiles (seconds).

    The keys of ``samples_s``, ``median_s`` and ``quartiles_s`` are the names of the timed functions (data);
    ``settings`` holds what :func:`time_interleaved` recorded plus whatever the experiment added.
    """

    settings: dict[str, Any]
    samples_s: dict[str, list[float]]
    median_s: dict[str, float]
    quartiles_s: dict[str, tuple[float, float, float]]


@dataclass
class Timings:
    """Samples (seconds per call) of several implementations timed together, with the settings used."""

    samples: dict
    settings: dict = field(default_factory=dict)

    def quartiles(self, name: str) -> tuple[float, float, float]:
        """First quartile, median and third quartile of ``name``'s samples, in seconds."""
        q1, med, q3 = np.percentile(self.samples[name], [25, 50, 75])
        return float(q1), float(med), float(q3)

    def median(self, name: str) -> float:
        return self.quartiles(name)[1]

    def iqr(self, name: str) -> float:
        q1, _, q3 = self.quartiles(name)
        return q3 - q1

    def ratio(self, slow: str, fast: str) -> float:
        """Median of ``slow`` over median of ``fast``: how many times faster ``fast`` is."""
        return self.median(slow) / self.median(fast)

    def table(self, unit: str = "ms") -> str:
        """One line per implementation: median and inter-quartile range."""
        scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
        width = max(len(k) for k in self.samples)
        lines = []
        for k in self.samples:
            q1, med, q3 = self.quartiles(k)
            lines.append(f"{k:<{width}}  median {med * scale:9.3f} {unit}  (IQR {q1 * scale:.3f}-{q3 * scale:.3f})")
        return "\n".join(lines)

    def record(self) -> TimingRecord:
        """The samples, medians, quartiles and settings as a :class:`TimingRecord` (what a result stores)."""
        return TimingRecord(
            settings=dict(self.settings),
            samples_s={k: [float(v) for v in s] for k, s in self.samples.items()},
            median_s={k: self.median(k) for k in self.samples},
            quartiles_s={k: self.quartiles(k) for k in self.samples},
        )

    def to_dict(self) -> dict:
        """JSON-able: every sample, the medians and quartiles, and the settings."""
        return {
            "settings": self.settings,
            "samples_s": {k: [float(v) for v in s] for k, s in self.samples.items()},
            "median_s": {k: self.median(k) for k in self.samples},
            "quartiles_s": {k: list(self.quartiles(k)) for k in self.samples},
        }


def time_interleaved(
    fns: dict,
    repeats: int = 15,
    warmup: int = 2,
    *,
    threads: int | None = None,
    device=None,
    pause: float = 0.05,
    per_block: int = 3,
) -> Timings:
    """Time every function in ``fns`` by the book's protocol and return :class:`Timings`.

    Parameters
    ----------
    fns : dict of str to callable
        The implementations, each a no-argument callable.
    repeats, warmup : int
        Samples per implementation, and untimed calls before each block.
    threads : int, optional
        Run under :func:`fixed_threads` with this count (recorded in the
        settings); by default the thread counts are left as they are and recorded.
    device : optional
        A torch device whose queued work every sample waits for (CUDA, MPS).
    pause, per_block : see :func:`time_calls`.
    """
    sync = device_sync(device)
    settings = {"repeats": repeats, "warmup": warmup, "per_block": per_block, "device": str(device or "cpu")}
    if threads is None:
        settings["threads"] = thread_settings()
        return Timings(time_calls(fns, repeats, warmup, pause, per_block, sync), settings)
    with fixed_threads(threads) as used:
        settings["threads"] = used
        return Timings(time_calls(fns, repeats, warmup, pause, per_block, sync), settings)


def verdict(what: str, live: float, reference: float, reference_machine: str, unit: str = "×") -> str:
    """A plain sentence putting a live measurement beside the reference one; it never fails.

    >>> verdict("the separable block is faster than its standard twin by", 5.8, 6.1, "the 2-core reference")
    'On this machine the separable block is faster than its standard twin by 5.8×; the 2-core reference measured 6.1×.'

    When the two differ by more than a factor 1.5, a second sentence says why
    that can happen.
    """

    def fmt(v: float) -> str:  # 3 significant digits: 3,470 rather than 3.47e+03
        return f"{float(f'{v:.3g}'):,g}"

    text = f"On this machine {what} {fmt(live)}{unit}; {reference_machine} measured {fmt(reference)}{unit}."
    if reference > 0 and live > 0 and max(live / reference, reference / live) > 1.5:
        text += (
            " The two differ: thread count, memory layout, CPU model and cache sizes, a GPU, or another"
            " program busy on this machine all change timings; the reference data is what the text relies on."
        )
    return text
