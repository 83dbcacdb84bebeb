"""One concept, one place: each of these is defined once in the library, and everything else uses it.

* multiply-add counting: ``convbook.costs`` (every other counter calls it);
* conv-BN-ReLU: ``convbook.nets.layers.conv_bn_relu`` (the only place that builds a batch norm);
* the small CNN: ``convbook.nets.small_cnn.SmallCNN``;
* reading and writing reference data: ``convbook.lab.results``;
* running a measurement in a fresh process: ``convbook.lab.fresh``;
* parsing oneDNN's verbose log: ``convbook.lab.onednn``;
* argument checking: ``convbook._args``, with the same rules (bias dtype, ``TypeError`` for the wrong kind of value,
  ``ValueError`` for a wrong value) in every operation.

The structural tests read the library's source (AST), so a second copy of a concept added later fails here; each
ends with a planted copy that the check must catch.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import convbook
from convbook import costs, dilated, pointwise, separable

LIB = Path(__file__).resolve().parents[1] / "lib"
PKG = LIB / "convbook"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(p): p.read_text(encoding="utf-8") for p in sorted(PKG.rglob("*.py"))}


def imported_names(tree: ast.AST) -> dict[str, str]:
    """Local name -> the module it was imported from (``import a.b`` binds ``a``)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = node.module
        elif isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name
    return names


# ---------------------------------------------------------------------------------------------- multiply-adds

COUNT_NAME = re.compile(r"macs|flops|cost|intensity", re.IGNORECASE)
# Modules whose functions count through convbook.costs (the profiler and the architecture tables call it).
COUNTERS = {"convbook.costs", "convbook.nets.profiler", "convbook.nets.architectures", "convbook.lab.bench"}
# Functions whose names look like counters but that do not count layers, or must not use the library's counter.
NOT_COUNTERS = {
    "convbook.winograd.winograd_macs": "counts Winograd's own multiplications (an algorithm, not a layer)",
    "convbook.nets.profiler.total_macs": "adds up rows that convbook.costs counted",
    "convbook.lab.experiments.bench.gflops": "divides stored counts by stored times",
    "convbook.lab.experiments.pointwise_gemm.best_gflops": "a rate from stored counts and times",
    "convbook.lab.experiments.pointwise_gemm.peak_gflops": "the best of stored rates",
    "convbook.lab.experiments.separable_timing.tables.intensity_table": "formats stored intensities",
    "convbook.lab.machine.first_touch_cost": "a time (page faults), not an operation count",
}
# The exercises' self-checks compare a student's count with an independent reference (course.check._reference), on
# purpose not the library's counter: a bug in convbook.costs must not make a wrong answer pass.
INDEPENDENT = "convbook.course.check"


def counters_outside_costs(sources: dict[str, str]) -> list[str]:
    """Functions that look like counters, live outside convbook.costs and call no counting function."""
    bad = []
    for module, source in sources.items():
        if module == "convbook.costs" or module.startswith(INDEPENDENT):
            continue
        tree = ast.parse(source)
        imported = imported_names(tree)
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and COUNT_NAME.search(n.name)):
            if f"{module}.{fn.name}" in NOT_COUNTERS:
                continue
            calls = [c.func for c in ast.walk(fn) if isinstance(c, ast.Call)]
            uses = any(
                (isinstance(f, ast.Name) and imported.get(f.id) in COUNTERS)
                or (
                    isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("costs", "_costs")
                )
                for f in calls
            )
            if not uses:
                bad.append(f"{module}.{fn.name}")
    return bad


def test_multiply_adds_are_counted_in_one_place():
    bad = counters_outside_costs(SOURCES)
    assert not bad, f"these count multiply-adds themselves instead of calling convbook.costs: {bad}"
    for name in NOT_COUNTERS:  # the exemptions name functions that exist
        module, _, fn = name.rpartition(".")
        assert re.search(rf"^\s*def {fn}\(", SOURCES[module], re.M), name
    planted = {
        "convbook.lab.planted": "def layer_macs(c_in, c_out, k, h, w):\n    return c_in * c_out * k * k * h * w\n"
    }
    assert counters_outside_costs(planted) == ["convbook.lab.planted.layer_macs"]


