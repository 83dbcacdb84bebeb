"""Replicate processes: a timing reference is several independent processes, and a verdict needs them all.

One process is one sample of a timing: the allocator's state, oneDNN's primitive cache, where the pages landed and
what else ran on the machine all stay fixed for the life of a process and change from one to the next (on this
book's 2-core VMs the same speed-up came out 3.2x in one process and 8.1x in another). So an experiment that times
code declares ``PROCESSES`` (at least 3) and ``python -m convbook.lab.experiments NAME`` runs its ``run()`` once
in each of that many fresh interpreters (:func:`convbook.lab.fresh.run_fresh`), one after the other; inside each
process the implementations are still interleaved (:func:`convbook.lab.timing.time_interleaved`).

The stored file keeps both (:mod:`convbook.lab.results`):

* ``replicates``: every process's own results, in the experiment's ``Results`` type;
* ``results``: the processes combined leaf by leaf by :func:`combine` (the median across processes of every
  number, every timing sample pooled, a flag true only when it is true in every process), so that a page reads
  one value where one value is what it needs.

A sentence that orders or trends ("A is faster", "grows with d", "no step") is asserted on the *processes*, not on
the pooled samples: :func:`across` computes one number per process and returns an :class:`Across`, whose
:meth:`Across.below` is true only when every process of one side lies under every process of the other::

    from convbook.lab.replicate import across
    ref = load_reference("dilated_wall_time")
    step = across(ref, lambda r: r.configs[c].median("gaps", 1024) / r.configs[c].median("gaps", 1000))
    print(step)                       # '1.64 [1.58-1.71] over 3 processes'
    assert step.low > 1.2             # the step is there in every process

With three processes the range of three medians is the interval. When there is no difference at all, two sets of
three values still fall apart by chance with probability 1/10 (2 of the 20 equally likely orders of six values),
so a page that claims a size asserts the size too, not only separated ranges.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convbook.lab import experiments
from convbook.lab.fresh import run_fresh
from convbook.lab.typed import to_json

__all__ = ["MIN_PROCESSES", "POOLED_KEYS", "Across", "across", "combine", "combine_kept", "run_processes"]

#: The fewest processes a timing reference may have (the protocol's "at least 3 processes per reference").
MIN_PROCESSES = 3

#: Keys whose lists are samples: combined by concatenation (every process's samples, pooled), not element-wise.
#: Any other list is a series over an axis (sizes, dilations, channels) and is combined point by point. An experiment
#: that stores samples under another key adds the key here (tests/test_replicate.py checks every stored file).
POOLED_KEYS = frozenset(
    {"samples_s", "samples", "ms_per_sample", "fresh_ms", "reused_ms", "torch_in_blocks_s", "torch_after_convbook_s"}
)


def combine(trees: list, path: str = "results") -> Any:
    """Combine the JSON results of several processes into one tree of the same layout.

    Dicts must have the same keys in every process and lists the same length (except under :data:`POOLED_KEYS`,
    whose lists of samples are concatenated). Numbers become the median across processes (integers the lower
    median, an actual value, so a count stays a count); booleans are true only when true in every process;
    strings and ``None`` must agree. A disagreement in layout raises ``ValueError`` naming the path.
    """
    if not isinstance(trees, list) or not trees:
        raise ValueError(f"combine: trees must be a non-empty list of results, got {type(trees).__name__}")
    first = trees[0]
    if isinstance(first, dict):
        keys = list(first)
        for t in trees[1:]:
            if not isinstance(t, dict) or set(t) != set(keys):
                raise ValueError(f"combine: {path} has different keys in different processes")
        out = {}
        for k in keys:
            values = [t[k] for t in trees]
            out[k] = _pool(values, f"{path}.{k}") if k in POOLED_KEYS else combine(values, f"{path}.{k}")
        return out
    if isinstance(first, list | tuple):
        if any(not isinstance(t, list | tuple) or len(t) != len(first) for t in trees):
            raise ValueError(f"combine: {path} is a list of different lengths in different processes")
        return [combine([t[i] for t in trees], f"{path}[{i}]") for i in range(len(first))]
    if isinstance(first, bool):
        if any(not isinstance(t, bool) for t in trees):
            raise ValueError(f"combine: {path} is a flag in one process and not in another")
        return all(trees)
    if isinstance(first, int | float):
        if any(isinstance(t, bool) or not isinstance(t, int | float) for t in trees):
            raise ValueError(f"combine: {path} is a number in one process and not in another")
        if all(isinstance(t, int) for t in trees):
            return statistics.median_low(trees)
        return float(statistics.median(trees))
    if any(t != first for t in trees):
        raise ValueError(f"combine: {path} differs between processes ({trees!r})")
    return first


def _pool(values: list, path: str):
    """Samples of every process, concatenated (lists), key by key (dicts of samples, at any depth)."""
    if all(isinstance(v, list) for v in values):
        return [s for v in values for s in v]
    if all(isinstance(v, dict) for v in values) and all(set(v) == set(values[0]) for v in values):
        return {n: _pool([v[n] for v in values], f"{path}.{n}") for n in values[0]}
    raise ValueError(f"combine: {path} holds samples of different layouts in different processes")


@dataclass(frozen=True)
class Across:
    """One number per replicate process: its range is the interval a verdict is judged on."""

    values: tuple[float, ...]

    def __post_init__(self):
        if not self.values:
            raise ValueError("Across: values must hold one number per process, got none")

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def processes(self) -> int:
        return len(self.values)

    def below(self, other: Across) -> bool:
        """Every process of ``self`` under every process of ``other``: an ordering resolved across processes."""
        return self.high < other.low

    def above(self, other: Across) -> bool:
        """Every process of ``self`` over every process of ``other``."""
        return self.low > other.high

    def apart(self, other: Across) -> bool:
        """The two ranges do not overlap (either order)."""
        return self.below(other) or self.above(other)

    def inside(self, low: float, high: float) -> bool:
        """Every process's value lies in ``[low, high]``."""
        return low <= self.low and self.high <= high

    def format(self, spec: str = ".3g", scale: float = 1.0) -> str:
        """``'median [low-high] over P processes'`` with ``spec`` for each number, each multiplied by ``scale``."""
        m, lo, hi = (format(v * scale, spec) for v in (self.median, self.low, self.high))
        return f"{m} [{lo}-{hi}] over {self.processes} processes"

    def __str__(self) -> str:
        return self.format()


