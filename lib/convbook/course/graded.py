"""The instructor edition: graded exercises drawn from a term seed, whose answers no student edition holds.

The book's own exercises are worked exercises: their solutions are on the public site, and the library computes
most of them. The graded work of a course is a *variant* of them, drawn from the instructor's pool
(``course/instructor/pool.py``, next to the book, never in the library, the site or a handout) with numbers drawn
from a **term seed** that only the instructor knows:

* the seed comes from ``--term-seed``, ``$CONVBOOK_TERM_SEED``, the file named by ``term_seed_file`` in
  ``course/assignments.yml`` (a path outside the repository), or ``<course>/instructor/term_seed.txt``; failing all
  of these, a fresh one is drawn and written there (so a regenerated course keeps its variants);
* each pool entry is a function ``entry(rng, salt) -> Graded`` that draws its numbers (different from the book's),
  computes the answers with the instructor's reference code and seals them (:mod:`convbook.course.check.sealed`):
  the release notebook's self-check tells right from wrong without holding the answer;
* :func:`graded_notebook` writes an assignment's entries as a book-format notebook (exercise, answer cell, solution
  cells tagged ``solution``, sealed self-check), which :mod:`convbook.course.nbgrader_source` turns into nbgrader's
  source like any book notebook; the solutions go to ``<course>/source`` and ``<course>/instructor`` only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

POOL = Path("course") / "instructor" / "pool.py"
SETUP = "import numpy as np\n\nfrom convbook.course.check import sealed as check"
KINDS = ("value", "function", "written")


@dataclass
class Graded:
    """One graded exercise, drawn for a term."""

    key: str  # the pool entry, e.g. "dilated.same_padding"
    kind: str  # "value", "function" or "written"
    prompt: str  # the exercise's text, numbers filled in (markdown)
    answer: str = ""  # the answer cell the student fills in (code)
    solution_code: str = ""  # the instructor's solution (code): instructor edition only
    sample_answer: str = ""  # the sample answer (markdown): instructor edition only
    check: str = ""  # the self-check call, with the sealed answers
    numbers: dict = field(default_factory=dict)  # the numbers drawn for this term
    book: tuple[str, dict] = ("", {})  # the book's exercise it varies, and the book's numbers
    auto: float = 0.0  # autograded points
    written: float = 0.0  # points graded by hand
    rubric: str = ""  # how the written part is graded
    ta_minutes: float = 0.0  # minutes a TA spends on the written part of one submission
    answers: dict = field(default_factory=dict)  # the answers (instructor edition only)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Graded: kind must be one of {KINDS}, got {self.kind!r}")
        if self.written and not (self.rubric and self.sample_answer):
            raise ValueError(f"Graded {self.key}: a written part needs a rubric and a sample answer")


def draw_different(rng, draw, public: dict, tries: int = 100) -> dict:
    """``draw(rng)`` again until the numbers differ from the book's ``public`` ones (a dict of the same keys)."""
    for _ in range(tries):
        numbers = draw(rng)
        if any(numbers.get(k) != v for k, v in public.items()):
            return numbers
    raise ValueError(f"draw_different: {tries} draws all equal to the book's numbers {public}")


def salt_for(term_seed: int, label: str) -> str:
    """The salt of one exercise's seals: from the term seed and the exercise's label."""
    return hashlib.sha256(f"convbook:{term_seed}:{label}".encode()).hexdigest()[:16]


def load_pool(root: Path, path: Path | None = None) -> dict:
    """The instructor's pool: ``{assignment: [entry, ...]}`` from ``ROOT/course/instructor/pool.py`` (or ``path``)."""
    path = Path(path) if path else Path(root) / POOL
    if not path.is_file():
        raise FileNotFoundError(f"load_pool: no pool of graded exercises at {path}")
    spec = importlib.util.spec_from_file_location("_convbook_instructor_pool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.POOL


def term_seed(course: Path, config: dict, explicit: int | None = None) -> int:
    """The term seed (see the module's docstring for where it comes from); written to the course folder."""
    stored = Path(course) / "instructor" / "term_seed.txt"
    seed = explicit
    if seed is None and os.environ.get("CONVBOOK_TERM_SEED", "").strip():
        seed = int(os.environ["CONVBOOK_TERM_SEED"])
    if seed is None and config.get("term_seed_file"):
        private = Path(os.path.expanduser(str(config["term_seed_file"])))
        if private.is_file():
            seed = int(private.read_text().split()[0])
    if seed is None and stored.is_file():
        seed = int(stored.read_text().split()[0])
    if seed is None:
        seed = secrets.randbelow(2**31 - 1) + 1
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"term_seed: the term seed must be a non-negative int, got {seed!r}")
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(f"{seed}\n# the term seed of the graded exercises: keep it from students\n")
    return seed


