"""Self-checks for the book's exercises.

Each chapter has its own module (``convbook.course.check.basics``, ``.dilated``,
``.separable``, ``.pointwise``, ``.performance``, ``.notation``). A check runs
the student's function on a few cases, compares what comes back with an
*independent* reference (plain loops or brute-force counting written in
:mod:`convbook.course.check._reference`, never the library function the exercise asks
for), and returns a :class:`CheckResult` that prints ``PASS`` or ``FAIL``
with feedback. ``assert result`` works, since a result is truthy only when it
passed.

What the checks promise:

* **They never raise.** Whatever the function returns (an array, a list, a
  torch tensor on any device or one that requires grad, a number, ``None``) or
  raises, the check answers with a result; a problem inside the check itself is
  reported as a failed result too.
* **Tolerances follow the dtype of the answer**: float64 to about 1e-9, float32
  to about 1e-4 (relative to the size of the values), float16 and bfloat16 to
  about 1e-2. Integer results (sizes, counts) must be exact integers.
* **Feedback names the mistake, not the answer.** A stub that still raises
  ``NotImplementedError`` gets "not implemented yet". A wrong answer is compared
  with the typical mistakes for that exercise (a flipped kernel, padding on the
  wrong side, ``/`` instead of rounding, ...) and the feedback names the one it
  matches; the fallback hint points to the section that explains the idea.
* **Calling the library is not the way to PASS.** A function that calls the
  convbook function the exercise asks you to write (or one of the checks'
  references) fails, with a message that says so.

``seed=`` (on the checks that take a function) draws a different, larger set of
random cases; the autograder's hidden tests use it (see the instructor guide).
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from convbook.course.check.values import (  # noqa: F401 (re-exported: the chapter checks import them from here)
    _PRECISION,
    Unusable,
    _is_tensor,
    _tensor_to_numpy,
    array_difference,
    arrays_match,
    as_array,
    as_number,
    inputs_dtype,
    least_precise,
    tolerance,
)

__all__ = [
    "CheckResult",
    "answer_difference",
    "compare",
    "compare_values",
    "grading_seed",
    "never_raises",
    "no_library_calls",
]


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one exercise check: truthy only when it passed."""

    name: str
    passed: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.name}: {self.message}"
        return f"FAIL {self.name}: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")

    __repr__ = __str__


NOT_IMPLEMENTED = "not implemented yet: your function still raises NotImplementedError"
NOT_IMPLEMENTED_HINT = "replace the `raise NotImplementedError` line with your code, run that cell, then this one"


# --------------------------------------------------------------------------- calling the student's function


class _LibraryCallWatch:
    """Records calls of given Python functions (by code object) while active, without changing them."""

    def __init__(self, functions: Iterable[Callable]):
        self.codes = {}
        for fn in functions:
            fn = inspect.unwrap(fn) if callable(fn) else fn
            code = getattr(fn, "__code__", None)
            if code is not None:
                self.codes[code] = f"{fn.__module__}.{fn.__qualname__}"
        self.called: list[str] = []

    def __enter__(self):
        self._old = sys.getprofile()
        codes, called, old = self.codes, self.called, self._old

        def hook(frame, event, arg):
            if event == "call" and frame.f_code in codes and codes[frame.f_code] not in called:
                called.append(codes[frame.f_code])
            if old is not None:
                old(frame, event, arg)

        if codes:
            sys.setprofile(hook)
        return self

    def __exit__(self, *exc) -> None:
        if self.codes:
            sys.setprofile(self._old)


@contextmanager
def no_library_calls(functions: Iterable[Callable]):
    """Context manager: yields a list that names each of ``functions`` called inside the block."""
    watch = _LibraryCallWatch(functions)
    with watch:
        yield watch.called


def _reference_functions() -> list[Callable]:
    """The functions of the checks' references (the array references and the counts), which no answer may call."""
    from convbook.course.check import _counts, _reference  # loaded when a check runs: the package imports them

    modules = {_reference.__name__, _counts.__name__}
    return [f for f in vars(_reference).values() if inspect.isfunction(f) and f.__module__ in modules]


def _public_name(qualified: str) -> str:
    """``convbook.dilated.dilate_kernel`` stays; private reference names get a plain description."""
    if ".check._reference." in qualified or ".check._counts." in qualified or "._student_reference." in qualified:
        return "the self-check's own reference (convbook.course.check._reference)"
    return qualified


