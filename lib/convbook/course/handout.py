"""The student handout: the book's notebooks without solutions, ready to hand out or push to a class repository.

    python -m convbook.course handout                          # what `make student` runs -> _build/student/
    python -m convbook.course handout --out DIR a.ipynb b.ipynb  # only these notebooks, nothing else

The handout holds:

* every notebook of the book (folder layout kept, ``chapters/dilated/08_exercises.ipynb`` stays at that path, so
  that Colab and Binder links of a class repository work), made by :func:`convbook.course.studentize.studentize`:
  every cell tagged ``solution`` removed and **every output and execution count cleared** (a stored output would
  show a solution's result, a PASS, or an answer);
* ``chapters/notation_exercises.ipynb``, the notation page's "Check yourself" questions as a notebook;
* ``README.md`` for students (from ``course/handout/README.md``);
* the student build of the library (``lib/convbook`` without the course tooling, the self-checks' array
  references replaced by a library-backed stand-in, :data:`STUDENT_REFERENCE`), ``pyproject.toml``, and
  ``requirements.txt`` with the pins of what the notebooks need plus ``-e .``, so that
  ``pip install -r requirements.txt`` in a clone of the class repository makes ``import convbook`` work;
  ``binder/`` as in the book, for Binder; ``LICENSE``; a ``.gitignore``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from convbook.course.notation import notation_notebook
from convbook.course.notebooks import book_notebooks, load_config
from convbook.course.studentize import studentize

MARKER = ".convbook-student"  # marks a folder this tool owns, so that it may be emptied
HANDOUT_TEMPLATES = Path("course") / "handout"
_NOT_COPIED = ("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")


@dataclass
class StudentReport:
    """What was done to one notebook."""

    source: Path
    target: Path
    cells_in: int = 0
    cells_out: int = 0
    removed_tagged: int = 0
    warnings: list[str] = field(default_factory=list)


def find_notebooks(root: Path, folders: tuple[str, ...] = ("chapters",)) -> list[Path]:
    """The book's notebooks (those its ``_toc.yml`` lists under ``root/chapters``)."""
    return [p for folder in folders for p in book_notebooks(root, folder)]


def make_student_copy(source: Path, target: Path, outputs: str = "clear") -> StudentReport:
    """Write the student copy of one notebook."""
    nb = nbformat.read(source, as_version=4)
    new, removed_tagged, warnings = studentize(nb, outputs=outputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new, target)
    return StudentReport(source, target, len(nb.cells), len(new.cells), removed_tagged, warnings)


def prepare_out(out: Path, marker: str = MARKER, what: str = "Student copies", command: str = "handout") -> None:
    """Empty ``out`` if this tool made it (so deleted notebooks do not linger), then mark it."""
    if out.exists():
        if not (out / marker).exists() and any(out.iterdir()):
            raise SystemExit(f"{command}: {out} exists, is not empty and was not made by this command")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / marker).write_text(f"{what} written by `python -m convbook.course {command}`; safe to delete.\n")


def make_student(
    notebooks: list[Path], out: Path, root: Path, quiet: bool = False, outputs: str = "clear"
) -> list[StudentReport]:
    """Write student copies of ``notebooks`` under ``out``, mirroring their paths relative to ``root``."""
    prepare_out(out)
    root = Path(root).resolve()
    reports = []
    for nb_path in notebooks:
        nb_path = Path(nb_path).resolve()
        try:
            rel = nb_path.relative_to(root)
        except ValueError:
            rel = Path(nb_path.name)
        report = make_student_copy(nb_path, out / rel, outputs=outputs)
        reports.append(report)
        if not quiet:
            print(f"{rel}: {report.cells_in} -> {report.cells_out} cells ({report.removed_tagged} solution cells)")
            for w in report.warnings:
                print(f"  warning: {rel}: {w}", file=sys.stderr)
    return reports


# --------------------------------------------------------------------------- the rest of the handout


