"""The book's reference experiments, and the reference results its claims rest on.

Every measured claim in the book (a training result, a timing) rests on a JSON
file stored with the library, in ``convbook/reference/results/NAME.json``, made by
one command::

    python -m convbook.lab.experiments NAME        # one experiment
    python -m convbook.lab.experiments --list      # what there is
    make experiments                           # all of them (slow: minutes to an hour on 2 cores)

Each experiment is a module of this package (``convbook.lab.experiments.NAME``)
that defines

* ``DESCRIPTION``: one line, what it measures and which page uses it;
* ``run(quick: bool) -> dict``: the experiment; returns a dict with at least
  ``settings`` (everything needed to rerun it, seeds included: a list under
  ``settings["seeds"]`` when it has seeds) and ``results`` (every per-seed or
  per-sample value, plus the summaries the book quotes). ``quick=True`` is a
  smoke-test version that runs in seconds (the tests call it) and is never
  stored as a reference.

:func:`run_experiment` wraps the returned dict with its provenance (schema,
name, the command line, the time, the machine, library versions, the thread
counts, the git commit when there is one) and :func:`save` writes it. A
chapter reads it back with :func:`load_reference`, prints the figures its prose
quotes and asserts its claim on them: the same result on every machine. Live
reruns in the notebooks are shown beside the reference, never asserted.

The reference data ships inside the package (``package-data``), so that it is
there when the book runs on Colab from a ``pip install`` as well as in a clone.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

SCHEMA = "convbook-experiment/1"
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
RESULTS_DIR = REFERENCE_DIR / "results"
BENCHMARKS_DIR = REFERENCE_DIR / "benchmarks"
PROVENANCE_KEYS = ("command", "created_utc", "machine", "versions", "threads", "git_commit")

__all__ = [
    "BENCHMARKS_DIR",
    "RESULTS_DIR",
    "SCHEMA",
    "available",
    "describe",
    "learning_curve",
    "load_reference",
    "mean_sd",
    "provenance",
    "reference_path",
    "run_experiment",
    "save",
    "summary",
    "t_quantile_975",
    "validate",
    "welch",
]


def available() -> list[str]:
    """The names of the experiments: the modules of this package (private helpers start with ``_``)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _module(name: str):
    if not isinstance(name, str) or name not in available():
        raise ValueError(f"experiment name must be one of {', '.join(available())}; got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """The experiment's one-line description."""
    return _module(name).DESCRIPTION


def reference_path(name: str) -> Path:
    """Where the reference result of experiment ``name`` is stored."""
    return RESULTS_DIR / f"{name}.json"


def _git_commit() -> str | None:
    """The commit of the library's code, with ``-dirty`` when its code differs from that commit.

    Only the code counts (``lib/``, new files included): not the notebooks, and not the reference
    results themselves, which a run of several experiments writes one after the other. ``None``
    outside a git checkout (an installed copy).
    """
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "lib", ":(exclude)lib/convbook/reference"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if changed else "")


def provenance(argv: list[str] | None = None) -> dict:
    """Where, when, with what and by which command a result was made."""
    from convbook import __version__
    from convbook.lab import machine
    from convbook.lab.timing import thread_settings

    versions = {"convbook": __version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import torch

        versions["torch"] = torch.__version__
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover - torch is a dependency
        gpu = None
    argv = list(sys.argv if argv is None else argv)
    return {
        "command": "python -m convbook.lab.experiments " + " ".join(argv[1:]) if argv else "",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu_model": machine.cpu_model(),
            "usable_cores": machine.usable_cores(),
            "gpu": gpu,
            "platform": platform.platform(),
            "load_average": machine.load_average(),
        },
        "versions": versions,
        "threads": thread_settings(),
        "git_commit": _git_commit(),
    }


