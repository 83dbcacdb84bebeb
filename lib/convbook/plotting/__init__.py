"""Plotting helpers for the book. Each takes ``ax`` first and returns what it drew.

Nothing happens on import. Call :func:`use_book_style` once in a notebook to get
opaque white figures (readable in the site's dark mode) and a colour-blind-safe
palette (Okabe & Ito). A figure that belongs to one chapter and is long lives in its
own submodule: ``convbook.plotting.pointwise_figure.show_pointwise`` (the 1x1 kernel at one pixel).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from convbook.plotting.alt_text import alt_text_problems
from convbook.shapes import conv_output_size

#: Okabe & Ito's colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
TAP_COLOR, OUT_COLOR, PAD_COLOR = "#0072B2", "#E69F00", "#DDDDDD"


def use_book_style() -> None:
    """White, opaque figures and the Okabe-Ito colour cycle (explicit, never on import)."""
    plt.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": 100,
            "axes.prop_cycle": plt.cycler(color=OKABE_ITO),
            "image.cmap": "viridis",
        }
    )


def show_kernel(ax, kernel, title: str | None = None, annotate: bool = True, cmap: str = "RdBu_r"):
    """Draw a 2-D kernel as a heat map with its values written in.

    Parameters
    ----------
    ax : matplotlib Axes
    kernel : array, shape (kH, kW)
    title : str, optional
    annotate : bool
        Write each weight in its cell (for kernels up to 11 x 11).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2:
        raise ValueError(f"show_kernel: kernel must be 2-D (kH, kW), got shape {k.shape}")
    vmax = float(np.abs(k).max()) or 1.0
    im = ax.imshow(k, cmap=cmap, vmin=-vmax, vmax=vmax)
    if annotate and max(k.shape) <= 11:
        for (i, j), val in np.ndenumerate(k):
            # white text on dark cells, black on light ones (relative luminance of the cell's colour)
            r, g, b, _ = im.cmap(im.norm(val))
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
            ax.text(j, i, f"{val:.2g}", ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_xticks(range(k.shape[1]))
    ax.set_yticks(range(k.shape[0]))
    ax.set_xlabel("kernel column v")
    ax.set_ylabel("kernel row u")
    if title:
        ax.set_title(title)
    return im


def show_feature_map(ax, fmap, title: str | None = None, cmap: str = "gray", colorbar: bool = False, **kwargs):
    """Draw a 2-D feature map (or image) with pixel axes.

    Parameters
    ----------
    ax : matplotlib Axes
    fmap : array, shape (H, W)
    title : str, optional
    colorbar : bool
        Add a colour bar beside the axes.

    Returns
    -------
    matplotlib.image.AxesImage
    """
    f = np.asarray(fmap)
    if f.ndim != 2:
        raise ValueError(f"show_feature_map: fmap must be 2-D (H, W), got shape {f.shape}")
    im = ax.imshow(f, cmap=cmap, **kwargs)
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def _grid(ax, rows: int, cols: int, padding=(0, 0)):
    """An empty grid of cells, padding cells shaded grey. Returns the patches."""
    (ph, pw), patches = padding, []
    for i in range(rows):
        for j in range(cols):
            is_pad = i < ph or i >= rows - ph or j < pw or j >= cols - pw
            r = Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=PAD_COLOR if is_pad else "white", edgecolor="0.6")
            ax.add_patch(r)
            patches.append(r)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.tick_params(labelsize=7)
    return patches


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def footprint_taps(position, kernel_size, stride=1, dilation=1):
    """Input coordinates (in the padded grid) read by the output at ``position``."""
    (i, j), (kH, kW), (sH, sW), (dH, dW) = position, _pair(kernel_size), _pair(stride), _pair(dilation)
    return [(i * sH + u * dH, j * sW + v * dW) for u in range(kH) for v in range(kW)]