def test_the_counters_agree_with_costs():
    """The architecture tables, the profiler and conv_macs give convbook.costs' numbers."""
    from convbook.nets.architectures import mobilenet_v1_costs

    rows = mobilenet_v1_costs()
    first = rows[0]
    expected = costs.conv_cost(first["c_in"], first["c_out"], 3, first["out_size"])  # the stem: 3x3, stride 2
    assert (first["params"], first["macs"]) == (expected.params, expected.macs)
    assert costs.conv_macs((1, 8, 10, 10), (16, 8, 3, 3), padding=1) == costs.conv_cost(8, 16, 3, 10).macs


# ---------------------------------------------------------------------------------------------- conv-BN-ReLU


def batch_norm_builders(sources: dict[str, str]) -> list[str]:
    """Modules that construct a batch norm themselves (a conv-BN(-ReLU) written again)."""
    found = []
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name.startswith("BatchNorm"):
                    found.append(f"{module} line {node.lineno}")
    return found


def test_conv_bn_relu_is_built_in_one_place():
    bad = [m for m in batch_norm_builders(SOURCES) if not m.startswith("convbook.nets.layers ")]
    assert not bad, f"build conv-BN(-ReLU) with convbook.nets.layers.conv_bn_relu, not by hand: {bad}"
    assert batch_norm_builders({"x": "import torch\nlayer = torch.nn.BatchNorm2d(8)\n"}) == ["x line 2"]


def test_the_one_builder_makes_conv_bn_relu():
    from torch import nn

    from convbook.nets.layers import conv_bn_relu

    block = conv_bn_relu(4, 8, 3)
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert block[0].bias is None  # batch norm's mean subtraction would cancel a bias


# ---------------------------------------------------------------------------------------------- the small CNN


def test_one_small_cnn():
    from convbook.nets.small_cnn import SmallCNN, small_cnn

    classes = [
        f"{m}.{n.name}"
        for m, s in SOURCES.items()
        for n in ast.walk(ast.parse(s))
        if isinstance(n, ast.ClassDef) and re.search(r"small.?cnn", n.name, re.IGNORECASE)
    ]
    assert classes == ["convbook.nets.small_cnn.SmallCNN"], classes
    assert type(small_cnn(False)) is SmallCNN and type(small_cnn(True)) is SmallCNN


# ---------------------------------------------------------------------------------------------- reference data

REFERENCE_IO = re.compile(r"RESULTS_DIR|REFERENCE_DIR|[\"']reference[\"']")


def reference_data_handlers(sources: dict[str, str]) -> list[str]:
    """Modules that locate stored reference data themselves instead of going through convbook.lab.results."""
    return sorted(m for m, s in sources.items() if REFERENCE_IO.search(s) and m != "convbook.lab.results")


def test_reference_data_is_read_and_written_in_one_place():
    # the experiments' command line lists what is stored (with results.RESULTS_DIR); it reads and writes nothing
    assert reference_data_handlers(SOURCES) == ["convbook.lab.experiments.__main__"]
    defined = [
        f"{m}.{n.name}"
        for m, s in SOURCES.items()
        for n in ast.walk(ast.parse(s))
        if isinstance(n, ast.FunctionDef) and n.name in ("load_reference", "save", "load_results", "validate_results")
    ]
    assert sorted(defined) == ["convbook.lab.results.load_reference", "convbook.lab.results.save"], defined
    assert reference_data_handlers({"x": 'PATH = ROOT / "reference" / "results"\n'}) == ["x"]


# ---------------------------------------------------------------------------------------------- fresh processes

PROCESS_MODULES = {"subprocess", "multiprocessing", "concurrent.futures"}
# results.py asks git for the commit (provenance), which is not a measurement in a fresh process.
PROCESS_EXEMPT = {"convbook.lab.results": "runs `git` for the provenance's commit"}


def process_starters(sources: dict[str, str]) -> list[str]:
    """Modules of the nets and lab layers that start processes themselves."""
    found = []
    for module, source in sources.items():
        if not module.startswith(("convbook.lab", "convbook.nets")) or module in PROCESS_EXEMPT:
            continue
        imported = set(imported_names(ast.parse(source)).values())
        uses_pool = re.search(r"ProcessPoolExecutor|multiprocessing", source)
        if imported & PROCESS_MODULES and (uses_pool or "subprocess" in imported):
            found.append(module)
    return sorted(found)


