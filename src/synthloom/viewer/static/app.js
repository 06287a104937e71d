// The viewer's shell: the API client, the hash router, the header, the run page (card, funnel, usage,
// report plots, live progress) and the comparison of two runs.
"use strict";

SV.timers = [];

SV.api = async function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") query.set(k, v);
  const response = await fetch(`/api/${path}?${query}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
};

SV.hashFor = (path, params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return "#/" + path + (s ? "?" + s : "");
};

SV.main = () => document.getElementById("main");

// each route draws into its own view: a page still loading when the address changes draws into a
// view that is no longer on the page, never over the new one
SV.show = function show(view, ...nodes) {
  view.replaceChildren(...nodes.flat().filter(Boolean));
  return view;
};

SV.fail = (error) => h("div", {class: "error-box", role: "alert"}, String(error.message || error));

SV.every = function every(ms, fn) {
  SV.timers.push(setInterval(fn, ms));
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: Object.fromEntries(new URLSearchParams(query || ""))};
}

function markNav() {
  const {parts} = parseHash();
  const page = parts[0] || "run";
  const current = page === "rows" ? "rows/" + (parts[1] || "data") : page === "row" ? "rows/" + (parts[1] || "data") : page;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === current));
}

async function route() {
  SV.timers.forEach(clearInterval);
  SV.timers = [];
  const {parts, params} = parseHash();
  const page = parts[0] || "run";
  markNav();
  const view = h("div", {class: "view"}, "loading…");
  SV.main().replaceChildren(view);
  try {
    if (page === "run") await runPage(view);
    else if (page === "rows") await SV.rowsPage(view, parts[1] || "data", params);
    else if (page === "row") await SV.rowPage(view, parts[1] || "data", params);
    else if (page === "call") await SV.callPage(view, params);
    else if (page === "find") await SV.findPage(view, params);
    else if (page === "compare") await comparePage(view, params);
    else SV.show(view, SV.fail(`no page ${page}`));
  } catch (e) {
    SV.show(view, SV.fail(e));
  }
}

async function header() {
  const run = await SV.api("run");
  SV.run = run;
  document.title = `${run.name} — synthloom`;
  const tab = (page, label, count) => h("a", {href: "#/" + page, "data-page": page}, label, count !== undefined ? h("span", {class: "count"}, SV.fmt(count)) : null);
  const t = run.tables || {};
  document.getElementById("header").replaceChildren(
    h("div", {class: "title"}, h("b", {}, run.name), " ", statusBadge(run, "status"), h("span", {class: "muted path"}, run.path)),
    h("nav", {},
      tab("run", "Run"),
      tab("rows/data", "Data", t.data),
      "rejected" in t ? tab("rows/rejected", "Rejected", t.rejected) : null,
      "errors" in t ? tab("rows/errors", "Errors", t.errors) : null,
      t.steps ? tab("rows/steps", "Intermediate", t.steps) : null,
      run.compare ? tab("compare", "Compare") : null));
  markNav();
}

function statusBadge(run, id) {
  const cls = run.status === "completed" ? "good" : run.status === "running" ? "live" : "bad";
  return h("span", {class: "badge status " + cls, id}, run.status === "running" && run.alive === false ? "running? (process gone)" : run.status);
}

// -- the run page --------------------------------------------------------------------------------------
function funnel(run) {
  const counts = run.counts || {};
  const names = Object.keys(counts);
  if (!names.length) return h("p", {class: "muted"}, "no partition committed yet");
  const widest = Math.max(1, ...names.map((n) => counts[n].in || 0), ...names.map((n) => counts[n].out || 0));
  const pct = (n) => `${(100 * (n || 0)) / widest}%`;
  const kind = Object.fromEntries((run.steps || []).map((s) => [s.name, s.type]));
  return h("table", {class: "funnel"},
    h("tr", {}, ["step", "type", "", "in", "ok", "out", "rejected", "errors"].map((c) => h("th", {}, c))),
    names.map((n) => {
      const c = counts[n];
      return h("tr", {"data-step": n},
        h("td", {}, n), h("td", {class: "muted"}, kind[n] || ""),
        h("td", {class: "bar-cell"}, h("div", {class: "bar"},
          h("span", {class: "seg ok", style: `width:${pct(c.ok)}`, title: `ok ${c.ok}`}),
          h("span", {class: "seg rejected", style: `width:${pct(c.rejected)}`, title: `rejected ${c.rejected}`}),
          h("span", {class: "seg errors", style: `width:${pct(c.errors)}`, title: `errors ${c.errors}`}))),
        ["in", "ok", "out"].map((k) => h("td", {class: "num"}, SV.fmt(c[k]))),
        h("td", {class: "num"}, c.rejected ? h("a", {href: SV.hashFor("rows/rejected", {f: JSON.stringify([["_rejected_by", "=", n]])})}, SV.fmt(c.rejected)) : "0"),
        h("td", {class: "num"}, c.errors ? h("a", {href: SV.hashFor("rows/errors", {f: JSON.stringify([["_step", "=", n]])})}, SV.fmt(c.errors)) : "0"));
    }));
}

function usageTable(usage) {
  if (!usage || !usage.by_step) return h("p", {class: "muted"}, "usage is written when the run ends");
  const cols = ["requests", "cached", "errors", "prompt_tokens", "completion_tokens", "cost"];
  const row = (label, u, model) => h("tr", {}, h("td", {}, label), h("td", {class: "muted"}, model || ""), cols.map((c) => h("td", {class: "num"}, c === "cost" ? (u[c] || 0).toFixed(4) : SV.fmt(u[c]))));
  return h("table", {class: "grid usage"}, h("tr", {}, ["step", "model", ...cols].map((c) => h("th", {}, c.replace("_", " ")))),
    usage.by_step.map((u) => row(u.step, u, u.model)), usage.total ? row(h("b", {}, "total"), usage.total) : null);
}

function reportBlock(report) {
  if (!report) return h("p", {class: "muted"}, "no report/ (make one with `synthloom report RUN`)");
  const metrics = report.metrics ? h("details", {}, h("summary", {}, "metrics.json"), SV.json(report.metrics)) : null;
  return h("div", {class: "report"}, h("div", {class: "plots"}, report.plots.map((p) => h("figure", {}, h("img", {src: "/report/" + encodeURIComponent(p), alt: p, loading: "lazy"}), h("figcaption", {}, p)))), metrics);
}

async function runPage(view) {
  const draw = async () => {
    const run = await SV.api("run");
    const elapsed = run.elapsed_s !== null && run.elapsed_s !== undefined ? `${run.elapsed_s.toFixed(1)} s` : "—";
    const rows = run.rows || {};
    SV.show(view,
      h("section", {class: "facts"},
        h("div", {}, "status ", statusBadge(run), run.status === "running" ? h("span", {class: "muted", id: "live"}, "  live: refreshes every 2 s") : null),
        h("div", {}, "elapsed ", h("b", {}, elapsed)),
        rows.data !== undefined ? h("div", {}, "rows ", h("b", {}, SV.fmt(rows.data)), " data · ", SV.fmt(rows.rejected), " rejected · ", SV.fmt(rows.errors), " errors") : null,
        run.message ? h("div", {class: "message"}, run.message) : null),
      h("h2", {}, "Steps"), funnel(run),
      h("h2", {}, "Usage and cost"), usageTable(run.usage),
      h("h2", {}, "Report"), reportBlock(run.report),
      run.card ? h("details", {class: "card", open: true}, h("summary", {}, "Dataset card"), SV.markdown(run.card)) : null);
    return run;
  };
  const run = await draw();
  if (run.status === "running") SV.every(2000, () => draw().then(header).catch(() => {}));
}

// -- comparing two runs ---------------------------------------------------------------------------------
async function comparePage(view, params) {
  const s = await SV.api("compare");
  const [a, b] = s.runs;
  const key = params.key || (s.keys.includes("id") ? "id" : s.keys[0]);
  const cell = (c, k) => h("td", {class: "num"}, c ? SV.fmt(c[k]) : "—");
  const stepRows = s.steps.map((st) => h("tr", {}, h("td", {}, st.step), ["in", "out", "rejected", "errors"].map((k) => [cell(st.a, k), cell(st.b, k)])));
  const keySelect = h("select", {id: "compare-key", onchange: (e) => (location.hash = SV.hashFor("compare", {...params, key: e.target.value, offset: 0}))},
    s.keys.map((k) => h("option", {value: k, selected: k === key}, k)));
  const search = h("input", {id: "compare-search", type: "search", placeholder: "search run A", value: params.q || "",
    onkeydown: (e) => e.key === "Enter" && (location.hash = SV.hashFor("compare", {...params, q: e.target.value, offset: 0}))});
  const pairs = h("div", {class: "pairs"}, "loading…");
  SV.show(view,
    h("h2", {}, "Two runs"),
    h("table", {class: "grid"}, h("tr", {}, h("th", {}, ""), h("th", {}, "A: " + a.name), h("th", {}, "B: " + b.name)),
      h("tr", {}, h("td", {}, "path"), h("td", {}, a.path), h("td", {}, b.path)),
      h("tr", {}, h("td", {}, "status"), h("td", {}, a.status), h("td", {}, b.status)),
      ["data", "rejected", "errors"].map((t) => h("tr", {}, h("td", {}, t + " rows"), h("td", {class: "num"}, SV.fmt(a.tables[t])), h("td", {class: "num"}, SV.fmt(b.tables[t])))),
      ["requests", "prompt_tokens", "completion_tokens", "cost"].map((k) => h("tr", {}, h("td", {}, k.replace("_", " ")), h("td", {class: "num"}, SV.fmt(a.usage[k])), h("td", {class: "num"}, SV.fmt(b.usage[k]))))),
    h("h2", {}, "Steps"),
    h("table", {class: "grid"}, h("tr", {}, h("th", {}, "step"), ["in", "out", "rejected", "errors"].map((k) => [h("th", {}, k + " A"), h("th", {}, k + " B")])), stepRows),
    s.metrics.length ? [h("h2", {}, "Metrics"), h("table", {class: "grid"}, h("tr", {}, h("th", {}, "metric"), h("th", {}, "A"), h("th", {}, "B")),
      s.metrics.map((m) => h("tr", {}, h("td", {}, m.metric), h("td", {class: "num"}, SV.fmt(m.a)), h("td", {class: "num"}, SV.fmt(m.b)))))] : null,
    h("h2", {}, "The same rows in both"), h("div", {class: "toolbar"}, "match on ", keySelect, " ", search), pairs);
  const offset = Number(params.offset || 0);
  const got = await SV.api("compare/rows", {key, q: params.q, offset, limit: 10});
  pairs.replaceChildren(
    ...got.pairs.map((p) => {
      const cols = [...new Set([...Object.keys(p.a), ...Object.keys(p.b || {})])].filter((c) => !c.startsWith("_"));
      return h("div", {class: "compare-pair"}, h("div", {class: "pair-head"}, `${key} = ${String(p.key).slice(0, 120)}`),
        h("table", {class: "grid side"}, h("tr", {}, h("th", {}, "column"), h("th", {}, "A"), h("th", {}, "B")),
          cols.map((c) => {
            const va = p.a[c], vb = p.b ? p.b[c] : undefined;
            const same = JSON.stringify(va) === JSON.stringify(vb);
            return h("tr", {class: same ? "same" : "differs"}, h("td", {}, c), h("td", {}, SV.value(c, va)),
              h("td", {}, p.b ? (typeof va === "string" && typeof vb === "string" && !same ? SV.diff(va, vb) : SV.value(c, vb)) : h("span", {class: "muted"}, "not in B")));
          })));
    }),
    SV.pager(offset, 10, got.total, got.pairs.length, (o) => (location.hash = SV.hashFor("compare", {...params, key, offset: o}))));
}

SV.pager = function pager(offset, limit, total, shown, go) {
  const end = offset + shown;
  const of = total === null || total === undefined ? "counting…" : SV.fmt(total);
  return h("div", {class: "pager"},
    h("button", {id: "prev", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit))}, "← previous"),
    h("span", {id: "total"}, shown ? `rows ${SV.fmt(offset + 1)}–${SV.fmt(end)} of ${of}` : `no rows (of ${of})`),
    h("button", {id: "next", disabled: total !== null && total !== undefined ? end >= total : shown < limit, onclick: () => go(offset + limit)}, "next →"));
};

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    await header();
  } catch (e) {
    document.getElementById("header").replaceChildren(SV.fail(e));
  }
  await route();
});
