"""The student website: the book without any solution, in its HTML or in its downloadable sources.

    python -m convbook.course student-site                    # what `make student-site` runs
    python -m convbook.course student-site --repository https://github.com/ORG/CLASS-REPO

It writes the student edition of the book's sources to ``ROOT/_build/student-book/`` and builds that with Jupyter
Book (warnings are errors), into ``_build/student-book/_build/html``, which is what to host:

* notebooks: made by :func:`convbook.course.studentize.studentize` with ``outputs="exercises"``: every cell tagged
  ``solution`` removed, and the stored outputs removed from the exercises (so no check prints PASS and no
  solution's result shows), while the lessons keep their figures;
* pages: ``{solution}`` blocks cut out (the notation page's "Check yourself" answers); the instructor pages listed
  in ``course/assignments.yml`` are replaced by a short note, so links to them still work;
* configuration: ``html_copy_source`` and the download button stay on, since the sources copied are the student
  ones; ``hide_solutions`` on as a second safeguard; the repository button and the Colab and Binder launch buttons
  point to ``--repository`` (the class repository pushed from ``make student``), or are turned off without one,
  since the book's own repository holds the solutions.

``python -m convbook.course check-site --student`` checks the result in a browser and scans every file of it for
solution text.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

from convbook._release import VERSION
from convbook.course.build import jupyter_book_build, report_failure
from convbook.course.handout import prepare_out
from convbook.course.notebooks import load_config
from convbook.course.studentize import studentize, studentize_page

MARKER = ".convbook-student-book"
#: Never copied into the student book.
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "_build",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".ipynb_checkpoints",
    "node_modules",
    "*.egg-info",
    "course",
    ".ci",
    ".github",
)
#: Top-level folders of the copy that are no part of the book's pages.
NOT_PAGES = ("lib", "tests", "scripts", "benchmarks", "binder")


def instructor_note(original: str, title: str) -> str:
    """A short page in place of an instructor page; it keeps the page's labels so that links to it resolve."""
    labels = re.findall(r"^\(([^)\s]+)\)=\s*$", original, re.M)
    head = "".join(f"({label})=\n" for label in labels[:1])
    return (
        f"{head}# {title}\n\n"
        "This page is for instructors. It is part of the book's main edition; this edition, for students, leaves it "
        "out, together with the solutions of the exercises. Your instructor tells you which notebooks and exercises "
        "to work on.\n"
    )


def student_config(config: dict, repository: str | None) -> dict:
    """The book's ``_config.yml`` for the student edition."""
    config = dict(config)
    config["title"] = f"{config.get('title', 'Book')} (student edition)"
    html = dict(config.get("html", {}))
    html["use_download_button"] = True  # the sources copied with the site are the student notebooks
    html["use_edit_page_button"] = False
    html["use_issues_button"] = False
    html["use_repository_button"] = bool(repository)
    # the book's footer links to its own repository (tags, changelog), which holds the solutions: name the edition only
    html["extra_footer"] = f"<p>Student edition of convbook {VERSION}.</p>"
    config["html"] = html
    if repository:
        config["repository"] = {"url": repository, "path_to_book": "", "branch": "main"}
    else:
        config.pop("repository", None)
        config["launch_buttons"] = {
            "notebook_interface": "classic",
            "binderhub_url": "",
            "colab_url": "",
            "thebe": False,
        }
    sphinx = dict(config.get("sphinx", {}))
    sphinx_config = dict(sphinx.get("config", {}))
    sphinx_config["html_copy_source"] = True
    sphinx_config["hide_solutions"] = True
    theme = dict(sphinx_config.get("html_theme_options", {}))
    theme["use_download_button"] = True
    theme["use_repository_button"] = bool(repository)
    if repository:
        theme["repository_url"] = repository
    else:
        theme.pop("repository_url", None)
    sphinx_config["html_theme_options"] = theme
    sphinx["config"] = sphinx_config
    config["sphinx"] = sphinx
    return config


def write_student_book(out: Path, root: Path, repository: str | None = None, quiet: bool = False) -> dict:
    """The student edition of the book's sources under ``out``; returns counts of what was done."""
    root = Path(root).resolve()
    course = load_config(root)
    prepare_out(out, MARKER, "The student book", command="student-site")
    for item in sorted(root.iterdir()):
        if SKIP(str(root), [item.name]) or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, out / item.name, ignore=SKIP)
        else:
            shutil.copy2(item, out / item.name)
    counts = {"notebooks": 0, "solution cells removed": 0, "pages": 0, "solution blocks removed": 0}
    for path in sorted(out.rglob("*.ipynb")):
        if path.relative_to(out).parts[0] in NOT_PAGES:
            continue
        nb = nbformat.read(path, as_version=4)
        new, removed, warnings = studentize(nb, outputs="exercises")
        nbformat.write(new, path)
        counts["notebooks"] += 1
        counts["solution cells removed"] += removed
        for warning in warnings:
            print(f"  warning: {path.relative_to(out)}: {warning}", file=sys.stderr)
    for path in sorted(out.rglob("*.md")):
        if path.relative_to(out).parts[0] in NOT_PAGES:
            continue
        stripped, removed = studentize_page(path.read_text())
        if removed:
            path.write_text(stripped)
        counts["pages"] += 1
        counts["solution blocks removed"] += removed
    for page in course["handout"].get("instructor_pages", []):
        for suffix in (".md", ".ipynb"):
            path = out / f"{page}{suffix}"
            if path.exists():
                original = path.read_text() if suffix == ".md" else ""
                title = "Instructor's guide" if "instructor" in page else Path(page).name
                path.unlink()
                path.with_suffix(".md").write_text(instructor_note(original, title))
    config = yaml.safe_load((root / "_config.yml").read_text())
    (out / "_config.yml").write_text(
        "# Written by `python -m convbook.course student-site` from the book's _config.yml: the student edition.\n"
        + yaml.safe_dump(student_config(config, repository), sort_keys=False, allow_unicode=True)
    )
    if not quiet:
        print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    return counts


def build(book: Path) -> int:
    """``jupyter-book build`` with warnings as errors, failing on any warning line (as ``make build`` does)."""
    if report_failure("student site: build", *jupyter_book_build(book, book, show=3000)):
        return 1
    print(f"student site: {book / '_build' / 'html' / 'index.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.course student-site", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--out", type=Path, default=None, help="the student book (default: ROOT/_build/student-book)")
    parser.add_argument("--repository", default=None, help="the class repository's URL, for the site's buttons")
    parser.add_argument("--no-build", action="store_true", help="write the sources only")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "_build" / "student-book").resolve()
    write_student_book(out, root, repository=args.repository or None)
    return 0 if args.no_build else build(out)
