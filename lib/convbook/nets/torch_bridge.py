"""The bridge to PyTorch: devices, precision, conversions and agreement checks.

Like every module of ``convbook.nets`` it imports torch; ``import convbook``
does not, so the NumPy operations stay light. Typical use in a chapter::

    from convbook.nets.torch_bridge import pick_device, compare_with_torch
    report = compare_with_torch("conv2d", x, w, padding=1, dilation=2)
    assert report.ok

The book's device and precision policy lives here, and every chapter uses it:

* **Device.** :func:`pick_device` chooses CUDA, then Apple's MPS, then the CPU.
  MPS has no float64, so :func:`device_for` sends float64 work to the CPU when
  the device is MPS; every function below that takes a ``device`` applies it
  (:func:`to_torch`, :func:`torch_conv`, :func:`torch_conv_grads`,
  :func:`compare_with_torch`), and says so: a :class:`Agreement` records the
  device it asked for and the one it used, and :func:`to_torch` warns once.
* **float32 precision.** On NVIDIA GPUs since Ampere, cuDNN convolutions run
  in TF32 (10 mantissa bits) by default while matrix products do not.
  :func:`float32_precision` sets both explicitly, with torch's new
  ``fp32_precision`` API where it exists (torch >= 2.9) and the legacy
  ``allow_tf32`` flags on older torch, never a mix of the two (mixing raises).
  :func:`exact_mode` is ``float32_precision("ieee")``; every exactness check
  and every timing runs inside one of them, and :func:`precision_label` names
  the setting on a plot.
* **Timing.** :func:`synchronize` waits for queued GPU work (CUDA and MPS);
  ``convbook.lab.timing`` wraps every timed call in it.
* **Training.** ``convbook.nets.training.deterministic`` seeds torch and turns on
  deterministic algorithms (cuDNN included).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import convbook


def pick_device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` ('cuda', 'mps' or 'cpu') forces a choice when it is available.
    """
    if prefer is not None:
        if prefer not in ("cuda", "mps", "cpu"):
            raise ValueError(f"pick_device: prefer must be 'cuda', 'mps', 'cpu' or None, got {prefer!r}")
        if prefer == "cpu" or _available(prefer):
            return torch.device(prefer)
    for kind in ("cuda", "mps"):
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return kind == "cpu"


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name for a device, e.g. ``'cuda (NVIDIA H100)'`` or ``'cpu (2 threads)'``."""
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so that a timer measures the work itself."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def device_for(dtype, device: torch.device | str | None = None) -> torch.device:
    """The device on which a computation in ``dtype`` runs: ``device`` (default :func:`pick_device`),
    except that float64 on Apple's MPS, which has no float64, runs on the CPU.

    ``dtype`` may be a NumPy or a torch dtype.
    """
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "mps" and _is_float64(dtype):
        return torch.device("cpu")
    return device


def _is_float64(dtype) -> bool:
    if isinstance(dtype, torch.dtype):
        return dtype == torch.float64
    return np.dtype(dtype) == np.float64


def fallback_note(dtype, device: torch.device | str | None = None) -> str | None:
    """Why :func:`device_for` moved ``dtype`` off ``device``, or ``None`` when it did not."""
    asked = torch.device(device) if device is not None else pick_device()
    used = device_for(dtype, asked)
    if used == asked:
        return None
    return f"float64 runs on {used.type}: {asked.type} has no float64"


_warned = set()


def to_torch(a, device: torch.device | str | None = None) -> torch.Tensor:
    """A NumPy array as a tensor on ``device`` (default: :func:`pick_device`), dtype kept.

    float64 is kept. On Apple's MPS, which has no float64, a float64 array stays
    on the CPU (see :func:`device_for`), with a one-time warning saying so.
    """
    a = np.ascontiguousarray(a)
    asked = torch.device(device) if device is not None else pick_device()
    used = device_for(a.dtype, asked)
    if used != asked and asked.type not in _warned:
        _warned.add(asked.type)
        warnings.warn(f"to_torch: {fallback_note(a.dtype, asked)}; the tensor stays on {used.type}", stacklevel=2)
    return torch.from_numpy(a).to(used)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor as a NumPy array on the CPU (detached)."""
    return t.detach().cpu().numpy()