def test_fresh_processes_start_in_one_place():
    assert process_starters(SOURCES) == ["convbook.lab.fresh"]
    planted = {"convbook.lab.x": "from concurrent.futures import ProcessPoolExecutor\npool = ProcessPoolExecutor()\n"}
    assert process_starters(planted) == ["convbook.lab.x"]


# ---------------------------------------------------------------------------------------------- oneDNN's log

ONEDNN_LINE = re.compile(r"(onednn|dnnl)_verbose,", re.IGNORECASE)


def test_onednn_log_is_parsed_in_one_place():
    parsers = sorted(m for m, s in SOURCES.items() if ONEDNN_LINE.search(s))
    assert parsers == ["convbook.lab.onednn"], parsers


# ---------------------------------------------------------------------------------------------- argument checks

x32 = np.ones((1, 2, 6, 6), dtype=np.float32)
w32 = np.ones((2, 1, 3, 3), dtype=np.float32)  # depthwise-shaped, also valid for groups=2
b64 = np.zeros(2, dtype=np.float64)
OPS_WITH_BIAS = {
    "conv2d": lambda b: convbook.conv2d(x32, w32, b, groups=2),
    "conv2d_naive": lambda b: convbook.conv2d_naive(x32, w32, b, groups=2),
    "conv2d_im2col": lambda b: convbook.conv2d_im2col(x32, w32, b, groups=2),
    "conv1d": lambda b: convbook.conv1d(x32[:, :, 0], w32[:, :, 0], b, groups=2),
    "dilated_conv2d_gaps": lambda b: dilated.dilated_conv2d_gaps(x32, w32, b, dilation=2, groups=2),
    "dilated_conv2d_zeros": lambda b: dilated.dilated_conv2d_zeros(x32, w32, b, dilation=2, groups=2),
    "causal_conv1d": lambda b: dilated.causal_conv1d(x32[:, :, 0], np.ones((2, 2, 2), np.float32), b),
    "depthwise_conv2d": lambda b: separable.depthwise_conv2d(x32, w32, b),
    "depthwise_conv2d_loop": lambda b: separable.depthwise_conv2d_loop(x32, w32, b),
    "separable_conv2d": lambda b: separable.separable_conv2d(x32, w32, np.ones((2, 2, 1, 1), np.float32), b),
    "pointwise_conv2d": lambda b: pointwise.pointwise_conv2d(x32, np.ones((2, 2, 1, 1), np.float32), b),
    "pointwise_conv2d_loop": lambda b: pointwise.pointwise_conv2d_loop(x32, np.ones((2, 2, 1, 1), np.float32), b),
}


@pytest.mark.parametrize("name", sorted(OPS_WITH_BIAS))
def test_every_operation_applies_the_same_bias_dtype_rule(name):
    """A float64 bias on float32 data is a TypeError everywhere (as in torch), with the gate's one message."""
    op = OPS_WITH_BIAS[name]
    assert op(None).dtype == np.float32 and op(b64.astype(np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match=r"bias dtype float64 must match input dtype float32"):
        op(b64)


@pytest.mark.parametrize(
    "call, error, rule",
    [
        (lambda: costs.conv_cost(2.5, 8, 3, 10), TypeError, "c_in must be an int"),
        (lambda: costs.conv_cost(0, 8, 3, 10), ValueError, "c_in must be a positive int"),
        (lambda: convbook.conv2d(x32, w32, stride=1.5, groups=2), TypeError, "stride"),
        (lambda: convbook.conv2d(x32, w32, stride=0, groups=2), ValueError, "stride"),
        (lambda: pointwise.pointwise_conv2d(x32, np.ones((2, 2, 1, 1), np.float32), groups=1.0), TypeError, "groups"),
        (lambda: dilated.coverage_map(3, [1, 0]), ValueError, "positive int"),
        (lambda: dilated.coverage_map(3, [1, 2.0]), TypeError, r"dilations\[1\] must be an int"),
    ],
)
def test_wrong_kind_is_a_type_error_and_wrong_value_a_value_error(call, error, rule):
    with pytest.raises(error, match=rule):
        call()
