// The m3search search page: plain JS against POST /v1/search (explain=true).
"use strict";
const $ = (id) => document.getElementById(id);
const MODES = ["dense", "sparse", "colbert"];

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Sentencepiece/wordpiece pieces to the surface text they came from.
function surface(token) {
  return token.replace(/^▁/, "").replace(/^##/, "").trim();
}

// Wrap the explanation's document tokens in the text: sparse matches and multi-vector alignments.
function highlight(text, explanation) {
  const marks = new Map();
  if (explanation) {
    for (const m of explanation.colbert || []) {
      const t = surface(m.document_token);
      if (t.length > 1 || /[^\x00-\x7f]/.test(t)) marks.set(t, ["colbert", `${m.query_token} → ${m.document_token} ${m.score.toFixed(2)}`]);
    }
    for (const m of explanation.sparse || []) {
      const t = surface(m.document_token);
      if (t) marks.set(t, ["sparse", `lexical ${m.document_token} ${m.score.toFixed(3)}`]);
    }
  }
  let html = escapeHtml(text);
  const pieces = [...marks.keys()].sort((a, b) => b.length - a.length);
  if (!pieces.length) return html;
  const pattern = new RegExp(pieces.map((p) => escapeHtml(p).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  return html.replace(pattern, (found) => {
    const [kind, title] = marks.get(found) || marks.get(found.replace(/&amp;/g, "&")) || ["colbert", ""];
    return `<mark class="${kind}" title="${escapeHtml(title)}">${found}</mark>`;
  });
}

function bars(scores) {
  return MODES.filter((m) => m in scores).map((m) => {
    const width = Math.max(0, Math.min(1, scores[m])) * 100;
    return `<span class="bar ${m}">${m} <span class="track"><span class="fill" style="width:${width}%"></span></span> ${scores[m].toFixed(3)}</span>`;
  }).join("");
}

function alignment(explanation) {
  if (!explanation || !(explanation.colbert || []).length) return "";
  const rows = explanation.colbert.map((m) =>
    `<tr><td>${escapeHtml(m.query_token)}</td><td>→</td><td>${escapeHtml(m.document_token)}</td><td>${m.score.toFixed(2)}</td></tr>`).join("");
  const sparse = (explanation.sparse || []).map((m) => `${escapeHtml(m.document_token)} ${m.score.toFixed(3)}`).join(", ");
  return `<details class="explain"><summary>why it matched</summary>` +
    (sparse ? `<div>lexical: ${sparse}</div>` : "") +
    `<table class="align"><caption>multi-vector: each query token's best document token</caption>${rows}</table></details>`;
}

function render(data) {
  $("results").innerHTML = data.hits.map((hit) => {
    const lang = hit.metadata && hit.metadata.lang ? ` <span class="score">[${escapeHtml(String(hit.metadata.lang))}]</span>` : "";
    return `<li class="hit"><div class="head"><span class="id">${escapeHtml(hit.id)}</span>${lang}` +
      `<span class="score">${hit.score.toFixed(3)}</span></div>` +
      `<div class="bars">${bars(hit.scores)}</div>` +
      `<div class="text">${highlight(hit.text || "", hit.explanation)}</div>${alignment(hit.explanation)}</li>`;
  }).join("");
  $("status").textContent = `${data.hits.length} hits, mode ${data.mode}`;
  $("status").className = "";
}

async function search(event) {
  event.preventDefault();
  const body = { query: $("query").value, k: 10, explain: true };
  if ($("mode").value) body.mode = $("mode").value;
  const langs = $("lang").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (langs.length) body.filter = { lang: langs.length === 1 ? langs[0] : langs };
  const headers = { "Content-Type": "application/json" };
  if ($("key").value) headers.Authorization = `Bearer ${$("key").value}`;
  $("status").textContent = "searching…";
  try {
    const response = await fetch("/v1/search", { method: "POST", headers, body: JSON.stringify(body) });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
    render(data);
  } catch (error) {
    $("results").innerHTML = "";
    $("status").textContent = error.message;
    $("status").className = "error";
  }
}

async function info() {
  try {
    const response = await fetch("/info");
    if (!response.ok) return;
    const data = await response.json();
    const docs = data.index ? `, ${data.index.documents} documents` : ", no index";
    $("info").textContent = `${data.model} · parts ${data.parts.join(", ")}${docs}`;
  } catch (error) { /* the page works without it */ }
}

$("search").addEventListener("submit", search);
info();
