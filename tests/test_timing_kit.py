"""The timing kit's process tools: convbook.lab.fresh (a function in a fresh interpreter) and convbook.lab.onednn
(oneDNN's verbose log read into records)."""

from __future__ import annotations

import os

import pytest
import torch

from convbook.lab import fresh, onednn
from convbook.lab.experiments import separable_timing

# ---- fresh processes


@pytest.mark.slow
def test_run_fresh_runs_in_another_process_with_the_given_environment():
    assert fresh.run_fresh(os.getpid) != os.getpid()
    assert fresh.run_fresh("os:getenv", "CONVBOOK_FRESH_TEST", env={"CONVBOOK_FRESH_TEST": "yes"}) == "yes"
    assert fresh.run_fresh("builtins:sorted", [3, 1, 2], reverse=True) == [3, 2, 1]  # keyword arguments
    assert fresh.run_fresh("numpy:arange", 3) == [0, 1, 2]  # NumPy results come back as JSON values


@pytest.mark.slow
def test_threads_are_fixed_before_start_up_and_around_the_call():
    assert fresh.run_fresh("os:getenv", "OMP_NUM_THREADS", threads=1) == "1"
    used = fresh.run_fresh("convbook.lab.timing:thread_settings", threads=1)
    assert used["torch"] == used["convbook"] == 1 and used["blas"] in (1, None)


@pytest.mark.slow
def test_the_childs_output_and_failure_come_back():
    run = fresh.run_fresh_output("builtins:print", "hello from the child")
    assert run.value is None and run.stdout == "hello from the child\n"
    with pytest.raises(RuntimeError, match=r"run_fresh: math:sqrt failed in its process(.|\n)*math domain error"):
        fresh.run_fresh("math:sqrt", -1)
    with pytest.raises(TimeoutError, match="run_fresh: time:sleep ran past its timeout of 0.5 s"):
        fresh.run_fresh("time:sleep", 30, timeout=0.5)


