"""Build the book with warnings as errors, and fail if Sphinx printed any warning.

    python -m convbook.course build [--root DIR]     # what `make build` runs -> ROOT/_build/html

``jupyter-book build -W --keep-going`` turns warnings into a failing exit code; this also fails on warnings that
slip through as plain log lines, so the build log stays clean. :func:`jupyter_book_build` is shared by the other
builds (the student site, the PDF's single-page edition).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path


def jupyter_book_build(book: Path, output: Path, builder: str = "html", show: int = 4000) -> tuple[int, list[str]]:
    """``jupyter-book build BOOK --builder BUILDER -W --keep-going --path-output OUTPUT``.

    Prints the end of the log (``show`` characters) and returns the exit code and every WARNING or ERROR line.
    The venv's own jupyter-book runs: .venv/bin/jupyter-book, or .venv\\Scripts\\jupyter-book.exe on Windows.
    """
    jb = Path(sys.executable).with_name("jupyter-book.exe" if os.name == "nt" else "jupyter-book")
    cmd = [str(jb), "build", str(book), "--builder", builder, "-W", "--keep-going", "--path-output", str(output)]
    proc = subprocess.run(cmd, cwd=book, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    print(log[-show:])
    return proc.returncode, [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]


def report_failure(what: str, code: int, warnings: list[str]) -> bool:
    """Print why a build failed (exit code, warning lines); return whether it did."""
    if code == 0 and not warnings:
        return False
    print(f"{what} failed: exit {code}, {len(warnings)} warning line(s)", file=sys.stderr)
    for line in warnings[:50]:
        print("  " + line, file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if report_failure("build", *jupyter_book_build(root, root)):
        return 1
    if not (root / "_build" / "html" / "index.html").exists():
        print("build failed: _build/html/index.html is missing", file=sys.stderr)
        return 1
    return 0
