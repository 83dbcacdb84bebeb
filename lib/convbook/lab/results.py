"""Stored results: one schema (``convbook-result/2``), one writer, one reader, one provenance builder.

Every measured claim of the book (a training result, a timing, the benchmark) rests on a JSON file stored with
the library in ``convbook/lab/reference/results/``, made by one command::

    python -m convbook.lab.experiments NAME                 # one experiment, to its reference file
    python -m convbook.lab.experiments bench --threads 1    # an experiment with options, to a variant file
    python -m convbook.lab.experiments --list               # what there is

A chapter reads a result back *typed*, by attribute where a key is part of the layout and by item only where a
key is data (a model name, a task)::

    from convbook.lab.results import load_reference

    ref = load_reference("separable_accuracy")
    ref.provenance.command                                  # 'python -m convbook.lab.experiments separable_accuracy'
    ref.settings.seeds                                      # the experiment's own Settings dataclass
    ref.results.summary["hard/converged"]["separable"].test.mean
    bench = load_reference("bench", "cpu-1thread")          # the file bench.cpu-1thread.json

**The file** (``convbook-result/2``) is the envelope :class:`Reference`: ``schema``, ``name``, ``variant`` (None,
or the part of the file name after the experiment's name, such as ``cpu-1thread``), ``description``,
``result_version`` (the version of the experiment's own ``results`` layout), ``quick``, ``provenance``
(:class:`Provenance`), ``wall_seconds``, ``settings`` and ``results``.

**An experiment** is a module ``convbook.lab.experiments.NAME`` that declares

* ``DESCRIPTION``: one line, what it measures and which page uses it;
* ``RESULT_VERSION``: an int, raised whenever the layout of ``Settings`` or ``Results`` changes (a stored file
  of another version then fails to load, naming the command that regenerates it);
* ``Settings`` and ``Results``: dataclasses (:mod:`convbook.lab.typed` reads them; nested dataclasses where a
  notebook reads fixed keys, ``dict[str, T]`` where keys are data; ``Summary``, ``Difference`` and ``Curve``
  from :mod:`convbook.lab.typed` for what :mod:`convbook.lab.stats` returns);
* ``run(quick: bool, **options) -> dict`` with keys ``settings`` and ``results`` (instances of those
  dataclasses, or plain JSON in their layout) and optionally ``ceilings`` (what
  :func:`convbook.lab.machine.ceilings` measured, kept in the provenance). ``quick=True`` is a smoke run of
  seconds (the tests call it), never stored as a reference;
* optionally ``PROCESSES`` (an int, at least 3): the experiment times code, so the command runs ``run()`` once in
  each of that many fresh processes and stores every process's results as ``replicates`` beside their combination
  in ``results`` (:mod:`convbook.lab.replicate`; a ``quick`` run stays one run in this process);
* optionally ``add_arguments(parser)`` (its own command-line options, passed to ``run`` by keyword) and
  ``variant(**options) -> str | None`` (which variant file those options make), and ``report(ref) -> str``
  (a text summary the command prints after the run).

:func:`run_experiment` runs one and wraps it with its provenance; :func:`save` checks the whole file by loading it
into the types (an experiment whose ``run()`` returns a wrong layout fails there) and writes it. The small
statistics (``summary``, ``welch``, ``learning_curve``, ...) are in :mod:`convbook.lab.stats`. An experiment module
imports neither this module nor ``__main__`` (this module imports the experiments' package to find them).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from convbook.lab import experiments, machine
from convbook.lab.replicate import MIN_PROCESSES, combine, combine_kept, run_processes
from convbook.lab.timing import thread_settings
from convbook.lab.typed import Threads, from_json, to_json

__all__ = [
    "COMMAND",
    "REFERENCE_DIR",
    "RESULTS_DIR",
    "SCHEMA",
    "Ceilings",
    "LoadAverage",
    "Machine",
    "Migration",
    "Provenance",
    "Reference",
    "command_line",
    "load",
    "load_reference",
    "provenance",
    "reference_path",
    "run_experiment",
    "save",
    "stored_variants",
]

SCHEMA = "convbook-result/2"
COMMAND = "python -m convbook.lab.experiments"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
RESULTS_DIR = REFERENCE_DIR / "results"


@dataclass(frozen=True)
class Machine:
    """The computer a result was made on (``logical_cores`` is None in results that did not record it)."""

    cpu_model: str
    usable_cores: int
    gpu: str | None
    platform: str
    logical_cores: int | None = None


@dataclass(frozen=True)
class LoadAverage:
    """The 1, 5 and 15 minute load averages before and after the run (None where not recorded or not available)."""

    before: list[float] | None
    after: list[float] | None


@dataclass(frozen=True)
class Ceilings:
    """The machine's measured matmul rate and copy bandwidth (:func:`convbook.lab.machine.ceilings`)."""

    matmul_gflops: float
    bandwidth_gbs: float
    detail: dict[str, int | float]


