// The compare view: any two commits (or two machines / environments at one commit) side by side.
(function () {
  "use strict";
  const Dash = (window.Dash = window.Dash || {});
  const h = (...a) => Dash.h(...a);

  function commitsOf(model, env) {
    model.commitsByEnv = model.commitsByEnv || new Map();
    if (!model.commitsByEnv.has(env)) {
      const seen = new Set();
      for (const r of model.series) if (r.env === env) Dash.pointsOf(model, r.id).commit.forEach((c) => seen.add(c));
      model.commitsByEnv.set(env, Array.from(seen).sort((a, b) => b - a));
    }
    return model.commitsByEnv.get(env);
  }

  // The two sides from the state, defaulting to the first machine + environment's base and head.
  function sides(model, state) {
    const H = model.meta.heads;
    const envOf = (name, fallback) => { const i = model.envNames.indexOf(name); return i >= 0 ? i : fallback; };
    const ae = envOf(state.ae, H.env[0] ?? 0), be = envOf(state.be, ae);
    const pick = (env, text, fallback) => {
      const list = commitsOf(model, env), c = Dash.commitIndex(model, text);
      return list.includes(c) ? c : list.includes(fallback) ? fallback : list[Math.min(1, list.length - 1)];
    };
    const at = H.env.indexOf(ae);
    const ac = pick(ae, state.ac, at >= 0 ? H.base[at] : null);
    const bc = pick(be, state.bc, at >= 0 ? H.head[at] : null);
    return { ae, ac, be, bc };
  }

  function sideControls(model, key, env, commit, go) {
    const C = model.meta.commits;
    const envSel = h("select", { id: "c-" + key + "e", onchange: (e) => go({ [key + "e"]: e.target.value }) },
      model.envNames.map((n, i) => h("option", { value: n, selected: i === env }, n)));
    const comSel = h("select", { id: "c-" + key + "c", onchange: (e) => go({ [key + "c"]: e.target.value }) },
      commitsOf(model, env).map((c) => h("option", { value: C.hash[c].slice(0, 12), selected: c === commit },
        Dash.commitText(model, c) + (C.message[c] ? " " + C.message[c].slice(0, 60) : ""))));
    const name = key === "a" ? "A (baseline)" : "B";
    return h("fieldset", { class: "side" }, h("legend", {}, "Side " + name),
      h("label", { for: "c-" + key + "e" }, "machine / environment ", envSel), " ",
      h("label", { for: "c-" + key + "c" }, "commit ", comSel));
  }

  function says(r, lo, hi) {
    if (!isFinite(lo) || !isFinite(hi)) return "—";
    if (lo > 1) return r.lowerIsBetter ? "worse" : "better";
    if (hi < 1) return r.lowerIsBetter ? "better" : "worse";
    return "overlaps";
  }

  function compareRows(model, state, s) {
    const byKey = new Map();
    for (const r of model.series) if (r.env === s.be) byKey.set(r.bench + "\u0000" + r.params, r);
    const H = model.meta.heads, at = H.env.indexOf(s.ae);
    const pairwise = s.ae === s.be && at >= 0 && H.base[at] === s.ac && H.head[at] === s.bc;
    const p = model.pts, rows = [];
    for (const r of model.series) {
      if (r.env !== s.ae || !Dash.matches(r, Object.assign({}, state, { verdict: "" }))) continue;
      const o = byKey.get(r.bench + "\u0000" + r.params);
      const i = Dash.pointAt(model, r.id, s.ac), j = o ? Dash.pointAt(model, o.id, s.bc) : -1;
      if (i < 0 || j < 0) continue;
      const ratio = p.value[j] / p.value[i], lo = p.lo[j] / p.hi[i], hi = p.hi[j] / p.lo[i];
      rows.push({ r, o, a: p.value[i], b: p.value[j], ratio, lo, hi, says: says(r, lo, hi), verdict: pairwise ? o.verdict : "" });
    }
    return rows;
  }

  const fmtRatio = (x) => (isFinite(x) ? "×" + x.toFixed(x < 10 ? 3 : 1) : "—");

  function columns(model) {
    return [
      { key: "name", label: "benchmark", value: (x) => x.r.benchmark, cell: (x) => Dash.benchLink(model, x.o.id) },
      { key: "params", label: "params", value: (x) => x.r.params, cell: (x) => x.r.params || "—" },
      { key: "channel", label: "channel", value: (x) => x.r.label, cell: (x) => x.r.label },
      { key: "a", label: "A", num: true, value: (x) => x.a, cell: (x) => Dash.fmtValue(x.a, x.r.unit) },
      { key: "b", label: "B", num: true, value: (x) => x.b, cell: (x) => Dash.fmtValue(x.b, x.r.unit) },
      { key: "ratio", label: "B / A", num: true, value: (x) => x.ratio, cell: (x) => fmtRatio(x.ratio) + " (" + Dash.fmtPct(100 * (x.ratio - 1)) + ")" },
      { key: "interval", label: "interval (99%)", value: (x) => x.lo, cell: (x) => (isFinite(x.lo) && isFinite(x.hi) ? "[" + fmtRatio(x.lo) + ", " + fmtRatio(x.hi) + "]" : "—") },
      { key: "says", label: "intervals say", value: (x) => x.says, cell: (x) => h("span", { class: "says s-" + x.says }, x.says) },
      { key: "verdict", label: "verdict", value: (x) => x.verdict, cell: (x) => (x.verdict ? Dash.badge(x.verdict) : "—") },
    ];
  }

  Dash.renderCompare = function (el, model, state, go) {
    if (!model.series.length) { el.append(Dash.section("Compare", h("p", { class: "note" }, "No results."))); return; }
    const s = sides(model, state);
    const rows = compareRows(model, state, s);
    const swap = h("button", { type: "button", id: "c-swap", onclick: () => go({ ae: model.envNames[s.be], ac: model.meta.commits.hash[s.bc].slice(0, 12), be: model.envNames[s.ae], bc: model.meta.commits.hash[s.ac].slice(0, 12) }) }, "Swap A and B");
    const table = Dash.sortedTable(columns(model), rows, state, (sort, dir) => go({ sort, dir }, true), rows.length + " results on both sides");
    el.append(Dash.section("Compare",
      h("div", { class: "controls" }, sideControls(model, "a", s.ae, s.ac, go), sideControls(model, "b", s.be, s.bc, go), swap),
      h("p", { class: "note" }, "Ratio B / A of each result, with the interval from asv's 99% intervals of both (low B / high A to high B / low A). " +
        "'intervals say' reads that interval; a verdict needs independent rounds and is shown only for the pair the detectors compared."),
      ...table));
  };
})();
