"""Graded work whose answers are not public (issue 22, part 2): sealed self-checks, the term's variants, the
instructor edition, and the student editions that hold none of it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from convbook.course import assignments as ma
from convbook.course import graded
from convbook.course.check import _reference, _student_reference, sealed
from convbook.course.handout import write_handout
from convbook.course.notebooks import load_config
from convbook.course.student_site import write_student_book

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(ROOT)
POOL = graded.load_pool(ROOT)
SEEDS = (1, 7, 2024, 99991)
#: What the release notebooks must not import: functions that compute the by-hand answers in one call.
BY_HAND_HELPERS = ("conv_macs", "effective_kernel_size", "conv_output_size", "receptive_field", "conv_cost")


# --------------------------------------------------------------------------- sealed checks


def test_sealed_values_tell_right_from_wrong_without_the_answer():
    token = sealed.value_token({"macs": 14450688, "ratio": 81 / 9 * 1.0 + 0.0357}, "salt")
    assert "14450688" not in sealed._decode(token).__repr__()
    assert sealed.values("x", {"macs": 14450688, "ratio": 9.0357}, token)
    assert sealed.values("x", {"macs": 14450688.0, "ratio": 9.04}, token)  # rounded working passes
    wrong = sealed.values("x", {"macs": 14450689, "ratio": 9.0357}, token)
    assert not wrong and "1 of 2 wrong: macs" in str(wrong) and "14450688" not in str(wrong)
    assert "not answered yet" in str(sealed.values("x", {"macs": None, "ratio": None}, token))
    assert not sealed.values("x", {"macs": 14450688, "ratio": 9.2}, token)
    assert not sealed.values("x", {"macs": True, "ratio": 9.0357}, token)


def test_sealed_functions_run_the_cases_and_refuse_library_calls():
    from convbook.dilated import dilate_kernel

    cases = [([{"ints": [2, 1, 3], "seed": 1}, 2], {}), ([{"ints": [1, 2, 2, 3], "seed": 2}, {"tuple": [2, 3]}], {})]
    token = sealed.function_token(_reference.dilate_kernel, cases, "s", ("convbook.dilated.dilate_kernel",))
    assert sealed.function("dk", _my_dilate_kernel, token)  # the right answer passes
    calls = sealed.function("dk", dilate_kernel, token)
    assert not calls and "calls convbook.dilated.dilate_kernel" in str(calls)
    assert not sealed.function("dk", lambda w, d: w, token)  # the planted fault: a wrong answer fails
    assert "not implemented" in str(sealed.function("dk", _stub, token))
    assert not sealed.function("dk", 3, token)


def _my_dilate_kernel(weight, dilation):
    dil = tuple(dilation) if isinstance(dilation, tuple) else (dilation,) * (weight.ndim - 2)
    out = np.zeros(weight.shape[:2] + tuple(d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dil)))
    out[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dil)] = weight
    return out


def _stub(*args):
    raise NotImplementedError


def test_a_seal_needs_a_salt():
    with pytest.raises(ValueError, match="salt"):
        sealed.value_token({"a": 1}, "")


# --------------------------------------------------------------------------- the term's variants


@pytest.mark.parametrize("seed", SEEDS)
def test_graded_numbers_differ_from_the_books(seed):
    for name in POOL:
        for label, item in graded.draw_assignment(name, POOL, seed):
            book_label, public = item.book
            assert book_label, f"{label} ({item.key}) names no book exercise it varies"
            assert any(item.numbers.get(k) != v for k, v in public.items()), f"{label}: the book's numbers {public}"


def _book_exercises() -> dict[str, str]:
    """The text of every exercise of the book, by label."""
    from convbook.course.exercises import find_exercises
    from convbook.course.notebooks import book_notebooks

    texts = {}
    for path in book_notebooks(ROOT):
        nb = nbformat.read(path, as_version=4)
        texts.update({ex.label: nb.cells[ex.cell].source for ex in find_exercises(nb)})
    for page in (ROOT / "chapters").rglob("*.md"):  # the exercises of markdown pages (the notation page)
        for label, body in re.findall(r"^:::\{exercise\} (\S+)\n(.*?)^:::$", page.read_text(), re.M | re.S):
            texts.setdefault(label, body)
    return texts


BOOK = _book_exercises()


def _shapes(text: str) -> set[str]:
    """The array shapes a prompt writes as code, such as `(N, H, W, C_in)`: what a function exercise asks for (a
    renamed function asks for nothing new)."""
    return {" ".join(span.split()) for span in re.findall(r"`(\([^`]*\))`", text)}


def _same_as_the_book(item) -> str | None:
    """Why ``item`` is the book's exercise in disguise, else None. ``public`` must quote the book: each of its shapes
    appears in the book exercise's text; and a function exercise whose drawn numbers differ from the book's only in
    shapes must write some array shape that the book exercise does not."""
    book_label, public = item.book
    text = BOOK.get(book_label)
    if text is None:
        return f"no book exercise {book_label}"
    misquoted = [v for v in public.values() if isinstance(v, str) and v.startswith("(") and v not in text]
    if misquoted:
        return f"`public` {misquoted} is not what {book_label} says"
    # A function exercise that writes only the book's shapes must differ in something else than a shape it claims.
    changed = [k for k, v in public.items() if item.numbers.get(k) != v]
    only_shapes = all(str(item.numbers.get(k)).startswith("(") for k in changed)
    if item.kind == "function" and _shapes(item.prompt) <= _shapes(text) and only_shapes:
        return f"it asks for exactly what {book_label} asks: {sorted(_shapes(item.prompt))}"
    return None


@pytest.mark.parametrize("seed", SEEDS)
def test_graded_function_exercises_are_not_the_books(seed):
    for name in POOL:
        for label, item in graded.draw_assignment(name, POOL, seed):
            assert _same_as_the_book(item) is None, f"{label} ({item.key}): {_same_as_the_book(item)}"


def test_the_book_check_catches_a_variant_equal_to_the_book():
    """Planted: the a4 function exercise as it was (the book's pw-ex-16 exactly, with `public` naming pw-ex-2)."""
    import dataclasses

    item = next(i for n in POOL for _, i in graded.draw_assignment(n, POOL, 1) if i.book[0] == "pw-ex-16")
    book_text = " ".join(BOOK["pw-ex-16"].split())
    copy = dataclasses.replace(item, prompt=book_text[book_text.index("Write") :])
    assert "asks for exactly what pw-ex-16 asks" in str(_same_as_the_book(copy))
    renamed = dataclasses.replace(item, prompt=copy.prompt.replace("my_pointwise_nhwc", "my_pointwise"))
    assert "asks for exactly what pw-ex-16 asks" in str(_same_as_the_book(renamed))
    wrong_public = dataclasses.replace(item, book=("pw-ex-16", {"layout": "NCHW", "weight": "(C_out, C_in)"}))
    assert "is not what pw-ex-16 says" in str(_same_as_the_book(wrong_public))


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_each_variants_solution_passes_its_check_and_the_stub_fails(seed):
    for name in POOL:
        for label, item in graded.draw_assignment(name, POOL, seed):
            if not item.check:
                assert item.kind == "written" and item.rubric and item.sample_answer
                continue
            stub: dict = {"np": np, "check": sealed}
            exec(item.answer, stub)  # noqa: S102
            assert not eval(item.check, stub), f"{label}: the stub passes"  # noqa: S307
            solved: dict = {"np": np, "check": sealed}
            exec(item.solution_code, solved)  # noqa: S102
            result = eval(item.check, solved)  # noqa: S307
            assert result, f"{label} ({item.key}): {result}"


def test_the_term_seed_is_kept_and_can_come_from_outside(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVBOOK_TERM_SEED", raising=False)
    first = graded.term_seed(tmp_path, {})
    assert graded.term_seed(tmp_path, {}) == first
    private = tmp_path / "private_seed"
    private.write_text("4242\n")
    assert graded.term_seed(tmp_path / "other", {"term_seed_file": str(private)}) == 4242
    monkeypatch.setenv("CONVBOOK_TERM_SEED", "17")
    assert graded.term_seed(tmp_path, {}) == 17
    with pytest.raises(ValueError, match="term seed"):
        graded.term_seed(tmp_path, {}, -1)


def test_every_assignment_is_graded_from_the_pool_with_written_rubrics():
    plans, sources = ma.plan_assignments(CONFIG, ROOT, term=5)
    assert [p.name for p in plans] == list(CONFIG["assignments"]) == list(POOL)
    for plan in plans:
        assert plan.auto_points > 0 and not plan.warnings, (plan.name, plan.warnings)
        kinds = {i.kind for i in plan.items}
        assert "written" in kinds, f"{plan.name}: no written question"
        several = [label for label, item in plan.drawn if item.kind == "value" and len(item.answers) >= 2]
        partial = {i.exercise for i in plan.items if i.kind == "partial"}
        assert set(several) <= partial, f"{plan.name}: sealed answers of several numbers graded all or nothing"
    rubric = graded.rubric_markdown({p.name: p.drawn for p in plans}, 5)
    written = [label for p in plans for label, item in p.drawn if item.written]
    assert all(f"### {label} " in rubric for label in written)
    assert rubric.count("**Sample answer.**") == len(written)


# --------------------------------------------------------------------------- what students get


def _library_text() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "lib" / "convbook").rglob("*.py"))


