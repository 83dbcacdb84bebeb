"""Notebook hygiene. nbval passes cells that have no stored output, so this is what
guards against a notebook that was committed unexecuted or executed out of order.
Also: every check a cell prints is asserted too, and the helpers the notebooks share work."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convbook.lab.report import sig
from convbook.plotting.axes import plain_log_axes

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


# a call that times code: the timing kit's, or an experiment's live `time_...(...)` function
TIMES_CODE = re.compile(r"perf_counter|time_calls|time_interleaved|run_suite|\btime_\w+\(")


def test_notebooks_that_time_code_run_alone():
    """A notebook that times code must not share the cores with another one under nbval (see the Makefile)."""
    solo = _solo_notebooks()
    for name in solo:
        assert (ROOT / name).is_file(), f"SOLO_NB lists {name}, which does not exist"
    timing = {
        str(p.relative_to(ROOT)) for p in NOTEBOOKS if any(TIMES_CODE.search(_source(c)) for c in _code_cells(_load(p)))
    }
    assert timing, "some notebooks time code"
    assert timing <= solo, f"add to SOLO_NB in the Makefile: {sorted(timing - solo)}"


# ---- the install cell and the release address, in one place (convbook._release)


@pytest.mark.slow
def test_install_cells_match_the_template():
    """Every notebook's Colab cell installs the pinned release of convbook._release (convbook.course.install_cell)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "convbook.course", "sync-install-cell", "--check", "--root", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"run python -m convbook.course sync-install-cell:\n{proc.stdout}{proc.stderr}"


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
    r"perf_counter|time_calls|time_interleaved|run_suite|\btime_\w+\(|timeit|train_classifier|torch_timer|"
    r"\bopt\w*\.step\(|\bfit\("
)
ASSERT = re.compile(r"^\s*assert\b", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cell_asserts_on_live_timings_or_training(path):
    """A cell that times code or trains a model prints a verdict and asserts nothing, and no assert anywhere
    reads a live result (by convention, live results are named ``live...``). Claims are asserted on reference data
    (convbook.lab.results.load_reference), which is the same on every machine."""
    for number, cell in enumerate(_code_cells(_load(path)), start=1):
        src = _source(cell)
        if LIVE_CALLS.search(src):
            assert not ASSERT.search(src), f"cell {number} times code or trains a model and asserts"
        for line in ASSERT.finditer(src):
            statement = src[line.start() :].split("\n", 1)[0]
            assert not re.search(r"\blive\w*", statement), f"cell {number} asserts on a live result: {statement}"


# ---- a lesson's check is asserted, not only printed (nbval's output diff is not the check)

CHECK_CALLS = {"allclose", "array_equal", "array_equiv", "isclose", "equal", "compare_with_torch"}
CHECK_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _is_check(node: ast.AST, names: set[str]) -> bool:
    """True for a value that says whether a check holds: ``a == b``, ``err < tol``, ``np.allclose(...)``,
    ``torch.equal(...)``, ``compare_with_torch(...)``, ``all``/``any``/``bool`` of one, ``(a >= b).all()``, a list of
    them, or a name the cell bound to one of these."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Compare):
        return all(isinstance(op, CHECK_OPS) for op in node.ops)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return _is_check(node.elt, names)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            if func.attr in CHECK_CALLS:
                return True
            return func.attr in ("all", "any") and not node.args and _is_check(func.value, names)
        if isinstance(func, ast.Name):
            if func.id in CHECK_CALLS:
                return True
            return func.id in ("all", "any", "bool") and len(node.args) == 1 and _is_check(node.args[0], names)
    return False


def unasserted_printed_checks(source: str) -> list[str]:
    """The checks a cell prints (see :func:`_is_check`) that no ``assert`` of the same cell tests."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    names: set[str] = set()
    for node in ast.walk(tree):  # the names bound to a check, e.g. `same = np.allclose(a, b)`
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if _is_check(node.value, names):
                names.add(node.targets[0].id)
    asserted = {ast.dump(sub) for node in ast.walk(tree) if isinstance(node, ast.Assert) for sub in ast.walk(node.test)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"):
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            values = (
                [v.value for v in arg.values if isinstance(v, ast.FormattedValue)]
                if isinstance(arg, ast.JoinedStr)
                else [arg]
            )
            found += [ast.unparse(v) for v in values if _is_check(v, names) and ast.dump(v) not in asserted]
    return found


@pytest.mark.parametrize(
    "source, unasserted",
    [
        ('print("same:", np.allclose(a, b))', ["np.allclose(a, b)"]),
        ('print(f"agree: {err < 1e-10}")', ["err < 1e-10"]),
        ('ok = torch.equal(a, b)\nprint("agree:", ok)', ["ok"]),
        ("print(compare_with_torch(conv2d, x, w))", ["compare_with_torch(conv2d, x, w)"]),
        ('print("all:", all(e < 1e-10 for e in errs))', ["all((e < 1e-10 for e in errs))"]),
        ('ok = np.allclose(a, b, rtol=0, atol=1e-10)\nprint("agree:", ok)\nassert ok, "a == b"', []),
        ('print(f"agree: {err < 1e-10}")\nassert err < 1e-10, "too far"', []),
        ("rep = compare_with_torch(conv2d, x, w)\nassert rep.ok, str(rep)\nprint(rep)", []),
        ('print("holes:", int((cov == 0).sum()), "pooling:", head.pool is not None)', []),
    ],
)
def test_the_printed_check_detector(source, unasserted):
    assert unasserted_printed_checks(source) == unasserted


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_printed_checks_are_asserted(path):
    """A cell that prints whether a check holds (``print("agree:", np.allclose(a, b))``) also asserts it, with an
    explicit tolerance: a failing check stops the notebook on every machine instead of changing one printed word."""
    for number, cell in enumerate(_code_cells(_load(path)), start=1):
        missing = unasserted_printed_checks(_source(cell))
        assert not missing, f"code cell {number} prints {missing} without asserting it"


# ---- the helpers the notebooks share (convbook.lab.report, convbook.plotting.axes)


def test_sig_writes_two_significant_digits_plainly():
    assert [sig(v) for v in (1234.5, 0.01234, 6500.3, 3, 0.5)] == ["1200", "0.012", "6500", "3", "0.5"]
    with pytest.raises(TypeError, match=r"^sig: v must be a real number, got str"):
        sig("1.5")
    with pytest.raises(TypeError, match=r"^sig: v must be a real number, got bool"):
        sig(True)


def test_plain_log_axes_labels_the_chosen_axes_with_plain_numbers():
    fig = Figure()
    canvas = FigureCanvasAgg(fig)
    a, b = fig.subplots(1, 2)
    for ax in (a, b):
        ax.plot([1, 2, 4, 8, 1024], [0.03, 0.5, 3, 40, 700])
    plain_log_axes(a)
    plain_log_axes(b, "y", xbase=2)
    canvas.draw()
    assert (a.get_xscale(), a.get_yscale(), b.get_xscale(), b.get_yscale()) == ("log",) * 4
    y_labels = [t.get_text() for t in a.get_yticklabels()]
    assert {"0.1", "0.2", "0.5", "1", "2", "5", "10", "100"} <= set(y_labels)
    assert [t.get_text() for t in b.get_yticklabels()] == y_labels
    assert {"1", "10", "100", "1000"} <= {t.get_text() for t in a.get_xticklabels()}
    assert b.xaxis.get_transform().base == 2
    with pytest.raises(ValueError, match=r"^plain_log_axes: plain must be one of \('x', 'y', 'xy'\), got 'z'"):
        plain_log_axes(a, "z")
    with pytest.raises(TypeError, match=r"^plain_log_axes: plain must be a str"):
        plain_log_axes(a, None)
    with pytest.raises(ValueError, match=r"^plain_log_axes: plain ticks on x need xbase=10"):
        plain_log_axes(a, "xy", xbase=2)
