"""What machine is this, and how fast can it go? Helpers for ``convbook.lab.bench``.

* :func:`machine_info`: CPU model (from ``/proc/cpuinfo``), core counts, GPU
  name, library versions and the BLAS NumPy uses, for the benchmark's JSON.
* :func:`blas_threads`: read or fix the number of threads of NumPy's BLAS
  (OpenBLAS) at run time, through ``threadpoolctl`` when it is installed and
  otherwise through OpenBLAS's own C functions (``ctypes``).
* :func:`last_level_cache_bytes`: the size of the largest CPU cache; :func:`cache_sizes`: every level's.
* :func:`matmul_peak` and :func:`memory_bandwidth`: the two ceilings of a
  roofline plot (Williams et al., 2009), *measured* on this machine: the
  float32 GFLOP/s of a large matrix product, and the GB/s of a large copy.
* :func:`steady_allocator` and :func:`first_touch_cost`: the memory allocator
  can cost more than the convolution (see their docstrings); the benchmark
  fixes it so that both libraries are timed in the same steady state.

Nothing runs on import.
"""

from __future__ import annotations

import ctypes
import glob
import mmap
import os
import platform
import time

import numpy as np
import torch

import convbook

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - a declared dependency; without it OpenBLAS's own functions are used
    threadpool_info = threadpool_limits = None


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (``sched_getaffinity``), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_average() -> list | None:
    """The 1, 5 and 15-minute load averages, or ``None`` where the system has none (Windows)."""
    try:
        return [float(v) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache in bytes (Linux's ``/sys``), or ``None`` where the system does not say."""
    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text[:-1] if text[-1:] in "KMG" else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def cache_sizes() -> dict[str, int]:
    """Bytes of each data cache level of one core as Linux's ``/sys`` reports it (what ``lscpu`` reads).

    ``{'L1d': 49152, 'L2': 2097152, 'L3': 503316480}``: per core for the private levels, and the size of the shared
    level as the (possibly virtual) machine reports it. Empty where the system does not say.
    """
    out = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            fields = {k: _read(f"{index}/{k}") for k in ("level", "type", "size")}
        except OSError:
            continue
        if fields["type"] == "Instruction":
            continue
        text = fields["size"].upper()
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text[:-1] if text[-1:] in "KMG" else text
        if digits.isdigit():
            out[f"L{fields['level']}" + ("d" if fields["type"] == "Data" else "")] = int(digits) * scale
    return out


def _blas_info() -> str:
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except Exception:  # older NumPy without mode="dicts"
        return "unknown"


def _openblas_lib():
    """The OpenBLAS library NumPy has loaded, as a ``ctypes`` handle, and its symbol prefix."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and line.strip().endswith(".so")}
    except OSError:
        return None, None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                    return lib, (prefix, suffix)
    return None, None


def blas_threads(n: int | None = None) -> int | None:
    """Set NumPy's BLAS thread count to ``n`` (when given) and return the count in force.

    Returns ``None`` when the BLAS cannot be controlled (then set the
    environment variable ``OPENBLAS_NUM_THREADS`` before starting Python).
    """
    if threadpool_info is not None:
        if n is not None:
            threadpool_limits(limits=n, user_api="blas")
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        return counts[0] if counts else None
    lib, names = _openblas_lib()
    if lib is None:
        return None
    prefix, suffix = names
    if n is not None:
        getattr(lib, f"{prefix}_set_num_threads{suffix}")(ctypes.c_int(n))
    return int(getattr(lib, f"{prefix}_get_num_threads{suffix}")())


def machine_info() -> dict:
    """CPU, cores, GPU and library versions, as plain JSON-able values."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "convbook": convbook.__version__,
            "numpy": np.__version__,
            "torch": torch.__version__,
            "blas": _blas_info(),
            "cuda": torch.version.cuda if gpu else None,
        },
    }