def show_footprint(ax, input_shape, kernel_size, dilation=1, position=(0, 0), stride=1, padding=0, title=None):
    """Draw an input grid with the cells one output element reads highlighted.

    Parameters
    ----------
    ax : matplotlib Axes
    input_shape : (H, W)
        Unpadded input size.
    kernel_size, dilation, stride, padding : int or (int, int)
    position : (i, j)
        The output element whose receptive field is drawn.

    Returns
    -------
    list of matplotlib.patches.Rectangle
        The highlighted tap cells.
    """
    (H, W), (ph, pw) = input_shape, _pair(padding)
    _grid(ax, H + 2 * ph, W + 2 * pw, (ph, pw))
    taps = []
    for r, c in footprint_taps(position, kernel_size, stride, dilation):
        if r >= H + 2 * ph or c >= W + 2 * pw:
            raise ValueError(f"show_footprint: output position {position} reads outside the padded input")
        patch = Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=TAP_COLOR, alpha=0.8, edgecolor="black")
        ax.add_patch(patch)
        taps.append(patch)
    ax.set_xlabel("input column")
    ax.set_ylabel("input row")
    ax.set_title(title or f"k={kernel_size}, d={dilation}")
    return taps


# --------------------------------------------------------------------------- animation


def _checked_alt(alt) -> str:
    """``alt`` when it says what an animation shows (``alt_text_problems``); raise otherwise."""
    if not isinstance(alt, str):
        raise TypeError(f"Player: alt must be a str that describes the animation, got {type(alt).__name__}")
    problems = alt_text_problems(alt)
    if problems:
        raise ValueError(f"Player: alt must say what the animation shows ({'; '.join(problems)}), got {alt!r}")
    return alt


class Player:
    """A self-contained HTML/JS frame player: PNG frames, plain buttons, no CDN.

    It renders in Jupyter (``_repr_html_``) and on the static site, offline.
    The root element carries ``data-frame`` with the current frame index. ``alt`` is the text alternative: what
    the animation shows, in words (checked by :func:`convbook.plotting.alt_text.alt_text_problems`). It is the
    frame image's ``alt``, so a screen reader, and a printed copy where the script does not run, get the description.
    The player itself (``role="group"``) gets a short ``aria-label`` that names it (:meth:`label`), not the
    description again, so a screen reader does not read the description twice.
    """

    def __init__(self, frames: list[bytes], interval_ms: int = 700, *, alt: str):
        if not frames:
            raise ValueError("Player: frames must not be empty")
        self.frames, self.interval_ms, self.alt = frames, int(interval_ms), _checked_alt(alt)
        self.id = "cbp-" + hashlib.sha1(b"".join(frames)).hexdigest()[:10]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def label(self) -> str:
        """The player's short accessible name (its ``aria-label``); the description is the frame's ``alt``."""
        return f"Animation, {len(self)} frame{'s' * (len(self) != 1)}, with play and step controls"

    def _repr_html_(self) -> str:
        uris = ["data:image/png;base64," + base64.b64encode(f).decode() for f in self.frames]
        n, pid = len(uris), self.id
        buttons = "".join(
            f'<button type="button" data-act="{act}" title="{tip}" aria-label="{tip}" style="margin-right:4px">'
            f"{label}</button>"
            for act, label, tip in [
                ("first", "|&#9664;", "first frame"),
                ("prev", "&#9664;", "previous frame"),
                ("play", "&#9654; play", "play / pause"),
                ("next", "&#9654;", "next frame"),
                ("last", "&#9654;|", "last frame"),
            ]
        )
        alt, label = html.escape(self.alt), html.escape(self.label)
        return f"""<div class="convbook-player" id="{pid}" data-frame="0" role="group" aria-label="{label}">
<img src="{uris[0]}" alt="{alt}" style="max-width:100%">
<div style="font-family:sans-serif;font-size:0.9em">{buttons}
<input type="range" min="0" max="{n - 1}" value="0" style="vertical-align:middle" aria-label="frame">
<span class="frame-label">1 / {n}</span></div>
<script>(function() {{
  var root = document.getElementById("{pid}"), frames = {json.dumps(uris)};
  var img = root.querySelector("img"), slider = root.querySelector("input");
  var label = root.querySelector(".frame-label"), playBtn = root.querySelector('[data-act="play"]');
  var i = 0, timer = null;
  function show(k) {{
    i = (k + frames.length) % frames.length; img.src = frames[i]; slider.value = i;
    label.textContent = (i + 1) + " / " + frames.length; root.setAttribute("data-frame", i);
  }}
  function stop() {{ if (timer) {{ clearInterval(timer); timer = null; }} playBtn.innerHTML = "&#9654; play"; }}
  root.querySelectorAll("button").forEach(function(b) {{
    b.addEventListener("click", function() {{
      var act = b.getAttribute("data-act");
      if (act === "play") {{
        if (timer) {{ stop(); }} else {{
          timer = setInterval(function() {{ show(i + 1); }}, {self.interval_ms});
          playBtn.innerHTML = "&#10074;&#10074; pause";
        }}
      }} else {{
        stop();
        show({{first: 0, prev: i - 1, next: i + 1, last: frames.length - 1}}[act]);
      }}
    }});
  }});
  slider.addEventListener("input", function() {{ stop(); show(parseInt(slider.value, 10)); }});
}})();</script></div>"""


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, facecolor="white")
    return buf.getvalue()


