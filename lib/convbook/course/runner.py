"""The student's side of sandboxed grading: runs a submission's cells and answers the grader's questions.

``python -m convbook.course.runner ROOT [ROOT ...]`` is started by :mod:`convbook.course.sandbox`, inside
bubblewrap, in a throw-away copy of one submission's folder. It never sees a test, the hidden seed or the
gradebook: the grader (:mod:`convbook.course.testrun`) sends it the student's cells, one at a time, and asks for the
values of names or calls the student's functions; every answer goes back as data (JSON: numbers, strings, lists,
arrays as raw bytes with their dtype), never as pickled objects, so nothing the student's code builds can run in
the grader's process.

Requests arrive as JSON lines on stdin; replies leave on a private copy of stdout, which is then pointed at
``/dev/null`` (so that a ``print`` or a C library writing to fd 1 cannot break the protocol). Every reply carries the
audit events seen since the last one (:func:`audit`): files opened or listed outside the submission's folder and
the ``ROOT`` folders (the Python installation and the library), network use, programs started. Python's audit hooks
cannot be removed once added, but the student's code runs in this process and could tamper with the event list;
the grader's static scan (:mod:`convbook.course.integrity`) does not depend on it.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import pickle
import sys
import traceback
from io import StringIO

import numpy as np
from IPython.core.displayhook import DisplayHook
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

#: modules whose functions and submodules the grader imports itself instead of calling the student's copy
TRUSTED_MODULES = ("convbook", "numpy", "math", "torch", "fractions", "functools", "itertools", "operator")
NUMERIC_KINDS = "biufc"
MAX_DEPTH = 12
_EVENTS: list[str] = []
_WATCHING = [False]


def _inside(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def audit_hook(workdir: str, roots: list[str]):
    """An audit hook that records what the student's code reaches outside its folder (while it runs)."""
    private = [os.environ[k] for k in ("HOME", "MPLCONFIGDIR") if os.environ.get(k)]  # the sandbox's own
    allowed = [workdir, *roots, *private, "/usr", "/proc", "/sys", "/dev", "/etc/fonts", "/etc/localtime"]

    def note(text: str) -> None:
        if text not in _EVENTS and len(_EVENTS) < 200:
            _EVENTS.append(text)

    def hook(event: str, args) -> None:
        if not _WATCHING[0]:
            return
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if not _inside(path, allowed):
                verb = "lists" if event != "open" else ("writes" if _writes(args) else "reads")
                note(f"{verb} {path}")
        elif event in ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto"):
            note(f"network: {event}")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork"):
            note(f"runs a program ({event})")

    return hook


def _writes(args) -> bool:
    mode = args[1] if len(args) > 1 else "r"
    return isinstance(mode, str) and any(ch in mode for ch in "wax+")


# --------------------------------------------------------------------------- values as data


def _trusted_ref(obj) -> dict | None:
    """``{"__ref__": module, "qualname": ...}`` when ``obj`` is a module, function or class of a trusted module."""
    if type(obj).__name__ == "module":
        name = getattr(obj, "__name__", "")
        return {"__module__": name} if name.split(".")[0] in TRUSTED_MODULES else None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or module.split(".")[0] not in TRUSTED_MODULES:
        return None
    return {"__ref__": module, "qualname": qualname}


def _array(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {
        "__ndarray__": array.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode(),
    }


def encode(obj, handles: dict, depth: int = 0):
    """``obj`` as JSON-able data: the grader rebuilds plain values and arrays; functions become handles."""
    if depth > MAX_DEPTH:
        return {"__opaque__": type(obj).__name__, "repr": "(nested too deeply)"}
    if obj is None or type(obj) in (bool, str):
        return obj
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int) and not isinstance(obj, np.generic):
        return int(obj)
    if isinstance(obj, float) and not isinstance(obj, np.generic):
        value = float(obj)
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(obj, np.generic) and obj.dtype.kind in NUMERIC_KINDS:
        return {"__npscalar__": _array(np.asarray(obj))}
    if isinstance(obj, np.ndarray) and obj.dtype.kind in NUMERIC_KINDS:
        return _array(obj)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        data = obj.detach().cpu()
        kept = data if data.dtype not in (torch.bfloat16,) else data.float()
        return {
            "__tensor__": str(obj.dtype).replace("torch.", ""),
            "array": _array(kept.numpy()),
            "requires_grad": bool(obj.requires_grad),
        }
    if type(obj) in (list, tuple):
        items = [encode(item, handles, depth + 1) for item in obj]
        return items if type(obj) is list else {"__tuple__": items}
    if type(obj) is dict:
        return {"__dict__": [[encode(k, handles, depth + 1), encode(v, handles, depth + 1)] for k, v in obj.items()]}
    ref = _trusted_ref(obj)
    if ref is not None:
        return ref
    if callable(obj):
        handle = str(len(handles) + 1)
        handles[handle] = obj
        return {"__callable__": handle, "name": str(getattr(obj, "__name__", type(obj).__name__))[:80]}
    try:
        text = repr(obj)[:200]
    except Exception:  # a student's object whose repr fails
        text = "?"
    return {"__opaque__": type(obj).__name__, "repr": text}