@dataclass(frozen=True)
class Migration:
    """How a file stored under an older schema was carried into this one (its measured values unchanged)."""

    from_schema: str
    old_command: str
    note: str


@dataclass(frozen=True)
class Provenance:
    """Where, when, with what and by which command a result was made.

    ``threads`` are the thread counts of the process that ran the command; an experiment that fixes its own (the
    benchmark's ``--threads``, the timing experiments' one thread) records them in its settings, and a replicated
    experiment runs in child processes of its own.
    """

    command: str
    created_utc: str
    machine: Machine
    versions: dict[str, str | None]
    threads: Threads
    git_commit: str | None
    load_average: LoadAverage
    ceilings: Ceilings | None = None
    migrated: Migration | None = None


S = TypeVar("S")
R = TypeVar("R")


@dataclass(frozen=True)
class Reference(Generic[S, R]):
    """A stored result: the envelope, with ``settings`` and ``results`` as the experiment's own dataclasses."""

    schema: str
    name: str
    variant: str | None
    description: str
    result_version: int
    quick: bool
    provenance: Provenance
    wall_seconds: float | None
    settings: S
    results: R
    replicates: list[R] | None = None


_ENVELOPE = tuple(f.name for f in dataclasses.fields(Reference))


def _types(name: str):
    """The experiment module ``name`` and its declared ``RESULT_VERSION``, ``Settings`` and ``Results``."""
    module = experiments.module(name)
    missing = [k for k in ("RESULT_VERSION", "Settings", "Results") if not hasattr(module, k)]
    if missing:
        raise TypeError(f"{module.__name__} must declare {', '.join(missing)} (see convbook.lab.results)")
    for k in ("Settings", "Results"):
        if not dataclasses.is_dataclass(getattr(module, k)):
            raise TypeError(f"{module.__name__}.{k} must be a dataclass")
    return module


def reference_path(name: str, variant: str | None = None) -> Path:
    """Where the reference result of experiment ``name`` (and ``variant``, if any) is stored."""
    if variant is not None and (not isinstance(variant, str) or not variant or "/" in variant or "." in variant):
        raise ValueError(f"reference_path: variant must be None or a name without '/' or '.', got {variant!r}")
    return RESULTS_DIR / (f"{name}.{variant}.json" if variant else f"{name}.json")


def stored_variants(name: str) -> list[str | None]:
    """The variants of experiment ``name`` whose reference files are stored (None for ``NAME.json``), sorted."""
    found = [p.name[len(name) : -len(".json")] for p in RESULTS_DIR.glob(f"{name}.*json")]
    return sorted((v[1:] or None for v in found if v == "" or v.startswith(".")), key=lambda v: v or "")


def command_line(name: str, quick: bool = False, **options) -> str:
    """The command that makes experiment ``name`` with ``options`` (keyword ``threads=1`` is ``--threads 1``)."""
    parts = [COMMAND, name] + (["--quick"] if quick else [])
    for key, value in options.items():
        if value is None or value is False:
            continue
        parts.append("--" + key.replace("_", "-"))
        if value is not True:
            parts.append(str(value))
    return " ".join(parts)


