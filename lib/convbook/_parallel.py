"""A small thread pool for the elementwise (non-BLAS) fast paths.

NumPy's matrix products are already multi-threaded by its BLAS, but its
elementwise ufuncs (``multiply``, ``add``) run on one core. They do release
the GIL, so blocks of independent work (images, channel blocks) can run on
several Python threads at once. This is used by the depthwise paths, which are
elementwise. The pool is created on first use (nothing happens on import).

``set_num_threads(n)`` fixes the number of threads (``convbook.lab.bench`` sets it
to the same count as torch's and BLAS's); by default it is the number of cores
this process may use.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_state = {"threads": None, "pool": None}


def get_num_threads() -> int:
    """Threads used by convbook's elementwise fast paths."""
    if _state["threads"] is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (a positive int) in convbook's elementwise fast paths."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _state["threads"] = n


def run_blocks(fn, blocks: list) -> list:
    """``[fn(part) for part in parts]``, where ``blocks`` is split into one contiguous part per thread."""
    k = max(1, min(get_num_threads(), len(blocks)))
    parts = [blocks[i * len(blocks) // k : (i + 1) * len(blocks) // k] for i in range(k)]
    if k == 1:
        return [fn(parts[0])]
    pool = _state["pool"]
    if pool is None or pool._max_workers < k:
        pool = _state["pool"] = ThreadPoolExecutor(max_workers=k, thread_name_prefix="convbook")
    return list(pool.map(fn, parts))
