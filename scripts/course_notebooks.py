"""What the course scripts read from the book's notebooks: solutions, exercises, answer cells and self-checks.

Shared by ``make_student.py`` (the handout), ``make_student_site.py`` (the student website),
``make_assignments.py`` (nbgrader assignments) and ``grade.py``. Everything is found from the notebooks' structure,
never from their prose:

* a **solution** is a cell tagged ``solution`` (CONTRIBUTING.md); as a safety net, a ``{solution}`` directive in an
  untagged markdown cell is cut out of it, and cells between ``{solution-start}`` and ``{solution-end}`` are dropped;
* an **exercise** starts at a markdown cell holding an ``{exercise}`` directive with a ``:label:`` and runs to the
  next exercise, the next heading cell or the end of the notebook;
* inside an exercise, untagged code cells *before* its first solution cell are the **answer cells** (the stubs the
  student fills in); untagged code cells *after* it are the exercise's **check cells**;
* an answer is a **function** when a stub defines one whose body raises ``NotImplementedError``, a **value** when a
  stub assigns ``None`` to a name at the top level;
* a **self-check** is a call ``alias.name(...)`` where ``alias`` is a module of ``convbook.course.check`` imported in the
  notebook (``from convbook.course.check import dilated as check``), anywhere in the answer or check cells.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE_CONFIG = ROOT / "course" / "assignments.yml"
SOLUTION_TAG = "solution"
CHECK_PACKAGE = "convbook.course.check"

#: A sphinx-exercise solution directive in MyST (``{solution}``, ``{solution-start}``, ``{solution-end}``).
SOLUTION_DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")
EXERCISE_DIRECTIVE = re.compile(r"^\s*(:{3,}|`{3,})\s*\{exercise\}", re.M)
LABEL = re.compile(r"^\s*:label:\s*(\S+)", re.M)
_FENCE_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")
_GATED_START = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-start\}", re.M)
_GATED_END = re.compile(r"^\s*(?::{3,}|`{3,})\s*\{solution-end\}", re.M)
HEADING = re.compile(r"^\s*#{1,6}\s", re.M)


def load_config(path: Path = COURSE_CONFIG) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def is_solution_cell(cell) -> bool:
    """True for a cell tagged ``solution``."""
    return SOLUTION_TAG in tags(cell)


def source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


# --------------------------------------------------------------------------- MyST directives


@dataclass
class Block:
    """One fenced MyST directive: ``:::{name} arg`` ... ``:::``."""

    name: str
    arg: str
    options: dict[str, str]
    body: str
    start: int  # first line
    end: int  # one past the closing fence


def directive_blocks(text: str, name: str | None = None) -> list[Block]:
    """The top-level fenced directives of ``text`` (of one ``name``, or all), with their options and body.

    A block ends at the first line made only of its fence character, at least as long as the opening fence
    (MyST's rule, so nested fences work). An unclosed block runs to the end.
    """
    lines = text.splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i].rstrip("\n"))
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        inner = lines[i + 1 : j]
        options = {}
        while inner and re.match(r"^\s*:[\w-]+:", inner[0]):
            key, _, value = inner.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        if name is None or m.group("name") == name:
            blocks.append(Block(m.group("name"), m.group("arg").strip(), options, "".join(inner).strip("\n"), i, j + 1))
        i = j + 1
    return blocks


def strip_solution_directives(text: str) -> tuple[str, int]:
    """Remove ``{solution}`` directive blocks (colon or backtick fenced) from MyST text.

    Returns the new text and the number of blocks removed.
    """
    lines = text.splitlines(keepends=True)
    blocks = [b for b in directive_blocks(text) if b.name == "solution"]
    for block in reversed(blocks):
        del lines[block.start : block.end]
    return "".join(lines), len(blocks)


# --------------------------------------------------------------------------- the student edition of a notebook


def clear_outputs(cell) -> None:
    """No output, no execution count, no execution timing left in a code cell."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    cell.get("metadata", {}).pop("execution", None)


def studentize(nb, outputs: str = "clear") -> tuple[object, int, list[str]]:
    """A copy of ``nb`` without solutions; the number of tagged cells removed; warnings.

    ``outputs``: ``"clear"`` removes every output and execution count (the handout); ``"exercises"`` removes the
    outputs of the exercises' cells, where a stored output would show a solution's result or a passed check (the
    student website, which keeps the lessons' figures); ``"keep"`` keeps them.
    """
    if outputs not in ("clear", "exercises", "keep"):
        raise ValueError(f"studentize: outputs must be 'clear', 'exercises' or 'keep', got {outputs!r}")
    new = nbformat.from_dict(copy.deepcopy(nb))
    kept, removed_tagged, warnings, in_gated = [], 0, [], False
    in_exercises = {i for ex in find_exercises(new) for i in ex.cells} if outputs == "exercises" else set()
    for index, cell in enumerate(new.cells):
        source = source_of(cell)
        if is_solution_cell(cell):
            removed_tagged += 1
            if _GATED_END.search(source):
                in_gated = False
            elif _GATED_START.search(source):
                in_gated = True  # untagged cells up to {solution-end} are solution text too
            continue
        if in_gated:
            warnings.append(f"cell {index}: inside an untagged {{solution-start}} ... {{solution-end}} block, dropped")
            if _GATED_END.search(source):
                in_gated = False
            continue
        if cell.cell_type == "markdown" and _GATED_START.search(source):
            warnings.append(f"cell {index}: untagged {{solution-start}}, dropped with the cells up to {{solution-end}}")
            in_gated = not _GATED_END.search(source)
            continue
        if cell.cell_type == "markdown" and SOLUTION_DIRECTIVE.search(source):
            stripped, count = strip_solution_directives(source)
            warnings.append(f"cell {index}: {count} {{solution}} block(s) in an untagged markdown cell, cut out")
            if not stripped.strip():
                continue
            cell.source = stripped
        if outputs == "clear" or index in in_exercises:
            clear_outputs(cell)
        kept.append(cell)
    new.cells = kept
    if outputs == "clear":
        new.metadata.pop("widgets", None)
    new.metadata.setdefault("convbook", {})["student_copy"] = True
    return new, removed_tagged, warnings


def studentize_markdown(text: str) -> str:
    """A MyST page without its ``{solution}`` blocks."""
    return strip_solution_directives(text)[0]


# --------------------------------------------------------------------------- exercises, answers and checks


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
    """Names bound to ``convbook.course.check`` modules by the notebook's imports: ``{"check": "convbook.course.check.dilated"}``."""
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
                (ex.check_cells if seen_solution else ex.answer_cells).append(index)
        for index in ex.answer_cells:
            functions, values = _stub_answers(source_of(nb.cells[index]))
            ex.functions += functions
            ex.values += values
        for index in ex.answer_cells + ex.check_cells:
            ex.checks += find_check_calls(source_of(nb.cells[index]), aliases)
        exercises.append(ex)
    return exercises


# --------------------------------------------------------------------------- the notation questions, a notebook


def install_cell(root: Path = ROOT):
    """A copy of the book's hidden install cell (tagged ``remove-cell``, guarded by ``google.colab``), if any."""
    for path in sorted((root / "chapters").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if nb.cells and "remove-cell" in tags(nb.cells[0]) and "google.colab" in source_of(nb.cells[0]):
            cell = copy.deepcopy(nb.cells[0])
            clear_outputs(cell)
            return cell, nb.metadata
    return None, {}


def notation_notebook(config: dict, root: Path = ROOT):
    """The notation page's exercises as a notebook in the book's format (solutions tagged ``solution``).

    The questions and the written solutions are the page's; the answer cells, solution values and the self-check
    of each exercise are in ``course/assignments.yml``. Each question on the page must have an entry there.
    """
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    spec = config["notation"]
    page = (root / spec["source"]).read_text()
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


def book_notebooks(root: Path = ROOT, folder: str = "chapters") -> list[Path]:
    """The book's notebooks under ``folder``: those its ``_toc.yml`` lists (files and globs), in the book's order.

    A notebook that the table of contents does not list (a scratch copy) is no page of the book, and so no part of
    the student editions. Without a ``_toc.yml``, every ``.ipynb`` under ``folder`` (checkpoints and hidden folders
    skipped).
    """
    toc = root / "_toc.yml"
    if not toc.exists():
        skip = {"_build", ".venv", "venv", "node_modules", ".ipynb_checkpoints", ".git"}
        found = []
        for path in sorted((root / folder).rglob("*.ipynb")):
            if not any(p in skip or p.startswith(".") for p in path.relative_to(root).parts[:-1]):
                found.append(path)
        return found
    import yaml

    entries: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file", "glob"):
                if isinstance(node.get(key), str):
                    entries.append(("glob:" if key == "glob" else "") + node[key])
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text()))
    found: list[Path] = []
    for entry in entries:
        if entry.startswith("glob:"):
            candidates = sorted(root.glob(entry[5:]))  # Jupyter Book's globs match file names with their suffix
        else:
            candidates = [root / (entry if entry.endswith(".ipynb") else entry + ".ipynb")]
        for path in candidates:
            if path.is_file() and path.suffix == ".ipynb" and path not in found:
                if path.resolve().is_relative_to((root / folder).resolve()):
                    found.append(path)
    return found