def _git_commit() -> str | None:
    """The commit of the library's code, with ``-dirty`` when its code differs from that commit.

    Only the code counts (``lib/``, new files included), not the notebooks nor the stored results, which a run of
    several experiments writes one after the other. ``None`` outside a git checkout (an installed copy).
    """
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "lib", ":(exclude)lib/convbook/lab/reference"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if changed else "")


def provenance(command: str, load_before: list[float] | None = None, ceilings: dict | None = None) -> Provenance:
    """The provenance of a result made now by ``command``, with the load average taken before the run."""
    if not isinstance(command, str) or not command.startswith(COMMAND):
        raise ValueError(f"provenance: command must be the {COMMAND!r} command line, got {command!r}")
    info = machine.machine_info()
    versions = {"python": info["python"], **info["versions"]}
    return Provenance(
        command=command,
        created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=Machine(
            cpu_model=info["cpu_model"],
            usable_cores=info["usable_cores"],
            gpu=info["gpu"],
            platform=platform.platform(),
            logical_cores=info["logical_cores"],
        ),
        versions=versions,
        threads=Threads(**thread_settings()),
        git_commit=_git_commit(),
        load_average=LoadAverage(before=load_before, after=machine.load_average()),
        ceilings=None if ceilings is None else from_json(Ceilings, to_json(ceilings), "provenance.ceilings"),
    )


def run_experiment(name: str, quick: bool = False, command: str | None = None, **options) -> Reference:
    """Run experiment ``name`` (with its keyword ``options``) and return its typed result with provenance."""
    module = _types(name)
    load_before, start = machine.load_average(), datetime.now(UTC)
    bodies = run_processes(module, quick, options)
    allowed = {"settings", "results", "ceilings"}
    for body in bodies:
        if not isinstance(body, dict) or not {"settings", "results"} <= body.keys() or body.keys() - allowed:
            got = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise ValueError(
                f"run_experiment: {name}.run() must return a dict of settings, results (and ceilings); got {got}"
            )
    if any(b["settings"] != bodies[0]["settings"] for b in bodies[1:]):
        raise ValueError(f"run_experiment: {name}.run() returned different settings in different processes")
    ceilings = [b["ceilings"] for b in bodies if b.get("ceilings") is not None]
    variant = module.variant(**options) if hasattr(module, "variant") else None
    replicated = hasattr(module, "PROCESSES") and module.PROCESSES > 1
    data = {
        "schema": SCHEMA,
        "name": name,
        "variant": variant,
        "description": module.DESCRIPTION,
        "result_version": module.RESULT_VERSION,
        "quick": bool(quick),
        "provenance": provenance(
            command or command_line(name, quick, **options), load_before, combine(ceilings) if ceilings else None
        ),
        "wall_seconds": round((datetime.now(UTC) - start).total_seconds(), 1),
        "settings": bodies[0]["settings"],
        "results": combine_kept([b["results"] for b in bodies], name),
        "replicates": [b["results"] for b in bodies] if replicated else None,
    }
    return _typed(to_json(data), f"{name}")