def draw_assignment(name: str, pool: dict, seed: int) -> list[tuple[str, Graded]]:
    """The graded exercises of one assignment for this term: ``[(label, Graded), ...]``."""
    if name not in pool:
        raise ValueError(f"draw_assignment: the pool has no entries for {name!r}; it has {sorted(pool)}")
    drawn = []
    for number, entry in enumerate(pool[name], start=1):
        label = f"{name.split('-')[0]}-g{number}"
        rng = np.random.default_rng([seed, number, int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)])
        drawn.append((label, entry(rng, salt_for(seed, label))))
    return drawn


def _exercise_markdown(label: str, prompt: str) -> str:
    return f":::{{exercise}}\n:label: {label}\n{prompt.strip()}\n:::"


def _solution_markdown(label: str, text: str) -> str:
    return f":::{{solution}} {label}\n:class: dropdown\n{text.strip()}\n:::"


def graded_notebook(name: str, title: str, drawn: list[tuple[str, Graded]]):
    """One assignment's graded exercises as a book-format notebook (solutions in cells tagged ``solution``)."""
    solution = {"tags": ["solution"]}
    cells = [
        new_markdown_cell(
            f"# {title}: graded exercises\n\nThese exercises are drawn for this term; the book's chapters have worked "
            "exercises of the same kind, with solutions, to practise on first. Each self-check below prints PASS or "
            "FAIL; it knows whether your answer is right without holding the answer."
        ),
        new_code_cell(SETUP),
    ]
    for label, item in drawn:
        cells.append(new_markdown_cell(_exercise_markdown(label, item.prompt)))
        if item.answer:
            cells.append(new_code_cell(item.answer.strip()))
        cells.append(
            new_markdown_cell(_solution_markdown(label, item.sample_answer or "See the cell below."), metadata=solution)
        )
        if item.solution_code:
            cells.append(new_code_cell(item.solution_code.strip(), metadata=dict(solution)))
        if item.check:
            cells.append(new_code_cell(item.check.strip()))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["convbook"] = {"graded": name}
    return nb


def points_overrides(drawn: list[tuple[str, Graded]]) -> dict:
    """``exercises:`` entries of ``course/assignments.yml`` for the drawn labels (their points)."""
    return {label: {"auto": item.auto, "written": item.written} for label, item in drawn}


def rubric_markdown(drawn_by_assignment: dict, seed: int) -> str:
    """The instructor's rubric: every written question with its rubric, sample answer and TA minutes."""
    lines = [
        f"# Rubric of the graded written answers (term seed {seed})",
        "",
        "Instructor edition: keep this file from students. Minutes are per submission, for the part graded by hand.",
        "",
    ]
    for name, drawn in drawn_by_assignment.items():
        lines.append(f"## {name}")
        for label, item in drawn:
            if not item.written:
                continue
            points = f"{item.written:g} point{'s' if item.written != 1 else ''}"
            lines += [
                f"### {label} ({points}, about {item.ta_minutes:g} min)",
                "",
                f"**Question.** {item.prompt.strip()}",
                "",
                f"**Sample answer.** {item.sample_answer.strip()}",
                "",
                f"**Rubric.** {item.rubric.strip()}",
                "",
            ]
    return "\n".join(lines)


def ta_minutes(drawn: list[tuple[str, Graded]]) -> float:
    """Minutes a TA spends on the hand-graded parts of one submission."""
    return float(sum(item.ta_minutes for _, item in drawn if item.written))