_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)", re.S)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def normalize(text: str) -> str:
    """Text compared for leaks: straight quotes and dashes, whitespace collapsed."""
    return " ".join(text.translate(_QUOTES).split())


def _fragments(text: str, markdown: bool, minimum: int) -> list[str]:
    """The pieces of ``text`` long enough to identify it: lines of code, or prose between math and markup."""
    pieces = []
    if markdown:
        text = _MATH.sub("\n", text)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith((":::", "```", ":class:", "#", "import ", "from ")):
            continue
        if markdown:
            pieces.extend(re.split(r"[{}]", re.sub(r"[*_`]|\\[a-z]+", " ", stripped)))
        else:
            pieces.append(stripped)
    return [normalize(p) for p in pieces if len(normalize(p)) >= minimum]


def _cell_texts(cell) -> list[tuple[str, bool]]:
    texts = [(source_of(cell), cell.cell_type == "markdown")]
    for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        texts.append(("".join(text) if isinstance(text, list) else text, False))
    return texts


def solution_fingerprints(root: Path = ROOT, minimum: int = 20) -> list[str]:
    """Texts that identify the book's solutions and nothing else: pieces of solution cells and their outputs, and of
    the ``{solution}`` blocks of its pages, that appear nowhere outside a solution.

    The tests and ``scripts/check_site.py --student`` look for them in the student editions: finding one is a leak.
    Prose is cut at math and markup (a page renders those differently), code is taken line by line.
    """
    solution, other = set(), []
    for path in book_notebooks(root):
        for cell in nbformat.read(path, as_version=4).cells:
            for text, markdown in _cell_texts(cell):
                if is_solution_cell(cell):
                    solution.update(_fragments(text, markdown, minimum))
                else:
                    stripped, _ = strip_solution_directives(text) if markdown else (text, 0)
                    other.append(normalize(stripped))
                    if markdown:
                        for block in directive_blocks(text, "solution"):
                            solution.update(_fragments(block.body, True, minimum))
    for path in sorted((root / "chapters").rglob("*.md")) + [root / "index.md"]:
        if not path.exists():
            continue
        text = path.read_text()
        for block in directive_blocks(text, "solution"):
            solution.update(_fragments(block.body, True, minimum))
        other.append(normalize(strip_solution_directives(text)[0]))
    everything_else = "\n".join(other)
    return sorted(f for f in solution if f not in everything_else)
