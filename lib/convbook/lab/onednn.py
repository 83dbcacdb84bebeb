"""oneDNN's own account of a call: its verbose log, read into typed records.

PyTorch runs many CPU convolutions through oneDNN. With ``ONEDNN_VERBOSE=1`` (``DNNL_VERBOSE=1`` in
older builds) oneDNN prints one line per primitive it executes, for example (one line, cut here)::

    onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,
        src:f32::blocked:abcd::f0 dst:f32::blocked:aBcd16b::f0,attr-scratchpad:user,,16x64x56x56,1.24316

that is: engine, primitive kind (``convolution``; ``reorder``: a copy into another memory layout),
implementation, propagation kind, the memory descriptors of its tensors, attributes, auxiliary
information, the problem (sizes) and the time in milliseconds. The older layout without
``v1,primitive`` (``dnnl_verbose,exec,cpu,...``) is read too.

* :func:`parse_log`: the ``exec`` lines of a log as :class:`Primitive` records. A line ``@@ LABEL``
  (written by :func:`mark` in the process being logged) labels the records after it, so that one
  log can hold the calls of many layers.
* :func:`capture`: run a function in a fresh process (:func:`convbook.lab.fresh.run_fresh_output`)
  with the log switched on, and parse what it printed. oneDNN reads the variable once, when torch
  loads it, hence the new process.
* :func:`capture_value`: the same, but the log starts off: the function switches it on around the calls it
  wants logged (``torch.backends.mkldnn.verbose``), so that it can warm up and time the same calls unlogged in
  the same process; returns the records and the function's own result.
* :func:`by_label`: the records grouped by their label.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from convbook.lab.fresh import run_fresh_output

__all__ = ["MARK", "Primitive", "by_label", "capture", "capture_value", "mark", "parse_log"]

#: Start of a label line in a log (see :func:`mark`).
MARK = "@@ "
_PREFIXES = ("onednn_verbose,", "dnnl_verbose,")


@dataclass(frozen=True)
class Primitive:
    """One primitive that oneDNN executed, from one ``exec`` line of its verbose log.

    ``kind`` is e.g. ``'convolution'`` or ``'reorder'``; ``impl`` the implementation
    (``'jit_dw:avx512_core'``); ``formats`` the memory descriptors, one ``arg:dtype:...:layout:...`` per
    tensor; ``problem`` the sizes (``'mb16_ic64oc64_ih56oh56kh1...'`` for a convolution,
    ``'16x64x56x56'`` for a reorder); ``ms`` the time. ``label`` is the last :func:`mark` before the
    line (``None`` when there was none). ``propagation`` (``'forward_inference'``, ``'undef'`` for a reorder) and
    ``engine`` (``'cpu'``) are ``None`` in records stored before they were kept.
    """

    kind: str
    impl: str
    formats: str
    problem: str
    ms: float
    propagation: str | None = None
    engine: str | None = None
    label: str | None = None

    @property
    def layouts(self) -> dict[str, str]:
        """Memory layout tag of every tensor: ``{'src': 'abcd', 'dst': 'aBcd16b'}`` (NCHW is ``abcd``)."""
        out = {}
        for desc in self.formats.split():  # 'src:f32::blocked:abcd::f0' (v1), 'src_f32::blocked:abcd:f0' (older)
            arg, _, rest = desc.partition(":")
            arg, parts = arg.split("_")[0], rest.split(":")
            if "blocked" in parts and parts.index("blocked") + 1 < len(parts):
                out[arg] = parts[parts.index("blocked") + 1]
        return out


def parse_log(text: str) -> list[Primitive]:
    """The executed primitives of a oneDNN verbose log, in order (info and creation lines are skipped)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_log: text must be a str (the log), got {type(text).__name__}")
    out, label = [], None
    for line in text.splitlines():
        if line.startswith(MARK):
            label = line[len(MARK) :].strip()
            continue
        if not line.startswith(_PREFIXES):
            continue
        fields = line.rstrip().split(",")
        try:
            i = fields.index("exec")
            engine, kind, impl, propagation, formats = fields[i + 1 : i + 6]
            ms = float(fields[-1])
        except (ValueError, IndexError):  # not an exec line, or one cut short
            continue
        if engine not in ("cpu", "gpu"):  # e.g. a graph-API line
            continue
        out.append(Primitive(kind, impl, formats, fields[-2], ms, propagation, engine, label))
    return out


def by_label(records: list[Primitive]) -> dict[str | None, list[Primitive]]:
    """The records grouped by label, labels in order of first appearance."""
    out: dict[str | None, list[Primitive]] = {}
    for r in records:
        out.setdefault(r.label, []).append(r)
    return out


def mark(label: str) -> None:
    """Write a label line into the log: the records that follow belong to ``label``.

    Call it in the process being logged (the function given to :func:`capture`). It writes to file
    descriptor 1 directly, as oneDNN does, so that the line lands in order with oneDNN's own.
    """
    if not isinstance(label, str) or "\n" in label:
        raise ValueError(f"mark: label must be a str on one line, got {label!r}")
    os.write(1, f"{MARK}{label}\n".encode())


def capture(target, *args, threads: int | None = 1, timeout: float = 900, **kwargs) -> list[Primitive]:
    """Run ``target(*args, **kwargs)`` in a fresh process with oneDNN's log on; the primitives it executed.

    ``target`` is a module-level function or ``'module:function'`` (see :func:`convbook.lab.fresh.run_fresh`);
    it may label its calls with :func:`mark`. An empty list where torch has no oneDNN, or ran nothing in it.
    """
    env = {"ONEDNN_VERBOSE": "1", "DNNL_VERBOSE": "1"}
    run = run_fresh_output(target, *args, env=env, threads=threads, timeout=timeout, **kwargs)
    return parse_log(run.stdout)


def capture_value(
    target, *args, threads: int | None = 1, timeout: float = 900, **kwargs
) -> tuple[list[Primitive], object]:
    """Run ``target(*args, **kwargs)`` in a fresh process whose log starts *off*; its primitives and its result.

    ``target`` switches the log on itself around the calls it wants logged (``with
    torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON): ...``), so that warm-up calls and unlogged
    timings of the same calls run in the same process, untouched by the logging. Its result comes back as JSON
    values (:func:`convbook.lab.fresh.run_fresh_output`).
    """
    env = {"ONEDNN_VERBOSE": "0", "DNNL_VERBOSE": "0"}  # off at start, whatever this process's environment says
    run = run_fresh_output(target, *args, env=env, threads=threads, timeout=timeout, **kwargs)
    return parse_log(run.stdout), run.value