# --------------------------------------------------------------------------- running cells


class _Results(DisplayHook):
    """Keeps a cell's value (its ``execute_result``) instead of printing ``Out[n]``."""

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self.shell.last_result = {k: v for k, v in format_dict.items() if k == "text/plain"}

    def finish_displayhook(self):
        pass


class _Shell(InteractiveShell):
    def _showtraceback(self, etype, evalue, stb):
        self.last_error = {"ename": etype.__name__, "evalue": str(evalue)[:2000], "traceback": list(stb)[-30:]}


def _stream(name: str, text: str) -> list[dict]:
    return [{"output_type": "stream", "name": name, "text": text[-20000:]}] if text else []


def run_cell(shell: _Shell, source: str) -> dict:
    shell.last_result, shell.last_error = None, None
    _WATCHING[0] = True
    try:
        with capture_output(display=False) as captured:
            result = shell.run_cell(source, store_history=True)
    finally:
        _WATCHING[0] = False
    outputs = _stream("stdout", captured.stdout) + _stream("stderr", captured.stderr)
    if shell.last_result:
        outputs.append({"output_type": "execute_result", "data": shell.last_result, "metadata": {}})
    error = None
    if not result.success:
        exc = result.error_in_exec or result.error_before_exec
        error = shell.last_error or {"ename": type(exc).__name__, "evalue": str(exc)[:2000], "traceback": []}
        outputs.append({"output_type": "error", **error})
    return {"ok": result.success, "outputs": outputs, "error": error}


def call(shell: _Shell, handles: dict, request: dict) -> dict:
    """Call one of the student's functions on the grader's arguments, watching for the library calls named."""
    fn = handles.get(request["handle"])
    if fn is None:
        return {"raised": {"type": "LookupError", "message": "unknown function"}}
    args, kwargs = pickle.loads(base64.b64decode(request["args"]))  # from the grader: trusted
    watched = _functions(request.get("watch", []))
    called: list[str] = []
    previous = sys.getprofile()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code in watched and watched[frame.f_code] not in called:
            called.append(watched[frame.f_code])

    _WATCHING[0] = True
    try:
        with capture_output(display=False):
            if watched:
                sys.setprofile(hook)
            try:
                value = fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
    except BaseException as exc:  # the student's bug (or Ctrl-C from the grader's timeout) is reported
        return {"raised": {"type": type(exc).__name__, "message": str(exc)[:500]}, "called": called}
    finally:
        _WATCHING[0] = False
    return {"value": encode(value, handles), "called": called}


def _functions(qualified: list[str]) -> dict:
    """Code objects of the library functions ``module.qualname`` named, for the call watch."""
    found = {}
    for name in qualified:
        module, _, attr = name.rpartition(".")
        if module not in sys.modules and module.startswith("convbook."):
            importlib.import_module(module)  # a library module the student's function may import while it runs
        fn = getattr(sys.modules.get(module), attr, None)
        code = getattr(fn, "__code__", None)
        if code is not None:
            found[code] = name
    return found


def serve(roots: list[str]) -> None:
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdin, sys.stdout = StringIO(), StringIO()
    sys.addaudithook(audit_hook(os.getcwd(), roots))
    shell = _Shell.instance(displayhook_class=_Results, colors="NoColor")
    handles: dict = {}
    proto_out.write(json.dumps({"ready": True}) + "\n")
    proto_out.flush()
    for line in proto_in:
        request = json.loads(line)
        try:
            if request["op"] == "run":
                reply = run_cell(shell, request["source"])
            elif request["op"] == "get":
                missing = request["name"] not in shell.user_ns
                reply = {"missing": True} if missing else {"value": encode(shell.user_ns[request["name"]], handles)}
            elif request["op"] == "call":
                reply = call(shell, handles, request)
            else:
                reply = {"raised": {"type": "ValueError", "message": f"unknown op {request['op']!r}"}}
        except BaseException as exc:  # the runner never dies of a request; the grader reads the problem
            reply = {"raised": {"type": type(exc).__name__, "message": traceback.format_exc(limit=2)[-500:]}}
        reply["events"] = _EVENTS[:]
        _EVENTS.clear()
        proto_out.write(json.dumps(reply) + "\n")
        proto_out.flush()


if __name__ == "__main__":
    serve(sys.argv[1:])