def run_experiment(name: str, quick: bool = False, argv: list[str] | None = None) -> dict:
    """Run experiment ``name`` and return its result wrapped with provenance (see the module docstring)."""
    module = _module(name)
    start = datetime.now(timezone.utc)
    body = module.run(quick=quick)
    if "settings" not in body or "results" not in body:
        raise ValueError(f"run_experiment: {name}.run() must return a dict with 'settings' and 'results'")
    out = {
        "schema": SCHEMA,
        "name": name,
        "description": module.DESCRIPTION,
        "quick": bool(quick),
        "provenance": provenance(argv if argv is not None else ["python -m convbook.lab.experiments", name]),
        "wall_seconds": round((datetime.now(timezone.utc) - start).total_seconds(), 1),
        **body,
    }
    return json.loads(json.dumps(out, default=_jsonable))  # plain JSON types only


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def validate(data: dict) -> dict:
    """Check a reference result's layout; raise ``ValueError`` naming what is missing."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"validate: not a {SCHEMA} file (schema={getattr(data, 'get', lambda k: None)('schema')!r})")
    for key in ("name", "description", "provenance", "settings", "results"):
        if key not in data:
            raise ValueError(f"validate: missing top-level key {key!r}")
    missing = [k for k in PROVENANCE_KEYS if k not in data["provenance"]]
    if missing:
        raise ValueError(f"validate: provenance lacks {missing}")
    if not data["provenance"]["command"].startswith(("python -m convbook.lab.experiments", "python -m convbook.experiments")):
        raise ValueError("validate: provenance.command must be the 'python -m convbook.lab.experiments ...' command")
    return data


def save(data: dict, path: Path | str | None = None) -> Path:
    """Write a result (validated) to ``path``, by default its reference location."""
    validate(data)
    path = Path(path) if path is not None else reference_path(data["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def load_reference(name: str) -> dict:
    """The stored reference result of experiment ``name`` (validated).

    Raises ``FileNotFoundError`` naming the command that makes it when it is missing,
    and ``ValueError`` if it was made with ``--quick``.
    """
    path = reference_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"no reference result for {name!r} at {path}; make it with: python -m convbook.lab.experiments {name}"
        )
    data = validate(json.loads(path.read_text(encoding="utf-8")))
    if data.get("quick"):
        raise ValueError(f"load_reference: {path} was made with --quick; rerun without it")
    return data


# ---- small statistics, so that every page reports spread the same way

_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
_T975.update({12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980})


def t_quantile_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (for a 95 % interval).

    Exact to 3 decimals for the tabulated ``df`` (1-10, 12, 15, 20, 25, 30, 40, 60, 120); between them the
    next smaller tabulated ``df`` is used (a slightly wider, conservative interval); 1.960 beyond 120.
    """
    if isinstance(df, bool) or not isinstance(df, (int, np.integer)) or df < 1:
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


def summary(values) -> dict:
    """``n``, ``mean``, ``sd`` (ddof = 1), ``min``, ``max`` and the 95 % t-interval of the mean (``ci95``)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    mean, sd = mean_sd(v)
    half = t_quantile_975(v.size - 1) * sd / math.sqrt(v.size)
    return {
        "n": int(v.size),
        "mean": mean,
        "sd": sd,
        "min": float(v.min()),
        "max": float(v.max()),
        "ci95": [mean - half, mean + half],
    }


def welch(a, b) -> dict:
    """Mean of ``a`` minus mean of ``b``, with a 95 % Welch interval (unequal variances).

    Returns ``diff``, ``ci95`` (the interval) and ``df`` (Welch-Satterthwaite
    degrees of freedom, rounded down for the t quantile; ``None`` when both
    samples have no spread).
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError(f"welch: need at least 2 values on each side, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
    if se == 0:
        return {"diff": diff, "ci95": [diff, diff], "df": None}
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = t_quantile_975(max(1, int(df))) * se
    return {"diff": diff, "ci95": [diff - half, diff + half], "df": df}


def learning_curve(runs: list[dict], key: str) -> dict:
    """Mean and sample SD over runs of ``key`` (e.g. ``test_accuracy``) at every epoch where it was evaluated.

    ``runs`` are records with a ``history`` list (``convbook.nets.training.TrainResult.history``).
    """
    epochs = [h["epoch"] for h in runs[0]["history"] if key in h]
    values = np.array([[h[key] for h in r["history"] if key in h] for r in runs])  # (runs, evaluations)
    return {"epoch": epochs, "mean": values.mean(axis=0).tolist(), "sd": values.std(axis=0, ddof=1).tolist()}