def handout_requirements(root: Path, runtime: list[str]) -> str:
    """requirements.txt for students: the book's pins of the packages the notebooks need, then the library."""
    keep = {name.lower() for name in runtime}
    pins = []
    for line in (Path(root) / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].split("[")[0].strip().lower()
        if "==" in line and name in keep:
            pins.append(line.strip())
    missing = keep - {p.split("==")[0].lower() for p in pins}
    if missing:
        raise SystemExit(f"handout: requirements.txt has no pin for {sorted(missing)} (course/assignments.yml)")
    return (
        "# What the notebooks need, at the versions the book is tested with; the last line installs the book's\n"
        "# library (convbook) from lib/ in this folder, so that notebooks can `import convbook`.\n"
        "# Python 3.11 or later. On Linux, install torch first: the CPU build without an NVIDIA GPU, the CUDA build\n"
        "# with one (README.md); otherwise pip downloads the multi-GB CUDA build.\n" + "\n".join(pins) + "\n-e .\n"
    )


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*_NOT_COPIED))


#: The checks' array references answer the book's coding exercises: the student build has the library-backed
#: stand-in in their place (convbook.course.check._student_reference, installed as check/_reference.py).
STUDENT_REFERENCE = ("_reference.py", "_student_reference.py")


def _copy_library(src: Path, dst: Path) -> None:
    """``lib/convbook`` for students (the student build of the library).

    The course package keeps only the self-checks and ``doctor.py`` (the set-up check the handout's README names;
    the tooling, the graded exercises' generator included, is the instructors'), and the self-checks' array
    references are replaced by the library-backed stand-in.
    """
    skip = shutil.ignore_patterns(*_NOT_COPIED)

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = set(skip(folder, names))
        if Path(folder).resolve() == (src / "course").resolve():
            ignored |= {name for name in names if name not in ("__init__.py", "check", "doctor.py")}
        if Path(folder).resolve() == (src / "course" / "check").resolve():
            ignored |= set(STUDENT_REFERENCE)
        return ignored

    shutil.copytree(src, dst, ignore=ignore)
    reference, stand_in = STUDENT_REFERENCE
    shutil.copy2(src / "course" / "check" / stand_in, dst / "course" / "check" / reference)


def notebook_list(out: Path) -> str:
    """A markdown list of the handout's notebooks, by folder."""
    lines = []
    for path in sorted(out.rglob("*.ipynb")):
        rel = path.relative_to(out)
        if rel.parts[0] in ("lib", "binder"):
            continue
        lines.append(f"- `{rel.as_posix()}`")
    return "\n".join(lines)


def write_handout(out: Path, root: Path, config: dict | None = None, quiet: bool = False) -> list[StudentReport]:
    """The whole handout under ``out``: notebooks, the notation notebook, README, requirements, library."""
    root = Path(root).resolve()
    config = config or load_config(root)
    reports = make_student(find_notebooks(root), out, root=root, quiet=quiet)
    # the notation page's questions, as a notebook in the book's format, then without its solutions
    spec = config["notation"]
    book_style = notation_notebook(config, root)
    student, removed, _ = studentize(book_style)
    target = out / spec["notebook"]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, target)
    reports.append(StudentReport(root / spec["source"], target, len(book_style.cells), len(student.cells), removed))
    if not quiet:
        print(f"{spec['notebook']}: {len(student.cells)} cells, from {spec['source']}")
    # the library and what installs it
    _copy_library(root / "lib" / "convbook", out / "lib" / "convbook")
    shutil.copy2(root / "pyproject.toml", out / "pyproject.toml")
    if (root / "LICENSE").exists():
        shutil.copy2(root / "LICENSE", out / "LICENSE")
    if (root / "binder").is_dir():
        _copy_tree(root / "binder", out / "binder")
    (out / "requirements.txt").write_text(handout_requirements(root, config["handout"]["runtime"]))
    templates = root / HANDOUT_TEMPLATES
    for template in sorted(templates.iterdir()) if templates.is_dir() else []:
        text = template.read_text().replace("{{notebooks}}", notebook_list(out))
        (out / template.name).write_text(text)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course handout", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (default: the whole handout)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ROOT/_build/student)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "_build" / "student").resolve()
    if args.notebooks:
        reports = make_student(args.notebooks, out, root=root)
    else:
        reports = write_handout(out, root)
    removed = sum(r.removed_tagged for r in reports)
    n_warn = sum(len(r.warnings) for r in reports)
    print(f"student copies: {len(reports)} notebook(s) -> {out}")
    print(f"removed {removed} solution cell(s); {n_warn} warning(s); outputs and execution counts cleared")
    return 0
