// The dashboard's data: decodes window.DASHBOARD_POINTS (see tools/dashboard/encode.py) and
// indexes window.DASHBOARD_META (tools/dashboard/data.py) for the views. No DOM here.
(function () {
  "use strict";
  const Dash = (window.Dash = window.Dash || {});

  function base64Bytes(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function gunzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // Column `col` of `n` 32-bit values stored as four byte planes (little-endian).
  function unshuffle(raw, col, n, Type) {
    const bytes = new Uint8Array(4 * n);
    const base = col * 4 * n;
    for (let b = 0; b < 4; b++) {
      const plane = base + b * n;
      for (let i = 0; i < n; i++) bytes[4 * i + b] = raw[plane + i];
    }
    return new Type(bytes.buffer);
  }

  async function decodePoints(packed) {
    const raw = await gunzip(base64Bytes(packed.gzip_base64));
    const n = packed.n;
    const cols = {};
    packed.layout.forEach((name, i) => {
      cols[name] = unshuffle(raw, i, n, name === "commit" ? Int32Array : Float32Array);
    });
    const offsets = Int32Array.from(packed.offsets);
    for (let s = 0; s + 1 < offsets.length; s++) {
      for (let i = offsets[s] + 1; i < offsets[s + 1]; i++) cols.commit[i] += cols.commit[i - 1];
    }
    cols.offsets = offsets;
    return cols;
  }

  function groupBy(length, keyOf) {
    const out = new Map();
    for (let i = 0; i < length; i++) {
      const k = keyOf(i);
      if (!out.has(k)) out.set(k, []);
      out.get(k).push(i);
    }
    return out;
  }

  function seriesRecords(meta) {
    const S = meta.series, B = meta.benchmarks, F = meta.families, E = meta.envs, G = meta.findings;
    return S.env.map((env, i) => {
      const b = S.benchmark[i];
      const f = S.pairwise[i];
      return {
        id: i, env, bench: b, benchmark: B.name[b], family: B.family[b], familyName: F.name[B.family[b]],
        component: F.component[B.family[b]], label: B.label[b], channel: B.channel[b], unit: B.unit[b],
        lowerIsBetter: B.lower_is_better[b], params: S.params[i], graph: S.graph[i], noise: S.noise_pct[i],
        last: S.last[i], envName: E.machine[env] + " / " + E.environment[env],
        finding: f, verdict: f >= 0 ? G.verdict[f] : "none",
        change: f >= 0 ? G.change_pct[f] : null, low: f >= 0 ? G.ci_low_pct[f] : null, high: f >= 0 ? G.ci_high_pct[f] : null,
      };
    });
  }

  // Everything the views need, built once.
  Dash.load = async function () {
    const meta = window.DASHBOARD_META;
    const pts = await decodePoints(window.DASHBOARD_POINTS);
    const series = seriesRecords(meta);
    const G = meta.findings;
    return {
      meta, pts, series,
      byFamily: groupBy(series.length, (i) => series[i].family),
      findingsBySeries: groupBy(G.series.length, (i) => G.series[i]),
      shiftsByEnv: groupBy(meta.shifts.env.length, (i) => meta.shifts.env[i]),
      benchIndex: new Map(meta.benchmarks.name.map((n, i) => [n, i])),
      components: Array.from(new Set(meta.families.component)).sort(),
      channels: Array.from(new Set(meta.benchmarks.channel)).sort(),
      envNames: meta.envs.machine.map((m, i) => m + " / " + meta.envs.environment[i]),
    };
  };

  // The points of series s: {commit: Int32Array, value, lo, hi} views, commits ascending.
  Dash.pointsOf = function (model, s) {
    const p = model.pts, a = p.offsets[s], b = p.offsets[s + 1];
    return { commit: p.commit.subarray(a, b), value: p.value.subarray(a, b), lo: p.lo.subarray(a, b), hi: p.hi.subarray(a, b) };
  };

  // Index of the point of series s at commit c, or -1 (binary search).
  Dash.pointAt = function (model, s, c) {
    const p = model.pts;
    let lo = p.offsets[s], hi = p.offsets[s + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, x = p.commit[mid];
      if (x === c) return mid;
      if (x < c) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  };

  // A commit given by a (prefix of a) hash, or -1.
  Dash.commitIndex = function (model, text) {
    if (!text) return -1;
    const hashes = model.meta.commits.hash;
    const t = String(text).toLowerCase();
    for (let i = hashes.length - 1; i >= 0; i--) if (hashes[i].startsWith(t)) return i;
    return -1;
  };

  // ---------------------------------------------------------------- formatting

  const SCALES = {
    seconds: [[1e-9, "ns"], [1e-6, "µs"], [1e-3, "ms"], [1, "s"]],
    bytes: [[1, "B"], [1e3, "kB"], [1e6, "MB"], [1e9, "GB"]],
    instructions: [[1, ""], [1e3, "k"], [1e6, "M"], [1e9, "G"]],
  };

  Dash.fmtValue = function (v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return "—";
    const scale = SCALES[unit];
    if (!scale) return Number(v).toPrecision(4) + (unit && unit !== "unit" ? " " + unit : "");
    let pick = scale[0];
    for (const s of scale) if (Math.abs(v) >= s[0]) pick = s;
    const suffix = unit === "instructions" ? pick[1] + " instr" : " " + pick[1];
    return (v / pick[0]).toPrecision(3) + suffix;
  };

  Dash.fmtPct = function (v) {
    if (v === null || v === undefined || !isFinite(v)) return "—";
    return (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(Math.abs(v) < 10 ? 1 : 0) + "%";
  };

  Dash.fmtInterval = function (lo, hi) {
    if (lo === null || hi === null || lo === undefined || hi === undefined) return "—";
    return "[" + Dash.fmtPct(lo) + ", " + Dash.fmtPct(hi) + "]";
  };

  Dash.fmtDate = function (epoch) {
    if (epoch === null || epoch === undefined) return "";
    return new Date(epoch * 1000).toISOString().slice(0, 10);
  };

  Dash.commitText = function (model, c) {
    const C = model.meta.commits;
    if (c === null || c === undefined || c < 0 || c >= C.hash.length) return "—";
    return C.hash[c].slice(0, 8) + (C.date[c] !== null ? " (" + Dash.fmtDate(C.date[c]) + ")" : "");
  };
})();
