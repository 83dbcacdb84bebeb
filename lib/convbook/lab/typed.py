"""Typed reference data: JSON in, dataclasses out, and back.

Every stored result of an experiment (``convbook/lab/reference/``) is read into the dataclasses its experiment
declares, so that a notebook reads ``ref.results.summary["hard/converged"]["separable"].test.mean`` by attribute
where the key is part of the result's layout, and by item only where the key is data (a model name, a channel
count). A renamed or missing key then fails where the file is loaded, naming the path, not deep inside a notebook.

:func:`from_json` builds an instance of a type from parsed JSON, following the type hints: dataclasses (every
field without a default must be present, and no key may be unknown), ``list[T]``, ``tuple[T, ...]`` and fixed
tuples, ``dict[str, T]``, ``X | None``, ``float`` (which accepts JSON integers), ``int``, ``str``, ``bool``, and
``typing.Any`` or bare ``dict``/``list`` for parts whose layout is free. :func:`to_json` is its inverse.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

__all__ = [
    "AccuracyCurves",
    "Curve",
    "Difference",
    "LearningCurves",
    "Summary",
    "Threads",
    "TrainTest",
    "from_json",
    "to_json",
]


@dataclasses.dataclass(frozen=True)
class Summary:
    """``n`` values: mean, sample standard deviation (ddof = 1), extremes and the 95 % t-interval of the mean."""

    n: int
    mean: float
    sd: float
    min: float
    max: float
    ci95: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Difference:
    """Mean of one sample minus the other's, with a 95 % Welch interval (``df`` is None when neither varies)."""

    diff: float
    ci95: tuple[float, float]
    df: float | None


@dataclasses.dataclass(frozen=True)
class Curve:
    """Mean and sample SD over runs of one metric at every epoch where it was evaluated."""

    epoch: list[int]
    mean: list[float]
    sd: list[float]


@dataclasses.dataclass(frozen=True)
class TrainTest:
    """One metric over seeds on the training and on the test data (a baseline's accuracy, for example)."""

    train: Summary
    test: Summary


@dataclasses.dataclass(frozen=True)
class LearningCurves:
    """Over runs: the training loss at every epoch, training and test accuracy at every evaluated epoch."""

    train_loss: Curve
    train_accuracy: Curve
    test_accuracy: Curve


@dataclasses.dataclass(frozen=True)
class AccuracyCurves:
    """The learning curves of a training: training and test accuracy, over runs, at every evaluated epoch."""

    train_accuracy: Curve
    test_accuracy: Curve


@dataclasses.dataclass(frozen=True)
class Threads:
    """Thread counts in force (``convbook.lab.timing.thread_settings``); None where not known."""

    convbook: int | None
    blas: int | None
    blas_library: str | None
    torch: int | None


def _fail(path: str, rule: str):
    raise ValueError(f"from_json: {path} {rule}")


def from_json(tp, value, path: str = "result"):
    """``value`` (parsed JSON) as an instance of ``tp``; ``ValueError`` naming the JSON path on any mismatch."""
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return from_json(arg, value, path)
            except ValueError as e:
                errors.append(str(e))
        _fail(path, f"matches none of {tp}: {'; '.join(errors)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            _fail(path, f"must be an object for {tp.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            _fail(path, f"has keys that {tp.__name__} does not declare: {unknown}")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = from_json(hints[name], value[name], f"{path}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(path, f"lacks the key {name!r} that {tp.__name__} requires")
        return tp(**kwargs)
    if origin is list or tp is list:
        if not isinstance(value, list):
            _fail(path, f"must be a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp) or (Any,)
        return [from_json(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            _fail(path, f"must be a list, got {type(value).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            _fail(path, f"must have {len(args)} items, got {len(value)}")
        return tuple(from_json(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            _fail(path, f"must be an object, got {type(value).__name__}")
        _, item = typing.get_args(tp) or (str, Any)
        return {k: from_json(item, v, f"{path}[{k!r}]") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(path, f"must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(path, f"must be an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            _fail(path, f"must be a {tp.__name__}, got {value!r}")
        return value
    raise TypeError(f"from_json: type {tp!r} at {path} is not supported (use dataclasses, list, tuple, dict, Any)")


def to_json(obj):
    """Plain JSON types (dicts, lists, numbers, strings) from dataclasses, tuples and NumPy scalars or arrays."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if hasattr(obj, "tolist"):  # NumPy scalars and arrays
        return obj.tolist()
    return obj
