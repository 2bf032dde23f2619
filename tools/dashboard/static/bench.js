// The benchmark view: one family's history, a line per machine + environment.
(function () {
  "use strict";
  const Dash = (window.Dash = window.Dash || {});
  const h = (...a) => Dash.h(...a);

  function familyMembers(model, fam) {
    const B = model.meta.benchmarks;
    const out = [];
    B.family.forEach((f, i) => { if (f === fam) out.push(i); });
    return out;
  }

  function select(id, label, options, value, onchange) {
    const el = h("select", { id, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
    return h("label", { for: id }, label + " ", el);
  }

  // The lines shown: the series of benchmark b with params p, one per machine + environment.
  function linesOf(model, b, params, state) {
    const hidden = new Set(String(state.hide || "").split(",").filter(Boolean));
    const lines = model.series.filter((r) => r.bench === b && r.params === params).sort((x, y) => x.env - y.env);
    const focus = state.m && state.e ? model.envNames.indexOf(state.m + " / " + state.e) : -1;
    return lines.map((r) => ({
      series: r.id, env: r.env, name: r.envName, color: Dash.colorOf(r.env), dash: Dash.dashOf(r.env),
      show: !hidden.has(String(r.env)), focus: r.env === focus,
    }));
  }

  function marksOf(model, lines) {
    const G = model.meta.findings, S = model.meta.shifts, marks = [];
    for (const l of lines) {
      for (const i of model.findingsBySeries.get(l.series) || []) {
        if ((G.mode[i] === "history" || G.mode[i] === "sessions") && G.after[i] !== null) {
          marks.push({ kind: "change", x: G.after[i], verdict: G.verdict[i], line: l, finding: i });
        }
      }
      for (const i of model.shiftsByEnv.get(l.env) || []) {
        if (S.after[i] !== null) marks.push({ kind: "shift", x0: S.before[i] ?? S.after[i] - 1, x: S.after[i], color: l.color, line: l, shift: i });
      }
    }
    return marks;
  }

  function markText(model, m) {
    const G = model.meta.findings, S = model.meta.shifts;
    if (m.kind === "shift") {
      const i = m.shift;
      return "environment shift (" + m.line.name + "): " + S.series[i] + " of " + S.total[i] + " series stepped; " + S.evidence[i].join("; ");
    }
    const i = m.finding;
    return "change point " + G.verdict[i] + " " + Dash.fmtPct(G.change_pct[i]) + " " + Dash.fmtInterval(G.ci_low_pct[i], G.ci_high_pct[i]) +
      " (" + m.line.name + ")" + (G.rule[i] ? ": " + G.rule[i] : "");
  }

  function showTooltip(model, tip, box, lines, unit) {
    return (c, values, near, left, top) => {
      if (c === null) { tip.hidden = true; return; }
      const C = model.meta.commits;
      tip.replaceChildren(h("div", { class: "tip-commit" }, Dash.commitText(model, c) + (C.message[c] ? " " + C.message[c] : "")));
      lines.forEach((l, k) => {
        const v = values[k];
        if (!v || v[0] === null) return;
        const range = v[1] !== null && v[2] !== null ? " [" + Dash.fmtValue(v[1], unit) + ", " + Dash.fmtValue(v[2], unit) + "]" : "";
        tip.append(h("div", {}, h("span", { class: "swatch", style: "background:" + l.color }), l.name + ": " + Dash.fmtValue(v[0], unit) + range));
      });
      for (const m of near) tip.append(h("div", { class: "tip-mark v-" + (m.verdict || "shift") }, markText(model, m)));
      tip.hidden = false;
      const x = Math.min(left + 60, box.clientWidth - 320);
      tip.style.left = Math.max(x, 0) + "px";
      tip.style.top = top + 20 + "px";
    };
  }

  function linksRow(model, b, params, lines) {
    const B = model.meta.benchmarks, links = [];
    const first = lines.find((l) => l.show) || lines[0];
    if (first) links.push(h("a", { href: model.meta.links.asv_site + "#" + model.series[first.series].graph }, "graph in the asv site"));
    for (const p of model.meta.profiles[B.name[b]] || []) {
      if (p.params && p.params !== params) continue;
      for (const f of p.files) links.push(h("a", { href: f.split("/").map(encodeURIComponent).join("/") }, "profile: " + f.split("/").pop()));
    }
    if (first) links.push(h("span", {}, "newest commit: ", Dash.commitLink(model, model.series[first.series].last)));
    return h("p", { class: "links" }, links.map((l, i) => [i ? " · " : "", l]));
  }

  function lineToggles(lines, state, go, chart) {
    const boxes = lines.map((l, k) => {
      const id = "line-" + l.env;
      const input = h("input", { type: "checkbox", id, checked: l.show, onchange: (e) => {
        l.show = e.target.checked;
        for (let j = 1; j <= 3; j++) chart().setSeries(1 + 3 * k + j - 1, { show: l.show });
        const hide = lines.filter((x) => !x.show).map((x) => x.env).join(",");
        go({ hide }, true, true);
      } });
      return h("label", { for: id, class: l.focus ? "focus" : null }, input, h("span", { class: "swatch", style: "background:" + l.color }), l.name);
    });
    return h("fieldset", { class: "lines" }, h("legend", {}, "Lines (machine / environment)"), boxes);
  }

  function findingsTable(model, lines) {
    const G = model.meta.findings, rows = [];
    for (const l of lines) for (const i of model.findingsBySeries.get(l.series) || []) rows.push([l, i]);
    if (!rows.length) return h("p", { class: "note" }, "No verdicts, change points or anomalies for these lines.");
    const body = rows.map(([l, i]) => h("tr", {},
      h("td", {}, G.mode[i] === "anomaly" ? "anomaly: " + G.kind[i] : G.mode[i]), h("td", {}, l.name),
      h("td", {}, G.before[i] !== null ? [Dash.commitLink(model, G.before[i]), " → "] : null, G.after[i] !== null ? Dash.commitLink(model, G.after[i]) : "—"),
      h("td", {}, G.verdict[i] ? Dash.badge(G.verdict[i]) : "—"), h("td", { class: "num" }, Dash.fmtPct(G.change_pct[i])),
      h("td", {}, Dash.fmtInterval(G.ci_low_pct[i], G.ci_high_pct[i])), h("td", {}, G.rule[i])));
    const head = ["kind", "machine / environment", "between", "verdict", "change", "interval", "rule"].map((t) => h("th", { scope: "col" }, t));
    return h("table", { class: "data" }, h("caption", {}, "What the detectors found"), h("thead", {}, h("tr", {}, head)), h("tbody", {}, body));
  }

  Dash.renderBench = function (el, model, state, go) {
    const b = model.benchIndex.get(state.b);
    if (b === undefined) {
      el.append(Dash.section("Benchmark", h("p", { class: "note" }, "No benchmark named " + (state.b || "(none)") + " in these results.")));
      return null;
    }
    const B = model.meta.benchmarks, fam = B.family[b];
    const members = familyMembers(model, fam);
    const paramsList = Array.from(new Set(model.series.filter((r) => r.bench === b).map((r) => r.params))).sort();
    const params = paramsList.includes(state.p) ? state.p : paramsList[0] || "";
    const lines = linesOf(model, b, params, state);
    const chartBox = h("div", { class: "chart", id: "history-chart", tabindex: "0", role: "img",
      "aria-label": "History of " + B.name[b] + (params ? " (" + params + ")" : "") + ". Arrow keys pan, + and - zoom, 0 resets." });
    const tip = h("div", { class: "tooltip", role: "tooltip", hidden: true });
    let chart = null;
    const controls = h("div", { class: "controls" },
      select("b-channel", "Channel", members.map((i) => [B.name[i], B.label[i]]), B.name[b], (v) => go({ b: v, hide: state.hide })),
      paramsList.length > 1 || params ? select("b-params", "Parameters", paramsList.map((p) => [p, p || "(none)"]), params, (v) => go({ p: v })) : null,
      h("label", { for: "b-log" }, h("input", { type: "checkbox", id: "b-log", checked: state.log === "1", onchange: (e) => go({ log: e.target.checked ? "1" : "" }, true) }), " log scale"),
      h("button", { type: "button", id: "b-reset", onclick: () => chart && chart.resetZoom() }, "Reset zoom"));
    el.append(Dash.section(model.meta.families.name[fam],
      h("p", { class: "subtitle" }, B.name[b] + (params ? " (" + params + ")" : "") + " — " + B.unit[b] + (B.lower_is_better[b] ? ", lower is better" : ", higher is better")),
      controls, linksRow(model, b, params, lines), lineToggles(lines, state, go, () => chart),
      h("div", { class: "chart-wrap" }, chartBox, tip),
      h("p", { class: "note" }, "Drag or mouse wheel to zoom, shift + wheel to pan; on the focused chart + / - zoom, arrows pan, 0 resets (double-click too). Dashed lines: change points (red regressed, green improved); shaded: environment shifts."),
      findingsTable(model, lines)));
    const marks = marksOf(model, lines);
    chart = Dash.historyChart(chartBox, model, { lines, marks, unit: B.unit[b], log: state.log === "1", onHover: showTooltip(model, tip, chartBox, lines, B.unit[b]) });
    return chart;
  };
})();
