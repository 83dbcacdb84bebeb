/*
 * convbook convolution explorer: one layer, or a stack of layers, in the browser.
 * No kernel, no network, no library: plain JavaScript and <canvas>, shipped in the site's _static/ folder
 * (Jupyter Book adds every .js and .css file under _static/ to every page). It also works from a page saved to disk
 * or opened with file://, since it loads nothing at run time.
 *
 * ---------------------------------------------------------------------------------------------- STABLE INTERFACE
 * Tests (scripts/check_explorer.py) and other tools drive every explorer through this interface only.
 *
 * Placing one.  An element with a `data-explorer` attribute becomes an explorer when the page loads:
 *     <div data-explorer data-preset="dilated" data-presets="standard,dilated,same"></div>   one layer
 *     <div data-explorer="stack" data-preset="hybrid"></div>                                  a stack of layers
 *   data-preset   the starting settings (names: see PRESETS and STACK_PRESETS below);
 *   data-presets  which preset buttons the explorer offers (comma-separated; default: all of them).
 *   The explorer writes `data-ready="true"` on the root when it has drawn itself, and `data-error` (the message)
 *   while its settings are invalid, that is, where torch and convbook raise (the figures then read "—").
 *
 * Controls.  Each control carries `data-param="NAME"` and reacts to `input` and `change` events, so that
 *   `el.value = "3"; el.dispatchEvent(new Event("input", {bubbles: true}))` is all a driver needs.
 *   One-layer explorer (torch's names): in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
 *   plus height and width (the input's size), and
 *     padding     a <select>: "valid", "same" or an integer (padding on each side, torch's int padding);
 *     groups      a slider from 1 (standard) to in_channels (depthwise); it only stops on values that divide
 *                 in_channels and out_channels (a value in between snaps to the next valid one in the direction
 *                 of the move); read the control back for the value in force;
 *     dims        "2" or "1" (1-D: height is 1, the kernel is 1 x k, as the library lifts conv1d to conv2d);
 *     causal      checkbox (1-D only): pad d (k - 1) on the left and nothing on the right (causal_conv1d);
 *     bias        checkbox: count the C_out biases in the weights (as conv_cost(bias=True));
 *     pointwise   checkbox (only for a depthwise layer, groups = in_channels): add the 1 x 1 pointwise step;
 *     pointwise_channels  output channels of that pointwise step;
 *     arrange     "channel" or "group": draw channels one by one, or group by group;
 *     values      checkbox: print the numbers in the cells.
 *   Stack explorer: layers (how many), and inside each `[data-layer="L"]` row (L = 1 is next to the input):
 *     kernel_size, stride, dilation.
 *
 * Figures.  Each figure sits in an element with `data-value="NAME"`, rewritten on every change. Integers are
 *   printed with commas between thousands ("1,024"); strip them to parse. "—" when the settings are invalid.
 *   One-layer explorer: out_height, out_width, out_channels, weights, macs, receptive_field, effective_kernel,
 *     pad_top, pad_bottom, pad_left, pad_right, groups, twin_weights, twin_macs, and with the pointwise step on:
 *     pointwise_weights, pointwise_macs, total_weights, total_macs. `data-value="twin"` names the twin.
 *   Stack explorer: receptive_field (of one output of the whole stack), paths (input-to-output paths, k1 k2 ...),
 *     holes (input offsets inside the receptive field that no path reaches: gridding), and inside each
 *     `[data-layer="L"]` row: receptive_field and jump (product of the strides below the layer's output).
 *
 * Conventions: exactly convbook's, which are torch's (lib/convbook/shapes.py, costs.py, _args.py).
 *   dilation 1 is ordinary; a k-tap kernel spans d (k - 1) + 1 samples;
 *   out = floor((i + p_before + p_after - d (k - 1) - 1) / s) + 1;
 *   padding "same" pads d (k - 1) in total, floor of half before and the rest after, and needs stride 1;
 *   weights = C_out (C_in / groups) kH kW (+ C_out biases only when "count biases" is ticked);
 *   multiply-adds = C_out H_out W_out (C_in / groups) kH kW; bias additions are never counted (conv_cost);
 *   twin of a layer with groups < C_in (or one input channel): its depthwise-separable version (separable_cost:
 *   depthwise k x k on C_in channels, then pointwise 1 x 1 to C_out); twin of a depthwise layer (groups = C_in > 1): its
 *   standard version
 *   (groups = 1, same channels; with the pointwise step on, the standard k x k layer from C_in to the pointwise
 *   step's channels, against separable_cost with depth multiplier C_out / C_in).
 *   Receptive field of a stack: 1 + sum_l (k_l - 1) d_l (s_1 ... s_{l-1}) (receptive_field); the path counts
 *   generalise coverage_map to per-layer kernels and strides.
 *
 * Pointing.  Pointing at (or moving the keyboard cursor to) an output cell highlights the input cells and
 *   channels it reads (taps that land in the padding in a second colour) and its filter; pointing at an input cell
 *   highlights the outputs it feeds. `root.convExplorer` gives scripts the same state: highlighted() lists the
 *   highlighted cells in padded input coordinates, cellCenter(view, c, r, q) where a cell is on screen,
 *   tensors() the numbers drawn (input, weight, output).
 *   Keys on a focused view: arrows move the cursor, PageUp/PageDown change channel, Home/End jump, Escape clears.
 *
 * Accessibility (WCAG 2.1 AA; checked by `python -m convbook.course check-explorer` and tests/test_explorer*.py).
 *   The views that take the arrow keys (input, output, pointwise) are role="application" with
 *   aria-roledescription "grid of cells" and a label that names the keys; the others are role="img" and take no
 *   focus. `[data-role="desc"]` (role="status", a live region of its own) describes the selected cell in words:
 *   what it reads, which of those cells are padding, the receptive field. It is rewritten DESCRIBE_DELAY ms after the
 *   last change and never while the player runs, so that dragging a slider does not flood a screen reader; no other
 *   part of a layer explorer is live (a stack explorer has its own settled `[data-role="announce"]`). Besides its
 *   colour, padding is hatched (under 6 px, one diagonal) and highlighted cells are ringed (under 12 px, a dot at
 *   the centre), at every cell size down to the smallest (3 px); the colours are in explorer.css. With
 *   prefers-reduced-motion: reduce, play is disabled; the step buttons still work.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------------------------------ model (pure)

  var LIMITS = {
    height: [1, 32],
    width: [1, 32],
    in_channels: [1, 64],
    out_channels: [1, 64],
    kernel_size: [1, 9],
    stride: [1, 4],
    dilation: [1, 8],
    pointwise_channels: [1, 64],
  };
  var MAX_NUMERIC_PADDING = 8;
  var STACK_LIMITS = { layers: [1, 6], kernel_size: [1, 7], stride: [1, 3], dilation: [1, 16] };

  function span(k, d) {
    return d * (k - 1) + 1;
  }

  function divisors(n) {
    var out = [];
    for (var g = 1; g <= n; g++) if (n % g === 0) out.push(g);
    return out;
  }

  function commonDivisors(a, b) {
    return divisors(a).filter(function (g) {
      return b % g === 0;
    });
  }

  /** Padding of one dimension as [before, after], or {error}. Mirrors convbook._args.resolve_padding. */
  function resolvePadding(padding, k, d, s, causal) {
    if (causal) return [d * (k - 1), 0];
    if (padding === "valid") return [0, 0];
    if (padding === "same") {
      if (s !== 1) return { error: "padding='same' requires stride 1 (torch and convbook raise), got stride=" + s };
      var total = d * (k - 1);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    }
    var p = parseInt(padding, 10);
    return [p, p];
  }

  /** Output length of one dimension: floor((i + p0 + p1 - d (k - 1) - 1) / s) + 1, or {error}. */
  function outLength(size, k, s, pads, d, axis) {
    var e = span(k, d);
    if (size + pads[0] + pads[1] < e) {
      return {
        error:
          "the effective kernel size d(k-1)+1 = " + e + " along " + axis + " does not fit the padded input " +
          size + "+" + pads[0] + "+" + pads[1] + " = " + (size + pads[0] + pads[1]),
      };
    }
    return Math.floor((size + pads[0] + pads[1] - e) / s) + 1;
  }

  function prod(a) {
    return a.reduce(function (x, y) {
      return x * y;
    }, 1);
  }

  /** convbook.costs.conv_cost: {params, macs}. */
  function convCost(cIn, cOut, kernel, out, groups, bias) {
    var perOutput = (cIn / groups) * prod(kernel);
    return { params: cOut * perOutput + (bias ? cOut : 0), macs: cOut * prod(out) * perOutput };
  }

  /** convbook.costs.separable_cost summed over its two layers. */
  function separableCost(cIn, cOut, kernel, out, multiplier, bias) {
    var mid = cIn * multiplier;
    var dw = convCost(cIn, mid, kernel, out, cIn, bias);
    var pw = convCost(mid, cOut, kernel.map(function () { return 1; }), out, 1, bias);
    return { params: dw.params + pw.params, macs: dw.macs + pw.macs, depthwise: dw, pointwise: pw };
  }

  /** convbook.shapes.receptive_field for layers [{k, s, d}], input to output. */
  function receptiveField(layers) {
    var field = 1, jump = 1;
    layers.forEach(function (l) {
      field += (l.k - 1) * l.d * jump;
      jump *= l.s;
    });
    return field;
  }

  /**
   * Paths from each input offset to one output of a stack (convbook.dilated.coverage_map, generalised to per-layer
   * kernels and strides): counts[x] for x in 0..RF-1, and levels[l] = map offset -> count at the output of layer l.
   */
  function coverage(layers) {
    var n = layers.length, jumps = [1];
    for (var l = 0; l < n; l++) jumps.push(jumps[l] * layers[l].s);
    var levels = new Array(n + 1);
    levels[n] = new Map([[0, 1]]);
    for (l = n - 1; l >= 0; l--) {
      var step = layers[l].d * jumps[l], below = new Map();
      levels[l + 1].forEach(function (count, pos) {
        for (var j = 0; j < layers[l].k; j++) {
          var q = pos + j * step;
          below.set(q, (below.get(q) || 0) + count);
        }
      });
      levels[l] = below;
    }
    var rf = receptiveField(layers), counts = new Array(rf).fill(0);
    levels[0].forEach(function (c, pos) {
      counts[pos] = c;
    });
    return { counts: counts, levels: levels, jumps: jumps, rf: rf };
  }

  /** Everything the one-layer explorer shows, from its settings. */
  function layerModel(st) {
    var m = { st: st, nd: st.dims, errors: [] };
    var kH = st.dims === 2 ? st.kernel_size : 1, kW = st.kernel_size;
    var dH = st.dims === 2 ? st.dilation : 1, dW = st.dilation;
    var sH = st.dims === 2 ? st.stride : 1, sW = st.stride;
    var H = st.dims === 2 ? st.height : 1, W = st.width;
    var causal = st.dims === 1 && st.causal;
    var padH = st.dims === 2 ? resolvePadding(st.padding, kH, dH, sH, false) : [0, 0];
    var padW = resolvePadding(st.padding, kW, dW, sW, causal);
    [padH, padW].forEach(function (p) {
      if (p.error && m.errors.indexOf(p.error) < 0) m.errors.push(p.error);
    });
    m.kernel = [kH, kW];
    m.dil = [dH, dW];
    m.stride = [sH, sW];
    m.size = [H, W];
    m.causal = causal;
    m.cIn = st.in_channels;
    m.cOut = st.out_channels;
    m.groups = st.groups;
    m.cInG = st.in_channels / st.groups;
    m.cOutG = st.out_channels / st.groups;
    m.receptiveField = receptiveField([{ k: kW, s: sW, d: dW }]);
    m.effective = span(kW, dW);
    if (!m.errors.length) {
      m.padH = padH;
      m.padW = padW;
      var ho = outLength(H, kH, sH, padH, dH, "H"), wo = outLength(W, kW, sW, padW, dW, st.dims === 2 ? "W" : "L");
      [ho, wo].forEach(function (o) {
        if (o.error) m.errors.push(o.error);
      });
      m.outH = ho;
      m.outW = wo;
    }
    m.ok = m.errors.length === 0;
    m.pointwise = !!(st.pointwise && st.groups === st.in_channels);
    m.pwChannels = st.pointwise_channels;
    if (!m.ok) return m;
    var kernel = st.dims === 2 ? [kH, kW] : [kW];
    var out = st.dims === 2 ? [m.outH, m.outW] : [m.outW];
    m.cost = convCost(m.cIn, m.cOut, kernel, out, m.groups, st.bias);
    if (m.pointwise) {
      m.pwCost = convCost(m.cOut, m.pwChannels, kernel.map(function () { return 1; }), out, 1, st.bias);
      m.total = { params: m.cost.params + m.pwCost.params, macs: m.cost.macs + m.pwCost.macs };
      m.twinName = "standard " + kernelText(m) + " layer, " + m.cIn + " → " + m.pwChannels + " channels (groups = 1)";
      m.twin = convCost(m.cIn, m.pwChannels, kernel, out, 1, st.bias);
      m.check = separableCost(m.cIn, m.pwChannels, kernel, out, m.cOut / m.cIn, st.bias);
    } else if (m.groups === m.cIn && m.cIn > 1) {
      m.twinName = "standard version: the same " + kernelText(m) + " layer with groups = 1";
      m.twin = convCost(m.cIn, m.cOut, kernel, out, 1, st.bias);
    } else {
      m.twinName =
        "depthwise-separable version: depthwise " + kernelText(m) + " on " + m.cIn + " channels, then pointwise 1" +
        (st.dims === 2 ? " × 1" : "") + " to " + m.cOut;
      m.twin = separableCost(m.cIn, m.cOut, kernel, out, 1, st.bias);
    }
    return m;
  }

  function kernelText(m) {
    return m.nd === 2 ? m.kernel[0] + " × " + m.kernel[1] : "1-D " + m.kernel[1] + "-tap";
  }

  /** Taps read by output (o, i, j): [{c, r, q, pad}] in padded input coordinates. */
  function footprint(m, o, i, j) {
    var g = Math.floor(o / m.cOutG), taps = [];
    for (var cl = 0; cl < m.cInG; cl++) {
      var c = g * m.cInG + cl;
      for (var u = 0; u < m.kernel[0]; u++) {
        for (var v = 0; v < m.kernel[1]; v++) {
          var r = i * m.stride[0] + u * m.dil[0], q = j * m.stride[1] + v * m.dil[1];
          taps.push({ c: c, r: r, q: q, u: u, v: v, pad: isPad(m, r, q) });
        }
      }
    }
    return taps;
  }

  function isPad(m, r, q) {
    return r < m.padH[0] || r >= m.padH[0] + m.size[0] || q < m.padW[0] || q >= m.padW[0] + m.size[1];
  }

  /** Outputs fed by the padded input cell (c, r, q): [{c: o, r: i, q: j, u, v}]. */
  function feeds(m, c, r, q) {
    var g = Math.floor(c / m.cInG), res = [];
    var rows = [], cols = [];
    for (var i = 0; i < m.outH; i++) {
      for (var u = 0; u < m.kernel[0]; u++) if (i * m.stride[0] + u * m.dil[0] === r) rows.push([i, u]);
    }
    for (var j = 0; j < m.outW; j++) {
      for (var v = 0; v < m.kernel[1]; v++) if (j * m.stride[1] + v * m.dil[1] === q) cols.push([j, v]);
    }
    for (var ol = 0; ol < m.cOutG; ol++) {
      var o = g * m.cOutG + ol;
      rows.forEach(function (a) {
        cols.forEach(function (b) {
          res.push({ c: o, r: a[0], q: b[0], u: a[1], v: b[1] });
        });
      });
    }
    return res;
  }

  // ---- the numbers drawn in the cells: small integers, fixed by position, so that the output is exact
  function hash(a, b, c, salt) {
    var h = (a * 73856093) ^ (b * 19349663) ^ (c * 83492791) ^ (salt * 2654435761);
    h = Math.imul(h ^ (h >>> 15), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^ (h >>> 16)) >>> 0;
  }

  function inputValue(c, r, q) {
    return (hash(c, r, q, 1) % 5) - 1; // -1 .. 3
  }

  function weightValue(o, c, u, v) {
    return (hash(o * 131 + c, u, v, 2) % 3) - 1; // -1, 0, 1
  }

  function pointwiseValue(p, c) {
    return (hash(p, c, 7, 3) % 3) - 1;
  }

  /** The layer applied to the drawn numbers, by the definition (cross-correlation, torch's). */
  function compute(m) {
    var Hp = m.size[0] + m.padH[0] + m.padH[1], Wp = m.size[1] + m.padW[0] + m.padW[1];
    var x = [], w = [], y = [], pw = [], z = [];
    for (var c = 0; c < m.cIn; c++) {
      var plane = [];
      for (var r = 0; r < Hp; r++) {
        var row = [];
        for (var q = 0; q < Wp; q++) row.push(isPad(m, r, q) ? 0 : inputValue(c, r - m.padH[0], q - m.padW[0]));
        plane.push(row);
      }
      x.push(plane);
    }
    for (var o = 0; o < m.cOut; o++) {
      var filt = [];
      for (var cl = 0; cl < m.cInG; cl++) {
        var sl = [];
        for (var u = 0; u < m.kernel[0]; u++) {
          var wr = [];
          for (var v = 0; v < m.kernel[1]; v++) wr.push(weightValue(o, cl, u, v));
          sl.push(wr);
        }
        filt.push(sl);
      }
      w.push(filt);
    }
    for (o = 0; o < m.cOut; o++) {
      var g = Math.floor(o / m.cOutG), yo = [];
      for (var i = 0; i < m.outH; i++) {
        var yr = [];
        for (var j = 0; j < m.outW; j++) {
          var acc = 0;
          for (cl = 0; cl < m.cInG; cl++) {
            var xc = x[g * m.cInG + cl];
            for (u = 0; u < m.kernel[0]; u++) {
              var xr = xc[i * m.stride[0] + u * m.dil[0]];
              for (v = 0; v < m.kernel[1]; v++) acc += w[o][cl][u][v] * xr[j * m.stride[1] + v * m.dil[1]];
            }
          }
          yr.push(acc);
        }
        yo.push(yr);
      }
      y.push(yo);
    }
    if (m.pointwise) {
      for (var p = 0; p < m.pwChannels; p++) {
        var pr = [];
        for (c = 0; c < m.cOut; c++) pr.push(pointwiseValue(p, c));
        pw.push(pr);
        var zp = [];
        for (i = 0; i < m.outH; i++) {
          var zr = [];
          for (j = 0; j < m.outW; j++) {
            var s = 0;
            for (c = 0; c < m.cOut; c++) s += pr[c] * y[c][i][j];
            zr.push(s);
          }
          zp.push(zr);
        }
        z.push(zp);
      }
    }
    return { xPadded: x, weight: w, output: y, pointwiseWeight: pw, pointwiseOutput: z };
  }

  // ------------------------------------------------------------------------------------------ presets

  var PRESETS = {
    standard: {
      label: "standard 3 × 3",
      state: { dims: 2, height: 6, width: 6, in_channels: 3, out_channels: 4, kernel_size: 3, stride: 1,
               padding: "1", dilation: 1, groups: 1 },
    },
    dilated: {
      label: "dilation 2",
      state: { dims: 2, height: 9, width: 9, in_channels: 1, out_channels: 1, kernel_size: 3, stride: 1,
               padding: "0", dilation: 2, groups: 1 },
    },
    same: {
      label: "'same', even kernel",
      state: { dims: 2, height: 6, width: 6, in_channels: 1, out_channels: 1, kernel_size: 4, stride: 1,
               padding: "same", dilation: 1, groups: 1 },
    },
    strided: {
      label: "stride 2",
      state: { dims: 2, height: 7, width: 7, in_channels: 1, out_channels: 1, kernel_size: 3, stride: 2,
               padding: "1", dilation: 1, groups: 1 },
    },
    causal: {
      label: "causal 1-D, d = 4",
      state: { dims: 1, width: 16, in_channels: 1, out_channels: 1, kernel_size: 2, stride: 1, padding: "0",
               dilation: 4, groups: 1, causal: true },
    },
    grouped: {
      label: "groups = 2",
      state: { dims: 2, height: 5, width: 5, in_channels: 4, out_channels: 4, kernel_size: 3, stride: 1,
               padding: "1", dilation: 1, groups: 2, pointwise: false },
    },
    standard4: {
      label: "standard (groups = 1)",
      state: { dims: 2, height: 5, width: 5, in_channels: 4, out_channels: 4, kernel_size: 3, stride: 1,
               padding: "1", dilation: 1, groups: 1, pointwise: false },
    },
    depthwise: {
      label: "depthwise (groups = C_in)",
      state: { dims: 2, height: 5, width: 5, in_channels: 4, out_channels: 4, kernel_size: 3, stride: 1,
               padding: "1", dilation: 1, groups: 4, pointwise: false },
    },
    separable: {
      label: "depthwise + pointwise",
      state: { dims: 2, height: 5, width: 5, in_channels: 4, out_channels: 4, kernel_size: 3, stride: 1,
               padding: "1", dilation: 1, groups: 4, pointwise: true, pointwise_channels: 6 },
    },
    pointwise: {
      label: "1 × 1 across channels",
      state: { dims: 2, height: 5, width: 5, in_channels: 6, out_channels: 3, kernel_size: 1, stride: 1,
               padding: "0", dilation: 1, groups: 1, pointwise: false },
    },
    bottleneck: {
      label: "1 × 1, 16 → 4 channels",
      state: { dims: 2, height: 4, width: 4, in_channels: 16, out_channels: 4, kernel_size: 1, stride: 1,
               padding: "0", dilation: 1, groups: 1, pointwise: false },
    },
  };
  var DEFAULT_STATE = {
    dims: 2, height: 6, width: 6, in_channels: 3, out_channels: 4, kernel_size: 3, stride: 1, padding: "1",
    dilation: 1, groups: 1, causal: false, bias: false, pointwise: false, pointwise_channels: 6, arrange: "channel",
    values: true,
  };

  /** The views that react to pointing and to the arrow keys. */
  var POINTABLE = ["input", "output", "pointwise"];
  /** Milliseconds after the last change before the description (a live region) is rewritten. */
  var DESCRIBE_DELAY = 400;
  var KEYS_LABEL = "Arrow keys move the selected cell, Page Up and Page Down change the channel, Home and End jump " +
    "to the first and the last cell, Escape clears. The description below the views follows the selected cell.";

  var STACK_PRESETS = {
    linear: { label: "linear: d = 1, 1, 1, 1", layers: [[3, 1, 1], [3, 1, 1], [3, 1, 1], [3, 1, 1]] },
    exponential: { label: "exponential: d = 1, 2, 4, 8", layers: [[3, 1, 1], [3, 1, 2], [3, 1, 4], [3, 1, 8]] },
    gridding: { label: "gridding: d = 2, 2, 2", layers: [[3, 1, 2], [3, 1, 2], [3, 1, 2]] },
    hybrid: { label: "hybrid: d = 1, 2, 3", layers: [[3, 1, 1], [3, 1, 2], [3, 1, 3]] },
    strided: { label: "strides: s = 2, 2, 2", layers: [[3, 2, 1], [3, 2, 1], [3, 2, 1]] },
    wavenet: { label: "WaveNet: k = 2, d = 1 … 16", layers: [[2, 1, 1], [2, 1, 2], [2, 1, 4], [2, 1, 8], [2, 1, 16]] },
  };

  // ------------------------------------------------------------------------------------------ small DOM helpers

  var uid = 0;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") e.textContent = attrs[k];
        else if (k === "class") e.className = attrs[k];
        else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function fmt(n) {
    if (typeof n !== "number" || !isFinite(n)) return "—";
    return n.toLocaleString("en-US");
  }

  function setValue(root, name, v) {
    root.querySelectorAll('[data-value="' + name + '"]').forEach(function (e) {
      var text = typeof v === "number" ? fmt(v) : v === null || v === undefined ? "—" : String(v);
      if (e.textContent !== text) e.textContent = text;
    });
  }

  function cssColors(root) {
    var cs = getComputedStyle(root), get = function (n) {
      return cs.getPropertyValue(n).trim();
    };
    return {
      bg: get("--cx-bg"), cell: get("--cx-cell"), line: get("--cx-line"), pad: get("--cx-pad"), text: get("--cx-text"),
      muted: get("--cx-muted"), tap: get("--cx-tap"), tapPad: get("--cx-tap-pad"), sel: get("--cx-sel"),
      feed: get("--cx-feed"), pos: get("--cx-pos"), neg: get("--cx-neg"), cursor: get("--cx-cursor"),
      hole: get("--cx-hole"), padMark: get("--cx-pad-mark"), tapPadMark: get("--cx-tap-pad-mark"),
      // per highlighted kind: the colour of its digits and of its ring (the cue besides hue)
      text_: { tap: get("--cx-tap-text"), sel: get("--cx-sel-text"), feed: get("--cx-feed-text") },
      mark: { tap: get("--cx-tap-mark"), tapPad: get("--cx-tap-mark"), sel: get("--cx-sel-mark"),
              feed: get("--cx-feed-mark") },
      groups: [1, 2, 3, 4, 5, 6].map(function (i) {
        return get("--cx-g" + i);
      }),
    };
  }

  function setupCanvas(canvas, width, height) {
    var dpr = window.devicePixelRatio || 1;
    width = Math.max(1, Math.round(width));
    height = Math.max(1, Math.round(height));
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  /** Width of an element's content box (the theme may pad figures). */
  function contentWidth(e) {
    var cs = getComputedStyle(e);
    return e.clientWidth - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
  }

  /** Mix a hex colour with another by t in [0, 1]. */
  function mix(a, b, t) {
    var pa = parseColor(a), pb = parseColor(b);
    return "rgb(" + [0, 1, 2].map(function (i) {
      return Math.round(pa[i] + (pb[i] - pa[i]) * t);
    }).join(",") + ")";
  }

  function parseColor(c) {
    c = c.trim();
    if (c[0] === "#") {
      if (c.length === 4) c = "#" + c[1] + c[1] + c[2] + c[2] + c[3] + c[3];
      return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
    }
    var m = c.match(/\d+(\.\d+)?/g) || [0, 0, 0];
    return [+m[0], +m[1], +m[2]];
  }

  // ---- the cues besides hue: hatching (padding) and rings (cells read, fed or pointed at)

  /** Diagonal hatching over the rectangle (x, y, w, h), 1 px lines every `pitch` px, clipped to it. */
  function hatch(ctx, x, y, w, h, color, pitch) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    ctx.strokeStyle = color;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (var k = pitch / 2; k < w + h; k += pitch) {
      ctx.moveTo(x + k, y);
      ctx.lineTo(x + k - h, y + h);
    }
    ctx.stroke();
    ctx.restore();
  }

  /**
   * A ring inside cell (x, y, size): `width` px wide, 1 px in from the cell's edge. Under 12 px a ring leaves too
   * little of the fill: there the cue is a square dot in the ring's colour at the cell's centre, a third of the cell
   * (half of it, at least 2 px, for the thick ring of the cell pointed at), down to the smallest cells (3 px).
   */
  function ring(ctx, x, y, size, color, width) {
    if (size < 12) {
      var d = width >= 3 ? Math.max(2, Math.round(size / 2)) : Math.max(1, Math.round(size / 3));
      return dot(ctx, x, y, size, color, d);
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.strokeRect(x + 1 + width / 2, y + 1 + width / 2, size - 2 - width, size - 2 - width);
  }

  /** A `d` px square dot at the centre of cell (x, y, size), in whole pixels so that it keeps its colour. */
  function dot(ctx, x, y, size, color, d) {
    var off = Math.floor((size - d) / 2);
    ctx.fillStyle = color;
    ctx.fillRect(x + off, y + off, d, d);
  }

  /** The hatching of a cell under 6 px: one diagonal, bottom-left to top-right, in whole pixels. */
  function slash(ctx, x, y, size, color) {
    ctx.fillStyle = color;
    for (var i = 0; i < size; i++) ctx.fillRect(x + size - 1 - i, y + i, 1, 1);
  }

  // ------------------------------------------------------------------------------------------ grid layout

  /**
   * Lay out items (each w x h plus a label line) in rows across `width`; `breakBefore` starts a new row
   * (a new group). Returns {items: [{x, y}], height}.
   */
  function flow(items, width, gap, labelH) {
    var x = 0, y = 0, rowH = 0, pos = [];
    items.forEach(function (it, idx) {
      if (idx > 0 && (it.breakBefore || x + it.w > width + 0.5)) {
        x = 0;
        y += rowH + gap + (it.breakBefore ? 8 : 0);
        rowH = 0;
      }
      pos.push({ x: x, y: y + labelH });
      x += it.w + gap;
      rowH = Math.max(rowH, it.h + labelH);
    });
    return { items: pos, height: y + rowH };
  }

  /** Largest cell size (px) that keeps a view within `maxH`, given grid sizes in cells. */
  function chooseCell(n, rows, cols, width, maxH, labelH, gap, maxCell, minCell, groupBreaks) {
    for (var cell = maxCell; cell > minCell; cell--) {
      var gw = cols * cell, gh = rows * cell;
      if (gw > width) continue;
      var per = Math.max(1, Math.floor((width + gap) / (gw + gap)));
      var lines = groupBreaks ? groupBreaks(per) : Math.ceil(n / per);
      if (lines * (gh + labelH + gap) <= maxH) return cell;
    }
    return Math.max(1, Math.min(minCell, Math.floor(width / Math.max(cols, 1)))); // nothing fits: the smallest
  }

  // ------------------------------------------------------------------------------------------ one-layer explorer

  function LayerExplorer(root) {
    this.root = root;
    this.id = "cx" + ++uid;
    var preset = PRESETS[root.getAttribute("data-preset")] || PRESETS.standard;
    this.state = Object.assign({}, DEFAULT_STATE, preset.state);
    var names = (root.getAttribute("data-presets") || Object.keys(PRESETS).join(",")).split(",");
    this.presetNames = names.map(function (s) {
      return s.trim();
    }).filter(function (s) {
      return PRESETS[s];
    });
    this.sel = null; // {view: "output"|"input"|"pointwise", c, r, q}
    this.cursor = { input: [0, 0, 0], output: [0, 0, 0], pointwise: [0, 0, 0] };
    this.timer = null;
    this.layouts = {};
    this.build();
    this.snapGroups(this.state.groups, 0);
    this.update();
    this.describeNow();
    this.applyMotionPreference();
    root.setAttribute("data-ready", "true");
  }

  LayerExplorer.prototype.build = function () {
    var self = this, root = this.root, id = this.id;
    root.classList.add("cx-root");
    root.innerHTML = "";
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "Convolution explorer");

    // presets
    if (this.presetNames.length) {
      var bar = el("div", { class: "cx-presets", role: "group", "aria-label": "Presets" }, [
        el("span", { class: "cx-presets-label", text: "Presets:" }),
      ]);
      this.presetNames.forEach(function (name) {
        var b = el("button", { type: "button", class: "cx-btn", "data-preset-button": name, text: PRESETS[name].label });
        b.addEventListener("click", function () {
          self.applyPreset(name);
        });
        bar.appendChild(b);
      });
      root.appendChild(bar);
    }

    // controls
    var controls = el("div", { class: "cx-controls" });
    function range(name, label, lo, hi, help) {
      var inputId = id + "-" + name;
      var input = el("input", { type: "range", id: inputId, min: lo, max: hi, step: 1, "data-param": name,
                                "aria-describedby": help ? inputId + "-help" : null });
      var out = el("output", { for: inputId, class: "cx-out", "data-shown": name });
      var wrap = el("div", { class: "cx-field", "data-field": name }, [
        el("label", { for: inputId }, [el("span", { "data-role": name + "-label", text: label }), " ", out]),
        input,
        help ? el("span", { class: "cx-help", id: inputId + "-help", text: help }) : null,
      ]);
      controls.appendChild(wrap);
      return input;
    }
    function check(name, label) {
      var inputId = id + "-" + name;
      var input = el("input", { type: "checkbox", id: inputId, "data-param": name });
      controls.appendChild(el("div", { class: "cx-field cx-check", "data-field": name }, [
        input, el("label", { for: inputId, text: label }),
      ]));
      return input;
    }
    function select(name, label, options) {
      var inputId = id + "-" + name;
      var s = el("select", { id: inputId, "data-param": name });
      options.forEach(function (o) {
        s.appendChild(el("option", { value: o[0], text: o[1] }));
      });
      controls.appendChild(el("div", { class: "cx-field", "data-field": name }, [
        el("label", { for: inputId, text: label }), s,
      ]));
      return s;
    }
    select("dims", "Dimensions", [["2", "2-D (images)"], ["1", "1-D (sequences)"]]);
    range("height", "Input height H", LIMITS.height[0], LIMITS.height[1]);
    range("width", "Input width W", LIMITS.width[0], LIMITS.width[1]);
    range("in_channels", "In channels C_in", LIMITS.in_channels[0], LIMITS.in_channels[1]);
    range("out_channels", "Out channels C_out", LIMITS.out_channels[0], LIMITS.out_channels[1]);
    range("kernel_size", "Kernel size k", LIMITS.kernel_size[0], LIMITS.kernel_size[1]);
    range("stride", "Stride s", LIMITS.stride[0], LIMITS.stride[1]);
    var padOpts = [["valid", "valid (0)"], ["same", "same"]];
    for (var p = 0; p <= MAX_NUMERIC_PADDING; p++) padOpts.push([String(p), String(p)]);
    select("padding", "Padding p", padOpts);
    range("dilation", "Dilation d", LIMITS.dilation[0], LIMITS.dilation[1], "1 is ordinary");
    var gl = range("groups", "Groups", 1, 1, "1 is standard, C_in is depthwise; stops only where it divides both");
    var dl = el("datalist", { id: id + "-groups-ticks" });
    gl.setAttribute("list", dl.id);
    gl.parentNode.appendChild(dl);
    check("causal", "Causal (1-D): pad on the left only");
    check("pointwise", "Then the pointwise step (1 × 1)");
    range("pointwise_channels", "Pointwise out channels", LIMITS.pointwise_channels[0], LIMITS.pointwise_channels[1]);
    check("bias", "Count biases in the weights");
    select("arrange", "Arrange", [["channel", "by channel"], ["group", "by group"]]);
    check("values", "Show numbers");
    root.appendChild(controls);
    root.appendChild(el("p", { class: "cx-summary", "data-role": "summary" }));

    controls.querySelectorAll("[data-param]").forEach(function (c) {
      var handler = function () {
        self.onControl(c);
      };
      c.addEventListener("input", handler);
      c.addEventListener("change", handler);
    });

    // figures: no live region here (a slider being dragged would flood a screen reader); the description below
    // announces the settled state, errors included
    var figs = el("div", { class: "cx-figures" });
    figs.innerHTML =
      '<p class="cx-error" hidden></p>' +
      '<table class="cx-table"><caption>What the layer costs, for one input sample ' +
      '(<span data-role="bias-note"></span>; multiply-adds count products, not the bias additions, as ' +
      "<code>convbook.costs.conv_cost</code>)</caption>" +
      '<thead><tr><th scope="col">layer</th><th scope="col">output</th><th scope="col">weights</th>' +
      '<th scope="col">multiply-adds</th></tr></thead><tbody>' +
      '<tr><th scope="row" data-role="layer-name">this layer</th><td><span data-value="out_channels"></span> × ' +
      '<span data-role="h-part"><span data-value="out_height"></span> × </span><span data-value="out_width"></span>' +
      "</td>" +
      '<td data-value="weights"></td><td data-value="macs"></td></tr>' +
      '<tr data-role="pw-row"><th scope="row">+ pointwise 1 × 1</th><td><span data-value="pointwise_out"></span></td>' +
      '<td data-value="pointwise_weights"></td><td data-value="pointwise_macs"></td></tr>' +
      '<tr data-role="pw-row"><th scope="row">= the separable block</th><td></td>' +
      '<td data-value="total_weights"></td><td data-value="total_macs"></td></tr>' +
      '<tr class="cx-twin"><th scope="row">twin: <span data-value="twin"></span></th><td></td>' +
      '<td data-value="twin_weights"></td><td data-value="twin_macs"></td></tr>' +
      "</tbody></table>" +
      '<p class="cx-facts">Receptive field of one output: <strong><span data-value="receptive_field"></span></strong> ' +
      '<span data-role="rf-unit"></span> (effective kernel d(k − 1) + 1 = <span data-value="effective_kernel"></span>). ' +
      'Padding: top <span data-value="pad_top"></span>, bottom <span data-value="pad_bottom"></span>, ' +
      'left <span data-value="pad_left"></span>, right <span data-value="pad_right"></span>. ' +
      'Groups in force: <span data-value="groups"></span> <span data-role="groups-kind"></span>. ' +
      '<span data-role="ratio"></span></p>';
    root.appendChild(figs);

    // player
    var player = el("div", { class: "cx-player", role: "group", "aria-label": "Step through the output" });
    [["first", "|◀", "first", ""], ["prev", "◀", "step back", ""], ["play", "▶", "play", ""],
     ["next", "", "step", "▶"]].forEach(function (b) {
      // the arrows are decoration: the button's name is its word, as shown
      var btn = el("button", { type: "button", class: "cx-btn", "data-act": b[0] }, [
        b[1] ? el("span", { "aria-hidden": "true", text: b[1] + " " }) : null, el("span", { "data-role": "act-word", text: b[2] }),
        b[3] ? el("span", { "aria-hidden": "true", text: " " + b[3] }) : null,
      ]);
      btn.addEventListener("click", function () {
        self.act(b[0]);
      });
      player.appendChild(btn);
    });
    var speedId = id + "-speed";
    var speed = el("select", { id: speedId, "data-param": "speed" }, [
      el("option", { value: "900", text: "slow" }), el("option", { value: "450", text: "medium", selected: "" }),
      el("option", { value: "150", text: "fast" }),
    ]);
    player.appendChild(el("label", { for: speedId, class: "cx-speed", text: "speed" }));
    player.appendChild(speed);
    player.appendChild(el("span", { class: "cx-status", "data-role": "status" }));
    root.appendChild(player);
    // prefers-reduced-motion: no playing (stepping still works); followed live, as the setting can change
    this.reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
    var onMotion = function () {
      self.applyMotionPreference();
    };
    if (this.reducedMotion && this.reducedMotion.addEventListener) this.reducedMotion.addEventListener("change", onMotion);
    else if (this.reducedMotion && this.reducedMotion.addListener) this.reducedMotion.addListener(onMotion);

    // views
    var views = el("div", { class: "cx-views" });
    var viewDefs = [
      ["input", "Input (padding hatched)"], ["kernels", "Kernels, one filter per output channel"],
      ["output", "Output"], ["pointwise", "After the pointwise 1 × 1 step"], ["channels", "Which channels meet"],
    ];
    this.canvases = {};
    viewDefs.forEach(function (v) {
      var cid = id + "-" + v[0], pointable = POINTABLE.indexOf(v[0]) >= 0;
      // A view that reacts to the arrow keys is an application (a screen reader in browse mode then passes the
      // keys on), named with the keys it takes; a view that only shows is an image and takes no focus.
      var canvas = el("canvas", pointable ? {
        id: cid, class: "cx-canvas", tabindex: "0", role: "application", "aria-roledescription": "grid of cells",
        "data-view": v[0], "aria-describedby": id + "-desc",
      } : { id: cid, class: "cx-canvas", role: "img", "data-view": v[0] });
      canvas.setAttribute("aria-label", v[1] + (pointable ? ". " + KEYS_LABEL : "")); // until the first paint
      var fig = el("figure", { class: "cx-view", "data-view-box": v[0] }, [
        el("figcaption", { text: v[1] }), canvas,
      ]);
      views.appendChild(fig);
      self.canvases[v[0]] = canvas;
      canvas.addEventListener("pointermove", function (ev) {
        self.onPointer(v[0], ev);
      });
      canvas.addEventListener("pointerdown", function (ev) {
        self.onPointer(v[0], ev);
      });
      canvas.addEventListener("pointerleave", function () {
        if (document.activeElement !== canvas && !self.timer) self.select(null);
      });
      canvas.addEventListener("keydown", function (ev) {
        self.onKey(v[0], ev);
      });
      canvas.addEventListener("focus", function () {
        if (v[0] === "input" || v[0] === "output" || v[0] === "pointwise") self.selectCursor(v[0]);
        self.requestDraw();
      });
      canvas.addEventListener("blur", function () {
        self.requestDraw();
      });
    });
    root.appendChild(views);
    // the description of the current cell: its own small live region, rewritten DESCRIBE_DELAY ms after the
    // last change (a slider being dragged, keys held down), never while the player runs
    root.appendChild(el("p", { class: "cx-desc", id: id + "-desc", "data-role": "desc", role: "status" }));
    root.appendChild(el("p", { class: "cx-keys", text:
      "Point at a cell, or focus the input, output or pointwise view with Tab and move with the arrow keys " +
      "(Page Up/Page Down: channel, Home/End: first/last, Escape: clear). An output cell lights the input cells it " +
      "reads and its filter; an input cell lights the outputs it feeds." }));
    this.legend = el("p", { class: "cx-legend" });
    this.legend.innerHTML =
      '<span class="cx-key cx-key-tap"></span> read by the output (ringed) · <span class="cx-key cx-key-tappad"></span> ' +
      'read, but padding (ringed and hatched; zero) · <span class="cx-key cx-key-sel"></span> the cell pointed at ' +
      '(thick ring) · <span class="cx-key cx-key-feed"></span> outputs fed by the input pointed at (ringed) · ' +
      '<span class="cx-key cx-key-pad"></span> padding (hatched)';
    root.appendChild(this.legend);

    var ro = window.ResizeObserver ? new ResizeObserver(function () {
      self.requestDraw();
    }) : null;
    if (ro) ro.observe(views);
    else window.addEventListener("resize", function () {
      self.requestDraw();
    });
    new MutationObserver(function () {
      self.requestDraw();
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "data-mode"] });
  };

  LayerExplorer.prototype.control = function (name) {
    return this.root.querySelector('[data-param="' + name + '"]');
  };

  LayerExplorer.prototype.applyPreset = function (name) {
    this.stop();
    var keep = { arrange: this.state.arrange, values: this.state.values, bias: this.state.bias };
    this.state = Object.assign({}, DEFAULT_STATE, PRESETS[name].state, keep);
    this.snapGroups(this.state.groups, 0);
    this.sel = null;
    this.update();
  };

  LayerExplorer.prototype.onControl = function (c) {
    var name = c.getAttribute("data-param"), st = this.state;
    if (name === "speed") {
      if (this.timer) {
        this.stop();
        this.act("play");
      }
      return;
    }
    if (c.type === "checkbox") st[name] = c.checked;
    else if (name === "padding" || name === "arrange") st[name] = c.value;
    else if (name === "dims") st.dims = parseInt(c.value, 10) === 1 ? 1 : 2;
    else if (name === "groups") {
      this.snapGroups(parseInt(c.value, 10), st.groups);
    } else {
      var lim = LIMITS[name], v = parseInt(c.value, 10);
      if (!isFinite(v)) return;
      st[name] = Math.min(lim[1], Math.max(lim[0], v));
      if (name === "in_channels" || name === "out_channels") this.snapGroups(st.groups, st.groups);
    }
    this.update();
  };

  /** Keep groups a common divisor of C_in and C_out, moving in the direction of the change. */
  LayerExplorer.prototype.snapGroups = function (want, prev) {
    var st = this.state, valid = commonDivisors(st.in_channels, st.out_channels), g;
    if (valid.indexOf(want) >= 0) g = want;
    else if (want > prev) {
      g = valid.filter(function (v) { return v >= want; })[0];
      if (g === undefined) g = valid[valid.length - 1];
    } else {
      var below = valid.filter(function (v) { return v <= want; });
      g = below.length ? below[below.length - 1] : 1;
    }
    st.groups = g;
    this.validGroups = valid;
  };

  LayerExplorer.prototype.syncControls = function () {
    var st = this.state, self = this;
    this.root.querySelectorAll(".cx-controls [data-param]").forEach(function (c) {
      var name = c.getAttribute("data-param");
      if (c.type === "checkbox") c.checked = !!st[name];
      else if (name === "groups") {
        c.max = st.in_channels;
        c.value = st.groups;
      } else if (name === "dims") c.value = String(st.dims);
      else if (name === "height" && st.dims === 1) c.value = 1;
      else c.value = String(st[name]);
      var shown = self.root.querySelector('[data-shown="' + name + '"]');
      if (shown) shown.textContent = name === "height" && st.dims === 1 ? "1" : String(c.value);
    });
    var dl = this.root.querySelector("#" + this.id + "-groups-ticks");
    dl.innerHTML = "";
    this.validGroups.forEach(function (g) {
      dl.appendChild(el("option", { value: g }));
    });
    var groups = this.control("groups");
    groups.setAttribute("aria-valuetext", st.groups + " groups (valid: " + this.validGroups.join(", ") + ")");
    var one = st.dims === 1;
    this.control("height").disabled = one;
    this.control("causal").disabled = !one;
    this.control("padding").disabled = one && st.causal;
    var depthwise = st.groups === st.in_channels;
    this.control("pointwise").disabled = !depthwise;
    this.control("pointwise_channels").disabled = !(depthwise && st.pointwise);
    this.root.querySelector('[data-field="pointwise_channels"]').hidden = !(depthwise && st.pointwise);
    this.root.querySelector('[data-field="causal"]').hidden = !one;
    this.root.querySelector('[data-field="height"]').classList.toggle("cx-off", one);
  };

  LayerExplorer.prototype.update = function () {
    this.syncControls();
    var m = (this.model = layerModel(this.state)), root = this.root, st = this.state;
    if (m.ok) this.tensors = compute(m);
    var err = root.querySelector(".cx-error");
    err.hidden = m.ok;
    err.textContent = m.ok ? "" : "Invalid settings: " + m.errors.join("; ") + ".";
    if (m.ok) root.removeAttribute("data-error");
    else root.setAttribute("data-error", m.errors.join("; "));
    var v = function (n, x) {
      setValue(root, n, m.ok ? x : null);
    };
    v("out_height", m.outH);
    v("out_width", m.outW);
    v("out_channels", m.cOut);
    v("weights", m.ok && m.cost.params);
    v("macs", m.ok && m.cost.macs);
    v("twin", m.twinName);
    v("twin_weights", m.ok && m.twin.params);
    v("twin_macs", m.ok && m.twin.macs);
    setValue(root, "receptive_field", m.receptiveField);
    setValue(root, "effective_kernel", m.effective);
    setValue(root, "groups", m.groups);
    v("pad_top", m.padH && m.padH[0]);
    v("pad_bottom", m.padH && m.padH[1]);
    v("pad_left", m.padW && m.padW[0]);
    v("pad_right", m.padW && m.padW[1]);
    var pw = m.ok && m.pointwise;
    root.querySelectorAll('[data-role="pw-row"]').forEach(function (r) {
      r.hidden = !pw;
    });
    setValue(root, "pointwise_out", pw ? m.pwChannels + " × " + m.outH + " × " + m.outW : null);
    setValue(root, "pointwise_weights", pw ? m.pwCost.params : null);
    setValue(root, "pointwise_macs", pw ? m.pwCost.macs : null);
    setValue(root, "total_weights", pw ? m.total.params : null);
    setValue(root, "total_macs", pw ? m.total.macs : null);
    root.querySelector('[data-role="bias-note"]').textContent = st.bias
      ? "weights include the " + (pw ? "biases of each layer" : m.cOut + " biases")
      : "biases not counted";
    root.querySelector('[data-role="layer-name"]').textContent =
      m.groups === 1 ? "this layer (standard)" : m.groups === m.cIn ? "this layer (depthwise)" : "this layer (grouped)";
    root.querySelector('[data-role="h-part"]').hidden = m.nd === 1;
    root.querySelector('[data-role="width-label"]').textContent = m.nd === 1 ? "Input length L" : "Input width W";
    root.querySelector('[data-role="rf-unit"]').textContent =
      m.nd === 2 ? "× " + m.receptiveField + " input pixels per channel" : "input samples";
    var kind = m.groups === 1 ? "(standard)" : m.groups === m.cIn ? "(depthwise)" : "(grouped)";
    if (m.cOut % m.cIn !== 0 && m.groups !== m.cIn) kind += "; depthwise needs C_out to be a multiple of C_in";
    root.querySelector('[data-role="groups-kind"]').textContent = kind + "; valid: " + this.validGroups.join(", ");
    var ratio = "";
    if (m.ok && m.twin.params) {
      var mine = pw ? m.total : m.cost;
      ratio = "This " + (pw ? "block" : "layer") + " has " + (mine.params / m.twin.params).toFixed(3) +
        " × the twin's weights and " + (mine.macs / m.twin.macs).toFixed(3) + " × its multiply-adds.";
    }
    root.querySelector('[data-role="ratio"]').textContent = ratio;
    root.querySelector('[data-view-box="pointwise"]').hidden = !pw;
    root.querySelector('[data-role="summary"]').textContent = "Settings: " + (m.nd === 2 ? "2-D, input " + st.height +
      " × " + st.width : "1-D, input length " + st.width) + ", C_in = " + m.cIn + ", C_out = " + m.cOut + ", k = " +
      st.kernel_size + ", stride " + st.stride + ", padding " + (m.causal ? "causal" : st.padding) + ", dilation " +
      st.dilation + ", groups " + m.groups + (pw ? ", then a 1 × 1 step to " + m.pwChannels + " channels" : "") + ".";
    this.clampSelection();
    this.requestDraw();
    this.describe();
  };

  /** Repaint once per frame however many controls changed; flush() paints at once (scripts, hit tests). */
  LayerExplorer.prototype.requestDraw = function () {
    var self = this;
    if (this.drawPending) return;
    this.drawPending = true;
    window.requestAnimationFrame(function () {
      self.flush();
    });
  };

  LayerExplorer.prototype.flush = function () {
    if (!this.drawPending) return;
    this.drawPending = false;
    this.draw();
  };

  LayerExplorer.prototype.clampSelection = function () {
    var m = this.model;
    if (!m.ok) {
      this.sel = null;
      return;
    }
    var dims = this.viewDims();
    var self = this;
    ["input", "output", "pointwise"].forEach(function (v) {
      var d = dims[v], cur = self.cursor[v];
      if (!d) return;
      self.cursor[v] = [Math.min(cur[0], d[0] - 1), Math.min(cur[1], d[1] - 1), Math.min(cur[2], d[2] - 1)];
    });
    if (this.sel) {
      var d = dims[this.sel.view];
      if (!d || this.sel.c >= d[0] || this.sel.r >= d[1] || this.sel.q >= d[2]) this.sel = null;
    }
  };

  /** [channels, rows, cols] of each pointable view. Input rows/cols include the padding. */
  LayerExplorer.prototype.viewDims = function () {
    var m = this.model;
    if (!m.ok) return {};
    return {
      input: [m.cIn, m.size[0] + m.padH[0] + m.padH[1], m.size[1] + m.padW[0] + m.padW[1]],
      output: [m.cOut, m.outH, m.outW],
      pointwise: m.pointwise ? [m.pwChannels, m.outH, m.outW] : null,
    };
  };

  // ---- highlighting

  /** The highlighted cells of every view, from the selection. Painting and scripts both read this. */
  LayerExplorer.prototype.highlight = function () {
    var m = this.model, sel = this.sel, h = { input: new Map(), output: new Map(), pointwise: new Map(),
                                                kernels: new Map(), pwKernel: new Set(), channelsIn: new Set(),
                                                channelsOut: new Set(), pwOut: new Set() };
    if (!m.ok || !sel) return h;
    var key = function (c, r, q) {
      return c + "," + r + "," + q;
    };
    var addOutput = function (o, i, j) {
      footprint(m, o, i, j).forEach(function (t) {
        h.input.set(key(t.c, t.r, t.q), t.pad ? "tapPad" : "tap");
        h.kernels.set(key(o, t.c - Math.floor(o / m.cOutG) * m.cInG, t.u + "," + t.v), "tap");
        h.channelsIn.add(t.c);
      });
      h.channelsOut.add(o);
    };
    if (sel.view === "output") {
      h.output.set(key(sel.c, sel.r, sel.q), "sel");
      addOutput(sel.c, sel.r, sel.q);
    } else if (sel.view === "pointwise") {
      h.pointwise.set(key(sel.c, sel.r, sel.q), "sel");
      h.pwOut.add(sel.c);
      for (var o = 0; o < m.cOut; o++) {
        h.output.set(key(o, sel.r, sel.q), "feed");
        h.pwKernel.add(sel.c + "," + o);
        addOutput(o, sel.r, sel.q);
      }
    } else if (sel.view === "input") {
      h.input.set(key(sel.c, sel.r, sel.q), "sel");
      h.channelsIn.add(sel.c);
      feeds(m, sel.c, sel.r, sel.q).forEach(function (f) {
        h.output.set(key(f.c, f.r, f.q), "feed");
        h.kernels.set(key(f.c, sel.c - Math.floor(sel.c / m.cInG) * m.cInG, f.u + "," + f.v), "tap");
        h.channelsOut.add(f.c);
        if (m.pointwise) {
          for (var p = 0; p < m.pwChannels; p++) h.pointwise.set(key(p, f.r, f.q), "feed");
        }
      });
    }
    return h;
  };

  LayerExplorer.prototype.select = function (sel) {
    var same = (!sel && !this.sel) || (sel && this.sel && sel.view === this.sel.view && sel.c === this.sel.c &&
                                       sel.r === this.sel.r && sel.q === this.sel.q);
    this.sel = sel;
    if (sel) this.cursor[sel.view] = [sel.c, sel.r, sel.q];
    if (!same) {
      this.requestDraw();
      this.describe();
    }
  };

  LayerExplorer.prototype.selectCursor = function (view) {
    var c = this.cursor[view];
    if (this.viewDims()[view]) this.select({ view: view, c: c[0], r: c[1], q: c[2] });
  };

  /** Rewrite the description DESCRIBE_DELAY ms after the last call (debounced); not while the player runs. */
  LayerExplorer.prototype.describe = function () {
    var self = this;
    clearTimeout(this.describeTimer);
    if (this.timer) return; // stop() describes the cell the player stopped on
    this.describeTimer = setTimeout(function () {
      self.describeNow();
    }, DESCRIBE_DELAY);
  };

  LayerExplorer.prototype.describeNow = function () {
    clearTimeout(this.describeTimer);
    var desc = this.root.querySelector('[data-role="desc"]'), text = this.descriptionText();
    if (desc.textContent !== text) desc.textContent = text;
  };

  /** In words: the selected cell (or, with none, the output cursor's cell) and its footprint. */
  LayerExplorer.prototype.descriptionText = function () {
    var m = this.model, sel = this.sel, text = "", lead = "";
    if (!m.ok) return "Invalid settings: " + m.errors.join("; ") + ".";
    if (!sel) {
      var cur = this.cursor.output;
      sel = { view: "output", c: cur[0], r: cur[1], q: cur[2] };
      lead = "No cell is selected; the output cursor is here. ";
    }
    if (sel.view === "output" || sel.view === "pointwise") {
      var taps = [], chans = new Set(), pads = 0;
      var outs = sel.view === "output" ? [sel.c] : Array.from({ length: m.cOut }, function (_, i) { return i; });
      outs.forEach(function (o) {
        footprint(m, o, sel.r, sel.q).forEach(function (t) {
          taps.push(t);
          chans.add(t.c);
          if (t.pad) pads++;
        });
      });
      var cs = Array.from(chans).sort(function (a, b) { return a - b; });
      var where = m.nd === 2 ? "row " + sel.r + ", column " + sel.q : "position " + sel.q;
      var first = taps[0], last = taps[taps.length - 1];
      var cells = new Set(taps.map(function (t) { return t.c + "," + t.r + "," + t.q; })).size;
      var padCells = new Set(taps.filter(function (t) { return t.pad; }).map(function (t) {
        return t.c + "," + t.r + "," + t.q;
      })).size;
      var one = footprint(m, outs[0], sel.r, sel.q).filter(function (t) { return t.c === taps[0].c; });
      var padRows = uniq(one.filter(function (t) { return t.r < m.padH[0] || t.r >= m.padH[0] + m.size[0]; })
        .map(function (t) { return t.r; }));
      var padCols = uniq(one.filter(function (t) { return t.q < m.padW[0] || t.q >= m.padW[0] + m.size[1]; })
        .map(function (t) { return t.q; }));
      var padWhere = [];
      if (m.nd === 2 && padRows.length) padWhere.push("padded row" + (padRows.length > 1 ? "s " : " ") + padRows.join(", "));
      if (padCols.length) {
        padWhere.push((m.nd === 2 ? "padded column" : "padded position") + (padCols.length > 1 ? "s " : " ") +
                      padCols.join(", "));
      }
      var rf = m.nd === 2 ? m.receptiveField + " × " + m.receptiveField + " input pixels" : m.receptiveField +
        " input samples";
      text = (sel.view === "output" ? "Output channel " + sel.c + " (group " + Math.floor(sel.c / m.cOutG) + ")"
                                    : "Pointwise output channel " + sel.c + ", through all " + m.cOut +
                                      " depthwise outputs at that pixel,") + " at " + where + " reads input channel" +
        (cs.length > 1 ? "s " + rangeText(cs) : " " + cs[0]) + (m.nd === 2 ? ", padded rows " + first.r + "–" +
        last.r + " and columns " + first.q + "–" + last.q : ", padded positions " + first.q + "–" + last.q) +
        " in steps of " + m.dil[1] + ": " + cells + " cells, " + (padCells ? padCells + " of them padding (zeros), in " +
        padWhere.join(" and ") : "none of them padding") + ". Receptive field: " + rf + " per channel. Value: " +
        (sel.view === "output" ? this.tensors.output[sel.c][sel.r][sel.q]
                               : this.tensors.pointwiseOutput[sel.c][sel.r][sel.q]) + ".";
    } else {
      var f = feeds(m, sel.c, sel.r, sel.q);
      var inPad = isPad(m, sel.r, sel.q);
      text = (inPad ? "Padding cell" : "Input cell") + " of channel " + sel.c + " at padded " +
        (m.nd === 2 ? "row " + sel.r + ", column " + sel.q : "position " + sel.q) + " feeds " + f.length +
        " output cell" + (f.length === 1 ? "" : "s") + (f.length ? " in output channel" +
        (m.cOutG > 1 ? "s " + rangeText(uniq(f.map(function (x) { return x.c; }))) : " " + f[0].c) : "") + ".";
    }
    return lead + text;
  };

  function uniq(a) {
    return Array.from(new Set(a)).sort(function (x, y) { return x - y; });
  }

  function rangeText(cs) {
    if (cs.length > 1 && cs[cs.length - 1] - cs[0] === cs.length - 1) return cs[0] + "–" + cs[cs.length - 1];
    return cs.join(", ");
  }

  // ---- drawing

  LayerExplorer.prototype.draw = function () {
    var m = this.model;
    if (!m) return;
    var colors = cssColors(this.root), h = this.highlight(), self = this;
    this.colors = colors;
    var views = this.root.querySelector(".cx-views");
    ["input", "kernels", "output", "pointwise", "channels"].forEach(function (v) {
      var canvas = self.canvases[v], box = canvas.parentNode;
      if (box.hidden) return;
      var width = Math.max(120, Math.floor(contentWidth(box) || contentWidth(views) || 300));
      if (!m.ok) {
        var ctx0 = setupCanvas(canvas, width, 40);
        ctx0.fillStyle = colors.bg;
        ctx0.fillRect(0, 0, width, 40);
        ctx0.fillStyle = colors.muted;
        ctx0.font = "13px sans-serif";
        ctx0.fillText("(invalid settings)", 8, 24);
        canvas.setAttribute("aria-label", v + ": invalid settings");
        return;
      }
      self["draw_" + v](canvas, width, colors, h);
    });
  };

  /** Layout of channel grids for a view; cached for hit tests and cellCenter. */
  LayerExplorer.prototype.gridLayout = function (view, n, rows, cols, width, groupOf, label) {
    var arrangeGroups = this.state.arrange === "group" && this.model.groups > 1;
    var labelH = 15, gap = 8, self = this;
    var breaks = function (per) {
      if (!arrangeGroups) return Math.ceil(n / per);
      var perGroup = n / self.model.groups;
      return self.model.groups * Math.ceil(perGroup / per);
    };
    var maxH = this.model.nd === 1 ? 340 : 380;
    var cell = chooseCell(n, rows, cols, width, maxH, labelH, gap, 30, 3, breaks);
    var items = [];
    for (var c = 0; c < n; c++) {
      items.push({ w: cols * cell, h: rows * cell, breakBefore: arrangeGroups && c > 0 && groupOf(c) !== groupOf(c - 1) });
    }
    var fl = flow(items, width, gap, labelH);
    var lay = { cell: cell, rows: rows, cols: cols, grids: fl.items, height: fl.height + 4, labelH: labelH,
                groupOf: groupOf, label: label, n: n };
    this.layouts[view] = lay;
    return lay;
  };

  LayerExplorer.prototype.paintGrids = function (canvas, width, lay, colors, cellFill, marks, ariaLabel) {
    var ctx = setupCanvas(canvas, width, lay.height), cell = lay.cell, m = this.model, self = this;
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, width, lay.height);
    ctx.textBaseline = "alphabetic";
    var showNums = this.state.values && cell >= 17;
    lay.grids.forEach(function (g, c) {
      var grp = lay.groupOf(c), gcol = colors.groups[grp % colors.groups.length];
      // label, with a group stripe
      ctx.fillStyle = gcol;
      ctx.fillRect(g.x, g.y - 13, 4, 10);
      ctx.fillStyle = colors.text;
      ctx.font = "11px sans-serif";
      ctx.fillText(lay.label(c), g.x + 7, g.y - 4);
      for (var r = 0; r < lay.rows; r++) {
        for (var q = 0; q < lay.cols; q++) {
          var x = g.x + q * cell, y = g.y + r * cell;
          var mark = marks(c, r, q);
          ctx.fillStyle = mark ? colors[mark] : cellFill(c, r, q);
          ctx.fillRect(x, y, cell, cell);
          // second cue, at every cell size: padding hatched (in a colour that stands out on the fill; under 6 px one
          // diagonal), highlighted cells ringed (under 12 px a dot)
          if (lay.pad && lay.pad(r, q)) {
            var padMark = mark ? colors.tapPadMark : colors.padMark;
            if (cell >= 6) hatch(ctx, x, y, cell, cell, padMark, 5);
            else slash(ctx, x, y, cell, padMark);
          }
          if (mark) ring(ctx, x, y, cell, colors.mark[mark], mark === "sel" ? 3 : 2);
        }
      }
      // grid lines
      ctx.strokeStyle = colors.line;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (r = 0; r <= lay.rows; r++) {
        ctx.moveTo(g.x, g.y + r * cell + 0.5);
        ctx.lineTo(g.x + lay.cols * cell, g.y + r * cell + 0.5);
      }
      for (q = 0; q <= lay.cols; q++) {
        ctx.moveTo(g.x + q * cell + 0.5, g.y);
        ctx.lineTo(g.x + q * cell + 0.5, g.y + lay.rows * cell);
      }
      if (cell >= 5) ctx.stroke();
      ctx.strokeStyle = gcol;
      ctx.lineWidth = 2;
      ctx.strokeRect(g.x - 1, g.y - 1, lay.cols * cell + 2, lay.rows * cell + 2);
      if (showNums && lay.number) {
        ctx.font = Math.min(13, Math.floor(cell * 0.5)) + "px sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        for (r = 0; r < lay.rows; r++) {
          for (q = 0; q < lay.cols; q++) {
            var val = lay.number(c, r, q);
            if (val === null) continue;
            var mk = marks(c, r, q);
            ctx.fillStyle = mk ? colors.text_[mk] || colors.text : colors.text;
            ctx.fillText(String(val), g.x + (q + 0.5) * cell, g.y + (r + 0.55) * cell);
          }
        }
        ctx.textAlign = "start";
        ctx.textBaseline = "alphabetic";
      }
    });
    // keyboard cursor
    var view = canvas.getAttribute("data-view"), cur = this.cursor[view];
    if (cur && document.activeElement === canvas && lay.grids[cur[0]]) {
      var gg = lay.grids[cur[0]]; // dashed, on the cell's edge, so that it shows on any fill and any ring
      ctx.strokeStyle = colors.cursor;
      ctx.lineWidth = 2;
      ctx.setLineDash([3, 2]);
      ctx.strokeRect(gg.x + cur[2] * cell - 1, gg.y + cur[1] * cell - 1, cell + 2, cell + 2);
      ctx.setLineDash([]);
    }
    canvas.setAttribute("aria-label", ariaLabel + ". " + KEYS_LABEL);
    void m;
    void self;
  };

  LayerExplorer.prototype.valueFill = function (v, scale) {
    var c = this.colors, t = Math.min(1, Math.abs(v) / scale) * 0.55;
    if (v === 0) return c.cell;
    return mix(c.cell, v > 0 ? c.pos : c.neg, t);
  };

  LayerExplorer.prototype.draw_input = function (canvas, width, colors, h) {
    var m = this.model, self = this, t = this.tensors;
    var rows = m.size[0] + m.padH[0] + m.padH[1], cols = m.size[1] + m.padW[0] + m.padW[1];
    var lay = this.gridLayout("input", m.cIn, rows, cols, width, function (c) {
      return Math.floor(c / m.cInG);
    }, function (c) {
      return "in " + c;
    });
    lay.number = function (c, r, q) {
      return isPad(m, r, q) ? null : t.xPadded[c][r][q];
    };
    lay.pad = function (r, q) {
      return isPad(m, r, q);
    };
    this.paintGrids(canvas, width, lay, colors, function (c, r, q) {
      return isPad(m, r, q) ? colors.pad : self.valueFill(t.xPadded[c][r][q], 3);
    }, function (c, r, q) {
      return h.input.get(c + "," + r + "," + q);
    }, "Input: " + m.cIn + " channel" + (m.cIn > 1 ? "s" : "") + " of " + (m.nd === 2 ? m.size[0] + " × " : "length ") +
       m.size[1] + ", padded to " + (m.nd === 2 ? rows + " × " : "") + cols);
  };

  LayerExplorer.prototype.draw_output = function (canvas, width, colors, h) {
    var m = this.model, self = this, t = this.tensors;
    var lay = this.gridLayout("output", m.cOut, m.outH, m.outW, width, function (c) {
      return Math.floor(c / m.cOutG);
    }, function (c) {
      return "out " + c;
    });
    lay.number = function (c, r, q) {
      return t.output[c][r][q];
    };
    var scale = Math.max(3, m.cInG * m.kernel[0] * m.kernel[1]);
    this.paintGrids(canvas, width, lay, colors, function (c, r, q) {
      return self.valueFill(t.output[c][r][q], scale);
    }, function (c, r, q) {
      return h.output.get(c + "," + r + "," + q);
    }, "Output: " + m.cOut + " channel" + (m.cOut > 1 ? "s" : "") + " of " + (m.nd === 2 ? m.outH + " × " : "length ") +
       m.outW);
  };

  LayerExplorer.prototype.draw_pointwise = function (canvas, width, colors, h) {
    var m = this.model, self = this, t = this.tensors;
    var lay = this.gridLayout("pointwise", m.pwChannels, m.outH, m.outW, width, function () {
      return 0;
    }, function (c) {
      return "pw " + c;
    });
    lay.number = function (c, r, q) {
      return t.pointwiseOutput[c][r][q];
    };
    var scale = Math.max(3, m.cOut * 2);
    this.paintGrids(canvas, width, lay, colors, function (c, r, q) {
      return self.valueFill(t.pointwiseOutput[c][r][q], scale);
    }, function (c, r, q) {
      return h.pointwise.get(c + "," + r + "," + q);
    }, "Pointwise output: " + m.pwChannels + " channels; each mixes all " + m.cOut + " depthwise outputs at one pixel");
  };

  /** Filters: one per output channel, each a row of C_in / groups slices of kH x kW. */
  LayerExplorer.prototype.draw_kernels = function (canvas, width, colors, h) {
    var m = this.model, self = this, t = this.tensors, kH = m.kernel[0], kW = m.kernel[1], n = m.cInG;
    var sliceGap = 3, labelH = 15, gap = 10;
    var arrangeGroups = this.state.arrange === "group" && m.groups > 1;
    var cell = 3, per = 1, filterW = 0, filterH = 0, lines = 1;
    for (var c = 26; c >= 3; c--) {
      var sw = kW * c;
      var perRow = Math.max(1, Math.min(n, Math.floor((width + sliceGap) / (sw + sliceGap))));
      lines = Math.ceil(n / perRow);
      filterW = perRow * (sw + sliceGap) - sliceGap;
      filterH = lines * (kH * c + sliceGap) - sliceGap;
      per = Math.max(1, Math.floor((width + gap) / (filterW + gap)));
      var rowsOfFilters = arrangeGroups ? m.groups * Math.ceil(m.cOutG / per) : Math.ceil(m.cOut / per);
      cell = c;
      if (rowsOfFilters * (filterH + labelH + gap) <= 300 && filterW <= width) break;
    }
    var perRowSlices = Math.max(1, Math.min(n, Math.floor((width + sliceGap) / (kW * cell + sliceGap))));
    var items = [];
    for (var o = 0; o < m.cOut; o++) {
      items.push({ w: filterW, h: filterH, breakBefore: arrangeGroups && o > 0 && o % m.cOutG === 0 });
    }
    var fl = flow(items, width, gap, labelH), height = fl.height + 4;
    var ctx = setupCanvas(canvas, width, height);
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, width, height);
    var showNums = this.state.values && cell >= 15;
    var slices = [];
    fl.items.forEach(function (pos, o) {
      var grp = Math.floor(o / m.cOutG), gcol = colors.groups[grp % colors.groups.length];
      ctx.fillStyle = gcol;
      ctx.fillRect(pos.x, pos.y - 13, 4, 10);
      ctx.fillStyle = colors.text;
      ctx.font = "11px sans-serif";
      ctx.fillText("filter " + o + (n > 1 ? " (in " + grp * n + "–" + (grp * n + n - 1) + ")" : " (in " + grp * n + ")"),
                   pos.x + 7, pos.y - 4);
      for (var s = 0; s < n; s++) {
        var sx = pos.x + (s % perRowSlices) * (kW * cell + sliceGap);
        var sy = pos.y + Math.floor(s / perRowSlices) * (kH * cell + sliceGap);
        slices.push({ o: o, s: s, x: sx, y: sy });
        for (var u = 0; u < kH; u++) {
          for (var v = 0; v < kW; v++) {
            var mark = h.kernels.get(o + "," + s + "," + u + "," + v);
            ctx.fillStyle = mark ? colors[mark] : self.valueFill(t.weight[o][s][u][v], 1);
            ctx.fillRect(sx + v * cell, sy + u * cell, cell, cell);
            if (mark) ring(ctx, sx + v * cell, sy + u * cell, cell, colors.mark[mark], 2);
            if (showNums) {
              ctx.fillStyle = mark ? colors.text_[mark] : colors.text;
              ctx.textAlign = "center";
              ctx.textBaseline = "middle";
              ctx.font = Math.min(12, Math.floor(cell * 0.5)) + "px sans-serif";
              ctx.fillText(String(t.weight[o][s][u][v]), sx + (v + 0.5) * cell, sy + (u + 0.55) * cell);
              ctx.textAlign = "start";
              ctx.textBaseline = "alphabetic";
            }
          }
        }
        ctx.strokeStyle = gcol;
        ctx.lineWidth = h.channelsOut.has(o) ? 3 : 1.5;
        ctx.strokeRect(sx - 0.5, sy - 0.5, kW * cell + 1, kH * cell + 1);
      }
    });
    this.layouts.kernels = { cell: cell, slices: slices };
    canvas.setAttribute("aria-label", "Kernels: " + m.cOut + " filters of " + n + " × " + (m.nd === 2 ? kH + " × " : "") +
      kW + " weights" + (m.groups > 1 ? ", in " + m.groups + " groups" : ""));
  };

  /** Channel connections: input channels (left) to output channels (right), one line per pair that meets. */
  LayerExplorer.prototype.draw_channels = function (canvas, width, colors, h) {
    var m = this.model, cols = m.pointwise ? 3 : 2, maxN = Math.max(m.cIn, m.cOut, m.pointwise ? m.pwChannels : 0);
    var pitch = Math.max(6, Math.min(22, Math.floor(260 / maxN))), height = maxN * pitch + 34;
    var ctx = setupCanvas(canvas, width, height), left = 60, right = width - 60;
    var xs = cols === 3 ? [left, (left + right) / 2, right] : [left, right];
    var yOf = function (i, n) {
      return 24 + (maxN - n) * pitch / 2 + i * pitch + pitch / 2;
    };
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, width, height);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = colors.text;
    ctx.textAlign = "center";
    ctx.fillText("in: C_in = " + m.cIn, xs[0], 12);
    ctx.fillText("C_out = " + m.cOut, xs[1], 12);
    if (cols === 3) ctx.fillText("pointwise " + m.pwChannels, xs[2], 12);
    ctx.textAlign = "start";
    var any = h.channelsOut.size > 0;
    for (var pass = 0; pass < 2; pass++) {
      for (var o = 0; o < m.cOut; o++) {
        var g = Math.floor(o / m.cOutG), hot = h.channelsOut.has(o);
        if ((pass === 1) !== hot) continue;
        for (var cl = 0; cl < m.cInG; cl++) {
          var c = g * m.cInG + cl;
          ctx.strokeStyle = hot ? colors.text : any ? mix(colors.groups[g % 6], colors.bg, 0.7) : colors.groups[g % 6];
          ctx.lineWidth = hot ? 2.5 : 1;
          ctx.beginPath();
          ctx.moveTo(xs[0], yOf(c, m.cIn));
          ctx.lineTo(xs[1], yOf(o, m.cOut));
          ctx.stroke();
        }
      }
    }
    if (cols === 3) {
      for (var p = 0; p < m.pwChannels; p++) {
        for (o = 0; o < m.cOut; o++) {
          var hotp = h.pwOut.has(p);
          ctx.strokeStyle = hotp ? colors.text : colors.muted;
          ctx.lineWidth = hotp ? 2.5 : 0.6;
          ctx.beginPath();
          ctx.moveTo(xs[1], yOf(o, m.cOut));
          ctx.lineTo(xs[2], yOf(p, m.pwChannels));
          ctx.stroke();
        }
      }
    }
    var rad = Math.max(2.5, Math.min(5, pitch / 3));
    var dot = function (x, y, fill, hot) {
      ctx.fillStyle = fill;
      ctx.beginPath();
      ctx.arc(x, y, hot ? rad + 1.5 : rad, 0, 2 * Math.PI);
      ctx.fill();
      if (hot) {
        ctx.strokeStyle = colors.text;
        ctx.lineWidth = 2;
        ctx.stroke();
      }
    };
    for (c = 0; c < m.cIn; c++) dot(xs[0], yOf(c, m.cIn), colors.groups[Math.floor(c / m.cInG) % 6], h.channelsIn.has(c));
    for (o = 0; o < m.cOut; o++) dot(xs[1], yOf(o, m.cOut), colors.groups[Math.floor(o / m.cOutG) % 6], h.channelsOut.has(o));
    if (cols === 3) for (p = 0; p < m.pwChannels; p++) dot(xs[2], yOf(p, m.pwChannels), colors.muted, h.pwOut.has(p));
    canvas.setAttribute("aria-label", "Channel connections: " + m.groups + " group" + (m.groups > 1 ? "s" : "") +
      "; each output channel reads " + m.cInG + " input channel" + (m.cInG > 1 ? "s" : ""));
  };

  // ---- pointing and keys

  LayerExplorer.prototype.hit = function (view, clientX, clientY) {
    this.flush();
    var lay = this.layouts[view], canvas = this.canvases[view];
    if (!lay || !lay.grids) return null;
    var rect = canvas.getBoundingClientRect(), x = clientX - rect.left, y = clientY - rect.top;
    for (var c = 0; c < lay.grids.length; c++) {
      var g = lay.grids[c];
      var q = Math.floor((x - g.x) / lay.cell), r = Math.floor((y - g.y) / lay.cell);
      if (q >= 0 && r >= 0 && q < lay.cols && r < lay.rows) return { view: view, c: c, r: r, q: q };
    }
    return null;
  };

  LayerExplorer.prototype.onPointer = function (view, ev) {
    if (view !== "input" && view !== "output" && view !== "pointwise") return;
    var hit = this.hit(view, ev.clientX, ev.clientY);
    if (hit) {
      this.stop();
      this.select(hit);
    }
  };

  LayerExplorer.prototype.onKey = function (view, ev) {
    var dims = this.viewDims()[view];
    if (!dims) return;
    var cur = this.cursor[view].slice(), k = ev.key;
    if (k === "ArrowRight") cur[2]++;
    else if (k === "ArrowLeft") cur[2]--;
    else if (k === "ArrowDown") cur[1]++;
    else if (k === "ArrowUp") cur[1]--;
    else if (k === "PageDown") cur[0]++;
    else if (k === "PageUp") cur[0]--;
    else if (k === "Home") cur = [cur[0], 0, 0];
    else if (k === "End") cur = [cur[0], dims[1] - 1, dims[2] - 1];
    else if (k === "Escape") {
      this.select(null);
      ev.preventDefault();
      return;
    } else return;
    ev.preventDefault();
    cur = [clamp(cur[0], 0, dims[0] - 1), clamp(cur[1], 0, dims[1] - 1), clamp(cur[2], 0, dims[2] - 1)];
    this.stop();
    this.select({ view: view, c: cur[0], r: cur[1], q: cur[2] });
  };

  function clamp(v, lo, hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  // ---- animation: the output cursor walks the output in reading order, channel by channel

  LayerExplorer.prototype.act = function (what) {
    var m = this.model;
    if (!m.ok) return;
    var view = m.pointwise && this.sel && this.sel.view === "pointwise" ? "pointwise" : "output";
    var dims = this.viewDims()[view], total = dims[0] * dims[1] * dims[2];
    var cur = this.sel && this.sel.view === view ? [this.sel.c, this.sel.r, this.sel.q] : null;
    var index = cur ? (cur[0] * dims[1] + cur[1]) * dims[2] + cur[2] : -1;
    var self = this;
    var go = function (i) {
      i = ((i % total) + total) % total;
      var c = Math.floor(i / (dims[1] * dims[2])), rest = i % (dims[1] * dims[2]);
      self.select({ view: view, c: c, r: Math.floor(rest / dims[2]), q: rest % dims[2] });
      self.status("output " + (i + 1) + " of " + total);
      return i;
    };
    if (what === "first") {
      this.stop();
      go(0);
    } else if (what === "prev") {
      this.stop();
      go(index < 0 ? total - 1 : index - 1);
    } else if (what === "next") {
      this.stop();
      go(index + 1);
    } else if (what === "play") {
      if (this.timer) {
        this.stop();
        return;
      }
      if (this.reducedMotion && this.reducedMotion.matches) return; // the button is disabled too
      var i = index;
      var delay = parseInt(this.root.querySelector('[data-param="speed"]').value, 10) || 450;
      this.playLabel(true);
      this.root.setAttribute("data-playing", "true");
      this.timer = setInterval(function () {
        if (!self.model.ok) {
          self.stop();
          return;
        }
        i = go(i + 1);
      }, delay);
      i = go(i + 1);
    }
  };

  LayerExplorer.prototype.stop = function () {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.playLabel(false);
    this.root.removeAttribute("data-playing");
    this.describe();
  };

  LayerExplorer.prototype.playLabel = function (playing) {
    var btn = this.root.querySelector('[data-act="play"]');
    btn.firstChild.textContent = playing ? "⏸ " : "▶ ";
    btn.querySelector('[data-role="act-word"]').textContent = playing ? "pause" : "play";
  };

  /** With prefers-reduced-motion: reduce, the player does not run: play is disabled and says why. */
  LayerExplorer.prototype.applyMotionPreference = function () {
    var reduce = !!(this.reducedMotion && this.reducedMotion.matches);
    if (reduce) this.stop();
    var btn = this.root.querySelector('[data-act="play"]');
    btn.disabled = reduce;
    btn.title = reduce ? "Off: your system asks for reduced motion. The step buttons still walk the output." : "";
    if (reduce) this.status("Play is off (reduced motion); step with the buttons.");
    else if (this.root.querySelector('[data-role="status"]').textContent.indexOf("reduced motion") >= 0) this.status("");
  };

  LayerExplorer.prototype.status = function (text) {
    this.root.querySelector('[data-role="status"]').textContent = text;
  };

  // ---- the script interface (root.convExplorer)

  LayerExplorer.prototype.api = function () {
    var self = this;
    return {
      kind: "layer",
      get state() {
        return Object.assign({}, self.state);
      },
      get model() {
        var m = self.model;
        return m.ok ? { outH: m.outH, outW: m.outW, padH: m.padH, padW: m.padW, groups: m.groups } : { error: m.errors };
      },
      /** Point at a cell programmatically; view is "input", "output" or "pointwise"; null clears. */
      select: function (view, c, r, q) {
        self.stop();
        self.select(view ? { view: view, c: c, r: r, q: q } : null);
      },
      /** Highlighted cells as arrays of [channel, row, col] (input: padded coordinates) with their kind. */
      highlighted: function () {
        self.flush();
        var h = self.highlight(), out = {};
        ["input", "output", "pointwise"].forEach(function (v) {
          out[v] = [];
          h[v].forEach(function (kind, key) {
            var p = key.split(",").map(Number);
            out[v].push([p[0], p[1], p[2], kind]);
          });
        });
        out.kernels = [];
        h.kernels.forEach(function (kind, key) {
          out.kernels.push(key.split(",").map(Number));
        });
        out.channelsIn = Array.from(h.channelsIn).sort(function (a, b) { return a - b; });
        out.channelsOut = Array.from(h.channelsOut).sort(function (a, b) { return a - b; });
        return out;
      },
      /** Where cell (c, r, q) of a view is drawn, in CSS pixels of the viewport: {x, y, size}. */
      cellCenter: function (view, c, r, q) {
        self.flush();
        var lay = self.layouts[view], canvas = self.canvases[view];
        if (!lay || !lay.grids || !lay.grids[c]) return null;
        var rect = canvas.getBoundingClientRect(), g = lay.grids[c];
        return { x: rect.left + g.x + (q + 0.5) * lay.cell, y: rect.top + g.y + (r + 0.5) * lay.cell, size: lay.cell,
                 left: g.x + q * lay.cell, top: g.y + r * lay.cell };
      },
      /** The colours the views paint with, by kind ("tap", "tapPad", "sel", "feed", "pad"), and the cues'. */
      colors: function () {
        return Object.assign({}, self.colors);
      },
      tensors: function () {
        return self.model.ok ? JSON.parse(JSON.stringify(self.tensors)) : null;
      },
      /** Milliseconds after the last change before the description is rewritten. */
      describeDelay: DESCRIBE_DELAY,
    };
  };

  // ------------------------------------------------------------------------------------------ stack explorer

  function StackExplorer(root) {
    this.root = root;
    this.id = "cx" + ++uid;
    var preset = STACK_PRESETS[root.getAttribute("data-preset")] || STACK_PRESETS.hybrid;
    this.layers = preset.layers.map(function (l) {
      return { k: l[0], s: l[1], d: l[2] };
    });
    var names = (root.getAttribute("data-presets") || Object.keys(STACK_PRESETS).join(",")).split(",");
    this.presetNames = names.map(function (s) {
      return s.trim();
    }).filter(function (s) {
      return STACK_PRESETS[s];
    });
    this.build();
    this.update();
    root.setAttribute("data-ready", "true");
  }

  StackExplorer.prototype.build = function () {
    var self = this, root = this.root, id = this.id;
    root.classList.add("cx-root", "cx-stack");
    root.innerHTML = "";
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "Receptive field of a stack of layers");
    var bar = el("div", { class: "cx-presets", role: "group", "aria-label": "Presets" }, [
      el("span", { class: "cx-presets-label", text: "Presets:" }),
    ]);
    this.presetNames.forEach(function (name) {
      var b = el("button", { type: "button", class: "cx-btn", "data-preset-button": name, text: STACK_PRESETS[name].label });
      b.addEventListener("click", function () {
        self.layers = STACK_PRESETS[name].layers.map(function (l) {
          return { k: l[0], s: l[1], d: l[2] };
        });
        self.update();
      });
      bar.appendChild(b);
    });
    root.appendChild(bar);
    var lid = id + "-layers";
    var count = el("input", { type: "range", id: lid, min: STACK_LIMITS.layers[0], max: STACK_LIMITS.layers[1], step: 1,
                              "data-param": "layers" });
    root.appendChild(el("div", { class: "cx-controls cx-stack-count" }, [
      el("div", { class: "cx-field" }, [el("label", { for: lid }, ["Layers ", el("output", { for: lid, "data-shown": "layers" })]), count]),
    ]));
    var onCount = function () {
      var n = clamp(parseInt(count.value, 10) || 1, STACK_LIMITS.layers[0], STACK_LIMITS.layers[1]);
      while (self.layers.length < n) {
        var last = self.layers[self.layers.length - 1];
        self.layers.push({ k: last.k, s: 1, d: Math.min(STACK_LIMITS.dilation[1], last.d * 2) });
      }
      self.layers.length = n;
      self.update();
    };
    count.addEventListener("input", onCount);
    count.addEventListener("change", onCount);
    var facts = el("p", { class: "cx-facts" }); // not live: the layer count slider would flood a screen reader
    facts.innerHTML = 'One output of the stack sees <strong><span data-value="receptive_field"></span></strong> ' +
      'consecutive input samples (<span data-role="rf2d"></span> pixels in 2-D), through ' +
      '<span data-value="paths"></span> paths. Holes (samples inside that field that no path reaches): ' +
      '<strong><span data-value="holes"></span></strong>. <span data-role="verdict"></span>';
    root.appendChild(facts);
    // what a screen reader announces, once the settings have settled (DESCRIBE_DELAY ms after the last change)
    root.appendChild(el("p", { class: "cx-sr-only", role: "status", "data-role": "announce" }));
    var table = el("table", { class: "cx-table cx-layers" });
    table.innerHTML = '<caption>Layers, from the input (layer 1) up. Receptive field after each layer, in input ' +
      'samples: 1 + Σ (k − 1) · d · (product of the strides below).</caption><thead><tr><th scope="col">layer</th>' +
      '<th scope="col">kernel k</th><th scope="col">stride s</th><th scope="col">dilation d</th>' +
      '<th scope="col">jump</th><th scope="col">receptive field</th></tr></thead><tbody></tbody>';
    root.appendChild(el("div", { class: "cx-table-wrap" }, [table]));
    this.tbody = table.querySelector("tbody");
    var views = el("div", { class: "cx-views" });
    this.canvases = {};
    [["paths", "Paths from the input (bottom) to one output (top); input shaded by the number of paths, holes marked ×"],
     ["coverage", "The same in 2-D (k × k kernels): paths to each input pixel"],
     ["growth", "Receptive field after each layer: this stack against all d = 1 (linear) and d = 2^(l−1) (exponential)"]]
      .forEach(function (v) {
        var canvas = el("canvas", { class: "cx-canvas", role: "img", "data-view": v[0] });
        views.appendChild(el("figure", { class: "cx-view", "data-view-box": v[0] }, [el("figcaption", { text: v[1] }), canvas]));
        self.canvases[v[0]] = canvas;
      });
    root.appendChild(views);
    var ro = window.ResizeObserver ? new ResizeObserver(function () {
      self.requestDraw();
    }) : null;
    if (ro) ro.observe(views);
    new MutationObserver(function () {
      self.requestDraw();
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "data-mode"] });
  };

  StackExplorer.prototype.rebuildRows = function () {
    var self = this, tbody = this.tbody;
    if (tbody.children.length === this.layers.length) return;
    tbody.innerHTML = "";
    this.layers.forEach(function (layer, i) {
      var tr = el("tr", { "data-layer": i + 1 }, [el("th", { scope: "row", text: String(i + 1) })]);
      ["kernel_size", "stride", "dilation"].forEach(function (name) {
        var lim = STACK_LIMITS[name], inputId = self.id + "-l" + (i + 1) + "-" + name;
        var input = el("input", { type: "number", id: inputId, min: lim[0], max: lim[1], step: 1, "data-param": name,
                                  "aria-label": "layer " + (i + 1) + " " + name.replace("_", " "), inputmode: "numeric" });
        var handler = function () {
          var v = parseInt(input.value, 10);
          if (!isFinite(v)) return;
          v = clamp(v, lim[0], lim[1]);
          self.layers[i][name === "kernel_size" ? "k" : name === "stride" ? "s" : "d"] = v;
          self.update();
        };
        input.addEventListener("input", handler);
        input.addEventListener("change", handler);
        tr.appendChild(el("td", null, [input]));
      });
      tr.appendChild(el("td", { "data-value": "jump" }));
      tr.appendChild(el("td", { "data-value": "receptive_field" }));
      tbody.appendChild(tr);
    });
  };

  StackExplorer.prototype.update = function () {
    this.rebuildRows();
    var layers = this.layers, root = this.root, tbody = this.tbody;
    root.querySelector('[data-param="layers"]').value = layers.length;
    root.querySelector('[data-shown="layers"]').textContent = String(layers.length);
    var jump = 1;
    layers.forEach(function (l, i) {
      var tr = tbody.children[i];
      ["kernel_size", "stride", "dilation"].forEach(function (name) {
        var input = tr.querySelector('[data-param="' + name + '"]'), v = String(l[name === "kernel_size" ? "k" : name === "stride" ? "s" : "d"]);
        if (input.value !== v && document.activeElement !== input) input.value = v;
      });
      jump *= l.s;
      setValue(tr, "jump", jump);
      setValue(tr, "receptive_field", receptiveField(layers.slice(0, i + 1)));
    });
    var cov = (this.cov = coverage(layers));
    var holes = cov.counts.filter(function (c) {
      return c === 0;
    }).length;
    var paths = prod(layers.map(function (l) {
      return l.k;
    }));
    var top = root.querySelector(":scope > .cx-facts");
    setValue(top, "receptive_field", cov.rf);
    setValue(top, "paths", paths);
    setValue(top, "holes", holes);
    root.querySelector('[data-role="rf2d"]').textContent = cov.rf + " × " + cov.rf;
    root.querySelector('[data-role="verdict"]').textContent = stackVerdict(layers, holes);
    this.requestDraw();
    var announce = root.querySelector('[data-role="announce"]');
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(function () {
      announce.textContent = "Layers " + layers.map(function (l) { return "k " + l.k + " s " + l.s + " d " + l.d; })
        .join("; ") + ". " + top.textContent.replace(/\s+/g, " ").trim();
    }, DESCRIBE_DELAY);
  };

  StackExplorer.prototype.requestDraw = LayerExplorer.prototype.requestDraw;
  StackExplorer.prototype.flush = LayerExplorer.prototype.flush;

  function gcd(a, b) {
    return b ? gcd(b, a % b) : a;
  }

  function gcdAll(a) {
    return a.reduce(gcd, 0);
  }

  function holeCount(layers) {
    return coverage(layers).counts.filter(function (c) {
      return c === 0;
    }).length;
  }

  /**
   * Wang et al.'s (2018) hybrid-dilation quantity for a stack of 3-tap kernels with stride 1: the largest gap
   * between the input positions that the first layer must bridge, M_2, from M_n = r_n and
   * M_i = max(M_{i+1} - 2 r_i, M_{i+1} - 2 (M_{i+1} - r_i), r_i). The stack has no holes when M_2 <= k.
   */
  function hybridGap(ds) {
    var M = ds[ds.length - 1];
    for (var i = ds.length - 2; i >= 1; i--) M = Math.max(M - 2 * ds[i], M - 2 * (M - ds[i]), ds[i]);
    return M;
  }

  /** The stack's verdict: holes or none, and what makes them (dilations, strides, or both together). */
  function stackVerdict(layers, holes) {
    if (holes === 0) return "Every sample inside the field reaches the output: no gridding.";
    var noun = holes + " input sample" + (holes > 1 ? "s" : "") + " inside the field never reach" + (holes > 1 ? "" : "es") +
      " the output. ";
    var undilated = holeCount(layers.map(function (l) { return { k: l.k, s: l.s, d: 1 }; }));
    var unstrided = holeCount(layers.map(function (l) { return { k: l.k, s: 1, d: l.d }; }));
    var ds = layers.map(function (l) { return l.d; });
    var byStrides = undilated > 0, byDilations = unstrided > 0, cause = "";
    if (byStrides) {
      var wide = layers.map(function (l, i) { return i; }).filter(function (i) {
        return i + 1 < layers.length && layers[i].s > (layers[i].k - 1) * layers[i].d + 1;
      });
      cause += (byDilations ? "Both make holes. The strides do" : "The strides make them, not the dilations") +
        ": with every dilation set to 1, " + undilated + (undilated > 1 ? " remain" : " remains") + (wide.length ? " (layer " + (wide[0] + 1) + " steps " +
        layers[wide[0]].s + " samples but its kernel spans only " + ((layers[wide[0]].k - 1) * layers[wide[0]].d + 1) +
        ")" : "") + ". ";
    }
    if (byDilations) {
      var g = gcdAll(ds), plain = layers.every(function (l) { return l.k === 3 && l.s === 1; });
      cause += (byStrides ? "The dilations do too" : "The dilations make them") + ": with every stride set to 1, " + unstrided + (unstrided > 1 ? " remain" : " remains") +
        (g > 1 ? ", and the dilations share the factor " + g + ", so only one sample in " + g + " can be reached." :
          ". The dilations share no common factor: that is necessary for full coverage, not sufficient.");
      var rising = ds.every(function (d, i) { return i === 0 || d >= ds[i - 1]; });
      if (g === 1 && plain && rising && ds[0] === 1 && layers.length > 1) {
        cause += " Wang et al.'s hybrid condition (3-tap kernels, dilations from 1, never falling) asks that the " +
          "largest gap the first layer must bridge, M\u2082 = " + hybridGap(ds) + " here, be at most 3.";
      }
    }
    if (!byStrides && !byDilations) {
      cause = "Dilations and strides make them together: with either set to 1 everywhere the field has no holes.";
    }
    return "Gridding: " + noun + cause.trim();
  }

  StackExplorer.prototype.draw = function () {
    if (!this.cov) return;
    var colors = cssColors(this.root), views = this.root.querySelector(".cx-views");
    var width = Math.max(160, Math.floor(contentWidth(views) || 300));
    this.drawPaths(colors, width);
    this.drawCoverage(colors, Math.min(width, 360));
    this.drawGrowth(colors, Math.min(width, 560));
  };

  StackExplorer.prototype.drawPaths = function (colors, width) {
    var cov = this.cov, layers = this.layers, n = layers.length, rf = cov.rf;
    var canvas = this.canvases.paths, rowH = 46, height = (n + 1) * rowH + 30;
    var ctx = setupCanvas(canvas, width, height), margin = 24;
    var pitch = (width - 2 * margin) / Math.max(rf - 1, 1);
    var centre = [0]; // a node at level l sits over the middle of its own field (receptive field of layers 1..l)
    for (var lv = 1; lv <= n; lv++) centre.push((receptiveField(layers.slice(0, lv)) - 1) / 2);
    var xOf = function (pos, level) {
      var x = pos + (level ? centre[level] : 0);
      return rf === 1 ? width / 2 : margin + x * pitch;
    };
    var yOf = function (level) {
      return height - 22 - level * rowH;
    };
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, width, height);
    var maxCount = Math.max.apply(null, cov.counts);
    // edges, top-down
    ctx.lineWidth = rf > 120 ? 0.5 : 1;
    for (var l = n; l >= 1; l--) {
      var step = layers[l - 1].d * cov.jumps[l - 1];
      ctx.strokeStyle = colors.groups[(l - 1) % 6];
      ctx.beginPath();
      cov.levels[l].forEach(function (_, pos) {
        for (var j = 0; j < layers[l - 1].k; j++) {
          ctx.moveTo(xOf(pos, l), yOf(l));
          ctx.lineTo(xOf(pos + j * step, l - 1), yOf(l - 1));
        }
      });
      ctx.stroke();
    }
    var r = Math.max(1.5, Math.min(5, pitch / 2.5));
    for (l = n; l >= 1; l--) {
      cov.levels[l].forEach(function (_, pos) {
        ctx.fillStyle = l === n ? colors.sel : colors.text;
        ctx.beginPath();
        ctx.arc(xOf(pos, l), yOf(l), l === n ? 6 : r, 0, 2 * Math.PI);
        ctx.fill();
      });
    }
    // the input row: shaded by path counts, holes crossed
    var cw = Math.max(2, Math.min(14, pitch - 1));
    for (var x = 0; x < rf; x++) {
      var c = cov.counts[x], cx = xOf(x, 0), cy = yOf(0);
      if (c > 0) {
        ctx.fillStyle = mix(colors.cell, colors.sel, 0.25 + 0.75 * c / maxCount);
        ctx.fillRect(cx - cw / 2, cy - cw / 2, cw, cw);
      } else {
        ctx.strokeStyle = colors.hole;
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.moveTo(cx - cw / 2, cy - cw / 2);
        ctx.lineTo(cx + cw / 2, cy + cw / 2);
        ctx.moveTo(cx + cw / 2, cy - cw / 2);
        ctx.lineTo(cx - cw / 2, cy + cw / 2);
        ctx.stroke();
      }
    }
    ctx.fillStyle = colors.text;
    ctx.font = "11px sans-serif";
    ctx.fillText("input: " + rf + " samples", 4, height - 4);
    for (l = 1; l <= n; l++) {
      ctx.fillText("layer " + l + " (d=" + layers[l - 1].d + (layers[l - 1].s > 1 ? ", s=" + layers[l - 1].s : "") + ")",
                   4, yOf(l) - 8);
    }
    canvas.setAttribute("aria-label", "Path diagram: " + n + " layers, receptive field " + rf + " samples, " +
      cov.counts.filter(function (v) { return v === 0; }).length + " holes");
  };

  StackExplorer.prototype.drawCoverage = function (colors, width) {
    var counts = this.cov.counts, rf = counts.length, canvas = this.canvases.coverage;
    var avail = Math.max(40, width - 8), cell = Math.max(1, Math.floor(avail / rf));
    var size = rf <= avail ? cell * rf : avail; // one pixel per bin of offsets when the field is wider than that
    var n = rf <= avail ? rf : size;
    var hole = new Array(n).fill(false), peak = new Array(n).fill(0);
    for (var b = 0; b < n; b++) {
      var lo = Math.floor((b * rf) / n), hi = Math.max(lo + 1, Math.floor(((b + 1) * rf) / n));
      for (var x = lo; x < hi; x++) {
        if (counts[x] === 0) hole[b] = true;
        peak[b] = Math.max(peak[b], counts[x]);
      }
    }
    var ctx = setupCanvas(canvas, size + 8, size + 8), dpr = window.devicePixelRatio || 1;
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, size + 8, size + 8);
    var maxC = Math.max.apply(null, counts), holeRGB = parseColor(colors.hole);
    var cellRGB = parseColor(colors.cell), selRGB = parseColor(colors.sel);
    var px = Math.round(size * dpr), img = ctx.createImageData(px, px), data = img.data;
    for (var yy = 0; yy < px; yy++) {
      var bi = Math.min(n - 1, Math.floor((yy / px) * n));
      for (var xx = 0; xx < px; xx++) {
        var bj = Math.min(n - 1, Math.floor((xx / px) * n)), rgb;
        if (hole[bi] || hole[bj]) rgb = holeRGB;
        else {
          var t = 0.15 + (0.85 * peak[bi] * peak[bj]) / (maxC * maxC);
          rgb = [0, 1, 2].map(function (k) {
            return cellRGB[k] + (selRGB[k] - cellRGB[k]) * t;
          });
        }
        var o = (yy * px + xx) * 4;
        data[o] = rgb[0];
        data[o + 1] = rgb[1];
        data[o + 2] = rgb[2];
        data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, Math.round(4 * dpr), Math.round(4 * dpr));
    // holes: hatched as well as coloured, where a bin is wide enough to show it
    var binW = size / n;
    if (binW >= 3) {
      for (b = 0; b < n; b++) {
        if (!hole[b]) continue;
        hatch(ctx, 4 + b * binW, 4, binW, size, colors.text, 4);
        hatch(ctx, 4, 4 + b * binW, size, binW, colors.text, 4);
      }
    }
    canvas.setAttribute("aria-label", "2-D coverage: " + rf + " × " + rf + " pixels" +
      (rf > n ? " (drawn in bins of " + (rf / n).toFixed(1) + ")" : "") + ", holes in the hole colour");
  };

  StackExplorer.prototype.drawGrowth = function (colors, width) {
    var layers = this.layers, n = layers.length, canvas = this.canvases.growth, height = 200;
    var ctx = setupCanvas(canvas, width, height);
    var series = [
      { name: "this stack", color: colors.sel, v: [] },
      { name: "d = 1 (linear)", color: colors.groups[1], v: [] },
      { name: "d = 2^(l−1) (exponential)", color: colors.groups[2], v: [] },
    ];
    for (var i = 1; i <= n; i++) {
      var sub = layers.slice(0, i);
      series[0].v.push(receptiveField(sub));
      series[1].v.push(receptiveField(sub.map(function (l) { return { k: l.k, s: l.s, d: 1 }; })));
      series[2].v.push(receptiveField(sub.map(function (l, j) { return { k: l.k, s: l.s, d: Math.pow(2, j) }; })));
    }
    var maxV = Math.max.apply(null, series.map(function (s) { return Math.max.apply(null, s.v); }));
    var x0 = 44, y0 = height - 28, x1 = width - 12, y1 = 14;
    var xOf = function (i) {
      return n === 1 ? (x0 + x1) / 2 : x0 + (i / (n - 1)) * (x1 - x0);
    };
    var yOf = function (v) {
      return maxV > 1 ? y0 - ((v - 1) / (maxV - 1)) * (y0 - y1) : y0;
    };
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, width, height);
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x0, y1);
    ctx.lineTo(x0, y0);
    ctx.lineTo(x1, y0);
    ctx.stroke();
    ctx.fillStyle = colors.text;
    ctx.font = "11px sans-serif";
    ctx.fillText(String(maxV), 4, y1 + 4);
    ctx.fillText("1", 30, y0);
    for (i = 0; i < n; i++) ctx.fillText(String(i + 1), xOf(i) - 3, y0 + 14);
    ctx.fillText("layers", x1 - 34, y0 + 24);
    series.forEach(function (s, k) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = k === 0 ? 3 : 1.5;
      ctx.setLineDash(k === 0 ? [] : k === 1 ? [5, 3] : [2, 3]);
      ctx.beginPath();
      s.v.forEach(function (v, i) {
        if (i === 0) ctx.moveTo(xOf(i), yOf(v));
        else ctx.lineTo(xOf(i), yOf(v));
      });
      ctx.stroke();
      ctx.setLineDash([]);
      s.v.forEach(function (v, i) {
        ctx.beginPath();
        ctx.arc(xOf(i), yOf(v), k === 0 ? 4 : 2.5, 0, 2 * Math.PI);
        ctx.fill();
      });
      ctx.fillRect(x0 + 8, y1 + 4 + k * 14, 12, 3);
      ctx.fillStyle = colors.text;
      ctx.fillText(s.name + ": " + s.v[s.v.length - 1], x0 + 24, y1 + 9 + k * 14);
    });
    canvas.setAttribute("aria-label", "Receptive field growth: this stack " + series[0].v.join(", ") + "; linear " +
      series[1].v.join(", ") + "; exponential " + series[2].v.join(", "));
  };

  StackExplorer.prototype.api = function () {
    var self = this;
    return {
      kind: "stack",
      get layers() {
        return self.layers.map(function (l) { return [l.k, l.s, l.d]; });
      },
      coverage: function () {
        return self.cov.counts.slice();
      },
    };
  };

  // ------------------------------------------------------------------------------------------ start

  function init() {
    document.querySelectorAll("[data-explorer]").forEach(function (root) {
      if (root.convExplorer) return;
      var x = root.getAttribute("data-explorer") === "stack" ? new StackExplorer(root) : new LayerExplorer(root);
      root.convExplorer = x.api();
    });
  }

  // exposed for tests of the pure model (scripts/check_explorer.py)
  window.convbookExplorer = {
    init: init, layerModel: layerModel, receptiveField: receptiveField, coverage: coverage, footprint: footprint,
    PRESETS: PRESETS, STACK_PRESETS: STACK_PRESETS, DEFAULT_STATE: DEFAULT_STATE,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