def _best_rate(fn, work: float, repeats: int) -> float:
    """``work`` divided by the fastest of ``repeats`` timed calls (after one warm-up)."""
    fn()
    best = min(_timed(fn) for _ in range(repeats))
    return work / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def matmul_peak(n: int = 1024, repeats: int = 5) -> dict:
    """Measured float32 matrix-product throughput in GFLOP/s, NumPy's BLAS and torch's.

    The best of ``repeats`` products of two ``n x n`` matrices (``2 n^3`` FLOPs).
    A practical compute ceiling: the highest rate dense code reaches here.
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    flops = 2.0 * n**3
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    return {
        "numpy_gflops": _best_rate(lambda: np.matmul(a, b, out=out), flops, repeats) / 1e9,
        "torch_gflops": _best_rate(lambda: torch.mm(ta, tb), flops, repeats) / 1e9,
        "n": n,
    }


def memory_bandwidth(mbytes: int = 64, repeats: int = 5) -> dict:
    """Measured main-memory bandwidth in GB/s: the best copy of a ``mbytes`` MB array.

    A copy reads and writes every byte, so it moves ``2 x`` the array's size.
    NumPy copies on one core; torch's ``copy_`` uses all its threads.
    """
    n = mbytes * 2**20 // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    moved = 2.0 * src.nbytes
    ts, td = torch.from_numpy(src), torch.from_numpy(dst)
    return {
        "numpy_gbs": _best_rate(lambda: np.copyto(dst, src), moved, repeats) / 1e9,
        "torch_gbs": _best_rate(lambda: td.copy_(ts), moved, repeats) / 1e9,
        "mbytes": mbytes,
    }


def ceilings(quick: bool = False) -> dict:
    """Both roofline ceilings: the best matmul GFLOP/s and the best copy GB/s of this machine."""
    peak = matmul_peak(n=768 if quick else 1024, repeats=3 if quick else 5)
    bw = memory_bandwidth(mbytes=32 if quick else 64, repeats=3 if quick else 5)
    return {
        "matmul_gflops": max(peak["numpy_gflops"], peak["torch_gflops"]),
        "bandwidth_gbs": max(bw["numpy_gbs"], bw["torch_gbs"]),
        "detail": {**peak, **bw},
    }


# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # the largest value glibc accepts on 64-bit systems


def steady_allocator() -> str:
    """Make this process's ``malloc`` reuse freed memory, so that timings do not include page faults.

    A new tensor's memory comes from ``malloc``. By default glibc serves large
    requests with a fresh ``mmap`` of zeroed pages and gives them back to the
    kernel on ``free`` (its thresholds adapt, and whether a block is reused
    depends on what else the process freed). Fresh pages cost a page fault
    each on first touch: on the 2-core reference machine, filling a fresh
    12.8 MB buffer took many times as long as filling one it already had
    (:func:`first_touch_cost`; the performance chapter measures it), longer
    than the whole depthwise convolution. Torch allocates its output (and, for
    oneDNN, reordered copies of its input) on every call, so its time for the
    same layer changed several-fold from one process to the next.

    This sets glibc's thresholds so that blocks up to 32 MiB come from the heap
    and freed memory stays there: after the warm-up calls, every call reuses
    memory that is already mapped, for torch and for NumPy alike. It is
    process-wide and stays in force. Returns a description for the benchmark's
    JSON (``'default'`` where there is no glibc, e.g. macOS).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "default (no glibc mallopt here)"
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1 and mallopt(_M_TRIM_THRESHOLD, 2**30) == 1
    if not ok:
        return "default (mallopt refused)"
    return "steady: glibc mallopt(M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=1 GiB), freed blocks are reused"


def first_touch_cost(mbytes: float = 12.8, repeats: int = 5) -> dict:
    """Milliseconds to fill a buffer that is already mapped, and a freshly mapped one of the same size.

    The fresh buffer is an anonymous ``mmap`` (what ``malloc`` does for large
    requests by default), so its fill includes one page fault per page. The
    best of ``repeats`` timings of each.
    """
    n = int(mbytes * 1e6) // 4
    reused = np.empty(n, dtype=np.float32)
    reused.fill(0.0)

    def fresh():
        m = mmap.mmap(-1, n * 4)
        a = np.frombuffer(m, dtype=np.float32)
        t0 = time.perf_counter()
        a.fill(1.0)
        dt = time.perf_counter() - t0
        del a
        m.close()
        return dt

    return {
        "mbytes": mbytes,
        "reused_ms": 1e3 * min(_timed(lambda: reused.fill(1.0)) for _ in range(repeats)),
        "fresh_ms": 1e3 * min(fresh() for _ in range(repeats)),
    }