def across(ref, fn: Callable[[Any], float]) -> Across:
    """``fn`` applied to each replicate process's results of the stored result ``ref``; an :class:`Across`.

    ``ref`` is a :class:`convbook.lab.results.Reference` whose experiment runs in replicate processes; ``fn`` takes
    one process's results (the experiment's ``Results``) and returns a number.
    """
    replicates = getattr(ref, "replicates", None)
    if not replicates:
        name = getattr(ref, "name", type(ref).__name__)
        raise ValueError(f"across: ref ({name}) holds no replicate processes; its experiment must declare PROCESSES")
    if not callable(fn):
        raise TypeError(f"across: fn must be a function of one process's results, got {type(fn).__name__}")
    return Across(tuple(float(fn(r)) for r in replicates))


def run_processes(module, quick: bool, options: dict) -> list[dict]:
    """What experiment ``module``'s ``run()`` returned: once here, or once per replicate process (``PROCESSES``).

    ``quick`` runs and experiments without ``PROCESSES`` run once in this process; the others in that many fresh
    interpreters, one after the other (:func:`convbook.lab.fresh.run_fresh`). Each result as JSON values.
    """
    processes = getattr(module, "PROCESSES", 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise TypeError(f"{module.__name__}.PROCESSES must be a positive int, got {processes!r}")
    if 1 < processes < MIN_PROCESSES:
        raise ValueError(f"{module.__name__}.PROCESSES must be 1 or at least {MIN_PROCESSES}, got {processes}")
    if quick or processes == 1:
        return [to_json(module.run(quick=quick, **options))]
    name = module.__name__.rsplit(".", 1)[-1]
    return [run_fresh(_run_in_process, name, options) for _ in range(processes)]


def combine_kept(results: list, name: str):
    """:func:`~convbook.lab.replicate.combine` of the processes' results; on failure they are kept in a file."""
    try:
        return combine(results)
    except ValueError as e:
        kept = Path(tempfile.gettempdir()) / f"{name}.replicates-not-combined.json"
        kept.write_text(json.dumps(results), encoding="utf-8")
        raise ValueError(f"run_experiment: {name}'s processes could not be combined ({e}); kept in {kept}") from None


def _run_in_process(name: str, options: dict) -> dict:
    """One replicate: experiment ``name``'s full ``run()`` in the fresh process :func:`run_processes` started."""
    return to_json(experiments.module(name).run(quick=False, **options))
