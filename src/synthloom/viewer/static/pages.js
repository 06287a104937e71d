// The rows table (search, filters, column picker, sort, pages; per-step tabs for rejected and error
// rows), the row page (every column rendered for its kind, the verdicts, lineage) and the cached call.
"use strict";

const STEP_COLUMN = {rejected: "_rejected_by", errors: "_step", steps: null, data: null};
const FIRST_COLUMNS = {rejected: ["_rejected_by", "_reason", "_score"], errors: ["_step", "_error_type", "_error", "_raw_text"]};
const HIDDEN = new Set(["_lineage", "_record", "_ref"]);
const OPS = ["=", "!=", ">", ">=", "<", "<=", "contains", "!contains", "null", "!null"];

// the table's first columns: a rejected/error row's verdict, then the fullest plain columns (fewest
// nulls), then nested ones, in table order; the columns a filter or the sort uses are always shown
function defaultColumns(table, columns, params) {
  const usable = columns.filter((c) => !HIDDEN.has(c.name));
  const names = usable.map((c) => c.name);
  const first = (FIRST_COLUMNS[table] || []).filter((n) => names.includes(n));
  const rest = usable.filter((c) => c.name !== "id" && !first.includes(c.name));
  const fullest = [...rest].sort((a, b) => (a.kind === "nested") - (b.kind === "nested") || (a.nulls ?? 0) - (b.nulls ?? 0));
  const picked = new Set(fullest.slice(0, 7 - first.length).map((c) => c.name));
  filtersOf(params).forEach((f) => picked.add(f[0]));
  if (params.sort) picked.add(params.sort.replace(/^-/, ""));
  const chosen = [...first, ...rest.map((c) => c.name).filter((n) => picked.has(n) && !first.includes(n))];
  return chosen.concat(names.includes("id") && !chosen.includes("id") ? ["id"] : []);
}

function filtersOf(params) {
  try { return JSON.parse(params.f || "[]"); } catch (e) { return []; }
}

SV.rowsPage = async function rowsPage(view, table, params) {
  const columns = await SV.api("columns", {table});
  const names = columns.map((c) => c.name);
  const shown = params.cols ? params.cols.split(",").filter((c) => names.includes(c)) : defaultColumns(table, columns, params);
  const filters = filtersOf(params);
  const offset = Number(params.offset || 0), limit = Number(params.limit || 50);
  const go = (changes) => (location.hash = SV.hashFor("rows/" + table, {...params, offset: 0, ...changes}));
  const setFilters = (list) => go({f: list.length ? JSON.stringify(list) : ""});

  const search = h("input", {id: "search", type: "search", placeholder: "search every text column (\"a phrase\" in quotes)", value: params.q || "",
    onkeydown: (e) => e.key === "Enter" && go({q: e.target.value})});
  const column = h("select", {id: "filter-column"}, names.map((n) => h("option", {value: n}, n)));
  const op = h("select", {id: "filter-op"}, OPS.map((o) => h("option", {value: o}, o)));
  const valueList = h("datalist", {id: "filter-values"});
  const value = h("input", {id: "filter-value", list: "filter-values", placeholder: "value"});
  const hint = h("span", {class: "muted", id: "filter-hint"});
  column.addEventListener("change", async () => {
    valueList.replaceChildren();
    hint.textContent = "";
    const v = await SV.api("values", {table, column: column.value}).catch(() => null);
    if (!v) return;
    if (v.values) v.values.forEach(([x, n]) => valueList.appendChild(h("option", {value: String(x)}, `${x} (${n})`)));
    if (v.kind === "number" || v.kind === "number-values") hint.textContent = `${SV.fmt(v.min)} … ${SV.fmt(v.max)}, mean ${SV.fmt(v.mean)}`;
  });
  const add = h("button", {id: "filter-add", onclick: () => setFilters([...filters, [column.value, op.value, value.value]])}, "add filter");
  const chips = h("div", {class: "chips"}, filters.map((f, i) => h("span", {class: "chip"}, `${f[0]} ${f[1]} ${f[1].endsWith("null") ? "" : f[2]}`,
    h("button", {class: "chip-x", title: "remove", onclick: () => setFilters(filters.filter((_, j) => j !== i))}, "×"))));

  const picker = h("details", {class: "picker", id: "columns"}, h("summary", {}, "columns"),
    h("div", {class: "picker-list"}, names.map((n) => h("label", {}, h("input", {type: "checkbox", value: n, checked: shown.includes(n),
      onchange: () => go({cols: [...view.querySelectorAll("#columns input:checked")].map((x) => x.value).join(","), offset}) }), " ", n))));

  const tabs = h("div", {class: "step-tabs", id: "step-tabs"});
  const body = h("div", {class: "rows-body"}, "loading…");
  SV.show(view, h("div", {class: "toolbar"}, search, picker), tabs, h("div", {class: "toolbar"}, "filter ", column, op, value, valueList, add, hint), chips, body);

  const stepColumn = STEP_COLUMN[table];
  if (stepColumn && names.includes(stepColumn)) {
    SV.api("values", {table, column: stepColumn}).then((v) => {
      const current = (filters.find((f) => f[0] === stepColumn && f[1] === "=") || [])[2];
      const others = filters.filter((f) => f[0] !== stepColumn);
      tabs.replaceChildren(h("a", {class: current === undefined ? "active" : "", href: SV.hashFor("rows/" + table, {...params, offset: 0, f: others.length ? JSON.stringify(others) : ""})}, "all steps"),
        ...(v.values || []).map(([step, n]) => h("a", {class: current === step ? "active" : "", "data-step": step,
          href: SV.hashFor("rows/" + table, {...params, offset: 0, f: JSON.stringify([...others, [stepColumn, "=", step]])})}, step, h("span", {class: "count"}, SV.fmt(n)))));
    }).catch(() => {});
  }

  const sortKey = params.sort || "";
  const sorted = (c) => (sortKey === c ? "asc" : sortKey === "-" + c ? "desc" : "");
  const page = await SV.api("rows", {table, q: params.q, f: params.f, sort: params.sort, offset, limit, cols: shown.join(",")});
  const open = (row) => (location.hash = SV.hashFor("row/" + table, {ref: row._ref}));
  const grid = h("table", {class: "rows-table"},
    h("thead", {}, h("tr", {}, shown.map((c) => h("th", {class: "sortable " + sorted(c), title: "sort",
      onclick: () => go({sort: sortKey === c ? "-" + c : sortKey === "-" + c ? "" : c})}, c, sorted(c) === "asc" ? " ▲" : sorted(c) === "desc" ? " ▼" : "")))),
    h("tbody", {}, page.rows.map((row) => h("tr", {onclick: () => open(row), "data-ref": row._ref},
      shown.map((c) => h("td", {class: typeof row[c] === "number" ? "num" : "", title: typeof row[c] === "string" && row[c].length > 40 ? row[c] : null},
        row[c] === null || row[c] === undefined ? "" : typeof row[c] === "number" ? SV.fmt(row[c]) : String(row[c])))))));
  const pager = SV.pager(offset, limit, page.total, page.rows.length, (o) => go({offset: o}));
  body.replaceChildren(h("div", {class: "scroll"}, grid), pager);
  if (page.total === null) {
    const got = await SV.api("count", {table, q: params.q, f: params.f});
    pager.replaceWith(SV.pager(offset, limit, got.total, page.rows.length, (o) => go({offset: o})));
  }
};

