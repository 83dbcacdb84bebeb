"""The benchmark as an experiment: convbook against torch on the suite of :mod:`convbook.lab.bench`.

``python -m convbook.lab.experiments bench [--threads N]`` times the suite and stores it as the variant
``DEVICE-Ncore`` (``cpu-2core``; ``cpu-1thread`` with ``--threads 1``; ``cuda-...`` when a GPU was timed too),
``lib/convbook/lab/reference/results/bench.VARIANT.json``; a run with other options (``--only``, ``--repeats``,
``--no-naive``, ...) is the variant ``...-custom``. The performance chapter reads ``cpu-2core`` and
``cpu-1thread``::

    ref = load_reference("bench", "cpu-2core")
    ref.results.forward_ms("torch-cpu")["depthwise"]      # median forward time, full size, in ms
    ref.results.summary.forward_ratio["pointwise"]        # convbook / torch CPU
    ref.provenance.ceilings.matmul_gflops                 # the machine's measured peak

The command prints :func:`format_table`. The summary holds the forward ratios convbook / torch CPU against the
targets of issue 6 (``TARGETS``) and their geometric mean.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from convbook.lab import bench, machine
from convbook.nets.torch_bridge import pick_device

DESCRIPTION = (
    "convbook against torch on a fixed suite of layers, forward and backward, with the machine's ceilings; "
    "performance chapter"
)
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3
TARGETS = {"std3x3": 1.5, "dil2": 1.0, "dil4": 1.0, "depthwise": 1.5, "pointwise": 1.0}
GEOMEAN_TARGET = 1.0

__all__ = [
    "DESCRIPTION",
    "GEOMEAN_TARGET",
    "RESULT_VERSION",
    "TARGETS",
    "BenchSummary",
    "Results",
    "Row",
    "Settings",
    "Target",
    "add_arguments",
    "describe",
    "format_table",
    "report",
    "run",
    "summarize",
    "variant",
]


@dataclass(frozen=True)
class Settings:
    """How the suite was run: rounds, cases, thread counts, allocator, GPU and its float32 precision."""

    repeats: int
    warmup: int
    quick: bool
    cases: list[str]
    dtype: str
    torch_threads: int
    blas_threads: int | None
    convbook_threads: int
    blas_threads_note: str | None
    allocator: str
    gpu_device: str | None
    cuda: bool
    float32_precision: str

    @property
    def gpu(self) -> str | None:
        """'cuda' or 'mps' when the run timed a GPU, else None."""
        return self.gpu_device or ("cuda" if self.cuda else None)


@dataclass(frozen=True)
class Row:
    """One case, direction, implementation and size: every sample (s) and what is read from them."""

    case: str
    title: str
    direction: str
    impl: str
    size: str
    flops: int
    bytes: int
    samples_s: list[float]
    median_s: float
    min_s: float
    iqr_s: float
    gflops: float
    ratio_to_torch_cpu: float
    best_ratio_to_torch_cpu: float

    def __post_init__(self):
        if self.impl not in bench.IMPLS:
            raise ValueError(f"bench.Row: impl must be one of {', '.join(bench.IMPLS)}, got {self.impl!r}")
        if self.direction not in ("forward", "backward"):
            raise ValueError(f"bench.Row: direction must be 'forward' or 'backward', got {self.direction!r}")
        if not self.samples_s or any(not (t > 0) for t in self.samples_s):
            raise ValueError(f"bench.Row: {self.case}/{self.impl} needs positive samples, got {self.samples_s!r}")


@dataclass(frozen=True)
class Target:
    ratio: float
    target: float
    met: bool


@dataclass(frozen=True)
class BenchSummary:
    """Ratios convbook / torch CPU at full size by case (of medians; of best times), against the targets."""

    forward_ratio: dict[str, float]
    backward_ratio: dict[str, float]
    forward_best_ratio: dict[str, float | None]
    geomean_forward: float | None
    geomean_target: float
    geomean_met: bool | None
    targets: dict[str, Target]


@dataclass(frozen=True)
class Results:
    rows: list[Row]
    summary: BenchSummary

    def _full(self, impl: str, direction: str) -> list[Row]:
        if direction not in ("forward", "backward"):
            raise ValueError(f"bench.Results: direction must be 'forward' or 'backward', got {direction!r}")
        return [r for r in self.rows if r.impl == impl and r.direction == direction and r.size == "full"]

    def times_ms(self, impl: str, direction: str = "forward") -> dict[str, float]:
        """Median times (ms) of implementation ``impl`` at full size, by case (empty if it was not timed)."""
        return {r.case: r.median_s * 1e3 for r in self._full(impl, direction)}

    def forward_ms(self, impl: str) -> dict[str, float]:
        """Median forward times (ms) of ``impl`` at full size, by case."""
        return self.times_ms(impl, "forward")

    def gflops(self, impl: str, direction: str = "forward") -> dict[str, float]:
        """Achieved GFLOP/s (direct formula's FLOPs over the median) of ``impl`` at full size, by case."""
        return {r.case: r.gflops for r in self._full(impl, direction)}


def summarize(rows: list[dict]) -> BenchSummary:
    """Ratios convbook / torch CPU at full size, against ``TARGETS``, and their geometric mean (forward)."""

    def ratios(direction, key):
        return {
            r["case"]: r.get(key)
            for r in rows
            if r["impl"] == "convbook" and r["direction"] == direction and r["size"] == "full"
        }

    fwd, bwd = ratios("forward", "ratio_to_torch_cpu"), ratios("backward", "ratio_to_torch_cpu")
    geo = math.exp(sum(math.log(v) for v in fwd.values()) / len(fwd)) if fwd else None
    return BenchSummary(
        forward_ratio=fwd,
        backward_ratio=bwd,
        forward_best_ratio=ratios("forward", "best_ratio_to_torch_cpu"),
        geomean_forward=geo,
        geomean_target=GEOMEAN_TARGET,
        geomean_met=None if geo is None else geo <= GEOMEAN_TARGET,
        targets={k: Target(ratio=fwd[k], target=t, met=fwd[k] <= t) for k, t in TARGETS.items() if k in fwd},
    )


def _case_list(text: str) -> str:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in bench.CASES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {unknown or [text]}; choose from {', '.join(bench.CASES)}")
    return ",".join(names)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's own options of ``python -m convbook.lab.experiments bench``."""
    parser.add_argument("--threads", type=_positive_int, help="threads for torch, BLAS, convbook (default: all cores)")
    parser.add_argument("--only", type=_case_list, help=f"comma-separated subset of: {', '.join(bench.CASES)}")
    parser.add_argument("--repeats", type=_positive_int, help="timed rounds per case, in blocks of 3 (default 30)")
    parser.add_argument("--warmup", type=_positive_int, help="untimed rounds first (default 2, quick 1)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loops")
    parser.add_argument(
        "--allocator",
        choices=("steady", "default"),
        help="steady (the default): reuse freed memory so no timing includes page faults; default: leave glibc alone",
    )
    parser.add_argument(
        "--precision",
        choices=("ieee", "tf32"),
        help="float32 precision of GPU convolutions: ieee (the default, what NumPy computes) or tf32 (tensor cores)",
    )


def variant(threads=None, only=None, repeats=None, warmup=None, no_naive=False, allocator=None, precision=None):
    """``DEVICE-1thread`` or ``DEVICE-Ncore``, with ``-custom`` when the options change what a reference holds."""
    n = threads or machine.usable_cores()
    name = f"{pick_device().type}-" + ("1thread" if n == 1 else f"{n}core")
    custom = (
        only or repeats or warmup or no_naive or allocator not in (None, "steady") or precision not in (None, "ieee")
    )
    return name + ("-custom" if custom else "")


def run(
    quick: bool = False,
    threads=None,
    only=None,
    repeats=None,
    warmup=None,
    no_naive=False,
    allocator=None,
    precision=None,
) -> dict:
    """Time the suite (a few rounds, naive loops on two cases only, when ``quick``); settings, results, ceilings."""
    out = bench.run_suite(
        names=only.split(",") if only else None,
        repeats=repeats or (3 if quick else 30),
        warmup=warmup or (1 if quick else 2),
        quick=quick,
        threads=threads,
        naive=not no_naive,
        progress=sys.stderr.isatty(),
        allocator=allocator or "steady",
        precision=precision or "ieee",
    )
    return {
        "settings": out["settings"],
        "results": Results(rows=out["rows"], summary=summarize(out["rows"])),
        "ceilings": out["ceilings"],
    }


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def describe(ref) -> str:
    """One line: the machine, threads, GPU, rounds and load average of a benchmark result."""
    m, s, load = ref.provenance.machine, ref.settings, ref.provenance.load_average.before
    load_text = "not recorded" if load is None else f"{load[0]:.1f}"  # None where the OS has no load average
    return (
        f"{m.cpu_model}, {m.usable_cores} cores, {_threads(s.torch_threads)}, GPU: {m.gpu or s.gpu or 'none'}, "
        f"{s.repeats} rounds, load average {load_text}"
    )


def format_table(ref) -> str:
    """A benchmark result as a fixed-width text table, then the target check and the machine."""
    lines = [
        f"{'case':<10} {'dir':<4} {'impl':<17} {'size':<22} {'median ms':>10} {'IQR ms':>8} {'best ms':>8} "
        f"{'GFLOP/s':>8} {'/torch':>7}"
    ]
    for r in ref.results.rows:
        lines.append(
            f"{r.case:<10} {r.direction[:3]:<4} {r.impl:<17} {r.size:<22} {r.median_s * 1e3:>10.2f} "
            f"{r.iqr_s * 1e3:>8.2f} {r.min_s * 1e3:>8.2f} {r.gflops:>8.1f} {r.ratio_to_torch_cpu:>7.2f}"
        )
    s = ref.results.summary
    lines += ["", "forward, convbook / torch CPU (same run), ratio of medians (ratio of best times in brackets):"]
    for k, t in s.targets.items():
        best = s.forward_best_ratio.get(k)
        b = f"({best:.2f})" if best is not None else ""
        lines.append(f"  {k:<10} {t.ratio:5.2f} {b:<7} target <= {t.target:.1f}  {'met' if t.met else 'NOT met'}")
    if s.geomean_forward is not None:
        ok = "met" if s.geomean_met else "NOT met"
        lines.append(f"  {'geomean':<10} {s.geomean_forward:5.2f} {'':<7} target <= {s.geomean_target:.1f}  {ok}")
    st, p = ref.settings, ref.provenance
    before, after = p.load_average.before, p.load_average.after
    load_text = f"{before[0]:.2f} -> {after[0]:.2f}" if before and after else "not available on this system"
    lines.append(
        f"machine: {p.machine.cpu_model}, {p.machine.usable_cores} cores, GPU: {p.machine.gpu or 'none'}; threads: "
        f"torch {st.torch_threads}, BLAS {st.blas_threads}, convbook {st.convbook_threads}; load average {load_text}; "
        f"repeats {st.repeats}; GPU float32: {st.float32_precision}; allocator: {st.allocator}"
    )
    return "\n".join(lines)


def report(ref) -> str:
    """What ``python -m convbook.lab.experiments bench`` prints after the run: :func:`format_table`."""
    return format_table(ref)
