"""The notation page's "Check yourself" questions as a notebook, in the book's format (solutions tagged).

The questions and the written solutions are the page's (``chapters/notation.md``); the answer cells, the solution
values and the self-check of each question are in ``course/assignments.yml``. The handout hands the notebook out
without its solutions, and assignment 1 grades it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from convbook.course.myst import directive_blocks
from convbook.course.notebooks import source_of, tags
from convbook.course.studentize import clear_outputs


def install_cell(root: Path):
    """A copy of the book's hidden install cell (tagged ``remove-cell``, guarded by ``google.colab``), if any;
    with the metadata of the notebook it came from."""
    for path in sorted((Path(root) / "chapters").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if nb.cells and "remove-cell" in tags(nb.cells[0]) and "google.colab" in source_of(nb.cells[0]):
            return clear_outputs(copy.deepcopy(nb.cells[0])), nb.metadata
    return None, {}


def notation_notebook(config: dict, root: Path):
    """The notation page's exercises as a notebook in the book's format (solutions tagged ``solution``).

    Each question on the page must have an entry under ``notation.exercises`` in ``course/assignments.yml``.
    """
    spec = config["notation"]
    page = (Path(root) / spec["source"]).read_text()
    exercises = directive_blocks(page, "exercise")
    solutions = {b.arg: b for b in directive_blocks(page, "solution")}
    first, metadata = install_cell(root)
    cells = [first] if first is not None else []
    cells.append(
        new_markdown_cell(
            f"# {spec['title']}\n\n"
            "These are the questions at the end of the page *Notation and conventions*. Work each one out by hand, "
            "write your numbers in the cell under it and run the check, which prints PASS, or FAIL with a hint "
            "(never the answer)."
        )
    )
    cells.append(new_code_cell(spec["setup"].strip()))
    for block in exercises:
        label = block.options.get("label")
        if label not in spec["exercises"]:
            raise SystemExit(
                f"course/assignments.yml: notation exercise {label!r} has no entry under notation.exercises"
            )
        entry = spec["exercises"][label]
        options = "".join(f":{k}: {v}\n".replace(": \n", ":\n") for k, v in block.options.items())
        cells.append(new_markdown_cell(f":::{{exercise}}\n{options}{block.body}\n:::"))
        cells.append(new_code_cell(entry["answer"].strip()))
        if label in solutions:
            sol = solutions[label]
            sol_options = "".join(f":{k}: {v}\n" for k, v in sol.options.items())
            cells.append(
                new_markdown_cell(
                    f":::{{solution}} {label}\n{sol_options}{sol.body}\n:::", metadata={"tags": ["solution"]}
                )
            )
        cells.append(new_code_cell(entry["solution"].strip(), metadata={"tags": ["solution"]}))
        cells.append(new_code_cell(entry["check"].strip()))
    nb = new_notebook(cells=cells)
    for key in ("kernelspec", "language_info"):
        if key in metadata:
            nb.metadata[key] = copy.deepcopy(metadata[key])
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata["convbook"] = {"generated_from": spec["source"]}
    return nb