def animate_conv(
    input_shape, kernel_size, stride=1, padding=0, dilation=1, interval_ms: int = 700, alt: str | None = None
) -> Player:
    """Animate a kernel sliding over an input: one frame per output element.

    Left panel: the input (with its padding in grey, if any) with the taps read for the
    current output highlighted. Right panel: the output grid, current cell
    highlighted. Any stride, padding and dilation.

    Parameters
    ----------
    input_shape : (H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
    interval_ms : int
        Delay between frames when playing.
    alt : str, optional
        The text alternative: what this animation shows and why, in words (a sentence or more). By default, a
        description made from the arguments (kernel, input, padding, stride, dilation, output size).

    Returns
    -------
    Player
        Displays as an HTML/JS player that needs no network.
    """
    if alt is not None:
        _checked_alt(alt)  # before drawing every frame
    (H, W), (kH, kW), (sH, sW) = input_shape, _pair(kernel_size), _pair(stride)
    (pH, pW), (dH, dW) = _pair(padding), _pair(dilation)
    Ho = conv_output_size(H, kH, sH, pH, dH)
    Wo = conv_output_size(W, kW, sW, pW, dW)
    in_title = f"input {H}x{W}, padding grey" if (pH or pW) else f"input {H}x{W} (no padding)"
    frames = []
    fig, (ax_in, ax_out) = plt.subplots(
        1, 2, figsize=(7.5, 3.8), facecolor="white", gridspec_kw={"width_ratios": [H + 2 * pH, max(Ho, 3)]}
    )
    try:
        for i in range(Ho):
            for j in range(Wo):
                ax_in.clear()
                ax_out.clear()
                show_footprint(ax_in, (H, W), (kH, kW), (dH, dW), (i, j), (sH, sW), (pH, pW), title=in_title)
                _grid(ax_out, Ho, Wo)
                ax_out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=OUT_COLOR, edgecolor="black"))
                ax_out.set_title(f"output {Ho}x{Wo}")
                ax_out.set_xlabel("output column")
                ax_out.set_ylabel("output row")
                fig.suptitle(
                    f"kernel {kH}x{kW}, stride {(sH, sW)}, padding {(pH, pW)}, dilation {(dH, dW)}", fontsize=10
                )
                fig.tight_layout()
                frames.append(_fig_png(fig))
    finally:
        plt.close(fig)
    return Player(
        frames,
        interval_ms,
        alt=_describe_animation((H, W), (kH, kW), (sH, sW), (pH, pW), (dH, dW)) if alt is None else alt,
    )


def _describe_animation(input_shape, kernel, stride, padding, dilation) -> str:
    """The default text alternative of :func:`animate_conv`: its settings and what each frame shows, in words."""
    (H, W), (kH, kW), (sH, sW), (pH, pW), (dH, dW) = input_shape, kernel, stride, padding, dilation
    Ho, Wo = conv_output_size(H, kH, sH, pH, dH), conv_output_size(W, kW, sW, pW, dW)
    settings = [f"padding {pH}x{pW} (grey)" if (pH or pW) else "no padding"]
    if (sH, sW) != (1, 1):
        settings.append(f"stride {sH}x{sW}")
    if (dH, dW) != (1, 1):
        settings.append(f"dilation {dH}x{dW}")
    return (
        f"Animation, one frame per output cell: a {kH}x{kW} kernel slides over a {H}x{W} input with "
        f"{', '.join(settings)}. In each frame the left grid highlights the input cells read for the current "
        f"output and the right grid marks that cell in the {Ho}x{Wo} output."
    )
