"""The library's architecture, checked: layers, no upward import, no cycle, imports at the top, short modules.

Layers, from the bottom (``lib/convbook/``):

* operations: the NumPy modules directly in ``convbook/`` (argument gate, conv, backward, winograd, shapes, costs,
  the dilated, separable and pointwise operations, analysis);
* ``convbook.plotting``: figures, above the operations only;
* ``convbook.nets``: the torch models and the bridge, above the operations;
* ``convbook.lab``: the measurement kit and the experiments, above the nets;
* ``convbook.course``: self-checks and the course tooling, the top.

A module may import its own layer and the layers below it, never one above, and the modules' import graph has no
cycle. Imports stand at the top of a module, except where the line itself (or the line above) carries a comment
saying why. A module longer than ``MAX_LINES`` says in its docstring why (a sentence starting "This module is long").
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
PKG = LIB / "convbook"
MAX_LINES = 400
RANK = {"ops": 0, "plotting": 1, "nets": 1, "lab": 2, "course": 3}
# What each layer may import from convbook (its own layer included).
ALLOWED = {
    "ops": {"ops"},
    "plotting": {"ops", "plotting"},
    "nets": {"ops", "nets"},
    "lab": {"ops", "nets", "lab"},
    "course": {"ops", "plotting", "nets", "lab", "course"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in RANK:
        return parts[1]
    return "ops"


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def convbook_imports(module: str, source: str | None = None) -> list[tuple[str, ast.stmt]]:
    """Every convbook module that ``module`` imports, with the import statement."""
    tree = ast.parse(source if source is not None else MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names if a.name.split(".")[0] == "convbook"]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            if target.split(".")[0] != "convbook":
                continue
            for a in node.names:  # `from convbook.lab import timing` imports the module convbook.lab.timing
                sub = f"{target}.{a.name}"
                found.append((sub if sub in MODULES else target, node))
    return found


def test_the_layers_are_the_documented_ones():
    assert {layer(m) for m in MODULES} == set(RANK)
    for name in ("nets", "lab", "course", "plotting"):
        assert f"convbook.{name}" in MODULES, f"convbook.{name} should be a package"


def upward_imports(module: str, source: str | None = None) -> list[str]:
    own = layer(module)
    return [
        f"line {node.lineno}: {target} ({layer(target)})"
        for target, node in convbook_imports(module, source)
        if target != "convbook" and layer(target) not in ALLOWED[own]
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    bad = upward_imports(module)
    assert not bad, f"{module} ({layer(module)} layer) imports from a layer it may not: {bad}"


def test_operations_import_only_from_convbook_itself_through_submodules():
    # `from convbook import conv2d` inside an operation module would import the whole package namespace: a cycle
    offenders = [
        f"{m} line {node.lineno}"
        for m in MODULES
        if layer(m) == "ops" and m != "convbook"
        for target, node in convbook_imports(m)
        if target == "convbook"
    ]
    assert not offenders, offenders


def test_no_import_cycle():
    graph = {m: {t for t, _ in convbook_imports(m) if t in MODULES and t != m} for m in MODULES}
    # a package's __init__ importing its own submodules is how a namespace is assembled: not a cycle of concepts
    for m, targets in graph.items():
        if MODULES[m].name == "__init__.py":
            graph[m] = {t for t in targets if not t.startswith(m + ".")}
    _check_acyclic(graph)


def _check_acyclic(graph: dict[str, set[str]]) -> None:
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t) :] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _nested_imports_without_reason(text: str) -> list[str]:
    lines = text.splitlines()
    tree = ast.parse(text)
    top = set(tree.body)
    for node in tree.body:  # imports guarded at the top level (try/except ImportError, if TYPE_CHECKING) count as top
        if isinstance(node, ast.Try | ast.If):
            top.update(ast.walk(node))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and node not in top:
            if getattr(node, "level", 0) == 0 and (getattr(node, "module", None) or "") == "__future__":
                continue
            here = lines[node.lineno - 1]
            above = lines[node.lineno - 2] if node.lineno > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                bad.append(f"line {node.lineno}: {here.strip()}")
    return bad


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_at_module_top_unless_a_comment_says_why(module):
    bad = _nested_imports_without_reason(MODULES[module].read_text(encoding="utf-8"))
    assert not bad, f"{module}: imports inside functions with no comment saying why: {bad}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_short_or_say_why(module):
    path = MODULES[module]
    n = len(path.read_text(encoding="utf-8").splitlines())
    if n <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "This module is long" in doc, (
        f"{module} has {n} lines (> {MAX_LINES}); split it, or say in its docstring why it is long "
        "(a sentence starting 'This module is long')"
    )


@pytest.mark.slow
def test_import_convbook_needs_neither_torch_nor_matplotlib():
    code = (
        "import sys, convbook\n"
        "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, f'import convbook imported {bad}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_checks_can_fail():
    """Planted faults are reported: an upward import, a nested import with no reason, an import cycle."""
    assert upward_imports("convbook.conv", "from convbook.lab import timing\n")
    assert upward_imports("convbook.plotting", "import convbook.nets.models\n")
    assert not upward_imports("convbook.lab.timing", "from convbook.nets import torch_bridge\n")
    assert _nested_imports_without_reason("def f():\n    import os\n")
    assert not _nested_imports_without_reason("def f():\n    import torch  # optional: see docstring\n")
    with pytest.raises(AssertionError, match="import cycle"):
        _check_acyclic({"a": {"b"}, "b": {"c"}, "c": {"a"}})
