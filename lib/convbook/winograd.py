"""Winograd's minimal filtering, F(4x4, 3x3): a quarter of the multiplications.

Lavin & Gray (2016) brought to convolutional networks an old result of
Winograd's: the outputs of a short correlation can be had with fewer
multiplications than the direct formula, at the price of additions. For a
1-D signal ``d`` of 6 samples and a 3-tap filter ``g``, the 4 outputs of
``y[i] = sum_u g[u] d[i + u]`` are

    ``y = A^T [(G g) * (B^T d)]``

with 6 elementwise products (``*``) instead of ``4 * 3 = 12``. The matrices
(:data:`BT`, :data:`G`, :data:`AT`) come from evaluating polynomials at the
points 0, 1, -1, 2, -2 and infinity. Nesting the formula along both axes
gives the 2-D tile formula

    ``Y = A^T [(G g G^T) * (B^T d B)] A``

for a 4x4 output tile from a 6x6 input tile: 36 products instead of 144. In a
layer, the product at each of the 36 tile positions is summed over the input
channels, so it becomes one matrix product ``(C_out, C_in) @ (C_in, tiles)``
per position: the layer's multiplications drop four-fold
(:func:`winograd_macs`).

:func:`conv2d_winograd` in five steps:

1. pad the input and cut it into overlapping 6x6 tiles, 4 pixels apart (a
   strided view, copied once into the order the products want:
   ``(6, 6, C_in, tiles)``);
2. transform every tile, ``B^T d B``, as two small matrix products;
3. transform the weights, ``G g G^T``;
4. the 36 matrix products over the channels;
5. transform back, ``A^T m A``, and write the 4x4 output tiles into place.

Dilation costs no extra code. A 3x3 kernel with dilation ``d`` applied at the
output rows ``a, a + d, a + 2d, ...`` reads the input rows ``a, a + d, ...``
only: a dilated convolution is ``d_H * d_W`` ordinary ones, one per *phase*
of the output grid, each on the input subsampled with the same phase (the
"space-to-batch" identity behind TensorFlow's atrous convolution). The tile
view simply takes the phases as two more tile axes.

In NumPy, steps 1 and 5 are strided copies that run on one core. On narrow
layers they cost more than the saved multiplications gain; on wide ones the
channel products dominate and Winograd wins. ``convbook.conv2d`` therefore
uses it only where it measured faster (``conv._winograd_pays``); the
performance chapter shows both sides. The arithmetic is
exact in exact arithmetic; in floating point the transforms (constants up to
8 and down to 1/24) add rounding error, a few times float32's epsilon
relative to the output's scale, which the tests bound.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convbook._args import DILATION_NOTE, parse_conv_args, positive_int, positive_tuple

M_OUT, N_IN = 4, 6  # output tile 4x4, input tile 6x6 (= 4 + 3 - 1)

#: Input transform ``B^T`` (6x6) of F(4, 3), points 0, 1, -1, 2, -2, infinity (Lavin & Gray, 2016).
BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float64,
)
#: Filter transform ``G`` (6x3) of F(4, 3).
G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    dtype=np.float64,
)
#: Output transform ``A^T`` (4x6) of F(4, 3).
AT = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    dtype=np.float64,
)


def _tiles_per_phase(size_out: int, d: int) -> int:
    """Output tiles along one axis, per phase: ``ceil(ceil(size_out / d) / 4)``, as ``ceil(size_out / (4 d))``."""
    return -(-size_out // (M_OUT * d))


def winograd_macs(c_in: int, c_out: int, h_out: int, w_out: int, n: int = 1, dilation=1) -> int:
    """Multiply-adds of the 36 channel products of :func:`conv2d_winograd` (the transforms not counted).

    ``36 * C_in * C_out`` per 4x4 output tile and image. With dilation ``d``,
    each of the ``d_H d_W`` phases is tiled separately, so when ``h_out`` is
    not a multiple of ``4 d_H`` the last tiles stick out and are partly wasted.
    Compare with ``convbook.costs.conv_cost(C_in, C_out, 3, (h_out, w_out)).macs * n``
    (``9 C_in C_out h_out w_out n``), the direct count.
    """
    fname = "winograd_macs"
    c_in, c_out = positive_int(c_in, "c_in", fname), positive_int(c_out, "c_out", fname)
    h_out, w_out = positive_int(h_out, "h_out", fname), positive_int(w_out, "w_out", fname)
    n = positive_int(n, "n", fname)
    dh, dw = positive_tuple(dilation, 2, "dilation", fname, DILATION_NOTE)
    tiles = dh * _tiles_per_phase(h_out, dh) * dw * _tiles_per_phase(w_out, dw)
    return N_IN * N_IN * c_in * c_out * tiles * n


def _tile_view(a: np.ndarray, size: int, tH: int, tW: int, dh: int, dw: int, writeable=False) -> np.ndarray:
    """``a`` (N, C, H, W) seen as tiles: shape (size, size, C, N, dh, tH, dw, tW), no copy.

    Element ``[r, s, c, n, p, i, q, j]`` is ``a[n, c, p + dh (4 i + r), q + dw (4 j + s)]``:
    tile ``(i, j)`` of phase ``(p, q)``, tile position ``(r, s)``.
    """
    sN, sC, sH, sW = a.strides
    N, C = a.shape[:2]
    shape = (size, size, C, N, dh, tH, dw, tW)
    strides = (dh * sH, dw * sW, sC, sN, sH, M_OUT * dh * sH, sW, M_OUT * dw * sW)
    return as_strided(a, shape=shape, strides=strides, writeable=writeable)


def conv2d_winograd(x, weight, bias=None, padding=0, dilation=1) -> np.ndarray:
    """3x3 convolution, stride 1, by Winograd's F(4x4, 3x3); same results as :func:`convbook.conv2d`.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W), floating point
    weight : ndarray, shape (C_out, C_in, 3, 3), same dtype
    bias : ndarray, shape (C_out,), optional
    padding : int, (int, int), 'valid' or 'same', default 0
    dilation : int or (int, int), default 1 (an ordinary convolution)

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out), dtype of ``x``
        As ``torch.nn.functional.conv2d(x, weight, bias, 1, padding, dilation)``.
        float16 input is computed in float32 and rounded at the end.

    Raises
    ------
    TypeError, ValueError
        On bad input (as :func:`convbook.conv2d`), and for a kernel that is not
        3x3: F(4x4, 3x3) is specific to it.
    """
    a = parse_conv_args(x, weight, bias, 1, padding, dilation, 1, nd=2, fname="conv2d_winograd")
    if a.weight.shape[2:] != (3, 3):
        kh, kw = a.weight.shape[2:]
        raise ValueError(f"conv2d_winograd: weight must have a 3x3 kernel for F(4x4, 3x3), got {kh}x{kw}")
    return a.restore(winograd_forward(a))


def tile_waste(out_size, dilation) -> float:
    """Computed outputs / wanted outputs: how much the last tiles of each phase stick out (1.0: none)."""
    (Ho, Wo), (dh, dw) = out_size, dilation
    return (M_OUT * dh * _tiles_per_phase(Ho, dh) / Ho) * (M_OUT * dw * _tiles_per_phase(Wo, dw) / Wo)


def winograd_forward(a) -> np.ndarray:
    """The algorithm, on validated arguments (``a``: a 3x3, stride-1, ungrouped ``ConvArgs``); 4-D output."""
    dtype = np.float32 if a.x.dtype == np.float16 else a.x.dtype
    x, w = a.x.astype(dtype, copy=False), a.weight.astype(dtype, copy=False)
    N, C_in, H, W = x.shape
    C_out = w.shape[0]
    (pt, _), (pl, _) = a.pad
    dh, dw = a.dilation
    Ho, Wo = a.out_size
    tH, tW = _tiles_per_phase(Ho, dh), _tiles_per_phase(Wo, dw)
    T = dh * tH * dw * tW  # tiles per image

    # 1. Pad, with extra zeros at the bottom and right so that whole tiles fit
    #    (4 dh tH >= Ho, so the padded input always fits inside).
    xp = np.zeros((N, C_in, M_OUT * dh * tH + 2 * dh, M_OUT * dw * tW + 2 * dw), dtype=dtype)
    xp[:, :, pt : pt + H, pl : pl + W] = x
    bt, at = BT.astype(dtype), AT.astype(dtype)
    # 3. Weights: U[r, s] = (G g G^T)[r, s] for every (C_out, C_in) pair, as a (36, C_out, C_in) stack.
    u = G.astype(dtype) @ w.reshape(C_out * C_in, 3, 3) @ G.T.astype(dtype)  # (C_out*C_in, 6, 6)
    u = np.ascontiguousarray(u.reshape(C_out, C_in, N_IN * N_IN).transpose(2, 0, 1))  # (36, C_out, C_in)

    out = np.empty((N, C_out, M_OUT * dh * tH, M_OUT * dw * tW), dtype=dtype)
    nb = max(1, min(N, (1 << 22) // (N_IN * N_IN * max(C_in, C_out) * T)))  # images per block
    for n0 in range(0, N, nb):
        b = min(nb, N - n0)
        # 1. The tiles of this block, tile position first: d[r, s] has shape (C_in, b * T).
        d = np.empty((N_IN, N_IN, C_in, b, dh, tH, dw, tW), dtype=dtype)
        np.copyto(d, _tile_view(xp[n0 : n0 + b], N_IN, tH, tW, dh, dw))
        # 2. B^T d B: B^T along r (one product over the stacked rows), then along s.
        v = bt @ d.reshape(N_IN, -1)  # (6 r', 6 s * C_in * bT)
        v = bt @ v.reshape(N_IN, N_IN, -1)  # (6 r', 6 s', C_in * bT)
        # 4. One (C_out, C_in) @ (C_in, bT) product per tile position.
        m = u @ v.reshape(N_IN * N_IN, C_in, b * T)  # (36, C_out, bT)
        # 5. A^T m A: along s, then r; then each 4x4 output tile goes back into place.
        y = at @ m.reshape(N_IN, N_IN, -1)  # (6 r, 4 s'', C_out * bT)
        y = at @ y.reshape(N_IN, -1)  # (4 r'', 4 s'' * C_out * bT)
        dest = _tile_view(out[n0 : n0 + b], M_OUT, tH, tW, dh, dw, writeable=True)  # (4, 4, C_out, b, ...)
        np.copyto(dest, y.reshape(dest.shape))
    out = out[:, :, :Ho, :Wo]
    if a.bias is not None:
        out += a.bias.astype(dtype)[None, :, None, None]
    return out.astype(a.x.dtype, copy=False)
