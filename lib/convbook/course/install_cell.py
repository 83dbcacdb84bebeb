"""Write every notebook's Colab install cell (and the GPU note of the pages that profit from a GPU) from one template.

    python -m convbook.course sync-install-cell          # rewrite the notebooks that differ
    python -m convbook.course sync-install-cell --check  # exit 1, listing them, if any differs

The address and version come from ``convbook._release`` (the one place they are
written). The cell does nothing outside Colab; on Colab it installs that pinned
release, and if pip fails it says so in a sentence and stops "Run all" there,
instead of a pip traceback. ``tests/test_notebooks.py`` runs the check.

Pages listed in :data:`GPU_PAGES` time code or train models on ``pick_device()``;
they get a short note, right after their title, telling Colab readers to pick a
GPU runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from convbook._release import PIP_SPEC

COLAB_MARKER = 'if "google.colab" in sys.modules'
GPU_NOTE_TAG = "gpu-note"

INSTALL_CELL = f'''# On Colab, install convbook (the book's library) at the release these pages were written for.
# Elsewhere this cell only checks that convbook is importable. (Written by python -m convbook.course sync-install-cell.)
import importlib.util
import subprocess
import sys

CONVBOOK = "{PIP_SPEC}"
if "google.colab" in sys.modules and importlib.util.find_spec("convbook") is None:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", CONVBOOK], capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout[-1500:], pip.stderr[-1500:], sep="\\n", file=sys.stderr)
        raise SystemExit(
            f"Could not install convbook from {{CONVBOOK!r}} (pip's message is above). Check the connection, "
            "or install it by hand with  !pip install 'convbook @ git+<repository URL>'  and run this notebook again."
        )
elif importlib.util.find_spec("convbook") is None:
    print("convbook is not installed here: run `make lab` in a clone of the repository, or `pip install -e .` there.")
'''

GPU_NOTE = """:::{tip}
:class: gpu-note
This page times code or trains models, with PyTorch on the device `pick_device()` finds: an NVIDIA GPU, then
Apple's MPS, then the CPU. On Colab, pick a GPU before running it (*Runtime → Change runtime type → GPU*); the live
results are then shown for the GPU beside the stored reference. Without a GPU every cell still runs, on the CPU.
:::"""

GPU_PAGES = (
    "chapters/01_convolution_from_scratch.ipynb",
    "chapters/dilated/02_implementations.ipynb",
    "chapters/dilated/03_receptive_field.ipynb",
    "chapters/dilated/04_causal_wavenet.ipynb",
    "chapters/dilated/04a_wavenet_generation.ipynb",
    "chapters/dilated/07_segmentation.ipynb",
    "chapters/dilated/07a_context_and_aspp.ipynb",
    "chapters/separable/04_accuracy_vs_parameters.ipynb",
    "chapters/separable/05_flops_are_not_time.ipynb",
    "chapters/separable/06_mobilenet.ipynb",
    "chapters/pointwise/04_cheap_depth.ipynb",
    "chapters/pointwise/05_performance.ipynb",
    "chapters/performance.ipynb",
)


def notebooks(root: Path) -> list[Path]:
    return sorted(p for p in (Path(root) / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def sync(nb, relpath: str) -> list[str]:
    """Bring ``nb`` in line with the templates; return what changed."""
    changes = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or COLAB_MARKER not in code[0].source:
        raise ValueError(f"{relpath}: the first code cell is not the Colab install cell")
    if code[0].source != INSTALL_CELL.rstrip("\n"):
        code[0].source = INSTALL_CELL.rstrip("\n")
        changes.append("install cell")
    if "remove-cell" not in _tags(code[0]):
        code[0].metadata.setdefault("tags", []).append("remove-cell")
        changes.append("install cell tag")
    notes = [i for i, c in enumerate(nb.cells) if GPU_NOTE_TAG in _tags(c)]
    if relpath in GPU_PAGES:
        title = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("# "))
        if not notes:
            cell = nbformat.v4.new_markdown_cell(GPU_NOTE, metadata={"tags": [GPU_NOTE_TAG]})
            if nb.nbformat_minor < 5:
                cell.pop("id", None)
            nb.cells.insert(title + 1, cell)
            changes.append("GPU note added")
        elif nb.cells[notes[0]].source != GPU_NOTE:
            nb.cells[notes[0]].source = GPU_NOTE
            changes.append("GPU note updated")
    else:
        for i in reversed(notes):
            del nb.cells[i]
            changes.append("GPU note removed")
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.course sync-install-cell", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only report notebooks that differ; exit 1 if any")
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    stale = []
    for path in notebooks(root):
        rel = path.relative_to(root).as_posix()
        nb = nbformat.read(path, as_version=4)
        changes = sync(nb, rel)
        if changes:
            stale.append(f"{rel}: {', '.join(changes)}")
            if not args.check:
                nbformat.write(nb, path)
    for line in stale:
        print(("differs: " if args.check else "updated: ") + line)
    return 1 if (args.check and stale) else 0
