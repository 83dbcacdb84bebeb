"""Execute notebooks in place, top to bottom, in a fresh kernel (the way they are committed).

    .venv/bin/python scripts/execute_notebooks.py chapters/dilated/*.ipynb

Each notebook runs with its own folder as the working directory, with the
venv's interpreter as the kernel, and is written back with its outputs. The
wall time of each is printed so that the 60-second budget can be checked.

This is the authors' tool: it overwrites the notebook in place and stops at the
first error. To grade students' notebooks use ``scripts/grade.py`` (nbgrader;
it never writes over a submission and grades a whole batch).
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=[],
    )
    start = time.perf_counter()
    # Inline figures need the kernel's own backend: never inherit MPLBACKEND (Agg would drop every figure).
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client.execute(env={**env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    for p in paths:
        seconds = execute(Path(p))
        print(f"{p}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
