"""Reading and reporting ``convbook.lab.bench`` results: the summary, the text table, the JSON schema.

Separate from ``convbook.lab.bench`` so that a chapter can load and check stored
results without running anything. The JSON file (schema ``convbook-bench/1``)
holds ``command`` (the command line that made it), ``machine`` (CPU model, cores, GPU, versions), ``settings`` (repeats,
warm-up, threads, cases), ``load_average`` (before and after), ``ceilings``
(measured matmul GFLOP/s and copy GB/s), ``results`` (one row per case,
direction, implementation and size, with every sample in seconds, the median,
the IQR, GFLOP/s and the ratio to torch CPU) and ``summary`` (the forward
ratios against the targets of issue 6 and their geometric mean).
"""

from __future__ import annotations

import json
import math

SCHEMA = "convbook-bench/1"
TARGETS = {"std3x3": 1.5, "dil2": 1.0, "dil4": 1.0, "depthwise": 1.5, "pointwise": 1.0}
GEOMEAN_TARGET = 1.0
IMPLS = ("naive", "convbook", "convbook-winograd", "convbook-direct", "torch-cpu", "torch-cuda", "torch-mps")


def summarize(rows) -> dict:
    """Forward ratios convbook / torch CPU at full size, against the targets, and their geometric mean."""
    fwd = {r["case"]: r["ratio_to_torch_cpu"] for r in rows if _is(r, "convbook", "forward")}
    bwd = {r["case"]: r["ratio_to_torch_cpu"] for r in rows if _is(r, "convbook", "backward")}
    best = {r["case"]: r.get("best_ratio_to_torch_cpu") for r in rows if _is(r, "convbook", "forward")}
    geo = math.exp(sum(math.log(v) for v in fwd.values()) / len(fwd)) if fwd else None
    targets = {k: {"ratio": fwd[k], "target": t, "met": fwd[k] <= t} for k, t in TARGETS.items() if k in fwd}
    return {
        "forward_ratio": fwd,
        "backward_ratio": bwd,
        "forward_best_ratio": best,
        "geomean_forward": geo,
        "geomean_target": GEOMEAN_TARGET,
        "geomean_met": None if geo is None else geo <= GEOMEAN_TARGET,
        "targets": targets,
    }


def _is(row, impl, direction) -> bool:
    return row["impl"] == impl and row["direction"] == direction and row["size"] == "full"


def format_table(results: dict) -> str:
    """The results as a fixed-width text table, then the target check."""
    lines = [
        f"{'case':<10} {'dir':<4} {'impl':<17} {'size':<22} {'median ms':>10} {'IQR ms':>8} {'best ms':>8} "
        f"{'GFLOP/s':>8} {'/torch':>7}"
    ]
    for r in results["results"]:
        lines.append(
            f"{r['case']:<10} {r['direction'][:3]:<4} {r['impl']:<17} {r['size']:<22} {r['median_s'] * 1e3:>10.2f} "
            f"{r['iqr_s'] * 1e3:>8.2f} {r.get('min_s', float('nan')) * 1e3:>8.2f} {r['gflops']:>8.1f} "
            f"{r['ratio_to_torch_cpu']:>7.2f}"
        )
    s = results["summary"]
    lines.append("")
    lines.append("forward, convbook / torch CPU (same run), ratio of medians (ratio of best times in brackets):")
    best = s.get("forward_best_ratio", {})
    for k, t in s["targets"].items():
        b = f"({best[k]:.2f})" if best.get(k) is not None else ""
        lines.append(
            f"  {k:<10} {t['ratio']:5.2f} {b:<7} target <= {t['target']:.1f}  {'met' if t['met'] else 'NOT met'}"
        )
    if s["geomean_forward"] is not None:
        ok = "met" if s["geomean_met"] else "NOT met"
        lines.append(f"  {'geomean':<10} {s['geomean_forward']:5.2f} {'':<7} target <= {GEOMEAN_TARGET:.1f}  {ok}")
    st, m = results["settings"], results["machine"]
    load = results["load_average"]
    before, after = load.get("before"), load.get("after")
    load_text = f"{before[0]:.2f} -> {after[0]:.2f}" if before and after else "not available on this system"
    lines.append(
        f"machine: {m['cpu_model']}, {m['usable_cores']} cores, GPU: {m['gpu'] or 'none'}; threads: torch "
        f"{st['torch_threads']}, BLAS {st['blas_threads']}, convbook {st.get('convbook_threads')}; "
        f"load average {load_text}; repeats {st['repeats']}; "
        f"GPU float32: {st.get('float32_precision', 'not recorded')}; "
        f"allocator: {st.get('allocator', 'not recorded')}"
    )
    return "\n".join(lines)


_ROW_KEYS = {"case", "direction", "impl", "size", "flops", "samples_s", "median_s", "iqr_s", "gflops"}


def validate_results(results: dict) -> dict:
    """Check a results dict (or a loaded JSON file) against the schema; raise ``ValueError`` naming the problem."""
    if not isinstance(results, dict) or results.get("schema") != SCHEMA:
        raise ValueError(f"validate_results: not a {SCHEMA} file (schema={results.get('schema')!r})")
    for key in ("command", "created_utc", "machine", "settings", "load_average", "ceilings", "results", "summary"):
        if key not in results:
            raise ValueError(f"validate_results: missing top-level key {key!r}")
    for key in ("cpu_model", "usable_cores", "gpu", "versions"):
        if key not in results["machine"]:
            raise ValueError(f"validate_results: machine lacks {key!r}")
    if not results["results"]:
        raise ValueError("validate_results: no result rows")
    for row in results["results"]:
        missing = _ROW_KEYS - row.keys() | ({"ratio_to_torch_cpu"} - row.keys())
        if missing:
            raise ValueError(f"validate_results: row {row.get('case')}/{row.get('impl')} lacks {sorted(missing)}")
        if row["impl"] not in IMPLS:
            raise ValueError(f"validate_results: unknown impl {row['impl']!r}")
        if not row["samples_s"] or any(not (t > 0) for t in row["samples_s"]):
            raise ValueError(f"validate_results: row {row['case']}/{row['impl']} needs positive samples")
    return results


def load_results(path) -> dict:
    """Read and validate a results JSON file written by ``python -m convbook.lab.bench --out``."""
    with open(path, encoding="utf-8") as f:
        return validate_results(json.load(f))
