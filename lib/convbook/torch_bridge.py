"""The bridge to PyTorch: devices, conversions and agreement checks.

This is the only core module that imports torch (together with
``convbook.profiler`` and ``convbook.models``), so ``import convbook`` stays
light. Typical use in a chapter::

    from convbook.torch_bridge import pick_device, compare_with_torch
    report = compare_with_torch("conv2d", x, w, padding=1, dilation=2)
    assert report.max_abs_error < 1e-10
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


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


def to_torch(a, device: torch.device | str | None = None) -> torch.Tensor:
    """A NumPy array as a tensor on ``device`` (default: :func:`pick_device`), dtype kept.

    float64 is kept except on MPS, which has no float64.
    """
    device = torch.device(device) if device is not None else pick_device()
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor as a NumPy array on the CPU (detached)."""
    return t.detach().cpu().numpy()


@contextlib.contextmanager
def exact_mode():
    """Turn TF32 off (cuDNN and matmul) for exactness checks, restoring it afterwards.

    On Ampere and newer GPUs cuDNN convolutions default to TF32, which keeps
    only 10 mantissa bits and differs from float32 by about 1e-3.
    """
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def torch_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, device=None) -> np.ndarray:
    """Run ``F.conv1d`` or ``F.conv2d`` (chosen by ``weight.ndim``) on NumPy inputs.

    The arrays are moved to ``device`` (default: :func:`pick_device`), the call
    runs with TF32 off, and the result comes back as a NumPy array.
    """
    fn = {3: F.conv1d, 4: F.conv2d}.get(np.ndim(weight))
    if fn is None:
        raise ValueError(f"torch_conv: weight must be 3-D (conv1d) or 4-D (conv2d), got {np.ndim(weight)}-D")
    device = torch.device(device) if device is not None else pick_device()
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
    """Result of :func:`compare_with_torch`."""

    shape: tuple
    max_abs_error: float
    tolerance: float
    device: str

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance

    def __str__(self) -> str:  # a line safe to print in a checked cell: no raw error
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
        the CPU on MPS.
    """
    import convbook

    if isinstance(fn, str):
        fn = getattr(convbook, fn)
    ours = fn(x, weight, bias, **kwargs)
    device = torch.device(device) if device is not None else pick_device()
    if device.type == "mps" and np.asarray(x).dtype == np.float64:
        device = torch.device("cpu")
    theirs = torch_conv(x, weight, bias, device=device, **kwargs)
    tol = default_tolerance(np.asarray(x).dtype) if tolerance is None else tolerance
    return Agreement(tuple(theirs.shape), max_abs_error(ours, theirs), tol, device.type)


def torch_conv_grads(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, device=None):
    """``(grad_input, grad_weight, grad_bias)`` of a torch convolution, by autograd."""
    fn = {3: F.conv1d, 4: F.conv2d}[np.ndim(weight)]
    device = torch.device(device) if device is not None else pick_device()
    xt = to_torch(x, device).requires_grad_(True)
    wt = to_torch(weight, device).requires_grad_(True)
    bt = torch.zeros(np.shape(weight)[0], dtype=wt.dtype, device=device, requires_grad=True)
    with exact_mode():
        out = fn(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
        out.backward(to_torch(grad_output, device))
    return to_numpy(xt.grad), to_numpy(wt.grad), to_numpy(bt.grad)
