"""One version everywhere (convbook.course.release, `make release`), the citation file, and the oldest Python.

Each test of the release check plants one inconsistency in a copy of the files that name the version and sees the
check refuse it; the real repository is checked too (its files agree, whatever is built under _build/).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from convbook import _release
from convbook.course import release
from convbook.course.install_cell import INSTALL_CELL

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILES = (
    "pyproject.toml",
    "CHANGELOG.md",
    "CITATION.cff",
    "README.md",
    "_config.yml",
    "lib/convbook/_release.py",
)


def _notebook(path: Path, install: str = INSTALL_CELL) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(install.rstrip("\n"), metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_markdown_cell("# A page"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path) -> Path:
    """The files that name the version, copied from the repository, and two notebooks with the install cell."""
    for name in VERSION_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    _notebook(tmp_path / "chapters" / "a.ipynb")
    _notebook(tmp_path / "chapters" / "dilated" / "b.ipynb")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_repository_names_one_version():
    report = release.check_release(ROOT, built=False)
    assert report.ok, report.problems
    assert report.version == _release.VERSION and report.tag == f"v{_release.VERSION}"


def test_a_consistent_copy_passes(book):
    report = release.check_release(book)
    assert report.ok, report.problems
    assert "install cells of 2 notebooks" in report.checked


@pytest.mark.parametrize(
    "name, old, new, expected",
    [
        ("CHANGELOG.md", f"## [{_release.VERSION}]", "## [9.9.9]", "CHANGELOG.md: the top entry is [9.9.9]"),
        ("CITATION.cff", f"version: {_release.VERSION}", "version: 0.0.1", "CITATION.cff: version '0.0.1'"),
        ("README.md", f"version {_release.VERSION}", "version 0.0.1", "suggested attribution does not say"),
        ("README.md", f"@{_release.TAG}", "@v0.0.1", "README.md names ['v0.0.1']"),
        ("_config.yml", f"convbook {_release.VERSION}", "convbook 0.0.1", "_config.yml: html.extra_footer"),
        ("pyproject.toml", 'requires-python = ">=3.11"', 'requires-python = ">=3.10"', "requires-python '>=3.10'"),
        ("pyproject.toml", 'attr = "convbook._release.VERSION"', 'attr = "convbook.VERSION"', "dynamic version"),
    ],
)
def test_a_planted_inconsistency_is_refused(book, name, old, new, expected):
    _edit(book / name, old, new)
    report = release.check_release(book)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems


def test_a_new_version_in_release_py_alone_is_refused_everywhere(book):
    _edit(book / "lib/convbook/_release.py", f'VERSION = "{_release.VERSION}"', 'VERSION = "9.9.9"')
    problems = " | ".join(release.check_release(book).problems)
    for where in ("CHANGELOG.md", "CITATION.cff", "README.md", "_config.yml", "install v9.9.9", "title page"):
        assert where in problems, (where, problems)


def test_a_stale_install_cell_is_refused(book):
    _notebook(book / "chapters" / "old.ipynb", INSTALL_CELL.replace(_release.TAG, "v0.1.0"))
    report = release.check_release(book)
    assert any("1 notebook(s) do not install" in p and "old.ipynb" in p for p in report.problems)
    assert any("sync-install-cell" in p for p in report.problems)


def test_a_changelog_entry_without_a_date_is_refused(book):
    _edit(book / "CHANGELOG.md", f"## [{_release.VERSION}] - ", f"## [{_release.VERSION}] ")
    assert any("has no date" in p for p in release.check_release(book).problems)


def test_unreleased_entries_are_skipped():
    assert release.changelog_entry("# C\n\n## [Unreleased]\n\n## [1.2.0] - 2026-01-02\n") == ("1.2.0", "2026-01-02")
    assert release.changelog_entry("# no entries\n") is None


def test_a_stale_build_is_refused(book):
    (book / "_build" / "html").mkdir(parents=True)
    (book / "_build" / "html" / "index.html").write_text("<footer>This is convbook 0.0.1</footer>")
    assert any("rebuild it (make build)" in p for p in release.check_release(book).problems)
    assert release.check_release(book, built=False).ok


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.mark.slow
def test_the_tag_must_be_an_annotated_tag_on_head(book):
    _git(book, "init", "-q")
    _git(book, "add", "-A")
    _git(book, "commit", "-q", "-m", "edition")
    tag = _release.TAG
    report = release.check_release(book)
    assert report.ok and any(f"no tag {tag} yet" in c for c in report.checked), report.problems
    _git(book, "tag", tag)  # lightweight
    assert any("lightweight" in p for p in release.check_release(book).problems)
    _git(book, "tag", "-d", tag)
    _git(book, "tag", "-a", tag, "-m", "edition")
    assert release.check_release(book).ok
    (book / "README.md").write_text((book / "README.md").read_text() + "\nmore\n")  # a tracked change, uncommitted
    assert any("tracked files differ" in p for p in release.check_release(book).problems)
    _git(book, "commit", "-q", "-am", "after the release")  # the tag is now behind HEAD
    problems = release.check_release(book).problems
    assert any(f"tag {tag} is on" in p and "not on HEAD" in p for p in problems), problems


@pytest.mark.slow
def test_release_check_command_exit_status(book):
    ok = subprocess.run(
        [sys.executable, "-m", "convbook.course", "release-check", "--root", str(book)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"version {_release.VERSION} ({_release.TAG}) is the same everywhere" in ok.stdout
    _edit(book / "CITATION.cff", f"version: {_release.VERSION}", "version: 0.0.1")
    bad = subprocess.run(
        [sys.executable, "-m", "convbook.course", "release-check", "--root", str(book)], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "PROBLEM  CITATION.cff" in bad.stdout and "REFUSED" in bad.stderr


# ---- the citation file (cffconvert needs jsonschema<4, which Jupyter cannot have: the keys are checked here)

CFF_REQUIRED = ("cff-version", "message", "title", "authors")


def cff_problems(data) -> list[str]:
    """What a CITATION.cff (parsed) lacks for CFF 1.2.0 and for this book's release check."""
    if not isinstance(data, dict):
        return ["not a YAML mapping"]
    problems = [f"missing {key}" for key in CFF_REQUIRED if not data.get(key)]
    if data.get("cff-version") != "1.2.0":
        problems.append(f"cff-version {data.get('cff-version')!r}, expected '1.2.0'")
    authors = data.get("authors") or []
    if not isinstance(authors, list) or not all(
        isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in authors
    ):
        problems.append("every author needs a name (an entity) or family-names (a person)")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(data.get("date-released", ""))):
        problems.append("date-released must be YYYY-MM-DD")
    if data.get("type", "software") not in ("software", "dataset"):
        problems.append("type must be software or dataset")
    return problems