def call_student(student_fn, args, kwargs, forbidden: Sequence[Callable] = ()):
    """Call the student's function on copies of the arguments.

    Returns ``(value, None)`` or ``(None, (message, hint))`` when it raised or
    called a forbidden library function.
    """
    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)  # a function that edits its input in place
    try:
        with no_library_calls(list(forbidden) + _reference_functions()) as called:
            value = student_fn(*args, **kwargs)
    except NotImplementedError:
        return None, (NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT)
    except (Exception, SystemExit) as exc:  # a student's bug is reported, not raised
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, (f"raised {type(exc).__name__}" + (f": {text}" if text else ""), "")
    if called:
        names = ", ".join(_public_name(c) for c in called)
        return None, (
            f"your function calls {names}",
            "this exercise asks you to write that computation yourself; the library's version is what you "
            "are checking against in the chapter, not part of the answer",
        )
    return value, None


def describe_case(args, kwargs) -> str:
    """A short description of a case's inputs (shapes for arrays), for the feedback."""

    def one(v):
        if isinstance(v, np.ndarray):
            return f"array{tuple(v.shape)}" + ("" if v.dtype == np.float64 else f" {v.dtype}")
        return repr(v)

    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def never_raises(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Decorator: a check that runs into a problem of its own reports it as a failed result instead of raising."""

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        try:
            result = check(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            return CheckResult(
                check.__name__, False, f"the check could not run ({type(exc).__name__}: {exc})", "please report this"
            )
        return result

    return wrapper


# --------------------------------------------------------------------------- the two comparison loops

Diagnose = Callable[[tuple, dict, object], "str | None"]


def compare(
    name: str,
    student_fn,
    reference_fn,
    cases,
    hint: str = "",
    atol: float | None = None,
    *,
    diagnose: Diagnose | None = None,
    forbidden: Sequence[Callable] = (),
    label: str = "",
) -> CheckResult:
    """Run ``student_fn`` and ``reference_fn`` on each case; compare arrays (or numbers) by the answer's dtype.

    ``cases`` is a list of ``(args, kwargs)`` pairs. The reference is evaluated
    first, on its own copy of the inputs. Numbers are compared as numbers and
    arrays as arrays (shape first, then values within the answer's dtype
    tolerance, or within ``atol`` when given). ``diagnose(args, kwargs, got)``
    may return feedback naming a typical mistake; ``hint`` is the fallback.
    ``forbidden`` lists library functions the answer must not call.
    """
    if not callable(student_fn):
        return CheckResult(name, False, f"expected a function, got {type(student_fn).__name__}", hint)
    cases = list(cases)
    for number, (args, kwargs) in enumerate(cases, start=1):
        expected = reference_fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        got, problem = call_student(student_fn, args, kwargs, forbidden)
        prefix = f"case {number} {describe_case(args, kwargs)}"
        if problem:
            message, why = problem
            if message == NOT_IMPLEMENTED:
                return CheckResult(name, False, message, why)
            return CheckResult(name, False, f"{prefix}: {message}", why or hint)
        difference = _difference(got, expected, atol, inputs_dtype(args, kwargs))
        if difference is None:
            continue
        specific = None
        if diagnose is not None:
            try:
                specific = diagnose(args, kwargs, got)
            except Exception:  # a diagnosis is a nicety; it never breaks the check
                specific = None
        return CheckResult(name, False, f"{prefix}: {difference}", specific or hint)
    return CheckResult(name, True, f"all {len(cases)} cases match" + (f" {label}" if label else ""))


def _difference(got, expected, atol: float | None, floor: str = "float64") -> str | None:
    """None when ``got`` matches ``expected`` (a number or an array), else the feedback.

    The tolerance is that of the less precise of the answer's dtype and ``floor`` (the inputs' dtype).
    """
    try:
        if isinstance(expected, np.ndarray):
            array, dtype = as_array(got)
            dtype = least_precise(dtype, floor)
            if atol is not None:
                if array.shape != expected.shape:
                    return f"shape {tuple(array.shape)}, expected {tuple(expected.shape)}"
                ok = np.allclose(array.astype(np.float64), expected, rtol=0, atol=atol)
                return None if ok else f"values differ (largest error {float(np.max(np.abs(array - expected))):.3g})"
            return array_difference(array, expected, dtype)
        return number_difference(got, expected, floor=floor)
    except Unusable as exc:
        return str(exc)


def number_difference(got, expected, strict_int: bool = True, floor: str = "float64") -> str | None:
    """None when ``got`` is the number ``expected`` (exact for ints, by dtype for floats), else the feedback.

    With ``strict_int`` an integer quantity given as a float (``4.0``) fails, since a size or a count
    returned by a function is used as an int; answers typed by hand pass ``strict_int=False``.
    """
    value, dtype = as_number(got)
    if isinstance(expected, Integral):
        if isinstance(value, float):
            if not math.isfinite(value):
                return f"got {value}, expected a whole number"
            if value != int(value):
                return f"got {value:g}, not a whole number: this quantity counts things"
            if strict_int:
                return f"got {value!r}, a float: this quantity counts things, return an int"
            value = int(value)
        return None if value == expected else f"got {value}, expected {expected}"
    rtol, _, label = tolerance(least_precise(dtype, floor))
    if isinstance(value, float) and not math.isfinite(value):
        return f"got {value}"
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=rtol * 1e-3):
        return None
    return f"got {value:.6g}, expected {expected:.6g} ({label})"


def not_answered(name: str, given: dict) -> CheckResult | None:
    """The failing result for answers typed by hand that are still ``None`` (all or some), else ``None``."""
    missing = [k for k, v in given.items() if v is None]
    if len(missing) == len(given):
        return CheckResult(name, False, "not answered yet: replace the None values with your answers", "")
    if missing:
        return CheckResult(name, False, f"not answered yet: {', '.join(missing)} still None", "")
    return None


def compare_values(
    name: str, given: dict, expected: dict, diagnose=None, hint: str = "", rel_tol: dict | None = None
) -> CheckResult:
    """Check answers typed by hand: ``given`` and ``expected`` map an answer's name to its value.

    Unanswered values (``None``) give "not answered yet"; each wrong value is
    named, without the expected value, and ``diagnose(name, value)`` may add
    what the mistake looks like. ``rel_tol`` maps the names of answers a student may round (a ratio) to a
    relative tolerance, tested as the autograder does (:func:`answer_difference`); the others are exact.
    """
    rel_tol = rel_tol or {}
    unanswered = not_answered(name, given)
    if unanswered is not None:
        return unanswered
    wrong, notes = [], []
    for key, value in given.items():
        try:
            if key in rel_tol:
                diff = answer_difference(value, expected[key], rel_tol=rel_tol[key])
            else:
                diff = number_difference(value, expected[key], strict_int=False)
        except Unusable as exc:
            diff = str(exc)
        if diff is not None:
            wrong.append(key)
            note = diagnose(key, value) if diagnose else None
            if note:
                notes.append(f"{key}: {note}")
            elif "whole number" in diff or "a float" in diff or "returned" in diff:
                notes.append(f"{key}: {diff.replace('returned', 'is')}")
    if wrong:
        return CheckResult(
            name, False, f"{len(wrong)} of {len(given)} wrong: {', '.join(wrong)}", "; ".join(notes) or hint
        )
    return CheckResult(name, True, "the answer is right" if len(given) == 1 else f"all {len(given)} answers are right")


def answer_difference(got, expected, rel_tol: float = 0.01) -> str | None:
    """None when ``got`` is an acceptable answer ``expected`` (the autograder's test of answers typed by hand).

    Integers must be equal (``56.0`` is accepted for 56); floats agree to ``rel_tol`` (1 %, so rounded working
    passes); arrays must have the same shape and agree to ``rel_tol``. Never raises.
    """
    try:
        if isinstance(expected, (bool, np.bool_)) or not isinstance(expected, (Real, np.ndarray, list, tuple)):
            return None if got == expected else "wrong"
        if isinstance(expected, Real):
            value, _ = as_number(got)
            if isinstance(expected, Integral):
                return None if float(value) == float(expected) else "wrong"
            return None if math.isclose(value, expected, rel_tol=rel_tol, abs_tol=1e-12) else "wrong"
        array, _ = as_array(got)
        target = np.asarray(expected, dtype=np.float64)
        if array.shape != target.shape:
            return f"shape {tuple(array.shape)}, expected {tuple(target.shape)}"
        return None if np.allclose(array, target, rtol=rel_tol, atol=1e-12) else "wrong"
    except Unusable as exc:
        return str(exc)
    except Exception as exc:  # never raises
        return f"could not compare ({type(exc).__name__})"


def grading_seed() -> int:
    """The seed of the autograder's hidden cases, which no notebook shows.

    ``$CONVBOOK_HIDDEN_SEED`` when set, else the first number of ``hidden_seed.txt`` in the working directory or
    one of its parents: nbgrader runs a submission in ``<course>/autograded/<student>/<assignment>/``, and
    ``make assignments`` writes the file to ``<course>``. Raises ``RuntimeError`` when there is neither.
    """
    if os.environ.get("CONVBOOK_HIDDEN_SEED", "").strip():
        return int(os.environ["CONVBOOK_HIDDEN_SEED"])
    folder = os.path.abspath(os.getcwd())
    for _ in range(6):
        path = os.path.join(folder, "hidden_seed.txt")
        if os.path.isfile(path):
            with open(path) as f:
                return int(f.read().split()[0])
        folder = os.path.dirname(folder)
    raise RuntimeError("the hidden tests run only when grading, in the course folder made by `make assignments`")
