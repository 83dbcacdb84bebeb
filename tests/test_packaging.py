"""Packaging: what pip installs outside the repository, and the Binder configuration, match requirements.txt."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


#: Distributions whose module has another name.
MODULE_OF = {"pyyaml": "yaml", "pillow": "PIL", "jupyter-book": "jupyter_book", "ipython": "IPython"}


def _modules(requirements: list[str]) -> set[str]:
    """The top-level modules that requirement strings install."""
    names = {re.split(r"[<>=!~\[ ;]", d)[0].lower() for d in requirements}
    return {MODULE_OF.get(name, name) for name in names}


def _third_party_imports(paths) -> set[str]:
    imported = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    stdlib = set(__import__("sys").stdlib_module_names) | {"convbook", "__future__"}
    return {name for name in imported if name not in stdlib}


def _is_course_tooling(path: Path) -> bool:
    """convbook/course outside its self-checks: the maintainers' and instructors' tools (the `course` extra)."""
    parts = path.relative_to(ROOT / "lib" / "convbook").parts
    return parts[0] == "course" and parts[1] != "check"


def test_the_package_declares_everything_it_imports():
    """Every third-party module imported anywhere in lib/convbook is a declared dependency (pip install . works);
    the course tooling (convbook.course outside convbook.course.check) may also use the `course` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _modules(project["dependencies"])
    course = declared | _modules(project["optional-dependencies"]["course"])
    files = list((ROOT / "lib" / "convbook").rglob("*.py"))
    library = _third_party_imports(f for f in files if not _is_course_tooling(f))
    tooling = _third_party_imports(f for f in files if _is_course_tooling(f))
    assert tooling, "the course tooling is where this test expects it: lib/convbook/course"
    # IPython is imported only inside figcheck's notebook hook, which runs in a Jupyter kernel (there it exists)
    assert library - {"IPython"} <= declared, f"declare in pyproject.toml: {sorted(library - declared - {'IPython'})}"
    assert tooling <= course, f"declare in the `course` extra of pyproject.toml: {sorted(tooling - course)}"


def test_reference_data_ships_with_the_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = cfg["package-data"]["convbook"]
    assert "lab/reference/results/*.json" in patterns
    package = ROOT / "lib" / "convbook"
    stored = {p.relative_to(package) for p in (package / "lab" / "reference").rglob("*.json")}
    shipped = {p.relative_to(package) for pattern in patterns for p in package.glob(pattern)}
    assert stored and stored <= shipped, f"stored results the package would not ship: {sorted(stored - shipped)}"


def test_binder_installs_the_cpu_torch_and_the_same_pins():
    binder, main = _pins(ROOT / "binder" / "requirements.txt"), _pins(ROOT / "requirements.txt")
    assert binder["torch"] == main["torch"] + "+cpu", "Binder takes the CPU build of the pinned torch"
    assert "download.pytorch.org/whl/cpu" in (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    for name, version in binder.items():
        if name != "torch":
            assert main.get(name) == version, f"binder/requirements.txt pins {name}=={version}, requirements.txt not"
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text(encoding="utf-8")


def test_ci_installs_the_cpu_torch_first():
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    cpu = ci.index("--index-url https://download.pytorch.org/whl/cpu")
    assert cpu < ci.index("bash .ci/run"), "the CPU torch is installed before requirements.txt"
    assert "macos-latest" in ci and "windows-latest" in ci
