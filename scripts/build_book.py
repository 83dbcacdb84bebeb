"""Build the site with warnings as errors and fail if Sphinx printed any warning.

``jupyter-book build -W --keep-going`` turns warnings into a failing exit code;
this wrapper also fails on warnings that slip through as plain log lines, so
the build log stays clean.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    # The venv's own jupyter-book: .venv/bin/jupyter-book, or .venv\Scripts\jupyter-book.exe on Windows.
    jb = Path(sys.executable).with_name("jupyter-book.exe" if os.name == "nt" else "jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "-W", "--keep-going", "--path-output", str(ROOT)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    print(log[-4000:])
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]
    if proc.returncode != 0 or warnings:
        print(f"build failed: exit {proc.returncode}, {len(warnings)} warning line(s)", file=sys.stderr)
        for line in warnings[:50]:
            print("  " + line, file=sys.stderr)
        return 1
    if not (ROOT / "_build" / "html" / "index.html").exists():
        print("build failed: _build/html/index.html is missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
