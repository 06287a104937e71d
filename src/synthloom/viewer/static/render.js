// How values look: chat bubbles, tool calls and results, step-by-step trajectories, code with a small
// highlighter, text with \boxed{} answers marked, word diffs, Markdown (the card), JSON.
// Every node is built with the DOM (text nodes), never from HTML strings: run data may hold markup.
"use strict";

const SV = (window.SV = window.SV || {});

SV.h = function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
};
const h = SV.h;

SV.fmt = (n) => (typeof n === "number" ? (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", {maximumFractionDigits: 4})) : n === null || n === undefined ? "—" : String(n));

SV.json = (v) => h("pre", {class: "json"}, JSON.stringify(v, null, 2));

// -- code -----------------------------------------------------------------------------------------
const KEYWORDS = new Set(("def class return if elif else for while in not and or is None True False import from as with try " +
  "except finally raise lambda yield async await pass break continue global nonlocal assert del function const let var " +
  "new this null undefined true false typeof instanceof switch case default throw catch do of int float str bool list dict " +
  "void public private static struct fn impl use mut match").split(" "));
const TOKEN = /(#[^\n]*|\/\/[^\n]*|"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`|\b\d+(?:\.\d+)?\b|\b[A-Za-z_][A-Za-z0-9_]*\b)/g;

SV.code = function code(source, lang) {
  const pre = h("pre", {class: "code", "data-lang": lang || ""});
  let at = 0;
  for (const m of String(source).matchAll(TOKEN)) {
    if (m.index > at) pre.appendChild(document.createTextNode(source.slice(at, m.index)));
    const t = m[0];
    let cls = null;
    if (t[0] === "#" || t.startsWith("//")) cls = "tok-comment";
    else if (/^["'`]/.test(t)) cls = "tok-string";
    else if (/^\d/.test(t)) cls = "tok-number";
    else if (KEYWORDS.has(t)) cls = "tok-keyword";
    pre.appendChild(cls ? h("span", {class: cls}, t) : document.createTextNode(t));
    at = m.index + t.length;
  }
  if (at < source.length) pre.appendChild(document.createTextNode(source.slice(at)));
  return pre;
};

// -- text with fenced code and boxed answers -------------------------------------------------------
function inlineMath(text) {
  const out = [];
  const re = /\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(at, m.index), h("span", {class: "boxed", title: "boxed answer"}, m[1]));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

SV.text = function text(value) {
  const s = String(value);
  const box = h("div", {class: "text"});
  const re = /```([\w+-]*)\n([\s\S]*?)```/g;
  let at = 0;
  for (const m of s.matchAll(re)) {
    if (m.index > at) box.appendChild(h("div", {class: "prose"}, inlineMath(s.slice(at, m.index))));
    box.appendChild(SV.code(m[2], m[1]));
    at = m.index + m[0].length;
  }
  if (at < s.length) box.appendChild(h("div", {class: "prose"}, inlineMath(s.slice(at))));
  return box;
};

// -- conversations and tools -------------------------------------------------------------------------
SV.isMessages = (v) => Array.isArray(v) && v.length > 0 && v.every((m) => m && typeof m === "object" && ("role" in m || "from" in m));

function argsText(args) {
  if (typeof args === "string") {
    try { return JSON.stringify(JSON.parse(args), null, 2); } catch (e) { return args; }
  }
  return JSON.stringify(args, null, 2);
}

function toolCall(call) {
  const fn = call.function || call;
  return h("div", {class: "tool-call"},
    h("div", {class: "tool-head"}, "call ", h("b", {}, fn.name || "?"), call.id ? h("span", {class: "muted"}, "  " + call.id) : null),
    h("pre", {class: "json"}, argsText(fn.arguments !== undefined ? fn.arguments : fn.args)));
}

function toolResult(result) {
  const status = result.status || (result.error ? "error" : "ok");
  return h("div", {class: "tool-result status-" + status},
    h("div", {class: "tool-head"}, "result ", h("b", {}, result.name || ""), " ", h("span", {class: "badge " + (status === "ok" ? "good" : "bad")}, status),
      result.call_id ? h("span", {class: "muted"}, "  " + result.call_id) : null),
    result.error ? h("pre", {class: "error-text"}, result.error) : h("pre", {class: "json"}, argsText(result.value)));
}

SV.conversation = function conversation(messages) {
  const box = h("div", {class: "chat"});
  messages.forEach((m, i) => {
    const role = m.role || ({human: "user", gpt: "assistant"}[m.from] || m.from);
    const content = m.content !== undefined ? m.content : m.value;
    const bubble = h("div", {class: "bubble role-" + role, "data-turn": i},
      h("div", {class: "who"}, `${i + 1}. ${role}`, m.name ? ` (${m.name})` : "", m.tool_call_id ? h("span", {class: "muted"}, "  reply to " + m.tool_call_id) : null));
    if (content !== null && content !== undefined && content !== "") {
      if (role === "tool") {
        bubble.appendChild(h("pre", {class: "json"}, argsText(content)));
      } else if (Array.isArray(content)) {
        content.forEach((part) => bubble.appendChild(part.type === "text" ? SV.text(part.text) : SV.json(part)));
      } else bubble.appendChild(SV.text(content));
    }
    (m.tool_calls || []).forEach((c) => bubble.appendChild(toolCall(c)));
    box.appendChild(bubble);
  });
  return box;
};

SV.isToolUse = (row) => typeof row.query === "string" && Array.isArray(row.calls);

SV.toolUse = function toolUse(row) {
  const results = Array.isArray(row.results) ? row.results : [];
  const box = h("div", {class: "chat"});
  box.appendChild(h("div", {class: "bubble role-user"}, h("div", {class: "who"}, "user"), SV.text(row.query)));
  const asks = h("div", {class: "bubble role-assistant"}, h("div", {class: "who"}, "assistant", row.form ? h("span", {class: "muted"}, "  " + row.form) : null));
  row.calls.forEach((c) => asks.appendChild(toolCall(c)));
  box.appendChild(asks);
  if (results.length) {
    const res = h("div", {class: "bubble role-tool"}, h("div", {class: "who"}, row.simulated ? "tools (simulated by a model)" : "tools (executed in the sandbox)"));
    results.forEach((r) => res.appendChild(toolResult(r)));
    box.appendChild(res);
  }
  if (row.answer) box.appendChild(h("div", {class: "bubble role-assistant"}, h("div", {class: "who"}, "assistant"), SV.text(row.answer)));
  return box;
};

SV.toolList = function toolList(tools) {
  return h("div", {class: "tools"}, tools.map((t) => {
    const fn = t.function || t;
    return h("details", {class: "tool"}, h("summary", {}, h("b", {}, fn.name), " — ", fn.description || ""), SV.json(fn.parameters || fn));
  }));
};

// a list of steps (agent trajectories, test results): one card per step, numbered
SV.isSteps = (v) => Array.isArray(v) && v.length > 0 && v.every((s) => s && typeof s === "object" && !Array.isArray(s));

SV.steps = function steps(list) {
  return h("ol", {class: "steps"}, list.map((s) => h("li", {class: "step-card" + (s.passed === false ? " failed" : s.passed === true ? " passed" : "")},
    Object.entries(s).map(([k, v]) => h("div", {class: "kv"}, h("span", {class: "k"}, k), " ",
      typeof v === "string" && v.length > 80 ? SV.text(v) : typeof v === "object" && v !== null ? SV.json(v) : h("span", {class: "v"}, SV.fmt(v)))))));
};

// -- diffs ---------------------------------------------------------------------------------------------
function tokens(s) { return String(s).match(/\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) || []; }

SV.diff = function diff(a, b) {
  let x = tokens(a), y = tokens(b);
  if (x.length * y.length > 4e6) { x = String(a).split(/(?<=\n)/); y = String(b).split(/(?<=\n)/); }
  const n = x.length, m = y.length;
  const dp = Array.from({length: n + 1}, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = h("div", {class: "diff"});
  const put = (kind, text) => {  // runs of the same kind become one node
    const last = out.lastChild;
    if (last && (kind === "same" ? last.nodeType === Node.TEXT_NODE : last.nodeName === kind.toUpperCase())) last.textContent += text;
    else out.appendChild(kind === "same" ? document.createTextNode(text) : h(kind, {}, text));
  };
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { put("same", x[i]); i++; j++; }
    else if (j < m && (i >= n || dp[i][j + 1] >= dp[i + 1][j])) { put("ins", y[j]); j++; }
    else { put("del", x[i]); i++; }
  }
  return out;
};

SV.pair = function pair(row) {
  const side = (which) => h("div", {class: "pair-side " + which},
    h("div", {class: "pair-head"}, which, row[which + "_score"] !== undefined && row[which + "_score"] !== null ? h("span", {class: "badge"}, "score " + SV.fmt(row[which + "_score"])) : null,
      row[which + "_model"] ? h("span", {class: "muted"}, "  " + row[which + "_model"]) : null),
    SV.isMessages(row[which]) ? SV.conversation(row[which]) : SV.text(row[which] ?? ""));
  const box = h("div", {class: "pair"}, h("div", {class: "pair-grid"}, side("chosen"), side("rejected")));
  if (typeof row.chosen === "string" && typeof row.rejected === "string") {
    box.appendChild(h("details", {class: "pair-diff"}, h("summary", {}, "diff: rejected → chosen"), SV.diff(row.rejected, row.chosen)));
  }
  const facts = ["margin", "pair_rule"].filter((k) => row[k] !== undefined && row[k] !== null);
  if (facts.length) box.appendChild(h("div", {class: "muted"}, facts.map((k) => `${k}: ${SV.fmt(row[k])}  `)));
  return box;
};

// -- Markdown (the dataset card) ----------------------------------------------------------------------
function inlineMd(text) {
  const out = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(at, m.index));
    if (m[1] !== undefined) out.push(h("code", {}, m[1]));
    else if (m[2] !== undefined) out.push(h("b", {}, m[2]));
    else out.push(/^https?:/.test(m[4]) ? h("a", {href: m[4], target: "_blank", rel: "noopener"}, m[3]) : h("span", {class: "link-text"}, m[3]));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

SV.markdown = function markdown(md) {
  const box = h("div", {class: "markdown"});
  const lines = String(md).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      const body = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
      box.appendChild(SV.code(body.join("\n"), line.slice(3)));
    } else if (/^#{1,6} /.test(line)) {
      const level = line.match(/^#+/)[0].length;
      box.appendChild(h("h" + Math.min(level + 1, 6), {}, inlineMd(line.slice(level + 1))));
    } else if (line.startsWith("|")) {
      const table = h("table", {class: "grid"});
      for (; i < lines.length && lines[i].startsWith("|"); i++) {
        if (/^\|[\s|:-]+\|$/.test(lines[i])) continue;
        const cells = lines[i].slice(1, -1).split("|").map((c) => c.trim());
        table.appendChild(h("tr", {}, cells.map((c) => h(table.rows.length ? "td" : "th", {}, inlineMd(c)))));
      }
      i--;
      box.appendChild(table);
    } else if (/^\s*[-*] /.test(line)) {
      const ul = h("ul", {});
      for (; i < lines.length && /^\s*[-*] /.test(lines[i]); i++) ul.appendChild(h("li", {}, inlineMd(lines[i].replace(/^\s*[-*] /, ""))));
      i--;
      box.appendChild(ul);
    } else if (line.trim()) box.appendChild(h("p", {}, inlineMd(line)));
  }
  return box;
};

// -- any value of a column ------------------------------------------------------------------------------
const CODE_NAMES = /(^|_)(code|solution|program|tests?|source|snippet|function|script)(_|$)/;

SV.value = function value(key, v) {
  if (v === null || v === undefined) return h("span", {class: "muted"}, "null");
  if (SV.isMessages(v)) return SV.conversation(v);
  if (key === "tools" && Array.isArray(v)) return SV.toolList(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return h("ol", {class: "strings"}, v.map((x) => h("li", {}, x.length > 120 ? SV.text(x) : x)));
  if (SV.isSteps(v)) return SV.steps(v);
  if (typeof v === "object") return SV.json(v);
  if (typeof v === "string") return CODE_NAMES.test(key) && !v.includes("```") ? SV.code(v) : SV.text(v);
  if (typeof v === "boolean") return h("span", {class: "badge " + (v ? "good" : "bad")}, String(v));
  return h("span", {class: "number"}, SV.fmt(v));
};