FLOAT32_PRECISIONS = ("ieee", "tf32")


def _new_precision_api() -> bool:
    """Whether this torch has the ``fp32_precision`` API (torch >= 2.9)."""
    return hasattr(torch.backends.cuda.matmul, "fp32_precision") and hasattr(
        getattr(torch.backends.cudnn, "conv", None), "fp32_precision"
    )


@contextlib.contextmanager
def float32_precision(mode: str):
    """Run the block with float32 convolutions and matrix products on CUDA in ``mode``, then restore.

    Parameters
    ----------
    mode : {'ieee', 'tf32'}
        ``'ieee'``: full float32 (23 mantissa bits), what NumPy computes.
        ``'tf32'``: NVIDIA's TensorFloat-32 on tensor cores (10 mantissa bits),
        cuDNN's default for convolutions on Ampere and newer GPUs.

    torch's new API (``torch.backends.cuda.matmul.fp32_precision`` and
    ``torch.backends.cudnn.conv.fp32_precision``) is used where it exists, and
    the legacy ``allow_tf32`` flags otherwise: a program that has used the new
    API raises if the legacy flags are touched. On the CPU and on MPS the
    setting changes nothing (their float32 is IEEE), so the context is safe
    everywhere.
    """
    if mode not in FLOAT32_PRECISIONS:
        raise ValueError(f"float32_precision: mode must be 'ieee' or 'tf32', got {mode!r}")
    if _new_precision_api():
        targets = (torch.backends.cuda.matmul, torch.backends.cudnn.conv)
        saved = [t.fp32_precision for t in targets]
        for t in targets:
            t.fp32_precision = mode
        try:
            yield
        finally:
            for t, value in zip(targets, saved):
                t.fp32_precision = value
    else:  # torch < 2.9: the legacy flags
        saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def exact_mode():
    """TF32 off (cuDNN and matmul) for exactness checks, restored afterwards: ``float32_precision('ieee')``.

    On Ampere and newer GPUs cuDNN convolutions default to TF32, which keeps
    only 10 mantissa bits and differs from float32 by about 1e-3.
    """
    return float32_precision("ieee")


def current_float32_precision() -> dict:
    """The float32 precision now in force on CUDA: ``{'conv': 'ieee' or 'tf32', 'matmul': ...}``."""
    if _new_precision_api():
        conv = torch.backends.cudnn.conv.fp32_precision
        matmul = torch.backends.cuda.matmul.fp32_precision
        default = getattr(torch.backends, "fp32_precision", "none")
        resolve = {"none": "ieee" if default in ("none", "ieee") else default}
        return {"conv": resolve.get(conv, conv), "matmul": resolve.get(matmul, matmul)}
    return {
        "conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee",
        "matmul": "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee",
    }


def precision_label(device: torch.device | str | None = None) -> str:
    """A label for plots and tables: the dtype and, on CUDA, the float32 precision in force.

    ``'float32'`` on the CPU and MPS; ``'float32 (IEEE)'``, ``'TF32'`` or
    ``'float32 (conv TF32, matmul IEEE)'`` on CUDA.
    """
    device = torch.device(device) if device is not None else pick_device()
    if device.type != "cuda":
        return "float32"
    p = current_float32_precision()
    if p["conv"] == p["matmul"]:
        return "TF32" if p["conv"] == "tf32" else "float32 (IEEE)"
    return f"float32 (conv {p['conv'].upper()}, matmul {p['matmul'].upper()})"


