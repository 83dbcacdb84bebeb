"""Self-checks for graded exercises whose answers are not shipped: right or wrong, from sealed answers.

A graded exercise (the instructor edition, :mod:`convbook.course.graded`) is a variant drawn from a term seed; its
answers are computed by the instructor's reference code when the assignment is generated, and only a **seal** of each
answer reaches the student's notebook: a salted, slow hash (PBKDF2-HMAC-SHA256) of a canonical form of the answer.
The check seals the student's answer the same way and compares, so it tells right from wrong without knowing the
answer, and the library holds nothing that computes it.

* :func:`values` checks numbers typed by hand: whole numbers exactly, other numbers to about 3 significant figures;
* :func:`function` runs the student's function on cases with small whole-number inputs, so that the exact result
  (an array of whole numbers, or a number) can be sealed, and compares each case's seal;
* :func:`part_credit` is the autograder's test of an answer of several numbers: each number is judged against its
  own seal, so each earns its share of the points (:mod:`convbook.course.nbgrader_source`).

A seal can be searched for by trying candidates, as any right/wrong feedback can be probed by guessing; the slow hash
makes each try cost a few milliseconds, so guessing a count in the millions takes hours. The tokens are made by
:func:`value_token` and :func:`function_token` (instructor side: they need the answers).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import math
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np

from convbook.course.check import CheckResult, Unusable, as_array, as_number, call_student, never_raises, not_answered

ROUNDS = 20_000  # PBKDF2 iterations: about 5 ms a seal
FIGURES = 3  # significant figures of a sealed float


def _seal(text: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", text.encode(), salt.encode(), ROUNDS).hex()[:20]


def _round_sig(value: float, figures: int = FIGURES) -> str:
    if value == 0 or not math.isfinite(value):
        return repr(float(value))
    return f"{value:.{figures - 1}e}"


def canonical(value) -> list[str]:
    """The canonical forms of an answer that are sealed: one for an exact answer, a few for a rounded float.

    Whole numbers (ints, or floats equal to an int) are exact: ``"i:56"``. Other numbers are rounded to 3 significant
    figures, with the roundings of the value 0.2 % up and down as well, so that an answer near a rounding boundary
    still matches. Arrays must hold whole numbers: ``"a:(2, 3):[...]"``. Raises :class:`Unusable`.
    """
    if isinstance(value, (bool, np.bool_)):
        raise Unusable(f"got {value!r}, a bool, expected a number")
    if isinstance(value, (Integral, Real, np.number)) or (hasattr(value, "shape") and np.size(value) == 1):
        number, _ = as_number(value)
        if float(number).is_integer():
            return [f"i:{int(number)}"]
        return sorted({f"f:{_round_sig(number * f)}" for f in (1.0, 1.002, 0.998)})
    array, _ = as_array(value)
    rounded = np.rint(array.astype(np.float64))
    if not np.allclose(array, rounded, rtol=0, atol=1e-6):
        raise Unusable("the values are not whole numbers, but every case here has a whole-number result")
    return [f"a:{tuple(array.shape)}:{rounded.astype(np.int64).ravel().tolist()}"]


def _whole(value) -> bool:
    return canonical(value)[0][:2] in ("i:", "a:")


def _matches(value, seals: list[str], salt: str) -> bool:
    return any(_seal(form, salt) in seals for form in canonical(value))


def _encode(data: dict) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _decode(token: str) -> dict:
    return json.loads(base64.b64decode(token.encode()))


# --------------------------------------------------------------------------- numbers typed by hand


def value_token(answers: dict, salt: str) -> str:
    """The token of :func:`values`: each answer's seal (instructor side)."""
    if not isinstance(salt, str) or not salt:
        raise ValueError(f"value_token: salt must be a non-empty str, got {salt!r}")
    seals = {
        name: [_seal(canonical(value)[0] if _whole(value) else f"f:{_round_sig(float(value))}", salt)]
        for name, value in answers.items()
    }
    return _encode({"salt": salt, "seals": seals})


@never_raises
def values(name: str, given: dict, token: str) -> CheckResult:
    """Check numbers typed by hand against sealed answers: PASS, or FAIL naming the wrong ones (not their values)."""
    unanswered = not_answered(name, given)
    if unanswered is not None:
        return unanswered
    data = _decode(token)
    wrong, notes = [], []
    for key, value in given.items():
        try:
            ok = _matches(value, data["seals"][key], data["salt"])
        except Unusable as exc:
            ok = False
            notes.append(f"{key}: {exc}")
        if not ok:
            wrong.append(key)
    if wrong:
        hint = "; ".join(notes) or "work it out step by step on paper; the section named in the exercise has the rule"
        return CheckResult(name, False, f"{len(wrong)} of {len(given)} wrong: {', '.join(wrong)}", hint)
    return CheckResult(name, True, "the answer is right" if len(given) == 1 else f"all {len(given)} answers are right")


