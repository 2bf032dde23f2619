// The page: the URL hash is the state (view, filters, selection), so every view is a deep link.
(function () {
  "use strict";
  const Dash = window.Dash;
  const h = (...a) => Dash.h(...a);
  const VIEWS = ["overview", "bench", "compare", "load"];
  const FILTERS = ["comp", "chan", "verdict", "q"];
  let model = null;
  let rendered = null; // the hash last rendered
  let chart = null;

  function readState() {
    const state = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
    if (!VIEWS.includes(state.view)) state.view = "overview";
    return state;
  }

  // go(patch): a new view state (history entry); replace: edit this entry; quiet: no re-render.
  function go(patch, replace, quiet) {
    const current = readState();
    const viewChange = patch.view && patch.view !== current.view;
    const keep = {};
    for (const k of FILTERS) if (current[k]) keep[k] = current[k];
    const next = viewChange ? Object.assign(keep, patch) : Object.assign(current, patch);
    const hash = Dash.hashOf(next);
    if (quiet) rendered = document.documentElement.dataset.rendered = hash;
    if (replace) location.replace(hash);
    else location.hash = hash;
  }
  Dash.go = go;

  function setOptions(select, values, labels, value) {
    select.replaceChildren(h("option", { value: "" }, "all"), ...values.map((v, i) => h("option", { value: v }, labels ? labels[i] : v)));
    select.value = value || "";
  }

  function syncFilters(state) {
    const f = document.getElementById("filters");
    f.hidden = !(state.view === "overview" || state.view === "compare");
    setOptions(document.getElementById("f-comp"), model.components, null, state.comp);
    setOptions(document.getElementById("f-chan"), model.channels, model.channels.map(Dash.channelName), state.chan);
    setOptions(document.getElementById("f-verdict"), Dash.VERDICTS, Dash.VERDICTS.map((v) => (v === "none" ? "no verdict" : v)), state.verdict);
    const q = document.getElementById("f-q");
    if (document.activeElement !== q) q.value = state.q || "";
    document.getElementById("f-verdict").disabled = state.view === "compare";
  }

  function render() {
    const state = readState();
    const hash = location.hash;
    if (hash === rendered && hash) return;
    rendered = hash;
    const focused = document.activeElement && document.activeElement.id;
    if (chart) { chart.destroy(); chart = null; }
    for (const v of VIEWS) document.getElementById("view-" + v).hidden = v !== state.view;
    document.querySelectorAll("nav a[data-view]").forEach((a) => a.setAttribute("aria-current", a.dataset.view === state.view ? "page" : "false"));
    syncFilters(state);
    const el = document.getElementById("view-" + state.view);
    el.replaceChildren();
    if (state.view === "overview") Dash.renderOverview(el, model, state, go);
    else if (state.view === "bench") chart = Dash.renderBench(el, model, state, go);
    else if (state.view === "compare") Dash.renderCompare(el, model, state, go);
    else Dash.renderLoad(el, model);
    Dash.currentChart = chart; // for tests and the console
    document.documentElement.dataset.rendered = hash; // the state on screen (the hash may be ahead of it)
    const again = focused && document.getElementById(focused);
    if (again && again !== document.activeElement) again.focus();
  }

  function wireFilters() {
    const on = (id, key, ev) => document.getElementById(id).addEventListener(ev, (e) => go({ [key]: e.target.value, sort: readState().sort }, true));
    on("f-comp", "comp", "change");
    on("f-chan", "chan", "change");
    on("f-verdict", "verdict", "change");
    let timer = null;
    document.getElementById("f-q").addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => go({ q: e.target.value }, true), 150);
    });
    document.getElementById("f-clear").addEventListener("click", () => go({ comp: "", chan: "", verdict: "", q: "" }, true));
  }

  function header() {
    const meta = model.meta;
    document.getElementById("title").textContent = meta.title + " — benchmark dashboard";
    document.title = meta.title + " — benchmark dashboard";
    document.getElementById("asv-link").setAttribute("href", meta.links.asv_site);
    const nav = document.getElementById("nav-load");
    if (!meta.load) nav.textContent = "Load (none)";
    document.getElementById("footer").textContent = model.series.length + " series over " + meta.commits.hash.length + " commits on " +
      model.envNames.length + " machine / environment pair(s); verdicts from " + (meta.source || "—") + "; generated " + meta.generated + ".";
  }

  async function start() {
    const status = document.getElementById("status");
    try {
      model = await Dash.load();
      header();
      wireFilters();
      window.addEventListener("hashchange", render);
      window.addEventListener("resize", () => { if (chart) chart.setSize({ width: chart.root.parentElement.clientWidth, height: 360 }); });
      render();
      status.textContent = "";
      status.hidden = true;
      window.DASHBOARD_READY_MS = performance.now();
      document.documentElement.dataset.ready = "1";
    } catch (err) {
      status.textContent = "The dashboard could not load its data: " + err;
      status.setAttribute("role", "alert");
      console.error(err);
    }
  }

  start();
})();
