// The four views: overview, benchmark, compare, load. Each builds its section from the model and
// the state (the URL hash, see app.js). Every text from the data goes in as textContent.
(function () {
  "use strict";
  const Dash = (window.Dash = window.Dash || {});
  const VERDICTS = ["regressed", "improved", "inconclusive", "unchanged", "none"];
  const CHANNELS = { wall: "wall time", relative: "speed-normalised", instructions: "instructions", memory: "memory", metric: "other metric" };
  Dash.channelName = (c) => CHANNELS[c] || c;
  const MAX_ROWS = 500;

  // ---------------------------------------------------------------- DOM helpers

  // h("a", {href: "#x", class: "c", onclick: fn}, "text", node, ...): strings become text nodes.
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
      else if (k === "href") el.setAttribute("href", safeHref(v));
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  Dash.h = h;

  function safeHref(url) {
    const text = String(url);
    return /^\s*(javascript|data|vbscript):/i.test(text) ? "#" : text;
  }

  Dash.hashOf = function (state) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    return "#" + q.toString();
  };

  function benchHash(model, s, extra) {
    const r = model.series[s];
    const E = model.meta.envs;
    return Dash.hashOf(Object.assign({ view: "bench", b: r.benchmark, p: r.params, m: E.machine[r.env], e: E.environment[r.env] }, extra || {}));
  }

  function benchLink(model, s, text) {
    return h("a", { href: benchHash(model, s) }, text || model.series[s].benchmark);
  }

  function commitLink(model, c) {
    const url = model.meta.links.commit_url;
    const text = Dash.commitText(model, c);
    if (c === null || c === undefined || c < 0) return text;
    const msg = model.meta.commits.message[c];
    return url ? h("a", { href: url + model.meta.commits.hash[c], title: msg || null, rel: "noopener" }, text) : h("span", { title: msg || null }, text);
  }

  function badge(verdict) {
    return h("span", { class: "verdict v-" + verdict }, verdict === "none" ? "no verdict" : verdict);
  }

  function section(title, ...kids) {
    return h("section", { class: "panel", "aria-label": title }, h("h2", {}, title), ...kids);
  }

  // ---------------------------------------------------------------- filters and tables

  Dash.matches = function (r, f) {
    if (f.comp && r.component !== f.comp) return false;
    if (f.chan && r.channel !== f.chan) return false;
    if (f.verdict && r.verdict !== f.verdict) return false;
    if (f.q) {
      const t = f.q.toLowerCase();
      return (r.benchmark + " " + r.familyName + " " + r.params + " " + r.envName).toLowerCase().includes(t);
    }
    return true;
  };

  // columns: [{key, label, num, value(row) -> sort key, cell(row) -> node|string}]
  function sortedTable(columns, rows, state, onSort, caption) {
    const col = columns.find((c) => c.key === state.sort) || null;
    if (col) {
      const dir = state.dir === "asc" ? 1 : -1;
      rows = rows.slice().sort((a, b) => cmp(col.value(a), col.value(b)) * dir);
    }
    const head = h("tr", {}, columns.map((c) => {
      const sort = c.key === state.sort ? (state.dir === "asc" ? "ascending" : "descending") : "none";
      const next = c.key === state.sort && state.dir !== "asc" ? "asc" : "desc";
      return h("th", { scope: "col", "aria-sort": sort, class: c.num ? "num" : null },
        h("button", { type: "button", class: "sort", "data-key": c.key, onclick: () => onSort(c.key, next) }, c.label));
    }));
    const shown = rows.slice(0, MAX_ROWS);
    const body = shown.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(r)))));
    const more = rows.length > MAX_ROWS ? h("p", { class: "note" }, "Showing " + MAX_ROWS + " of " + rows.length + " rows: narrow the filters to see the rest.") : null;
    return [h("table", { class: "data" }, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)), more];
  }

  function cmp(a, b) {
    const na = a === null || a === undefined || (typeof a === "number" && !isFinite(a));
    const nb = b === null || b === undefined || (typeof b === "number" && !isFinite(b));
    if (na || nb) return na && nb ? 0 : na ? -1 : 1;
    return typeof a === "number" ? a - b : String(a).localeCompare(String(b));
  }

  // ---------------------------------------------------------------- overview

  function headsPanel(model) {
    const H = model.meta.heads;
    const items = H.env.map((e, i) => h("li", {}, model.envNames[e] + ": newest ", commitLink(model, H.head[i]),
      H.base[i] !== null ? [" compared with ", commitLink(model, H.base[i])] : " (nothing earlier to compare with)"));
    return section("Newest results", h("ul", { class: "plain" }, items));
  }

  function countsPanel(model, rows, go) {
    const counts = new Map();
    for (const r of rows) {
      const k = r.component + "\u0000" + r.channel;
      if (!counts.has(k)) counts.set(k, { comp: r.component, chan: r.channel, n: {} });
      const c = counts.get(k);
      c.n[r.verdict] = (c.n[r.verdict] || 0) + 1;
    }
    const keys = Array.from(counts.keys()).sort();
    const head = h("tr", {}, h("th", { scope: "col" }, "component"), h("th", { scope: "col" }, "channel"),
      VERDICTS.map((v) => h("th", { scope: "col", class: "num" }, v === "none" ? "no verdict" : v)));
    const body = keys.map((k) => {
      const c = counts.get(k);
      return h("tr", {}, h("th", { scope: "row" }, c.comp), h("td", {}, Dash.channelName(c.chan)), VERDICTS.map((v) => h("td", { class: "num" },
        c.n[v] ? h("button", { type: "button", class: "count v-" + v, "aria-label": c.n[v] + " " + v + " in " + c.comp + ", " + Dash.channelName(c.chan),
          onclick: () => go({ comp: c.comp, chan: c.chan, verdict: v }) }, String(c.n[v])) : "·")));
    });
    const table = h("table", { class: "data counts" }, h("caption", {}, "Series by verdict at the newest commit"), h("thead", {}, head), h("tbody", {}, body));
    return section("Suite health", table);
  }

  function shiftsPanel(model) {
    const S = model.meta.shifts;
    if (!S.env.length) return section("Environment shifts", h("p", { class: "note" }, "None found in the history."));
    const rows = S.env.map((e, i) => h("li", {}, model.envNames[e] + ": between ", commitLink(model, S.before[i]), " and ",
      commitLink(model, S.after[i]), " — " + S.series[i] + " of " + S.total[i] + " series stepped, median " + Dash.fmtPct(S.median_change_pct[i]),
      h("div", { class: "note" }, S.evidence[i].join("; "))));
    return section("Environment shifts", h("p", { class: "note" }, "Steps of the machine or environment, blamed on no commit."), h("ul", { class: "plain" }, rows));
  }

  function noisiestPanel(model, rows) {
    const noisy = rows.filter((r) => r.noise !== null).sort((a, b) => b.noise - a.noise).slice(0, 10);
    const items = noisy.map((r) => h("li", {}, benchLink(model, r.id, r.benchmark), r.params ? " (" + r.params + ")" : "",
      " — " + r.envName + ": ±" + r.noise.toFixed(1) + "% commit to commit"));
    return section("Noisiest benchmarks", items.length ? h("ol", {}, items) : h("p", { class: "note" }, "Not enough commits to tell."));
  }

  function changesPanel(model, rows) {
    const G = model.meta.findings;
    const keep = new Set(rows.map((r) => r.id));
    const idx = [];
    G.series.forEach((s, i) => { if ((G.mode[i] === "history" || G.mode[i] === "sessions") && keep.has(s)) idx.push(i); });
    idx.sort((a, b) => (G.after[b] ?? -1) - (G.after[a] ?? -1));
    const items = idx.slice(0, 30).map((i) => {
      const r = model.series[G.series[i]];
      return h("li", { title: G.rule[i] }, badge(G.verdict[i]), " ", Dash.fmtPct(G.change_pct[i]), " ", benchLink(model, r.id, r.benchmark),
        r.params ? " (" + r.params + ")" : "", " at ", commitLink(model, G.after[i]), " — " + r.envName);
    });
    return section("Change points in the history", items.length ? h("ul", { class: "plain" }, items) : h("p", { class: "note" }, "None (or the history was not analysed)."));
  }

  const SERIES_COLUMNS = [
    { key: "name", label: "benchmark", value: (r) => r.benchmark, cell: null },
    { key: "params", label: "params", value: (r) => r.params, cell: (r) => r.params || "—" },
    { key: "env", label: "machine / environment", value: (r) => r.envName, cell: (r) => r.envName },
    { key: "channel", label: "channel", value: (r) => r.label, cell: (r) => r.label },
    { key: "verdict", label: "verdict", value: (r) => VERDICTS.indexOf(r.verdict), cell: (r) => badge(r.verdict) },
    { key: "change", label: "change", num: true, value: (r) => r.change, cell: (r) => Dash.fmtPct(r.change) },
    { key: "interval", label: "interval", value: (r) => r.low, cell: (r) => Dash.fmtInterval(r.low, r.high) },
    { key: "noise", label: "noise", num: true, value: (r) => r.noise, cell: (r) => (r.noise === null ? "—" : "±" + r.noise.toFixed(1) + "%") },
  ];

  Dash.renderOverview = function (el, model, state, go) {
    const rows = model.series.filter((r) => Dash.matches(r, state));
    const columns = SERIES_COLUMNS.map((c) => (c.key === "name" ? Object.assign({}, c, { cell: (r) => benchLink(model, r.id) }) : c));
    const table = sortedTable(columns, rows, state, (sort, dir) => go({ sort, dir }, true), rows.length + " series");
    el.append(
      h("div", { class: "grid" }, headsPanel(model), countsPanel(model, rows, go)),
      h("div", { class: "grid" }, shiftsPanel(model), noisiestPanel(model, rows), changesPanel(model, rows)),
      section("Series", ...table),
    );
  };

  // ---------------------------------------------------------------- load

  Dash.renderLoad = function (el, model) {
    const L = model.meta.load;
    if (!L) {
      el.append(section("Load tests", h("p", { class: "note" }, "No load results: run the load test (metrics/performance/load/load_results_<ts>.csv) and build the dashboard again.")));
      return;
    }
    const targets = Array.from(new Set(L.target));
    el.append(h("p", { class: "note" }, "From " + (model.meta.load_source || "the load-test CSV") + "."));
    for (const t of targets) {
      const idx = L.target.map((x, i) => (x === t ? i : -1)).filter((i) => i >= 0);
      const col = (k) => (L[k] ? idx.map((i) => L[k][i]) : null);
      const users = col("users");
      const rps = h("div", { class: "chart small", role: "img", "aria-label": "throughput against users for " + t });
      const lat = h("div", { class: "chart small", role: "img", "aria-label": "latency percentiles against users for " + t });
      el.append(section("Target: " + t, h("div", { class: "grid" }, rps, lat), loadTable(L, idx)));
      Dash.lineChart(rps, "throughput (requests/s)", users, [{ label: "rps", values: col("rps") }], (v) => v.toFixed(0));
      const pcts = ["p50_ms", "p95_ms", "p99_ms", "overhead_p50_ms", "overhead_p95_ms", "overhead_p99_ms"].filter((k) => L[k]);
      Dash.lineChart(lat, "latency (ms)", users, pcts.map((k) => ({ label: k.replace("_ms", ""), values: col(k) })), (v) => v.toFixed(1));
    }
  };

  function loadTable(L, idx) {
    const keys = Object.keys(L).filter((k) => k !== "target");
    return h("table", { class: "data" }, h("caption", {}, "measured"),
      h("thead", {}, h("tr", {}, keys.map((k) => h("th", { scope: "col", class: "num" }, k)))),
      h("tbody", {}, idx.map((i) => h("tr", {}, keys.map((k) => h("td", { class: "num" }, L[k][i] === null ? "—" : String(L[k][i])))))));
  }

  Dash.VERDICTS = VERDICTS;
  Dash.sortedTable = sortedTable;
  Dash.section = section;
  Dash.badge = badge;
  Dash.commitLink = commitLink;
  Dash.benchLink = benchLink;
  Dash.benchHash = benchHash;
})();
