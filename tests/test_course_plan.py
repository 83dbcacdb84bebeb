"""The instructor guide's course plans add up (issue 22, part 5): each week's load is recomputed from the guide's own
table of minutes, every page and section a plan names exists, and every topic is assessed."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from convbook.course import assignments as ma
from convbook.course.notebooks import load_config

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "chapters" / "instructor_guide.md").read_text()
PLAN_HEADER = "| week | pages | lectures | lab | assignment due | load |"
CHAPTER_FOLDERS = {"dilated": "dilated", "separable": "separable", "1×1": "pointwise", "pointwise": "pointwise"}


def _minutes(cell: str) -> int:
    match = re.search(r"(\d+) min", cell)
    return int(match.group(1)) if match else 0


def page_minutes(text: str) -> dict[str, int]:
    """Minutes of each page (reading and exercises) from the guide's table with a ``page`` column."""
    minutes: dict[str, int] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[\w/]+`", cells[2]):
            page = cells[2].strip("`")
            minutes[page] = minutes.get(page, 0) + _minutes(cells[3]) + _minutes(cells[4])
    return minutes


def assignment_minutes(text: str) -> dict[str, int]:
    return {name: int(m) for name, m in re.findall(r"^\| (a\d-[\w-]+) \| (\d+) \|$", text, re.M)}


def plans(text: str) -> list[list[dict]]:
    """Each plan table: a list of weeks with their pages, the assignments due and the stated load in hours."""
    found, lines = [], text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != PLAN_HEADER:
            continue
        weeks = []
        for row in lines[index + 2 :]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            due = re.sub(r"\(`a\d-[\w-]+` released\)", "", cells[4])
            weeks.append(
                {
                    "week": cells[0],
                    "pages": re.findall(r"`([\w/]+)`", cells[1]),
                    "due": re.findall(r"`(a\d-[\w-]+)`", due),
                    "load": float(re.fullmatch(r"([\d.]+) h", cells[5]).group(1)),
                }
            )
        found.append(weeks)
    return found


def plan_problems(text: str) -> list[str]:
    """What does not add up in the guide's plans (empty when they do)."""
    problems = []
    minutes, graded = page_minutes(text), assignment_minutes(text)
    for page in minutes:
        if not any((ROOT / "chapters" / f"{page}{suffix}").exists() for suffix in (".ipynb", ".md")):
            problems.append(f"the table names a page that does not exist: {page}")
    for number, plan in enumerate(plans(text), start=1):
        for week in plan:
            for page in week["pages"]:
                if page not in minutes:
                    problems.append(f"plan {number}, week {week['week']}: {page} is not in the table of minutes")
            for name in week["due"]:
                if name not in graded:
                    problems.append(f"plan {number}, week {week['week']}: no minutes stated for {name}")
            total = sum(minutes.get(p, 0) for p in week["pages"]) + sum(graded.get(a, 0) for a in week["due"])
            if abs(total / 60 - week["load"]) > 0.05:
                problems.append(
                    f"plan {number}, week {week['week']}: the table adds up to {total / 60:.1f} h, "
                    f"the plan states {week['load']:g} h"
                )
        pages = [p for week in plan for p in week["pages"]]
        if len(pages) != len(set(pages)):
            problems.append(f"plan {number}: a page is listed twice")
    return problems


def _title(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
    return path.read_text()


SECTION_REF = re.compile(
    r"\b(dilated|separable|1×1|pointwise)(?: chapter's)? sections? "
    r"((?:\d+[a-z]?(?: \([^)]*\))?(?:, | and | to )?)+)"
)


def section_problems(text: str) -> list[str]:
    """Section references (``separable section 6a (Xception and MobileNetV2)``) that name no such section, or a
    section whose title does not match the words in brackets."""
    problems = []
    for chapter, refs in SECTION_REF.findall(text):
        folder = ROOT / "chapters" / CHAPTER_FOLDERS[chapter]
        for number, words in re.findall(r"(\d+[a-z]?)(?: \(([^)]*)\))?", refs):
            match = re.fullmatch(r"(\d+)([a-z]?)", number)
            pages = sorted(folder.glob(f"{int(match.group(1)):02d}{match.group(2)}_*.ipynb"))
            if not pages:
                problems.append(f"{chapter} section {number}: no such page in {folder.name}/")
                continue
            title = (_title(pages[0]) + " " + pages[0].stem.replace("_", " ")).lower()
            significant = [w for w in re.findall(r"[\w-]+", words.lower()) if len(w) > 3]
            if significant and not any(w in title for w in significant):
                problems.append(f"{chapter} section {number} ({words}) is {pages[0].name}")
    return problems


# --------------------------------------------------------------------------- the guide as it is


def test_the_plans_add_up():
    assert plans(GUIDE) and len(plans(GUIDE)) == 2
    assert plan_problems(GUIDE) == []


def test_the_weeks_carry_similar_loads():
    for plan in plans(GUIDE):
        loads = [week["load"] for week in plan]
        assert max(loads) / min(loads) <= 1.25, loads


def test_the_four_week_plan_covers_the_whole_book_and_every_assignment():
    four = max(plans(GUIDE), key=len)
    assert len(four) == 4
    assert {p for week in four for p in week["pages"]} == set(page_minutes(GUIDE))
    assert [a for week in four for a in week["due"]] == list(load_config(ROOT)["assignments"])


def test_every_variant_is_assessed_in_both_plans():
    for plan in plans(GUIDE):
        due = {a for week in plan for a in week["due"]}
        assert {"a2-dilated", "a3-separable", "a4-pointwise"} <= due


def test_every_book_page_is_in_the_table_of_minutes():
    minutes = page_minutes(GUIDE)
    for folder in ("dilated", "separable", "pointwise"):
        for path in sorted((ROOT / "chapters" / folder).glob("[0-9]*.ipynb")):
            assert f"{folder}/{path.stem}" in minutes, f"{path}: add it to the guide's table of minutes"


def test_section_references_name_existing_sections():
    assert section_problems(GUIDE) == []


def test_the_guide_states_the_ta_time_that_is_generated():
    generated, _ = ma.plan_assignments(load_config(ROOT), ROOT, term=3)
    rows = re.findall(r"^\| (a\d-[\w-]+) \| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \|$", GUIDE, re.M)
    stated = {a: (float(w), float(m), float(h)) for a, w, m, h in rows}
    table = ma.ta_time_table(generated)
    expected = {
        cells[0]: tuple(float(c) for c in cells[1:])
        for cells in ([c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:])
    }
    assert stated == expected, f"update the TA time table in chapters/instructor_guide.md to\n{table}"


# --------------------------------------------------------------------------- the checks catch planted faults


def test_a_wrong_load_is_caught():
    planted = GUIDE.replace("| 9.9 h |", "| 4.7 h |", 1)
    assert any("states 4.7 h" in p for p in plan_problems(planted))


def test_a_missing_page_is_caught():
    planted = GUIDE.replace(
        "`dilated/05_gridding`, `dilated/08_exercises`", "`dilated/05_griding`, `dilated/08_exercises`"
    )
    assert planted != GUIDE
    assert any("05_griding" in p for p in plan_problems(planted))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("read separable section 7 (Xception and MobileNetV2)", "separable section 7"),
        ("the dilated section 9 (nothing)", "no such page"),
        ("the 1×1 sections 2a to 7", "1×1 section 7"),
    ],
)
def test_a_wrong_section_reference_is_caught(text, problem):
    assert any(problem in p for p in section_problems(text)), section_problems(text)
    assert section_problems("read separable section 6a (Xception and MobileNetV2)") == []
