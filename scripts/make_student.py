"""Write student copies of the book's notebooks, with the solutions removed.

    .venv/bin/python scripts/make_student.py                 # every notebook -> _build/student/
    .venv/bin/python scripts/make_student.py --out DIR a.ipynb b.ipynb

A cell is a solution when its metadata tags include ``solution`` (the book's
rule, see CONTRIBUTING.md): such cells are dropped, markdown and code alike.
As a safety net, a ``{solution}`` directive found in an *untagged* markdown
cell is cut out of that cell (the rest of the cell is kept), and cells between
``{solution-start}`` and ``{solution-end}`` are dropped; each such case is
reported as a warning, since the tag is missing in the source notebook.

Every other cell is kept unchanged, outputs included, and the folder layout
under the repository root is preserved (``chapters/dilated/01_x.ipynb`` ->
``_build/student/chapters/dilated/01_x.ipynb``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "_build" / "student"
SOLUTION_TAG = "solution"
MARKER = ".convbook-student"  # marks a folder this script owns, so that it may be emptied
BOOK_FOLDERS = ("chapters",)  # where the book's notebooks live (the Makefile's NB_DIRS)
SKIP_DIRS = {"_build", ".venv", "venv", "node_modules", ".ipynb_checkpoints", ".git"}

#: A sphinx-exercise solution directive in MyST (``{solution}``, ``{solution-start}``, ``{solution-end}``).
SOLUTION_DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")
_FENCE_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*\{solution\}")
_GATED_START = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-start\}", re.M)
_GATED_END = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-end\}", re.M)


@dataclass
class StudentReport:
    """What was done to one notebook."""

    source: Path
    target: Path
    cells_in: int = 0
    cells_out: int = 0
    removed_tagged: int = 0
    warnings: list[str] = field(default_factory=list)


def find_notebooks(root: Path = ROOT, folders: tuple[str, ...] = BOOK_FOLDERS) -> list[Path]:
    """Every ``.ipynb`` of the book (under ``root/chapters``), skipping checkpoints and hidden folders."""
    found = []
    paths = [path for folder in folders for path in (root / folder).rglob("*.ipynb")]
    for path in sorted(paths):
        parts = path.relative_to(root).parts[:-1]
        if any(p in SKIP_DIRS or p.startswith(".") for p in parts):
            continue
        found.append(path)
    return found


def is_solution_cell(cell) -> bool:
    """True for a cell tagged ``solution``."""
    tags = cell.get("metadata", {}).get("tags", []) or []
    return SOLUTION_TAG in tags


def strip_solution_directives(text: str) -> tuple[str, int]:
    """Remove ``{solution}`` directive blocks (colon or backtick fenced) from MyST text.

    The block ends at the first line made only of the same fence character,
    at least as long as the opening fence (MyST's rule, so nested fences work).
    Returns the new text and the number of blocks removed.
    """
    lines = text.splitlines(keepends=True)
    out, removed, i = [], 0, 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        i, removed = j + 1, removed + 1  # drops the block, closing fence included (or to the end)
    return "".join(out), removed


def studentize(nb) -> tuple[object, int, list[str]]:
    """Return a copy of ``nb`` without solutions, the number of tagged cells removed, and warnings."""
    new = nbformat.from_dict(nb)  # a deep copy
    kept, removed_tagged, warnings, in_gated = [], 0, [], False
    for index, cell in enumerate(new.cells):
        source = cell.get("source", "")
        if is_solution_cell(cell):
            removed_tagged += 1
            if _GATED_END.search(source):
                in_gated = False
            elif _GATED_START.search(source):
                in_gated = True  # untagged cells up to {solution-end} are solution text too
            continue
        if in_gated:
            warnings.append(f"cell {index}: inside an untagged {{solution-start}} ... {{solution-end}} block, dropped")
            if _GATED_END.search(source):
                in_gated = False
            continue
        if cell.cell_type == "markdown" and _GATED_START.search(source):
            warnings.append(f"cell {index}: untagged {{solution-start}}, dropped with the cells up to {{solution-end}}")
            in_gated = not _GATED_END.search(source)
            continue
        if cell.cell_type == "markdown" and SOLUTION_DIRECTIVE.search(source):
            stripped, count = strip_solution_directives(source)
            warnings.append(f"cell {index}: {count} {{solution}} block(s) in an untagged markdown cell, cut out")
            if not stripped.strip():
                continue
            cell.source = stripped
        kept.append(cell)
    new.cells = kept
    new.metadata.setdefault("convbook", {})["student_copy"] = True
    return new, removed_tagged, warnings


def make_student_copy(source: Path, target: Path) -> StudentReport:
    """Write the student copy of one notebook."""
    nb = nbformat.read(source, as_version=4)
    new, removed_tagged, warnings = studentize(nb)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new, target)
    return StudentReport(source, target, len(nb.cells), len(new.cells), removed_tagged, warnings)


def _prepare_out(out: Path) -> None:
    """Empty ``out`` if this script made it (so deleted notebooks do not linger), then mark it."""
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise SystemExit(f"make_student: {out} exists, is not empty and was not made by this script")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Student copies written by scripts/make_student.py; safe to delete.\n")


def make_student(notebooks: list[Path], out: Path, root: Path = ROOT, quiet: bool = False) -> list[StudentReport]:
    """Write student copies of ``notebooks`` under ``out``, mirroring their paths relative to ``root``."""
    _prepare_out(out)
    reports = []
    for nb_path in notebooks:
        nb_path = nb_path.resolve()
        try:
            rel = nb_path.relative_to(root)
        except ValueError:
            rel = Path(nb_path.name)
        report = make_student_copy(nb_path, out / rel)
        reports.append(report)
        if not quiet:
            print(f"{rel}: {report.cells_in} -> {report.cells_out} cells ({report.removed_tagged} solution cells)")
            for w in report.warnings:
                print(f"  warning: {rel}: {w}", file=sys.stderr)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: every notebook in the book)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: _build/student)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or find_notebooks(ROOT)
    reports = make_student(notebooks, args.out.resolve())
    removed = sum(r.removed_tagged for r in reports)
    n_warn = sum(len(r.warnings) for r in reports)
    print(f"student copies: {len(reports)} notebook(s) -> {args.out}")
    print(f"removed {removed} solution cell(s); {n_warn} warning(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
