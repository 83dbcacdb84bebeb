"""What makes a figure's text alternative acceptable: the one rule, used by the animation player and the site checks.

A screen reader reads a figure's alternative instead of showing the figure, so it has to say what the figure shows
(its axes, what is compared, the point it makes) in a sentence or more. myst-nb's default alternative for a cell's
output is the image's file name (``../_images/f874...png``), which a screen reader reads out as a hash; the checks
here catch that, an empty or missing alternative, and one of a word or two ("animation", "Colab logo").

>>> alt_text_problems("Colab logo")
['only 2 words (a figure needs at least 6)']
"""

from __future__ import annotations

import re

#: Fewer words than this cannot say what a figure shows.
MIN_WORDS = 6

_IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp|pdf)\b", re.IGNORECASE)
_PATH = re.compile(r"(_images/|_static/|\.\./|data:image/|https?://)", re.IGNORECASE)
_HASH = re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE)


def alt_text_problems(text) -> list[str]:
    """The reasons why ``text`` is not an acceptable text alternative for a figure; empty when it is.

    Parameters
    ----------
    text : str or None
        The alternative (an ``alt`` attribute, an ``aria-label``, a cell's ``mystnb.image.alt``); ``None`` means
        missing.

    Returns
    -------
    list of str
        One short phrase per problem: missing, not text, a file name or path, a hash-like token, too few words.
    """
    if text is None:
        return ["missing"]
    if not isinstance(text, str):
        return [f"not text ({type(text).__name__})"]
    problems = []
    if _IMAGE_FILE.search(text) or _PATH.search(text):
        problems.append("a file name or path, not a description")
    if _HASH.search(text):
        problems.append("a hash-like token")
    words = len(re.findall(r"[^\W\d_]{2,}", text))  # words of letters; numbers and symbols do not count
    if words < MIN_WORDS:
        problems.append(f"only {words} word{'s' * (words != 1)} (a figure needs at least {MIN_WORDS})")
    return problems
