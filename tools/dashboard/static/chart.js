// Charts with uPlot: a benchmark's history (a line and an interval band per machine +
// environment, change points and environment shifts marked, hover tooltip, wheel zoom, keyboard
// pan/zoom) and the load-test plots. Text goes in with textContent only.
(function () {
  "use strict";
  const Dash = (window.Dash = window.Dash || {});

  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
  const VERDICT_COLOR = { regressed: "#c62828", improved: "#2e7d32" };

  Dash.colorOf = (i) => PALETTE[i % PALETTE.length];
  Dash.dashOf = (i) => (i >= PALETTE.length ? [6, 3] : null);

  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  // Aligned uPlot data: x = every commit index any line has; per line value, lo, hi (null gaps).
  function align(model, lines) {
    const xs = new Set();
    const pts = lines.map((l) => Dash.pointsOf(model, l.series));
    pts.forEach((p) => p.commit.forEach((c) => xs.add(c)));
    const x = Array.from(xs).sort((a, b) => a - b);
    const at = new Map(x.map((c, i) => [c, i]));
    const data = [x];
    pts.forEach((p) => {
      const cols = [new Array(x.length).fill(null), new Array(x.length).fill(null), new Array(x.length).fill(null)];
      for (let i = 0; i < p.commit.length; i++) {
        const j = at.get(p.commit[i]);
        cols[0][j] = isFinite(p.value[i]) ? p.value[i] : null;
        cols[1][j] = isFinite(p.lo[i]) ? p.lo[i] : null;
        cols[2][j] = isFinite(p.hi[i]) ? p.hi[i] : null;
      }
      data.push(cols[0], cols[1], cols[2]);
    });
    return data;
  }

  function quantile(values, q) {
    const v = values.filter((x) => x !== null && isFinite(x)).sort((a, b) => a - b);
    return v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : null;
  }

  // y limits: every value, and the typical interval (10th / 90th percentile of its bounds), so a
  // few wild intervals cannot flatten the lines.
  function yRange(data) {
    let lo = Infinity, hi = -Infinity;
    const los = [], his = [];
    for (let k = 1; k < data.length; k += 3) {
      for (const v of data[k]) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      los.push(...data[k + 1]);
      his.push(...data[k + 2]);
    }
    const qlo = quantile(los, 0.1), qhi = quantile(his, 0.9);
    if (qlo !== null) lo = Math.min(lo, qlo);
    if (qhi !== null) hi = Math.max(hi, qhi);
    if (!isFinite(lo)) return [0, 1];
    const pad = (hi - lo || Math.abs(hi) || 1) * 0.05;
    return [lo - pad, hi + pad];
  }

  function drawMarks(u, marks) {
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    for (const m of marks) {
      if (m.line && !m.line.show) continue;
      const x1 = u.valToPos(m.x, "x", true);
      if (m.kind === "shift") {
        const x0 = u.valToPos(m.x0, "x", true);
        ctx.fillStyle = alpha(m.color, 0.12);
        ctx.fillRect(Math.min(x0, x1), top, Math.max(Math.abs(x1 - x0), 2), height);
      } else {
        ctx.strokeStyle = VERDICT_COLOR[m.verdict] || "#757575";
        ctx.setLineDash([5, 4]);
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(x1, top);
        ctx.lineTo(x1, top + height);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  function wheelZoom(u, ext) {
    u.over.addEventListener("wheel", (e) => {
      e.preventDefault();
      const { min, max } = u.scales.x;
      if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) { // pan: shift + wheel, or a sideways scroll
        const d = Math.sign(e.deltaX || e.deltaY) * (max - min) / 10;
        zoomTo(u, min + d, max + d, ext);
        return;
      }
      const at = u.posToVal(e.offsetX, "x");
      const f = e.deltaY < 0 ? 0.8 : 1.25;
      zoomTo(u, at - (at - min) * f, at + (max - at) * f, ext);
    }, { passive: false });
  }

  // Zoom to [min, max] kept inside the data's extent ext = [first, last commit index].
  function zoomTo(u, min, max, ext) {
    const lo = ext[0], hi = ext[1];
    if (max - min < 2 && hi - lo >= 2) return;
    if (max - min >= hi - lo) { min = lo; max = hi; }
    if (min < lo) { max += lo - min; min = lo; }
    if (max > hi) { min -= max - hi; max = hi; }
    u.setScale("x", { min, max });
  }

  // Keyboard: arrows pan, + / - zoom, 0 resets.
  function keyboard(u, el, ext) {
    el.addEventListener("keydown", (e) => {
      const { min, max } = u.scales.x, w = max - min;
      const moves = { ArrowLeft: [-w / 5, -w / 5], ArrowRight: [w / 5, w / 5], "+": [w / 5, -w / 5], "=": [w / 5, -w / 5], "-": [-w / 4, w / 4] };
      if (e.key === "0") zoomTo(u, ext[0], ext[1], ext);
      else if (moves[e.key]) zoomTo(u, min + moves[e.key][0], max + moves[e.key][1], ext);
      else return;
      e.preventDefault();
    });
  }

  // The benchmark's history. lines: [{series, name, color, dash, show}]; marks: [{kind, x, x0,
  // verdict, color, text}]; onHover(commit index, values per line, marks near) fills the tooltip.
  Dash.historyChart = function (el, model, opts) {
    const data = align(model, opts.lines);
    const ext = data[0].length ? [data[0][0], data[0][data[0].length - 1]] : [0, 1];
    const range = yRange(data);
    const series = [{ label: "commit" }];
    const bands = [];
    opts.lines.forEach((l, i) => {
      const base = 1 + 3 * i;
      series.push({ label: l.name, stroke: l.color, dash: l.dash || undefined, width: 1.5, show: l.show, spanGaps: true, points: { size: 4 } });
      series.push({ label: l.name + " low", stroke: "transparent", show: l.show, spanGaps: true, points: { show: false } });
      series.push({ label: l.name + " high", stroke: "transparent", show: l.show, spanGaps: true, points: { show: false } });
      bands.push({ series: [base + 2, base + 1], fill: alpha(l.color, 0.15) });
    });
    const u = new uPlot({
      width: Math.max(el.clientWidth, 320), height: 360, series, bands,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      scales: { x: { time: false }, y: opts.log ? { distr: 3 } : { range: () => range } },
      axes: [
        { values: (u, splits) => splits.map((v) => Dash.fmtDate(model.meta.commits.date[Math.round(v)]) || ""), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], space: 70 },
        { values: (u, splits) => splits.map((v) => Dash.fmtValue(v, opts.unit)), size: 80 },
      ],
      hooks: {
        draw: [(u) => drawMarks(u, opts.marks)],
        setCursor: [(u) => hover(u, opts)],
      },
    }, data, el);
    wheelZoom(u, ext);
    keyboard(u, el, ext);
    u.resetZoom = () => zoomTo(u, ext[0], ext[1], ext);
    return u;
  };

  function hover(u, opts) {
    const i = u.cursor.idx;
    if (i === null || i === undefined) return opts.onHover(null);
    const c = u.data[0][i];
    const values = opts.lines.map((l, k) => (l.show ? [u.data[1 + 3 * k][i], u.data[2 + 3 * k][i], u.data[3 + 3 * k][i]] : null));
    const near = opts.marks.filter((m) => (!m.line || m.line.show) && (m.kind === "shift" ? c > m.x0 && c <= m.x : m.x === c));
    opts.onHover(c, values, near, u.cursor.left, u.cursor.top);
  }

  // A small line chart with numeric x (the load view): xs, ys: [{label, values, color}].
  Dash.lineChart = function (el, title, xs, ys, fmt) {
    return new uPlot({
      title, width: Math.max(Math.min(el.clientWidth, 560), 320), height: 260,
      series: [{ label: "users" }].concat(ys.map((y, i) => ({ label: y.label, stroke: Dash.colorOf(i), width: 1.5, points: { size: 5 } }))),
      scales: { x: { time: false } },
      axes: [{ label: "users" }, { values: (u, splits) => splits.map(fmt), size: 70 }],
    }, [xs].concat(ys.map((y) => y.values)), el);
  };
})();
