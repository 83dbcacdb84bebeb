"""What the course tooling reads from the book: its notebooks, its course configuration, its solutions' text.

Everything is found from the notebooks' structure, never from their prose:

* a **solution** is a cell tagged ``solution`` (CONTRIBUTING.md); as a safety net, a ``{solution}`` directive in an
  untagged markdown cell is cut out of it, and cells between ``{solution-start}`` and ``{solution-end}`` are dropped
  (:mod:`convbook.course.studentize`);
* the book's notebooks are the ones its ``_toc.yml`` lists (:func:`book_notebooks`);
* :func:`solution_fingerprints` are pieces of text that identify a solution, looked for in the student editions.

The exercises, their answer cells and self-checks are read by :mod:`convbook.course.exercises`.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml

from convbook.course.myst import directive_blocks, strip_solution_directives

SOLUTION_TAG = "solution"
#: The course configuration, relative to the book's root: which notebooks make each assignment, and the points.
COURSE_CONFIG = Path("course") / "assignments.yml"


def load_config(root: Path) -> dict:
    """The book's ``course/assignments.yml``."""
    return yaml.safe_load((Path(root) / COURSE_CONFIG).read_text())


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def is_solution_cell(cell) -> bool:
    """True for a cell tagged ``solution``."""
    return SOLUTION_TAG in tags(cell)


def source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def book_notebooks(root: Path, folder: str = "chapters") -> list[Path]:
    """The book's notebooks under ``folder``: those its ``_toc.yml`` lists (files and globs), in the book's order.

    A notebook that the table of contents does not list (a scratch copy) is no page of the book, and so no part of
    the student editions. Without a ``_toc.yml``, every ``.ipynb`` under ``folder`` (checkpoints and hidden folders
    skipped).
    """
    root = Path(root)
    toc = root / "_toc.yml"
    if not toc.exists():
        skip = {"_build", ".venv", "venv", "node_modules", ".ipynb_checkpoints", ".git"}
        found = []
        for path in sorted((root / folder).rglob("*.ipynb")):
            if not any(p in skip or p.startswith(".") for p in path.relative_to(root).parts[:-1]):
                found.append(path)
        return found
    entries: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file", "glob"):
                if isinstance(node.get(key), str):
                    entries.append(("glob:" if key == "glob" else "") + node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text()))
    found: list[Path] = []
    for entry in entries:
        if entry.startswith("glob:"):
            candidates = sorted(root.glob(entry[5:]))  # Jupyter Book's globs match file names with their suffix
        else:
            candidates = [root / (entry if entry.endswith(".ipynb") else entry + ".ipynb")]
        for path in candidates:
            if path.is_file() and path.suffix == ".ipynb" and path not in found:
                if path.resolve().is_relative_to((root / folder).resolve()):
                    found.append(path)
    return found


# --------------------------------------------------------------------------- the solutions' text, to find leaks

_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)", re.S)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalize(text: str) -> str:
    """Text compared for leaks: straight quotes and dashes, whitespace collapsed."""
    return " ".join(text.translate(_QUOTES).split())


def _fragments(text: str, markdown: bool, minimum: int) -> list[str]:
    """The pieces of ``text`` long enough to identify it: lines of code, or prose between math and markup."""
    pieces = []
    if markdown:
        text = _MATH.sub("\n", text)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith((":::", "```", ":class:", "#", "import ", "from ")):
            continue
        if markdown:
            pieces.extend(re.split(r"[{}]", re.sub(r"[*_`]|\\[a-z]+", " ", stripped)))
        else:
            pieces.append(stripped)
    return [normalize(p) for p in pieces if len(normalize(p)) >= minimum]


def _cell_texts(cell) -> list[tuple[str, bool]]:
    texts = [(source_of(cell), cell.cell_type == "markdown")]
    for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        texts.append(("".join(text) if isinstance(text, list) else text, False))
    return texts


def solution_fingerprints(root: Path, minimum: int = 20) -> list[str]:
    """Texts that identify the book's solutions and nothing else: pieces of solution cells and their outputs, and of
    the ``{solution}`` blocks of its pages, that appear nowhere outside a solution.

    The tests and ``python -m convbook.course check-site --student`` look for them in the student editions: finding
    one is a leak. Prose is cut at math and markup (a page renders those differently), code is taken line by line.
    """
    root = Path(root)
    solution, other = set(), []
    for path in book_notebooks(root):
        for cell in nbformat.read(path, as_version=4).cells:
            for text, markdown in _cell_texts(cell):
                if is_solution_cell(cell):
                    solution.update(_fragments(text, markdown, minimum))
                else:
                    stripped, _ = strip_solution_directives(text) if markdown else (text, 0)
                    other.append(normalize(stripped))
                    if markdown:
                        for block in directive_blocks(text, "solution"):
                            solution.update(_fragments(block.body, True, minimum))
    for path in sorted((root / "chapters").rglob("*.md")) + [root / "index.md"]:
        if not path.exists():
            continue
        text = path.read_text()
        for block in directive_blocks(text, "solution"):
            solution.update(_fragments(block.body, True, minimum))
        other.append(normalize(strip_solution_directives(text)[0]))
    everything_else = "\n".join(other)
    return sorted(f for f in solution if f not in everything_else)