// -- one row -------------------------------------------------------------------------------------------
const PANELS = {
  pair: ["chosen", "rejected", "chosen_score", "rejected_score", "chosen_model", "rejected_model", "margin", "pair_rule"],
  tool: ["query", "calls", "results", "answer", "form", "simulated"],
  rejected: ["_rejected_by", "_reason", "_score", "_duplicate_of"],
  error: ["_step", "_error", "_error_type", "_raw_text", "_record"],
  code: ["passed", "status", "pass_rate", "test_results"],
  math: ["correct", "verify_status", "pred_answer", "gold_answer", "verify_detail"],
};

function section(title, ...body) {
  return h("section", {class: "panel"}, h("h3", {}, title), ...body);
}

function verdictPanels(row, used) {
  const out = [];
  if ("_rejected_by" in row) {
    out.push(h("div", {class: "reject-banner"}, h("b", {}, "rejected by ", row._rejected_by), ": ", h("span", {class: "reason"}, row._reason),
      row._score !== null && row._score !== undefined ? h("span", {class: "badge"}, "score " + SV.fmt(row._score)) : null,
      row._duplicate_of ? [" duplicate of ", h("a", {href: SV.hashFor("find", {id: row._duplicate_of})}, row._duplicate_of)] : null));
    PANELS.rejected.forEach((k) => used.add(k));
  }
  if ("_error" in row) {
    let record = row._record;
    if (typeof record === "string") { try { record = JSON.parse(record); } catch (e) { /* shown as text */ } }
    out.push(h("div", {class: "error-banner"}, h("b", {}, `error in ${row._step}: ${row._error_type}`), h("pre", {class: "error-text"}, row._error),
      h("div", {class: "muted"}, "the model's raw text:"), row._raw_text ? h("pre", {class: "raw-text"}, row._raw_text) : h("span", {class: "muted"}, "(none: the error came before or without a reply)"),
      h("details", {}, h("summary", {}, "the input row"), SV.json(record))));
    PANELS.error.forEach((k) => used.add(k));
  }
  if (row.passed != null && row.test_results != null) {
    out.push(section("Sandbox verdict", h("div", {}, h("span", {class: "badge " + (row.passed ? "good" : "bad")}, row.status), " pass rate ", SV.fmt(row.pass_rate)),
      Array.isArray(row.test_results) ? SV.steps(row.test_results) : SV.value("test_results", row.test_results)));
    PANELS.code.forEach((k) => used.add(k));
  }
  if (row.correct != null && (row.pred_answer != null || row.gold_answer != null)) {
    out.push(section("Math answer", h("div", {class: "math-verdict"}, h("span", {class: "badge " + (row.correct ? "good" : "bad")}, row.correct ? "correct" : "wrong"),
      " extracted ", h("span", {class: "boxed"}, row.pred_answer ?? "—"), " gold ", h("span", {class: "boxed gold"}, row.gold_answer ?? "—"),
      row.verify_status ? h("span", {class: "muted"}, "  " + row.verify_status) : null), row.verify_detail ? h("div", {class: "muted"}, row.verify_detail) : null));
    PANELS.math.forEach((k) => used.add(k));
  }
  return out;
}