def _solution_snippets(plans) -> list[str]:
    """Lines of the graded solutions and the answers as text, which no student file may contain.

    Lines that the library's own source has too (``counts = np.convolve(counts, taps)``, the path count of the
    lessons) are left out: they are the book's, not the graded answer."""
    library = _library_text()
    snippets = []
    for plan in plans:
        for _, item in plan.drawn:
            lines = [ln.strip() for ln in item.solution_code.splitlines() if len(ln.strip()) > 24]
            snippets += [ln for ln in lines if not ln.startswith(("def ", "#", "return")) and ln not in library]
            snippets += [str(v) for v in item.answers.values() if isinstance(v, int) and v >= 1000]
            snippets += [item.sample_answer.strip()[:60]] if item.written else []
    return snippets


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    plans = ma.make_assignments(folder, ROOT, seed=11, only=["a2-dilated", "a4-pointwise"], quiet=True, term=31337)
    return folder, plans


@pytest.mark.slow
def test_the_release_holds_no_graded_solution(course):
    folder, plans = course
    snippets = _solution_snippets(plans)
    assert len(snippets) > 10
    released = list((folder / "release").rglob("*.ipynb"))
    assert {p.parent.name for p in released} == {"a2-dilated", "a4-pointwise"}
    for path in released:
        text = path.read_text()
        for snippet in snippets:
            assert snippet not in text, f"{path.name}: {snippet!r}"
        for helper in BY_HAND_HELPERS:
            assert not re.search(rf"import[^\n]*\b{helper}\b", text), f"{path.name} imports {helper}"
        assert "_reference" not in text and "### BEGIN SOLUTION" not in text
    instructor = folder / "instructor"
    solutions = (instructor / "a2-dilated-solutions.ipynb").read_text()
    assert sum(snippet in solutions for snippet in snippets) > 3
    assert (instructor / "rubric.md").is_file() and (instructor / "term_seed.txt").read_text().startswith("31337")