@pytest.mark.slow
def test_map_fresh_keeps_the_order_of_the_jobs():
    assert list(fresh.map_fresh("math:sqrt", [16, 4, 9], workers=2)) == [4.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="map_fresh: workers must be a positive int, got 0"):
        list(fresh.map_fresh("math:sqrt", [4], workers=0))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: fresh.run_fresh(lambda: 1), ValueError, "run_fresh: target must be a function defined at the top"),
        (lambda: fresh.run_fresh(42), TypeError, "run_fresh: target must be a function or a 'module:function'"),
        (lambda: fresh.run_fresh("math.sqrt", 4), ValueError, "run_fresh: target must be 'module:function'"),
        (lambda: fresh.run_fresh("builtins:len", object()), TypeError, "run_fresh: the arguments of builtins:len"),
        (lambda: fresh.run_fresh("os:getcwd", env={"A": 1}), TypeError, "run_fresh: env must be a dict of str to str"),
        (lambda: fresh.run_fresh("os:getcwd", threads=0), ValueError, "run_fresh: threads must be a positive int"),
    ],
)
def test_bad_arguments_are_refused_before_a_process_starts(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_target_name_of_a_function():
    assert fresh.target_name(fresh.run_fresh) == "convbook.lab.fresh:run_fresh"
    assert fresh.target_name("a.b:c.d") == "a.b:c.d"


# ---- oneDNN's log

# Real lines: torch 2.13 (oneDNN v3.12) on the reference machine, ONEDNN_VERBOSE=1, a depthwise layer in NCHW.
LOG = """onednn_verbose,v1,info,oneDNN v3.12.0 (commit 80afa71049cd69a3df32adcccb623b12cd7baa22)
onednn_verbose,v1,info,cpu,runtime:OpenMP,nthr:1
onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation,prop_kind,memory_descriptors,\
attributes,auxiliary,problem_desc,exec_time
@@ nchw/depthwise/16/0
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:abcd::f0 dst:f32::blocked:aBcd16b::f0,\
attr-scratchpad:user,,2x16x8x8,0.00683594
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:abcde::f0 dst:f32::blocked:Abcde16a::f0,\
attr-scratchpad:user,,16x1x1x3x3,0.000976562
onednn_verbose,v1,primitive,exec,cpu,convolution,jit_dw:avx512_core,forward_training,src:f32:a:blocked:aBcd16b::f0 \
wei:f32:a:blocked:Abcde16a::f0 bia:undef::undef::: dst:f32:a:blocked:aBcd16b::f0,attr-scratchpad:user,\
alg:convolution_direct,g16mb2_ic16oc16_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1,0.0129395
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:aBcd16b::f0 dst:f32::blocked:abcd::f0,\
attr-scratchpad:user,,2x16x8x8,0.000976562
@@ channels_last/depthwise/16/0
onednn_verbose,v1,primitive,exec,cpu,convolution,brdgmm_dw:avx512_core,forward_training,src:f32::blocked:acdb::f0 \
wei:f32:a:blocked:Acdeb16a::f0 bia:undef::undef::: dst:f32::blocked:acdb::f0,attr-scratchpad:user,\
alg:convolution_direct,g16mb2_ic16oc16_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1,0.00390625
onednn_verbose,v1,primitive,exec,cpu,convolution,jit_dw:avx512_core,forward_training,cut short here
@@ end
"""


def test_parse_log_reads_every_executed_primitive():
    records = onednn.parse_log(LOG)
    assert [r.kind for r in records] == ["reorder", "reorder", "convolution", "reorder", "convolution"]
    first, conv = records[0], records[2]
    assert (first.impl, first.problem, first.ms, first.propagation) == ("jit:blk", "2x16x8x8", 0.00683594, "undef")
    assert first.layouts == {"src": "abcd", "dst": "aBcd16b"}  # NCHW into oneDNN's blocked layout
    assert conv.impl == "jit_dw:avx512_core" and conv.problem.startswith("g16mb2_ic16oc16")
    assert conv.layouts == {"src": "aBcd16b", "wei": "Abcde16a", "dst": "aBcd16b"} and conv.engine == "cpu"
    groups = onednn.by_label(records)
    assert list(groups) == ["nchw/depthwise/16/0", "channels_last/depthwise/16/0"]
    assert [r.impl for r in groups["channels_last/depthwise/16/0"]] == ["brdgmm_dw:avx512_core"]


def test_parse_log_reads_the_older_layout_too():
    line = (
        "dnnl_verbose,exec,cpu,convolution,jit:avx2,forward_inference,src_f32::blocked:abcd:f0 "
        "wei_f32::blocked:Acdb8a:f0 dst_f32::blocked:aBcd8b:f0,,alg:convolution_direct,"
        "mb1_ic3oc64_ih224oh112kh7sh2dh0ph3_iw224ow112kw7sw2dw0pw3,1.25"
    )
    (r,) = onednn.parse_log(line)
    assert (r.kind, r.impl, r.propagation, r.ms) == ("convolution", "jit:avx2", "forward_inference", 1.25)
    assert r.label is None
    assert r.layouts == {"src": "abcd", "wei": "Acdb8a", "dst": "aBcd8b"}


def test_mark_writes_a_label_line(capfd):
    onednn.mark("nchw/standard/16/0")
    assert capfd.readouterr().out == "@@ nchw/standard/16/0\n"
    with pytest.raises(ValueError, match="mark: label must be a str on one line"):
        onednn.mark("two\nlines")
    with pytest.raises(TypeError, match="parse_log: text must be a str"):
        onednn.parse_log(None)


@pytest.mark.slow
@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch has no oneDNN")
def test_capture_runs_a_function_with_the_log_on():
    records = onednn.capture(separable_timing.onednn_calls, "default", [16], 2, warmup=1)
    calls = {k: v for k, v in onednn.by_label(records).items() if k not in ("warmup", "end")}
    assert set(calls) == {f"{layout}/{kind}/16/{i}" for layout in ("nchw", "channels_last")
                          for kind in ("standard", "depthwise") for i in (0, 1)}  # fmt: skip
    assert all("convolution" in {r.kind for r in prims} for prims in calls.values())
    assert {r.kind for r in calls["nchw/depthwise/16/1"]} == {"reorder", "convolution"}  # NCHW: copies


@pytest.mark.slow
@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch has no oneDNN")
def test_capture_value_logs_only_what_the_function_switches_on():
    records, timed = onednn.capture_value(separable_timing.onednn_calls, "steady", [16], 3, warmup=2)
    labels = set(onednn.by_label(records))
    assert "warmup" not in labels and None not in labels  # warm-up and unlogged calls: not in the log
    assert labels >= {"nchw/depthwise/16/0", "nchw/depthwise/16/2", "channels_last/standard/16/1"}
    assert set(timed) == {f"{lay}/{kind}/16" for lay in ("nchw", "channels_last") for kind in ("standard", "depthwise")}
    assert all(len(t["call_s"]) == len(t["logged_call_s"]) == 3 for t in timed.values())