function contentPanels(row, used) {
  const out = [];
  if (row.chosen != null && row.rejected != null) {
    out.push(section("Chosen and rejected", SV.pair(row)));
    PANELS.pair.forEach((k) => used.add(k));
  }
  if (SV.isToolUse(row)) {
    out.push(section("Tool use", SV.toolUse(row)));
    PANELS.tool.forEach((k) => used.add(k));
  }
  for (const [k, v] of Object.entries(row)) {
    if (used.has(k)) continue;
    if (SV.isMessages(v)) {
      out.push(section(`Conversation: ${k}`, SV.conversation(v)));
      used.add(k);
    }
    const parent = row["parent_" + k];
    if (typeof v === "string" && typeof parent === "string" && parent !== v) {
      out.push(section(`Revision: parent_${k} → ${k}`, SV.diff(parent, v)));
    }
  }
  return out;
}

function lineagePanel(table, row) {
  const entries = Array.isArray(row._lineage) ? row._lineage : [];
  const chain = h("div", {id: "chain"});
  const hasParent = entries.some((e) => e.parent) || typeof row.parent_id === "string";
  return section("Lineage",
    entries.length ? h("table", {class: "grid lineage"}, h("tr", {}, ["#", "step", "model", "call", "sampling", "tokens", "finish", ""].map((c) => h("th", {}, c))),
      entries.map((e, i) => {
        const extra = Object.entries(e).filter(([k]) => !["step", "model", "prompt_hash", "params", "usage", "finish_reason", "parent"].includes(k));
        return h("tr", {}, h("td", {}, i + 1), h("td", {}, e.step), h("td", {class: "muted"}, e.model || ""),
          h("td", {}, extra.map(([k, v]) => h("div", {}, `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`))),
          h("td", {class: "muted"}, e.params ? JSON.stringify(e.params) : ""),
          h("td", {class: "num"}, e.usage ? `${e.usage.prompt_tokens ?? 0} + ${e.usage.completion_tokens ?? 0}` : ""),
          h("td", {}, e.finish_reason || ""),
          h("td", {}, e.prompt_hash ? h("a", {class: "call-link", href: SV.hashFor("call", {hash: e.prompt_hash, model: e.model})}, "request & response") : null,
            e.parent ? [" ", h("a", {class: "parent-link", href: SV.hashFor("find", {id: e.parent})}, "parent row")] : null));
      })) : h("p", {class: "muted"}, "no lineage entries (a source row)"),
    hasParent ? h("button", {id: "show-chain", onclick: async (ev) => {
      ev.target.disabled = true;
      const links = await SV.api("chain", {table, ref: row._ref});
      chain.replaceChildren(h("h4", {}, "Revision chain, oldest first"), ...links.map((link, i) => {
        if (!link.row) return h("div", {class: "muted"}, `parent ${link.missing} is not stored (it streamed through without being kept)`);
        const prev = i > 0 && links[i - 1].row;
        const texts = Object.keys(link.row).filter((k) => typeof link.row[k] === "string" && !k.startsWith("_") && !k.startsWith("parent_") && k !== "id");
        return h("div", {class: "chain-link"}, h("div", {class: "pair-head"}, `${i + 1}. `, link.table ? h("a", {href: SV.hashFor("row/" + link.table, {ref: link.row._ref})}, link.row.id) : link.row.id),
          texts.filter((k) => !prev || prev[k] !== link.row[k]).map((k) => h("div", {}, h("span", {class: "k"}, k), prev && typeof prev[k] === "string" ? SV.diff(prev[k], link.row[k]) : SV.text(link.row[k]))));
      }));
    }}, "show the revision chain") : null, chain,
    h("div", {id: "elsewhere"}));
}

