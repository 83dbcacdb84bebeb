"""Execute notebooks in place, top to bottom, in a fresh kernel (the way they are committed): nbclient.

    python -m convbook.course execute chapters/dilated/*.ipynb

Each notebook runs with its own folder as the working directory and the ``python3`` kernel (the venv's
interpreter), with a 600 s limit per cell, and is written back with its outputs; the wall time of each is printed,
so that the 60-second budget can be checked. It overwrites the notebook and stops at the first error: to grade
students' notebooks use ``python -m convbook.course grade`` (nbgrader; it never writes over a submission).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def _keep_edits_made_meanwhile(executed, on_disk, path: Path) -> None:
    """Carry over cell metadata (tags, image options) that changed on disk while the notebook ran.

    Refuses to write when a cell's source changed on disk meanwhile: the run would overwrite that edit.
    """
    disk = {c.get("id"): c for c in on_disk.cells}
    for cell in executed.cells:
        other = disk.get(cell.get("id"))
        if other is None:
            continue
        if other.source != cell.source:
            raise RuntimeError(f"{path}: cell {cell.get('id')} was edited while it ran; run it again")
        cell.metadata = other.metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course execute", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    # Inline figures need the kernel's own backend: never inherit MPLBACKEND (Agg would drop every figure).
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        client.execute(env=env)
        _keep_edits_made_meanwhile(nb, nbformat.read(path, as_version=4), path)
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s")
    return 0
