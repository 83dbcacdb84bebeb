"""The claims of the explorer page's text (chapters/explorer.md) about gridding, computed with convbook.

The explorer itself (``_static/explorer/explorer.js``) is checked against ``convbook`` in the browser test; this file
checks the numbers the page's prose states, so that the prose cannot drift from what the library computes.
"""

from __future__ import annotations

import itertools
import math
from functools import reduce
from pathlib import Path

import numpy as np
import pytest

from convbook import coverage_map

PAGE = Path(__file__).resolve().parents[1] / "chapters" / "explorer.md"


def holes(kernel_size: int, dilations) -> list[int]:
    return np.flatnonzero(coverage_map(kernel_size, list(dilations), ndim=1) == 0).tolist()


def hybrid_gap(dilations) -> int:
    """Wang et al.'s M_2 for 3-tap kernels: M_n = r_n, M_i = max(M_{i+1} - 2 r_i, M_{i+1} - 2 (M_{i+1} - r_i), r_i)."""
    m = dilations[-1]
    for r in reversed(dilations[1:-1]):
        m = max(m - 2 * r, m - 2 * (m - r), r)
    return m


def test_no_common_factor_is_not_sufficient():
    """The page: dilations 1 and 5 share no factor and still miss the inputs 3, 4, 8 and 9 (1, 2, 9: 7, 8, 16, 17)."""
    assert reduce(math.gcd, (1, 5)) == 1 and holes(3, (1, 5)) == [3, 4, 8, 9]
    assert reduce(math.gcd, (1, 2, 9)) == 1 and holes(3, (1, 2, 9)) == [7, 8, 16, 17]


def test_a_common_factor_always_leaves_holes():
    for ds in [(2, 2), (2, 4), (3, 6, 9), (2, 4, 8)]:
        assert holes(3, ds), ds


@pytest.mark.parametrize(
    "dilations, gap",
    [
        ((1, 2, 3), 2),
        ((1, 5), 5),
        ((1, 2, 5), 2),
        ((1, 2, 9), 5),
        ((1, 2, 4, 8), 2),
        ((1, 3, 9), 3),
        ((1, 4), 4),
        ((1, 1, 1), 1),
    ],
)
def test_hybrid_condition_predicts_the_holes_for_3_tap_kernels(dilations, gap):
    """M_2 <= 3 exactly when a stack starting at dilation 1 has no holes (the page: 1, 2, 3 -> 2 and 1, 5 -> 5)."""
    assert hybrid_gap(dilations) == gap
    assert (gap <= 3) == (not holes(3, dilations))


def test_the_hybrid_rule_is_exact_for_rising_stacks_from_dilation_1():
    """The page: for 3-tap stacks with d_1 = 1 and dilations never falling, no holes exactly when M_2 <= 3
    (every such stack of 2 to 4 layers with dilations up to 9); outside those conditions it can mislead (2, 3)."""
    checked = 0
    for n in (2, 3, 4):
        for ds in itertools.product(range(1, 10), repeat=n):
            if ds[0] != 1 or any(b < a for a, b in itertools.pairwise(ds)):
                continue
            assert (hybrid_gap(ds) <= 3) == (not holes(3, ds)), ds
            checked += 1
    assert checked > 200
    assert hybrid_gap((2, 3)) == 3 and holes(3, (2, 3))  # the page's counter-example


def test_the_page_states_these_numbers():
    text = " ".join(PAGE.read_text(encoding="utf-8").split())
    for phrase in [
        "dilations 1 and 5 still miss the inputs 3, 4, 8 and 9 (counted from the left edge of the 13-sample field)",
        "1, 2, 3 gives $M_2 = 2$; 1, 5 gives 5",
        "dilations 2 and 3 give $M_2 = 3$ and still leave holes",
    ]:
        assert phrase in text, phrase
    assert coverage_map(3, [1, 5], ndim=1).size == 13