SV.rowPage = async function rowPage(view, table, params) {
  const got = await SV.api("row", {table, ref: params.ref});
  const row = got.row;
  const used = new Set(["_lineage", "_ref", "id"]);
  const verdicts = verdictPanels(row, used);
  const contents = contentPanels(row, used);
  const rest = Object.entries(row).filter(([k, v]) => !used.has(k) && v !== null);
  const empty = Object.entries(row).filter(([k, v]) => !used.has(k) && v === null).map(([k]) => k);
  SV.show(view,
    h("div", {class: "row-head"}, h("a", {href: "#/rows/" + table, onclick: (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } }}, "← back"), "  ", h("b", {}, table), " row ", h("code", {id: "row-id"}, row.id ?? "(no id)")),
    verdicts, contents,
    section("Columns", h("dl", {class: "columns"}, rest.map(([k, v]) => [h("dt", {}, k), h("dd", {"data-column": k}, SV.value(k, v))])),
      empty.length ? h("div", {class: "muted empty-columns"}, "empty here: ", empty.join(", ")) : null),
    lineagePanel(table, row));
  if (row.id) {
    const found = await SV.api("find", {id: row.id}).catch(() => []);
    const others = found.filter((f) => !(f.table === table && f.row._ref === row._ref));
    if (others.length) view.querySelector("#elsewhere").replaceChildren(h("h4", {}, "This row at other steps"),
      h("ul", {}, others.map((f) => h("li", {}, h("a", {href: SV.hashFor("row/" + f.table, {ref: f.row._ref})}, f.table), " ", h("span", {class: "muted"}, f.row._ref.split("|")[0].split("/").slice(-2).join("/"))))));
  }
};

SV.findPage = async function findPage(view, params) {
  const found = await SV.api("find", {id: params.id});
  if (found.length === 1) {
    location.replace(SV.hashFor("row/" + found[0].table, {ref: found[0].row._ref}));
    return;
  }
  SV.show(view, h("h2", {}, `Rows with id ${params.id}`), found.length ? h("ul", {}, found.map((f) => h("li", {}, h("a", {href: SV.hashFor("row/" + f.table, {ref: f.row._ref})}, f.table, ": ", f.row._ref))))
    : h("p", {class: "muted"}, "no table holds this row: it streamed through a step without being kept (only materialised steps' rows are stored)"));
};

// -- a cached model call ------------------------------------------------------------------------------------
SV.callPage = async function callPage(view, params) {
  const got = await SV.api("call", {hash: params.hash, model: params.model});
  if (!got.calls.length) return SV.show(view, h("h2", {}, "Model call " + params.hash), h("p", {class: "muted"}, got.note));
  const several = got.calls.length > 1;
  SV.show(view, h("h2", {}, "Model call " + params.hash),
    several ? h("p", {class: "muted"}, `${got.calls.length} requests: the structured-output layer added the JSON schema and re-asked after an invalid reply`) : null,
    got.calls.map((c, i) => {
    const req = c.request;
    const sampling = Object.fromEntries(Object.entries(req).filter(([k]) => !["messages", "prompt", "tools", "json_schema"].includes(k)));
    const res = c.response;
    return h("div", {class: "call"}, several ? h("h3", {}, `attempt ${i + 1}`) : null,
      h("div", {class: "facts"}, h("div", {}, "model ", h("b", {}, c.identity)), h("div", {}, "fingerprint ", h("code", {}, c.fingerprint)),
        h("div", {}, "answered ", new Date(c.created * 1000).toISOString().replace("T", " ").slice(0, 19), c.elapsed_s !== null ? ` in ${c.elapsed_s.toFixed(3)} s` : "")),
      section("Request", h("div", {class: "muted"}, "sampling ", JSON.stringify(sampling)),
        req.messages ? SV.conversation(req.messages) : h("pre", {class: "raw-text"}, req.prompt),
        req.tools ? h("details", {}, h("summary", {}, `${req.tools.length} tools offered`), SV.toolList(req.tools)) : null,
        req.json_schema ? h("details", {}, h("summary", {}, "JSON schema"), SV.json(req.json_schema)) : null),
      section("Raw response", res ? h("div", {class: "call-response"},
        h("div", {class: "muted"}, `model ${res.model || "?"} · usage ${JSON.stringify(res.usage)}`),
        res.choices.map((ch, i) => h("div", {class: "choice"}, h("div", {class: "pair-head"}, `choice ${i + 1} · finish ${ch.finish_reason}`),
          ch.reasoning ? h("details", {}, h("summary", {}, "reasoning"), h("pre", {class: "raw-text"}, ch.reasoning)) : null,
          h("pre", {class: "raw-text"}, ch.text), (ch.tool_calls || []).map((t) => SV.json(t))))) : h("p", {class: "muted"}, "the response is not in the cache")));
  }));
};