@pytest.mark.slow
def test_the_handout_has_the_student_build_of_the_library(tmp_path, course):
    _, plans = course
    out = tmp_path / "student"
    write_handout(out, ROOT, quiet=True)
    check = out / "lib" / "convbook" / "course" / "check"
    assert (check / "_reference.py").read_text() == Path(_student_reference.__file__).read_text()
    assert not (check / "_student_reference.py").exists()
    assert not (out / "lib" / "convbook" / "course" / "graded.py").exists()
    assert not list(out.rglob("pool.py")) and not (out / "course").exists()
    snippets = _solution_snippets(plans)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".txt"):
            text = path.read_text()
            assert not any(s in text for s in snippets), path
    # the book's own exercises still check in the student build: its checks run on the library-backed references
    import subprocess
    import sys

    probe = (
        "import numpy as np\n"
        "from convbook.course.check import dilated, pointwise, _reference\n"
        "assert 'library-backed' in _reference.__doc__ or 'student build' in _reference.__doc__\n"
        "def mine(w, d):\n"
        "    d = d if isinstance(d, tuple) else (d,) * (w.ndim - 2)\n"
        "    out = np.zeros(w.shape[:2] + tuple(dd * (k - 1) + 1 for k, dd in zip(w.shape[2:], d)))\n"
        "    out[(slice(None), slice(None)) + tuple(slice(None, None, dd) for dd in d)] = w\n"
        "    return out\n"
        "assert dilated.dilate_kernel(mine) and not dilated.dilate_kernel(lambda w, d: w)\n"
        "assert pointwise.pointwise_nhwc(lambda x, w, b: x @ w + b)\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(out / "lib")},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]


@pytest.mark.slow
def test_the_student_site_sources_hold_no_graded_material(tmp_path, course):
    _, plans = course
    out = tmp_path / "book"
    write_student_book(out, ROOT, quiet=True)
    assert not (out / "course").exists()
    snippets = _solution_snippets(plans)
    for path in [*out.glob("*.md"), *(out / "chapters").rglob("*")]:  # what the site's pages are built from
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md"):
            text = path.read_text()
            assert not any(s in text for s in snippets), path


def test_the_scan_finds_a_planted_solution(course, tmp_path):
    """The scans above would see a leak: a release notebook with one line of a graded solution in it fails."""
    folder, plans = course
    snippets = _solution_snippets(plans)
    released = next((folder / "release" / "a2-dilated").glob("*.ipynb"))
    nb = nbformat.read(released, as_version=4)
    nb.cells[-1].source += "\n" + snippets[0]
    planted = nbformat.writes(nb)
    assert any(s in planted for s in snippets) and not any(s in released.read_text() for s in snippets)


def test_the_public_site_builds_no_instructor_material():
    config = (ROOT / "_config.yml").read_text()
    assert re.search(r"^only_build_toc_files: true", config, re.M)
    assert "course/" not in (ROOT / "_toc.yml").read_text()


# --------------------------------------------------------------------------- the student build's references


def test_the_student_references_agree_with_the_books():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 4, 9, 8)), rng.normal(size=(6, 2, 3, 2))
    kwargs = {"stride": 2, "padding": 1, "dilation": (2, 1), "groups": 2}
    assert np.allclose(_reference.conv2d(x, w, **kwargs), _student_reference.conv2d(x, w, **kwargs), atol=1e-10)
    assert np.allclose(
        _reference.corr1d(x[0, 0, 0], w[0, 0, :, 0]), _student_reference.corr1d(x[0, 0, 0], w[0, 0, :, 0])
    )
    dw, pw, bias = rng.normal(size=(4, 1, 3, 3)), rng.normal(size=(5, 4, 1, 1)), rng.normal(size=5)
    assert np.allclose(_reference.separable_pair(x, dw, pw), _student_reference.separable_pair(x, dw, pw))
    assert np.allclose(_reference.depthwise(x, dw, 2, 1), _student_reference.depthwise(x, dw, 2, 1))
    assert np.allclose(
        _reference.pointwise(x, pw[:, :, 0, 0], bias), _student_reference.pointwise(x, pw[:, :, 0, 0], bias)
    )
    assert np.array_equal(_reference.dilate_kernel(w, (2, 3)), _student_reference.dilate_kernel(w, (2, 3)))
    xc, wc = rng.normal(size=(2, 3, 20)), rng.normal(size=(4, 3, 3))
    assert np.allclose(_reference.causal_conv1d(xc, wc, 4), _student_reference.causal_conv1d(xc, wc, 4))
    for dils in ([1, 2, 5], [2, 2], [3]):
        assert np.array_equal(_reference.path_counts(3, dils), _student_reference.path_counts(3, dils))
    public = {n for n in vars(_reference) if not n.startswith("__") and n not in ("itertools", "annotations", "np")}
    assert public <= set(vars(_student_reference)), public - set(vars(_student_reference))
