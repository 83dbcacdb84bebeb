"""The exercises of a book notebook: their answer cells, solutions, check cells and self-checks.

Found from the notebook's structure, never from its prose:

* an **exercise** starts at a markdown cell holding an ``{exercise}`` directive with a ``:label:`` and runs to the
  next exercise, the next heading cell or the end of the notebook;
* inside an exercise, untagged code cells *before* its first solution cell are the **answer cells** (the stubs the
  student fills in), except a cell that only runs self-checks; that cell, and every untagged code cell *after* the
  first solution cell, is one of the exercise's **check cells**. The book puts its check cells before the solution
  (:func:`checks_before_solutions`), so that the output stored under a stub is what a student running the stub sees
  ("not answered yet"), never the PASS of the book's own solution;
* an answer is a **function** when a stub defines one whose body raises ``NotImplementedError``, a **value** when a
  stub assigns ``None`` to a name at the top level;
* a **self-check** is a call ``alias.name(...)`` where ``alias`` is a module of ``convbook.course.check`` imported in
  the notebook (``from convbook.course.check import dilated as check``), anywhere in the answer or check cells.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass, field

from convbook.course.myst import EXERCISE_DIRECTIVE, HEADING, LABEL
from convbook.course.notebooks import is_solution_cell, source_of

CHECK_PACKAGE = "convbook.course.check"


@dataclass
class CheckCall:
    """One call of a self-check in a notebook: ``check.dilate_kernel(my_dilate_kernel)``."""

    source: str  # the call's source text
    module: str  # e.g. convbook.course.check.dilated
    name: str  # e.g. dilate_kernel
    takes_seed: bool  # the check can draw extra (hidden) cases

    def with_seed(self, seed) -> str:
        """The call with ``seed=`` added: a number, or an expression such as ``_grading_seed()``."""
        return self.source[:-1].rstrip() + f", seed={seed})"


@dataclass
class Exercise:
    label: str
    cell: int  # index of the exercise's markdown cell
    cells: list[int]  # every cell of the exercise, the exercise cell included
    answer_cells: list[int] = field(default_factory=list)
    solution_markdown: list[int] = field(default_factory=list)
    solution_code: list[int] = field(default_factory=list)
    check_cells: list[int] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # functions the student writes
    values: list[str] = field(default_factory=list)  # names the student assigns
    checks: list[CheckCall] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``function``, ``value`` or ``written`` (no answer cell: answered in words)."""
        if self.functions:
            return "function"
        if self.values:
            return "value"
        return "written"


