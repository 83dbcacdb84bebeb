"""Self-checks for the book's coding exercises.

Each chapter has its own module (``convbook.check.basics``, ``.dilated``,
``.separable``, ``.pointwise``). A check runs the student's function on a few
cases, compares with the library's answer, and returns a :class:`CheckResult`
that prints ``PASS`` or ``FAIL`` with a hint. It never raises on a wrong answer,
so a notebook keeps running; ``assert result`` still works, since a result is
truthy only when it passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one exercise check."""

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


def compare(name: str, student_fn, reference_fn, cases, hint: str = "", atol: float = 1e-8) -> CheckResult:
    """Run ``student_fn(*args, **kwargs)`` and ``reference_fn`` on each case and compare.

    ``cases`` is a list of ``(args, kwargs)`` pairs. Outputs are compared as
    arrays (shape first, then values within ``atol``) or as plain values.
    """
    if not callable(student_fn):
        return CheckResult(name, False, f"expected a function, got {type(student_fn).__name__}", hint)
    for number, (args, kwargs) in enumerate(cases, start=1):
        expected = reference_fn(*args, **kwargs)
        try:
            got = student_fn(*args, **kwargs)
        except Exception as exc:  # a student's bug is reported, not raised
            return CheckResult(name, False, f"case {number} raised {type(exc).__name__}: {exc}", hint)
        if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
            got_a, exp_a = np.asarray(got), np.asarray(expected)
            if got_a.shape != exp_a.shape:
                return CheckResult(name, False, f"case {number}: shape {got_a.shape}, expected {exp_a.shape}", hint)
            if not np.allclose(got_a, exp_a, atol=atol, rtol=0):
                err = float(np.max(np.abs(got_a - exp_a)))
                return CheckResult(name, False, f"case {number}: values differ (max error {err:.3g})", hint)
        elif got != expected:
            return CheckResult(name, False, f"case {number}: got {got!r}, expected {expected!r}", hint)
    return CheckResult(name, True, f"all {len(cases)} cases match")
