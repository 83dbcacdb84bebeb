"""Turning a student's answer into something a check can compare: arrays, numbers, dtypes and tolerances.

Part of :mod:`convbook.course.check` (re-exported there); split out so that each module stays short.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np


class Unusable(Exception):
    """What the student returned cannot be compared; the message says why (for the feedback)."""


# --------------------------------------------------------------------------- turning answers into arrays


def _is_tensor(value) -> bool:
    return hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "dtype") and hasattr(value, "shape")


def _tensor_to_numpy(value) -> tuple[np.ndarray, str]:
    """A torch tensor (any device, requires_grad or not, any float dtype) as a NumPy array, and its dtype name."""
    dtype_name = str(value.dtype).replace("torch.", "")
    t = value.detach()
    if getattr(t, "is_meta", False) or str(getattr(t, "device", "")) == "meta":
        raise Unusable("returned a tensor on the 'meta' device, which holds no values")
    t = t.cpu()
    if dtype_name == "bfloat16":  # NumPy has no bfloat16
        t = t.float()
    return np.asarray(t.numpy()), dtype_name


def as_array(value) -> tuple[np.ndarray, str]:
    """``value`` as a NumPy array, with the name of the dtype the student used; raises :class:`Unusable`."""
    if value is None:
        raise Unusable("returned None: is a `return` statement missing?")
    if _is_tensor(value):
        return _tensor_to_numpy(value)
    if isinstance(value, (str, bytes, dict, set)) or inspect.isgenerator(value):
        raise Unusable(f"returned a {type(value).__name__}, expected an array")
    if isinstance(value, (list, tuple)) and any(_is_tensor(v) for v in value):
        parts = [_tensor_to_numpy(v)[0] if _is_tensor(v) else v for v in value]
        value = parts
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise Unusable(f"returned a {type(value).__name__} that is not a regular array ({exc})") from None
    if array.dtype == object:
        raise Unusable(f"returned a {type(value).__name__} that is not a regular array of numbers")
    if array.dtype.kind == "c":
        raise Unusable("returned complex numbers, expected real ones")
    if array.dtype.kind not in "biuf":
        raise Unusable(f"returned an array of {array.dtype}, expected numbers")
    return array, str(array.dtype)


def as_number(value) -> tuple[float | int, str]:
    """``value`` as one Python number, with its dtype name; raises :class:`Unusable`."""
    if value is None:
        raise Unusable("returned None: is a `return` statement missing?")
    if isinstance(value, (bool, np.bool_)):
        raise Unusable(f"returned {value!r}, a bool, expected a number")
    if isinstance(value, Integral):
        return int(value), "int"
    if isinstance(value, np.floating):
        return float(value), str(value.dtype)
    if isinstance(value, Real):
        return float(value), "float64"
    array, dtype = as_array(value)
    if array.size != 1:
        raise Unusable(f"returned an array of shape {tuple(array.shape)}, expected a single number")
    item = array.reshape(-1)[0]
    if array.dtype.kind == "b":
        raise Unusable("returned a bool, expected a number")
    if array.dtype.kind in "iu":
        return int(item), "int"
    if array.dtype.kind == "c":
        raise Unusable("returned a complex number")
    return float(item), dtype


def tolerance(dtype: str) -> tuple[float, float, str]:
    """``(rtol, atol, label)`` for answers of this dtype; ``atol`` is scaled by the size of the expected values."""
    if dtype in ("float16", "bfloat16", "half"):
        return 1e-2, 1e-2, f"{dtype} tolerance 1e-2"
    if dtype in ("float32", "complex64", "float"):
        return 1e-4, 1e-5, "float32 tolerance 1e-4"
    return 1e-9, 1e-10, "float64 tolerance 1e-9"


_PRECISION = {"float16": 0, "bfloat16": 0, "half": 0, "float32": 1, "complex64": 1, "float": 1}


def least_precise(*dtypes: str) -> str:
    """The least precise of some dtype names: a float32 input makes float32 rounding fair in a float64 answer."""
    return min(dtypes, key=lambda d: _PRECISION.get(d, 2))


def inputs_dtype(args, kwargs) -> str:
    """The least precise floating dtype among a case's array arguments (float64 when there is none)."""
    names = [str(a.dtype) for a in [*args, *kwargs.values()] if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    return least_precise("float64", *names)


def arrays_match(got: np.ndarray, expected: np.ndarray, dtype: str) -> bool:
    """Same shape and values within the dtype's tolerance (NaN never matches)."""
    if got.shape != expected.shape:
        return False
    rtol, atol, _ = tolerance(dtype)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    with np.errstate(all="ignore"):
        return bool(
            np.allclose(
                got.astype(np.complex128 if got.dtype.kind == "c" else np.float64),
                expected,
                rtol=rtol,
                atol=atol * scale,
            )
        )


def array_difference(got: np.ndarray, expected: np.ndarray, dtype: str) -> str | None:
    """None when they match, else what differs (shape first, then where the values differ)."""
    if got.shape != expected.shape:
        return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if got.size and not np.all(np.isfinite(got)):
        return "your answer contains NaN or inf"
    if arrays_match(got, expected, dtype):
        return None
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64) - expected)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.ndim else ()
    _, _, label = tolerance(dtype)
    where = f" at index {index}" if index else ""
    text = f"values differ: largest error {float(np.max(err)):.3g}{where} ({label})"
    rel = float(np.max(err)) / max(1.0, float(np.max(np.abs(expected))))
    if dtype in ("float32", "float16", "bfloat16") and rel < 5e-3:
        text += "; an error this small in float32 is typical of TF32 on a GPU: compute in float64 or turn TF32 off"
    return text
