"""Notebook hygiene. nbval passes cells that have no stored output, so this is what
guards against a notebook that was committed unexecuted or executed out of order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
COLAB_MARKER = 'if "google.colab" in sys.modules'


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_executed_in_order_without_errors(path):
    cells = _code_cells(_load(path))
    assert cells, "a chapter notebook has code"
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"execution counts {counts} are not 1..{len(cells)}"
    for number, cell in enumerate(cells, start=1):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"code cell {number} holds an error output: {errors[0].get('ename')}"
        streams = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o["name"] == "stderr"]
        text = "".join("".join(o["text"]) for o in streams)
        assert "Traceback" not in text, f"code cell {number} printed a traceback"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_house_rules(path):
    nb = _load(path)
    cells = _code_cells(nb)
    first = cells[0]
    assert COLAB_MARKER in _source(first), "the first code cell is the guarded Colab install cell"
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), "the Colab cell is hidden on the site"
    assert nb["cells"][0]["cell_type"] == "markdown" or COLAB_MARKER in _source(nb["cells"][0])
    titles = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.match(r"^# ", _source(c))]
    assert len(titles) == 1, "exactly one top-level title per notebook"
    for number, cell in enumerate(cells, start=1):
        src = _source(cell)
        assert not re.search(r"^\s*from \S+ import \*", src, re.M), f"cell {number} uses import *"
        assert "sys.path" not in src, f"cell {number} edits sys.path"
        if "NBVAL_IGNORE_OUTPUT" in src:
            assert src.lstrip().startswith("# NBVAL_IGNORE_OUTPUT"), f"cell {number}: the marker goes on line 1"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_raw_matplotlib_reprs_or_tensors_in_checked_cells(path):
    for number, cell in enumerate(_code_cells(_load(path)), start=1):
        if "NBVAL_IGNORE_OUTPUT" in _source(cell):
            continue
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert "tensor(" not in text, f"cell {number} prints a raw tensor"
            assert not re.search(r"<matplotlib\.\w+", text), f"cell {number} prints a matplotlib object repr"


def _solo_notebooks() -> set[str]:
    """The Makefile's SOLO_NB list (with its line continuations)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^SOLO_NB\s*:=\s*(.+)$", text, flags=re.M)
    assert match, "the Makefile should define SOLO_NB"
    return set(match.group(1).split())


def test_notebooks_that_time_code_run_alone():
    """A notebook that times code must not share the cores with another one under nbval (see the Makefile)."""
    solo = _solo_notebooks()
    for name in solo:
        assert (ROOT / name).is_file(), f"SOLO_NB lists {name}, which does not exist"
    timing = {
        str(p.relative_to(ROOT))
        for p in NOTEBOOKS
        if any(re.search(r"perf_counter|time_calls|run_suite", _source(c)) for c in _code_cells(_load(p)))
    }
    assert timing, "some notebooks time code"
    assert timing <= solo, f"add to SOLO_NB in the Makefile: {sorted(timing - solo)}"


# ---- the install cell and the release address, in one place (convbook._release)


def test_install_cells_match_the_template():
    """Every notebook's Colab cell installs the pinned release of convbook._release (scripts/sync_install_cell.py)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sync_install_cell.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"run scripts/sync_install_cell.py:\n{proc.stdout}{proc.stderr}"


def test_the_release_address_is_written_in_one_place():
    import tomllib

    from convbook import __version__, _release

    assert _release.TAG == f"v{__version__}"
    assert _release.PIP_SPEC == f"convbook @ git+{_release.REPOSITORY}@{_release.TAG}"
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s*url:\s*{re.escape(_release.REPOSITORY)}\s*$", config, re.M), "_config.yml repository.url"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["urls"]["Repository"] == _release.REPOSITORY
    for nb_path in NOTEBOOKS:
        for cell in _code_cells(_load(nb_path))[1:]:
            assert "github.com/convbook" not in _source(cell), f"{nb_path.name}: the address belongs in cell 1 only"


# ---- live results never fail a notebook

LIVE_CALLS = re.compile(
    r"perf_counter|time_calls|time_interleaved|run_suite|timeit|train_classifier|torch_timer|\bopt\w*\.step\(|"
    r"\bfit\("
)
ASSERT = re.compile(r"^\s*assert\b", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cell_asserts_on_live_timings_or_training(path):
    """A cell that times code or trains a model prints a verdict and asserts nothing, and no assert anywhere
    reads a live result (by convention, live results are named ``live...``). Claims are asserted on reference data
    (convbook.lab.experiments.load_reference, convbook.lab.bench references), which is the same on every machine."""
    for number, cell in enumerate(_code_cells(_load(path)), start=1):
        src = _source(cell)
        if LIVE_CALLS.search(src):
            assert not ASSERT.search(src), f"cell {number} times code or trains a model and asserts"
        for line in ASSERT.finditer(src):
            statement = src[line.start() :].split("\n", 1)[0]
            assert not re.search(r"\blive\w*", statement), f"cell {number} asserts on a live result: {statement}"