def _typed(data: Any, where: str) -> Reference:
    """``data`` (parsed JSON) as a :class:`Reference`, its settings and results in the experiment's types."""
    if not isinstance(data, dict):
        raise ValueError(f"load: {where} must be a JSON object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"load: {where} is not a {SCHEMA} file (schema={data.get('schema')!r})")
    optional = {"replicates"}  # absent in results that are not replicated (training: deterministic)
    unknown, missing = sorted(data.keys() - set(_ENVELOPE)), [k for k in _ENVELOPE if k not in data.keys() | optional]
    if unknown or missing:
        raise ValueError(f"load: {where} has unknown keys {unknown} and lacks {missing} of the {SCHEMA} envelope")
    name = data["name"]
    if name not in experiments.available():
        raise ValueError(f"load: {where} names the experiment {name!r}, which does not exist")
    module = _types(name)
    prov = from_json(Provenance, data["provenance"], f"{name}.provenance")
    version = from_json(int, data["result_version"], f"{name}.result_version")
    if version != module.RESULT_VERSION:
        command = prov.command if prov.command.startswith(f"{COMMAND} {name}") else f"{COMMAND} {name}"
        raise ValueError(
            f"load: {where} holds layout version {version} of {name}'s results, but {module.__name__} now declares "
            f"RESULT_VERSION = {module.RESULT_VERSION}; regenerate it with: {command}"
        )
    if not prov.command.startswith(COMMAND):
        raise ValueError(f"load: {where}: provenance.command must be the {COMMAND!r} command, got {prov.command!r}")
    return Reference(
        schema=SCHEMA,
        name=name,
        variant=from_json(str | None, data["variant"], f"{name}.variant"),
        description=from_json(str, data["description"], f"{name}.description"),
        result_version=version,
        quick=from_json(bool, data["quick"], f"{name}.quick"),
        provenance=prov,
        wall_seconds=from_json(float | None, data["wall_seconds"], f"{name}.wall_seconds"),
        settings=from_json(module.Settings, data["settings"], f"{name}.settings"),
        results=from_json(module.Results, data["results"], f"{name}.results"),
        replicates=_replicates(module, data.get("replicates"), name, bool(data["quick"])),
    )


def _replicates(module, data, name: str, quick: bool) -> list | None:
    """The stored per-process results, typed; ``ValueError`` when a replicated experiment's file lacks them."""
    wanted = getattr(module, "PROCESSES", 1)
    if data is None:
        if wanted > 1 and not quick:
            raise ValueError(f"load: {name} declares PROCESSES = {wanted} but its file holds no replicates")
        return None
    values = from_json(list[module.Results], data, f"{name}.replicates")
    if not quick and len(values) < min(wanted, MIN_PROCESSES):
        raise ValueError(f"load: {name}.replicates holds {len(values)} processes; the protocol asks for {wanted}")
    return values


def save(result: Reference | dict, path: Path | str | None = None) -> Path:
    """Write ``result`` to ``path`` (by default its reference file) after loading it into its types.

    A result whose layout does not match its experiment's ``Settings`` and ``Results`` raises ``ValueError``
    naming the first key that does not fit, and nothing is written.
    """
    if not isinstance(result, Reference | dict):
        raise TypeError(f"save: result must be a Reference or a dict, got {type(result).__name__}")
    data = to_json(result)
    ref = _typed(data, f"the result of {data.get('name')!r}" if isinstance(data, dict) else "result")
    path = Path(path) if path is not None else reference_path(ref.name, ref.variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(ref), indent=1) + "\n", encoding="utf-8")
    return path


def load(path: Path | str) -> Reference:
    """The result stored at ``path``, typed (``--quick`` results included); ``ValueError`` naming what does not fit."""
    path = Path(path)
    return _typed(json.loads(path.read_text(encoding="utf-8")), str(path))


def load_reference(name: str, variant: str | None = None) -> Reference:
    """The stored reference result of experiment ``name`` (file ``NAME.json``, or ``NAME.VARIANT.json``), typed.

    Raises ``FileNotFoundError`` naming the command that makes it when it is missing, and ``ValueError`` when it was
    made with ``--quick``, when its layout does not fit the experiment's types (naming the path of the key), or when
    it was made by another ``RESULT_VERSION`` of the experiment (naming the command that regenerates it).
    """
    if not isinstance(name, str) or name not in experiments.available():
        raise ValueError(f"load_reference: name must be one of {', '.join(experiments.available())}; got {name!r}")
    path = reference_path(name, variant)
    if not path.is_file():
        stored = sorted(p.name for p in RESULTS_DIR.glob(f"{name}.*json"))
        raise FileNotFoundError(
            f"load_reference: no reference result for {name!r} at {path} (stored: {stored or 'none'}); make it with: "
            f"{COMMAND} {name}"
        )
    ref = load(path)
    if ref.quick:
        raise ValueError(f"load_reference: {path} was made with --quick; rerun without it")
    return ref