def torch_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, device=None) -> np.ndarray:
    """Run ``F.conv1d`` or ``F.conv2d`` (chosen by ``weight.ndim``) on NumPy inputs.

    The arrays are moved to ``device`` (default: :func:`pick_device`; float64
    runs on the CPU when that is MPS, see :func:`device_for`), the call runs
    with TF32 off, and the result comes back as a NumPy array.
    """
    fn = {3: F.conv1d, 4: F.conv2d}.get(np.ndim(weight))
    if fn is None:
        raise ValueError(f"torch_conv: weight must be 3-D (conv1d) or 4-D (conv2d), got {np.ndim(weight)}-D")
    device = device_for(np.asarray(x).dtype, device)
    args = [to_torch(x, device), to_torch(weight, device)]
    b = to_torch(bias, device) if bias is not None else None
    with exact_mode(), torch.no_grad():
        out = fn(*args, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return to_numpy(out)


def max_abs_error(a, b) -> float:
    """Largest absolute elementwise difference; shapes must match exactly."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"max_abs_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


@dataclass(frozen=True)
class Agreement:
    """Result of :func:`compare_with_torch`.

    ``device`` is where torch ran and ``requested`` where it was asked to run;
    they differ only for float64 on MPS (see :func:`device_for`). ``str()``
    gives a line that is the same on every machine (safe in a checked cell);
    :attr:`where` names the device and any fallback.
    """

    shape: tuple
    max_abs_error: float
    tolerance: float
    device: str
    requested: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance

    @property
    def where(self) -> str:
        """``'cuda'``, or e.g. ``'cpu (asked for mps, which has no float64)'``."""
        if self.requested in (None, self.device):
            return self.device
        return f"{self.device} (asked for {self.requested}, which has no float64)"

    def __str__(self) -> str:  # a line safe to print in a checked cell: no raw error, no device
        return f"shape {self.shape}: agrees with torch within {self.tolerance:g}: {self.ok}"


def default_tolerance(dtype) -> float:
    """The book's tolerances: 1e-10 for float64, 1e-4 for float32, 1e-2 for float16."""
    return {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4, np.dtype(np.float16): 1e-2}[np.dtype(dtype)]


def compare_with_torch(fn, x, weight, bias=None, *, tolerance=None, device=None, **kwargs) -> Agreement:
    """Compare a convbook convolution with torch's on the same inputs.

    Parameters
    ----------
    fn : callable or str
        A convbook function with ``conv2d``'s signature, or its name in ``convbook``.
    x, weight, bias, **kwargs
        Passed to both sides (``stride``, ``padding``, ``dilation``, ``groups``).
    tolerance : float, optional
        Defaults to :func:`default_tolerance` of ``x.dtype``.
    device : optional
        Where torch runs; default :func:`pick_device`. float64 falls back to
        the CPU on MPS; the result's ``device``, ``requested`` and ``where`` say so.
    """
    if isinstance(fn, str):
        fn = getattr(convbook, fn)
    ours = fn(x, weight, bias, **kwargs)
    asked = torch.device(device) if device is not None else pick_device()
    used = device_for(np.asarray(x).dtype, asked)
    theirs = torch_conv(x, weight, bias, device=used, **kwargs)
    tol = default_tolerance(np.asarray(x).dtype) if tolerance is None else tolerance
    return Agreement(tuple(theirs.shape), max_abs_error(ours, theirs), tol, used.type, asked.type)


def torch_conv_grads(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, device=None):
    """``(grad_input, grad_weight, grad_bias)`` of a torch convolution, by autograd, as NumPy arrays.

    Runs on ``device`` (default :func:`pick_device`; float64 on the CPU when
    that is MPS), with TF32 off.
    """
    fn = {3: F.conv1d, 4: F.conv2d}.get(np.ndim(weight))
    if fn is None:
        raise ValueError(f"torch_conv_grads: weight must be 3-D (conv1d) or 4-D (conv2d), got {np.ndim(weight)}-D")
    device = device_for(np.asarray(x).dtype, device)
    xt = to_torch(x, device).requires_grad_(True)
    wt = to_torch(weight, device).requires_grad_(True)
    bt = torch.zeros(np.shape(weight)[0], dtype=wt.dtype, device=device, requires_grad=True)
    with exact_mode():
        out = fn(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
        out.backward(to_torch(grad_output, device))
    return to_numpy(xt.grad), to_numpy(wt.grad), to_numpy(bt.grad)