def part_credit(name: str, given: dict, token: str, points: float) -> float:
    """Points for a sealed answer of several numbers: each right number earns its share (the autograder's test).

    Prints the check's result (as :func:`values` does in the notebook), then judges each number alone against its
    own seal, so the points need no answer either. Returns ``points * right / len(given)``, rounded to hundredths:
    nbgrader's partial credit takes a test cell's last value as its points. Raises ``ValueError`` for a ``given``
    that is not a non-empty dict or ``points`` that are negative.
    """
    if not isinstance(given, dict) or not given:
        raise ValueError(f"part_credit: given must be a non-empty dict of answers, got {given!r}")
    if not isinstance(points, Real) or isinstance(points, bool) or points < 0:
        raise ValueError(f"part_credit: points must be a number >= 0, got {points!r}")
    full = values(name, given, token)
    print(full)
    if full:
        return float(points)
    right = [key for key, value in given.items() if value is not None and values(name, {key: value}, token)]
    print(f"{len(right)} of {len(given)} parts right" + (f" ({', '.join(right)})" if right else ""))
    return round(points * len(right) / len(given), 2)


# --------------------------------------------------------------------------- functions


def make_argument(spec):
    """A case's argument from its spec: ``{"ints": [shape...], "seed": s, "low": a, "high": b}`` is a float64 array of
    whole numbers drawn from ``seed``; ``{"tuple": [...]}`` a tuple; anything else is used as it is."""
    if isinstance(spec, dict) and "ints" in spec:
        rng = np.random.default_rng(spec["seed"])
        return rng.integers(spec.get("low", -3), spec.get("high", 4), size=tuple(spec["ints"])).astype(np.float64)
    if isinstance(spec, dict) and "tuple" in spec:
        return tuple(spec["tuple"])
    return spec


def function_token(reference: Callable, cases: list, salt: str, forbidden: tuple[str, ...] = ()) -> str:
    """The token of :func:`function`: each case's argument specs and the seal of the reference's result on it.

    ``cases`` is a list of ``(args, kwargs)`` of argument specs (:func:`make_argument`); ``forbidden`` names library
    functions (``"convbook.dilated.dilate_kernel"``) that the answer may not call.
    """
    sealed = []
    for args, kwargs in cases:
        result = reference(*[make_argument(a) for a in args], **{k: make_argument(v) for k, v in kwargs.items()})
        sealed.append({"args": list(args), "kwargs": kwargs, "seal": _seal(canonical(result)[0], salt)})
    return _encode({"salt": salt, "cases": sealed, "forbidden": list(forbidden)})


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _describe(args) -> str:
    return ", ".join(
        f"array{tuple(a['ints'])}" if isinstance(a, dict) and "ints" in a else repr(make_argument(a)) for a in args
    )


@never_raises
def function(name: str, student_fn, token: str, hint: str = "") -> CheckResult:
    """Run ``student_fn`` on the sealed cases; PASS when every result matches its seal."""
    if not callable(student_fn):
        return CheckResult(name, False, f"expected a function, got {type(student_fn).__name__}", hint)
    data = _decode(token)
    forbidden = [fn for fn in map(_resolve, data.get("forbidden", [])) if fn is not None]
    for number, case in enumerate(data["cases"], start=1):
        args = [make_argument(a) for a in case["args"]]
        kwargs = {k: make_argument(v) for k, v in case["kwargs"].items()}
        got, problem = call_student(student_fn, args, kwargs, forbidden)
        prefix = f"case {number} ({_describe(case['args'])}{', ' if kwargs else ''}"
        prefix += ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
        if problem:
            return CheckResult(name, False, f"{prefix}: {problem[0]}", problem[1] or hint)
        try:
            ok = _matches(got, [case["seal"]], data["salt"])
        except Unusable as exc:
            return CheckResult(name, False, f"{prefix}: {exc}", hint)
        if not ok:
            shape = getattr(got, "shape", None)
            shown = f" (your result has shape {tuple(shape)})" if shape is not None else ""
            return CheckResult(name, False, f"{prefix}: wrong result{shown}", hint)
    return CheckResult(name, True, f"all {len(data['cases'])} cases match")
