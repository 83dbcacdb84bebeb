"""Run one function in a fresh Python interpreter: the lab's one way of measuring in a new process.

Some measurements must start from a clean process. glibc's allocator setting
(:func:`convbook.lab.machine.steady_allocator`) stays in force for good once made, so the
default and the steady allocator each need their own process; oneDNN reads ``ONEDNN_VERBOSE``
once, when torch loads it; and a thread pool, once started, keeps its size.

:func:`run_fresh` calls a module-level function in a new interpreter and returns its result::

    run_fresh(measure, "steady", threads=1)              # a function object ...
    run_fresh("convbook.lab.machine:cpu_model")            # ... or "module:qualified.name"

The child is ``python -m convbook.lab.fresh SPEC``: it gets this process's ``sys.path``, the
environment plus ``env``, and (with ``threads``) ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` set before anything starts a pool; it imports the target's module,
calls the target (inside :func:`convbook.lab.timing.fixed_threads` when ``threads`` is given)
and writes the result as JSON. Arguments and results are therefore JSON values (tuples arrive
as lists; dataclasses and NumPy values in a result are converted by
:func:`convbook.lab.typed.to_json`). :func:`run_fresh_output` returns the child's stdout and
stderr as well (oneDNN writes its log to stdout: :mod:`convbook.lab.onednn`), and
:func:`map_fresh` runs many calls, a few processes at a time.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convbook.lab.timing import fixed_threads
from convbook.lab.typed import to_json

__all__ = ["FreshRun", "map_fresh", "run_fresh", "run_fresh_output", "target_name"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class FreshRun:
    """What one fresh process gave back: the function's result (as JSON values) and the process's output."""

    value: Any
    stdout: str
    stderr: str


def target_name(target, fname: str = "target_name") -> str:
    """``'module:qualified.name'`` of a module-level function (or that string itself, checked)."""
    if isinstance(target, str):
        module, sep, qualname = target.partition(":")
        if not sep or not module or not qualname:
            raise ValueError(f"{fname}: target must be 'module:function', got {target!r}")
        return target
    if not callable(target):
        kind = type(target).__name__
        raise TypeError(f"{fname}: target must be a function or a 'module:function' string, got {kind}")
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValueError(
            f"{fname}: target must be a function defined at the top level of an importable module "
            f"(not a lambda, a nested function or one of __main__), got {target!r}"
        )
    return f"{module}:{qualname}"


def _environment(env, threads, fname: str) -> dict:
    if env is not None and (
        not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise TypeError(f"{fname}: env must be a dict of str to str, got {env!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"{fname}: threads must be a positive int or None, got {threads!r}")
    out = {**os.environ, **(env or {})}
    if threads is not None:
        out.update(dict.fromkeys(_THREAD_VARIABLES, str(threads)))
    return out


def run_fresh_output(
    target, *args, env: dict | None = None, threads: int | None = None, timeout: float = 3600, **kwargs
) -> FreshRun:
    """Call ``target(*args, **kwargs)`` in a fresh interpreter; its result, stdout and stderr.

    Parameters
    ----------
    target : function or str
        A function defined at the top level of an importable module, or ``'module:qualified.name'``.
    *args, **kwargs
        JSON values (numbers, strings, lists, dicts, None); tuples arrive as lists.
    env : dict of str to str, optional
        Variables added to this process's environment for the child.
    threads : int, optional
        The child's thread count: the OpenMP, MKL and OpenBLAS variables before start-up, and
        :func:`~convbook.lab.timing.fixed_threads` around the call. ``None``: as the child finds them.
    timeout : float
        Seconds before the child is killed (``TimeoutError``).

    Raises
    ------
    RuntimeError
        The child failed; the message holds the end of its stderr (the traceback).
    """
    fname = "run_fresh"
    name = target_name(target, fname)
    environment = _environment(env, threads, fname)
    with tempfile.TemporaryDirectory(prefix="convbook-fresh-") as tmp:
        spec = {
            "target": name,
            "args": list(args),
            "kwargs": kwargs,
            "threads": threads,
            "sys_path": sys.path,
            "result": str(Path(tmp) / "result.json"),
        }
        try:
            text = json.dumps(spec)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{fname}: the arguments of {name} must be JSON values ({e})") from None
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(text, encoding="utf-8")
        command = [sys.executable, "-m", "convbook.lab.fresh", str(spec_path)]
        try:
            proc = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{fname}: {name} ran past its timeout of {timeout} s in its process") from None
        if proc.returncode != 0:
            raise RuntimeError(
                f"{fname}: {name} failed in its process (exit code {proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        value = json.loads(Path(spec["result"]).read_text(encoding="utf-8"))
    return FreshRun(value=value, stdout=proc.stdout, stderr=proc.stderr)


def run_fresh(target, *args, env: dict | None = None, threads: int | None = None, timeout: float = 3600, **kwargs):
    """``target(*args, **kwargs)`` run in a fresh interpreter; its result as JSON values (:func:`run_fresh_output`)."""
    return run_fresh_output(target, *args, env=env, threads=threads, timeout=timeout, **kwargs).value


def map_fresh(
    target, jobs: Iterable, workers: int = 1, *, env: dict | None = None, threads: int | None = None
) -> Iterator:
    """``run_fresh(target, job)`` for every job, in order, ``workers`` processes at a time; a generator."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"map_fresh: workers must be a positive int, got {workers!r}")
    name = target_name(target, "map_fresh")
    with ThreadPoolExecutor(max_workers=workers) as pool:  # each thread only waits for its child process
        yield from pool.map(lambda job: run_fresh(name, job, env=env, threads=threads), jobs)


def _resolve(name: str) -> Callable:
    module, _, qualname = name.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _child(spec_path: str) -> None:
    """The child's side: read the spec, call the target, write its result."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    sys.path[:] = spec["sys_path"]
    fn = _resolve(spec["target"])  # imports the target's module (and torch with it, where it uses torch)
    if spec["threads"] is None:
        value = fn(*spec["args"], **spec["kwargs"])
    else:
        with fixed_threads(spec["threads"]):
            value = fn(*spec["args"], **spec["kwargs"])
    Path(spec["result"]).write_text(json.dumps(to_json(value)), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m convbook.lab.fresh SPEC.json (written by convbook.lab.fresh.run_fresh)")
    _child(sys.argv[1])