def check_aliases(nb) -> dict[str, str]:
    """Names bound to ``convbook.course.check`` modules by the notebook's imports:
    ``{"check": "convbook.course.check.dilated"}``."""
    aliases = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(source_of(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(CHECK_PACKAGE):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(CHECK_PACKAGE) and alias.asname:
                        aliases[alias.asname] = alias.name
    return {name: module for name, module in aliases.items() if _is_module(module)}


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def find_check_calls(source: str, aliases: dict[str, str]) -> list[CheckCall]:
    """The self-check calls in one cell's source, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        dotted = _dotted(node.func)
        if not dotted or "." not in dotted:
            continue
        base, name = dotted.rsplit(".", 1)
        if base in aliases:
            module = aliases[base]
        elif base.startswith(CHECK_PACKAGE + ".") and _is_module(base):
            module = base
        else:
            continue
        fn = getattr(importlib.import_module(module), name, None)
        if not callable(fn):
            continue
        try:
            takes_seed = "seed" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes_seed = False
        text = ast.get_source_segment(source, node)
        calls.append(CheckCall(text, module, name, takes_seed and not any(k.arg == "seed" for k in node.keywords)))
    calls.sort(key=lambda c: source.index(c.source))
    return calls


def _stub_answers(source: str) -> tuple[list[str], list[str]]:
    """Functions whose body raises NotImplementedError, and top-level names assigned None, in a stub cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [], []
    functions, values = [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            raises = [n for n in ast.walk(node) if isinstance(n, ast.Raise) and n.exc is not None]
            if any("NotImplementedError" in ast.unparse(r.exc) for r in raises):
                functions.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values.append(target.id)
    return functions, values


def _only_check_calls(source: str, aliases: dict[str, str]) -> bool:
    """True when every top-level statement of a cell calls a self-check (``check.x(...)``, ``print(check.x(...))``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return False
    for node in tree.body:
        segment = ast.get_source_segment(source, node) or ""
        if isinstance(node, ast.FunctionDef) or not find_check_calls(segment, aliases):
            return False
    return True


def checks_before_solutions(nb) -> list[tuple[str, int]]:
    """Move every exercise's check cells in front of its first solution cell, in place, keeping their order.

    Run top to bottom, a check then runs on the student's stub, so the notebook stores what a student sees before
    answering ("not answered yet"), and the book's solution, folded below it, shows its own result. Returns
    ``(label, number of cells moved)`` for each exercise changed; the moved cells' stored outputs are stale until
    the notebook is executed again.
    """
    moved = []
    for ex in reversed(find_exercises(nb)):
        first_solution = min(ex.solution_code + ex.solution_markdown, default=None)
        late = [i for i in ex.check_cells if first_solution is not None and i > first_solution]
        if not late:
            continue
        cells = [nb.cells[i] for i in late]
        for i in reversed(late):
            del nb.cells[i]
        nb.cells[first_solution:first_solution] = cells
        moved.append((ex.label, len(cells)))
    return moved[::-1]


#: What a self-check prints for a stub that is not answered yet (``convbook.course.check``).
UNANSWERED = ("not answered yet", "not implemented yet", "not yet")


def stored_output_problems(nb) -> list[str]:
    """Where the outputs stored under an exercise's stubs are not what a student running the stubs would see.

    Every check cell must come before the exercise's first solution cell (:func:`checks_before_solutions`), and no
    untagged cell of an exercise may store a PASS; a cell that runs a self-check must store its "not answered yet"
    (or "not implemented yet") answer. Returns one sentence per problem, naming the exercise and the cell.
    """
    problems = []
    for ex in find_exercises(nb):
        first_solution = min(ex.solution_code + ex.solution_markdown, default=None)
        for index in ex.answer_cells + ex.check_cells:
            cell = nb.cells[index]
            text = "".join(_output_text(out) for out in cell.get("outputs", []))
            if first_solution is not None and index > first_solution:
                problems.append(
                    f"{ex.label}: cell {index} runs after the solution; move it above (checks_before_solutions)"
                )
            if any(line.startswith("PASS") for line in text.splitlines()) or "correct" in text.split():
                problems.append(f"{ex.label}: cell {index} stores a passed check under the stub")
            elif find_check_calls(source_of(cell), check_aliases(nb)) and not any(u in text for u in UNANSWERED):
                problems.append(f"{ex.label}: cell {index} runs a self-check but stores no 'not answered yet'")
    return problems


def _output_text(output) -> str:
    text = output.get("text", "")
    plain = output.get("data", {}).get("text/plain", "")
    return ("".join(text) if isinstance(text, list) else text) + ("".join(plain) if isinstance(plain, list) else plain)


def find_exercises(nb) -> list[Exercise]:
    """The notebook's exercises, with their answer cells, solutions, checks, and what the student writes."""
    aliases = check_aliases(nb)
    starts = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and not is_solution_cell(cell) and EXERCISE_DIRECTIVE.search(source_of(cell)):
            label = LABEL.search(source_of(cell))
            starts.append((index, label.group(1) if label else f"exercise-{index}"))
    exercises = []
    for number, (start, label) in enumerate(starts):
        stop = starts[number + 1][0] if number + 1 < len(starts) else len(nb.cells)
        for index in range(start + 1, stop):
            cell = nb.cells[index]
            if cell.cell_type == "markdown" and not is_solution_cell(cell) and HEADING.match(source_of(cell)):
                stop = index
                break
        ex = Exercise(label, start, list(range(start, stop)))
        seen_solution = False
        for index in range(start + 1, stop):
            cell = nb.cells[index]
            if is_solution_cell(cell):
                seen_solution = True
                (ex.solution_code if cell.cell_type == "code" else ex.solution_markdown).append(index)
            elif cell.cell_type == "code":
                only_checks = _only_check_calls(source_of(cell), aliases)
                (ex.check_cells if seen_solution or only_checks else ex.answer_cells).append(index)
        for index in ex.answer_cells:
            functions, values = _stub_answers(source_of(nb.cells[index]))
            ex.functions += functions
            ex.values += values
        for index in ex.answer_cells + ex.check_cells:
            ex.checks += find_check_calls(source_of(nb.cells[index]), aliases)
        exercises.append(ex)
    return exercises