def test_citation_file_is_valid_cff():
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff_problems(data) == []
    assert str(data["version"]) == _release.VERSION
    assert data["repository-code"] == _release.REPOSITORY
    assert data["url"].endswith(f"/tree/{_release.TAG}")


def test_cff_check_finds_what_is_missing():
    assert "missing authors" in cff_problems({"cff-version": "1.2.0", "message": "m", "title": "t"})
    assert any("cff-version" in p for p in cff_problems({"cff-version": "1.1.0"}))
    bad_author = {"cff-version": "1.2.0", "message": "m", "title": "t", "authors": [{"email": "x"}]}
    assert any("every author" in p for p in cff_problems(bad_author))
    assert cff_problems("text") == ["not a YAML mapping"]


# ---- the oldest Python: import convbook and the Makefile's first step


def test_python_problem_names_the_version_and_what_to_install():
    assert _release.python_problem((3, 11, 0)) is None and _release.python_problem((3, 13, 1)) is None
    message = _release.python_problem((3, 10, 12))
    assert message.startswith("convbook needs Python 3.11 or later; this is Python 3.10.")
    assert "python3.11 -m venv .venv" in message and "py -3.11" in message and "Colab" in message
    with pytest.raises(TypeError, match="version_info must start with two ints"):
        _release.python_problem(("3", "10"))


OLD_PYTHON = "import runpy, sys; sys.version_info = (3, 10, 12, 'final', 0); "


@pytest.mark.slow
def test_import_convbook_on_an_old_python_says_why():
    code = OLD_PYTHON + f"sys.path.insert(0, {str(ROOT / 'lib')!r}); import convbook"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "ImportError: convbook needs Python 3.11 or later; this is Python 3.10." in proc.stderr


@pytest.mark.slow
def test_make_refuses_an_old_python_before_making_the_venv(tmp_path):
    """`make setup` with a Python 3.10 (faked: the real interpreter reporting 3.10) stops with the message and makes
    no venv; with this Python, the Makefile's check passes."""
    if shutil.which("make") is None:
        pytest.skip("no make here")
    fake = tmp_path / "python3.10"
    fake.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "{OLD_PYTHON}sys.argv = sys.argv[1:]; '
        'runpy.run_path(sys.argv[0], run_name=\'__main__\')" "$@"\n'
    )
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    proc = subprocess.run(
        ["make", "-s", "setup", f"PYTHON={fake}", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "convbook needs Python 3.11 or later; this is Python 3.10" in proc.stderr
    assert not venv.exists()
    ok = subprocess.run([sys.executable, str(ROOT / "lib/convbook/_release.py")], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
