"""MyST directives in the book's pages and markdown cells: the fenced blocks the course tooling reads.

A solution is written as a sphinx-exercise ``{solution}`` directive (colon or backtick fenced); ``{exercise}``
blocks hold the questions. :func:`directive_blocks` finds the blocks with their options and body, and
:func:`strip_solution_directives` cuts the ``{solution}`` ones out of a text (the book's own part of the
studentizing pipeline, :mod:`convbook.course.studentize`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A sphinx-exercise solution directive in MyST (``{solution}``, ``{solution-start}``, ``{solution-end}``).
SOLUTION_DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")
EXERCISE_DIRECTIVE = re.compile(r"^\s*(:{3,}|`{3,})\s*\{exercise\}", re.M)
GATED_START = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-start\}", re.M)
GATED_END = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-end\}", re.M)
LABEL = re.compile(r"^\s*:label:\s*(\S+)", re.M)
HEADING = re.compile(r"^\s*#{1,6}\s", re.M)
_FENCE_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")


@dataclass
class Block:
    """One fenced MyST directive: ``:::{name} arg`` ... ``:::``."""

    name: str
    arg: str
    options: dict[str, str]
    body: str
    start: int  # first line
    end: int  # one past the closing fence


def directive_blocks(text: str, name: str | None = None) -> list[Block]:
    """The top-level fenced directives of ``text`` (of one ``name``, or all), with their options and body.

    A block ends at the first line made only of its fence character, at least as long as the opening fence
    (MyST's rule, so nested fences work). An unclosed block runs to the end.
    """
    lines = text.splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i].rstrip("\n"))
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        inner = lines[i + 1 : j]
        options = {}
        while inner and re.match(r"^\s*:[\w-]+:", inner[0]):
            key, _, value = inner.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        if name is None or m.group("name") == name:
            blocks.append(Block(m.group("name"), m.group("arg").strip(), options, "".join(inner).strip("\n"), i, j + 1))
        i = j + 1
    return blocks


def strip_solution_directives(text: str) -> tuple[str, int]:
    """Remove ``{solution}`` directive blocks (colon or backtick fenced) from MyST text.

    Returns the new text and the number of blocks removed.
    """
    lines = text.splitlines(keepends=True)
    blocks = [b for b in directive_blocks(text) if b.name == "solution"]
    for block in reversed(blocks):
        del lines[block.start : block.end]
    return "".join(lines), len(blocks)
