"""The one studentizing pipeline: a book notebook without its solutions, for every student edition.

The handout (:mod:`convbook.course.handout`), the student website (:mod:`convbook.course.student_site`) and the
nbgrader release (:mod:`convbook.course.assignments`) all make their student notebooks with :func:`studentize`,
a chain of nbconvert preprocessors (:func:`student_pipeline`):

1. **outputs**: nbconvert's ``ClearOutputPreprocessor`` on every code cell (``outputs="clear"``: a stored output
   would show a solution's result, a PASS, or an answer), on the exercises' cells only (``"exercises"``, the
   website, which keeps the lessons' figures: :class:`ClearExerciseOutputs`), or on none (``"keep"``);
2. **the book's directive gate** (:class:`SolutionDirectiveGate`), a safety net for solutions that are not tagged:
   a ``{solution}`` directive in an untagged markdown cell is cut out of it, and untagged cells between
   ``{solution-start}`` and ``{solution-end}`` are dropped; each is reported as a warning;
3. **the solutions**: nbconvert's ``TagRemovePreprocessor(remove_cell_tags={"solution"})``.

The outputs are cleared first (the exercises are found in the notebook as it is written), and the gate runs before
the tag removal (a tagged cell can open a ``{solution-start}`` region that runs on into untagged cells).
"""

from __future__ import annotations

import copy

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor, TagRemovePreprocessor

from convbook.course.exercises import find_exercises
from convbook.course.myst import GATED_END, GATED_START, SOLUTION_DIRECTIVE, strip_solution_directives
from convbook.course.notebooks import SOLUTION_TAG, is_solution_cell, source_of

OUTPUTS = ("clear", "exercises", "keep")
#: Cell metadata that belongs to an output: nbconvert's defaults and the execution timing Jupyter records.
OUTPUT_METADATA = {"collapsed", "scrolled", "execution"}


class ClearExerciseOutputs(ClearOutputPreprocessor):
    """``ClearOutputPreprocessor`` on the cells of the notebook's exercises only (the lessons keep their figures)."""

    def preprocess(self, nb, resources):
        in_exercises = {i for ex in find_exercises(nb) for i in ex.cells}
        for index, cell in enumerate(nb.cells):
            if index in in_exercises:
                nb.cells[index], resources = self.preprocess_cell(cell, resources, index)
        return nb, resources


class SolutionDirectiveGate(Preprocessor):
    """The book's own rule for solutions that are not tagged ``solution``.

    An untagged markdown cell loses its ``{solution}`` blocks (and is dropped if nothing else is left); untagged
    cells inside a ``{solution-start}`` ... ``{solution-end}`` region are dropped, whether a tagged cell or an
    untagged one opened it. Tagged cells are left to ``TagRemovePreprocessor``. Each finding is appended to
    ``resources["warnings"]``, naming the cell's index in the notebook given.
    """

    def preprocess(self, nb, resources):
        warnings = resources.setdefault("warnings", [])
        kept, in_gated = [], False
        for index, cell in enumerate(nb.cells):
            source = source_of(cell)
            if is_solution_cell(cell):
                if GATED_END.search(source):
                    in_gated = False
                elif GATED_START.search(source):
                    in_gated = True  # untagged cells up to {solution-end} are solution text too
                kept.append(cell)
                continue
            if in_gated:
                warnings.append(
                    f"cell {index}: inside an untagged {{solution-start}} ... {{solution-end}} block, dropped"
                )
                if GATED_END.search(source):
                    in_gated = False
                continue
            if cell.cell_type == "markdown" and GATED_START.search(source):
                warnings.append(
                    f"cell {index}: untagged {{solution-start}}, dropped with the cells up to {{solution-end}}"
                )
                in_gated = not GATED_END.search(source)
                continue
            if cell.cell_type == "markdown" and SOLUTION_DIRECTIVE.search(source):
                stripped, count = strip_solution_directives(source)
                warnings.append(f"cell {index}: {count} {{solution}} block(s) in an untagged markdown cell, cut out")
                if not stripped.strip():
                    continue
                cell.source = stripped
            kept.append(cell)
        nb.cells = kept
        return nb, resources


def _check_outputs(function: str, outputs) -> None:
    if not isinstance(outputs, str):
        raise TypeError(f"{function}: outputs must be a str, one of {OUTPUTS}, got {type(outputs).__name__}")
    if outputs not in OUTPUTS:
        raise ValueError(f"{function}: outputs must be 'clear', 'exercises' or 'keep', got {outputs!r}")


def student_pipeline(outputs: str = "clear") -> list[Preprocessor]:
    """The preprocessors of :func:`studentize`, in order, enabled."""
    _check_outputs("student_pipeline", outputs)
    steps: list[Preprocessor] = []
    if outputs == "clear":
        steps.append(ClearOutputPreprocessor(enabled=True, remove_metadata_fields=OUTPUT_METADATA))
    elif outputs == "exercises":
        steps.append(ClearExerciseOutputs(enabled=True, remove_metadata_fields=OUTPUT_METADATA))
    steps.append(SolutionDirectiveGate(enabled=True))
    steps.append(TagRemovePreprocessor(enabled=True, remove_cell_tags={SOLUTION_TAG}))
    return steps


def studentize(nb, outputs: str = "clear") -> tuple[object, int, list[str]]:
    """A copy of ``nb`` without solutions; the number of tagged cells removed; warnings.

    ``outputs``: ``"clear"`` removes every output and execution count (the handout, the nbgrader release);
    ``"exercises"`` removes the outputs of the exercises' cells, where a stored output would show a solution's
    result or a passed check (the student website, which keeps the lessons' figures); ``"keep"`` keeps them.
    The copy is marked ``metadata.convbook.student_copy``.
    """
    _check_outputs("studentize", outputs)
    steps = student_pipeline(outputs)
    new = nbformat.from_dict(copy.deepcopy(nb))
    removed_tagged = sum(is_solution_cell(cell) for cell in new.cells)
    resources: dict = {"warnings": []}
    for step in steps:
        new, resources = step(new, resources)
    if outputs == "clear":
        new.metadata.pop("widgets", None)  # the widgets' saved state is output too
    new.metadata.setdefault("convbook", {})["student_copy"] = True
    return new, removed_tagged, resources["warnings"]


def studentize_page(text: str) -> tuple[str, int]:
    """A MyST page without its ``{solution}`` blocks (the gate's rule for pages); the number of blocks removed."""
    return strip_solution_directives(text)


_CELL_CLEARER = ClearOutputPreprocessor(remove_metadata_fields=OUTPUT_METADATA)


def clear_outputs(cell):
    """One cell as the pipeline's output step leaves it: no output, execution count or execution timing."""
    return _CELL_CLEARER.preprocess_cell(cell, {}, 0)[0]
