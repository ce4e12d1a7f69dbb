// The m3search search page: plain JS against POST /v1/search (explain=true).
"use strict";
const $ = (id) => document.getElementById(id);
const MODES = ["dense", "sparse", "colbert"];

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Which document tokens to mark in the text: whole words (sentencepiece "▁" pieces, or any piece
// in scripts written without spaces: Chinese, Japanese, Thai, ...), and inner pieces of three or more
// letters; never a short inner piece like "er", which would light up half the text.
const NO_SPACES = /[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/;
function markable(token) {
  const word = token.startsWith("▁");
  const text = token.replace(/^▁/, "").trim();
  if (!text || token === "</s>" || token === "[SEP]") return null;
  if (NO_SPACES.test(text)) return { text, word: false };
  if (word) return text.length > 1 ? { text, word: true } : null;
  return text.length > 2 ? { text, word: false } : null;
}

// Wrap the explanation's document tokens in the text: sparse matches and multi-vector alignments.
function highlight(text, explanation) {
  const marks = new Map();
  const add = (token, kind, title) => {
    const piece = markable(token);
    if (piece && !marks.has(piece.text)) marks.set(piece.text, { kind, title, word: piece.word });
  };
  if (explanation) {
    for (const m of explanation.sparse || []) add(m.document_token, "sparse", `lexical ${m.document_token} ${m.score.toFixed(3)}`);
    for (const m of explanation.colbert || []) add(m.document_token, "colbert", `${m.query_token} → ${m.document_token} ${m.score.toFixed(2)}`);
  }
  if (!marks.size) return escapeHtml(text);
  const quote = (p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pieces = [...marks.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(pieces.map((p) => (marks.get(p).word ? "(?<![\\p{L}\\p{N}])" : "") + quote(p)).join("|"), "gu");
  let html = "", last = 0;
  for (const found of text.matchAll(pattern)) {
    const mark = marks.get(found[0]);
    html += escapeHtml(text.slice(last, found.index)) +
      `<mark class="${mark.kind}" title="${escapeHtml(mark.title)}">${escapeHtml(found[0])}</mark>`;
    last = found.index + found[0].length;
  }
  return html + escapeHtml(text.slice(last));
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
