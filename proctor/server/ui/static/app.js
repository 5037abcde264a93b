/* Proctor's UI script: live panels, actions that call the JSON API, the run-now form, logs.
   Everything shown from the server's data is set with textContent or comes as server-escaped
   HTML, so a log line or a name can never run as script. */
"use strict";

const LEVELS = { 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL" };

/* Headers of a change asked of the API: JSON, and the session's CSRF token when the server has
   a key (the page carries it in <meta name="proctor-csrf">; without it a change made with the
   session cookie is refused). */
function changeHeaders() {
  const headers = { "Content-Type": "application/json" };
  const meta = document.querySelector('meta[name="proctor-csrf"]');
  if (meta) headers["X-Proctor-CSRF"] = meta.content;
  return headers;
}

async function apiError(response) {
  try {
    const body = await response.json();
    const detail = body.detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d.loc ? d.loc.join(".") + ": " : "") + (d.msg || JSON.stringify(d))).join("\n");
    }
    return typeof detail === "string" ? detail : JSON.stringify(body);
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

/* -- live panels: an element with data-refresh is replaced by a fresh copy every data-every ms */
function startRefresh(element) {
  const every = parseInt(element.dataset.every || "0", 10);
  if (!every || !element.id) return;
  const id = element.id;
  const timer = setInterval(async () => {
    if (document.hidden) return;
    const current = document.getElementById(id);
    if (!current) { clearInterval(timer); return; }
    try {
      const response = await fetch(current.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById(id);
      if (!fresh) return;
      current.replaceWith(fresh);
      if (!parseInt(fresh.dataset.every || "0", 10)) clearInterval(timer);
    } catch (e) { /* the server may be restarting: try again at the next tick */ }
  }, every);
}

/* -- buttons that POST to the API (cancel, pause, resume) ------------------------------------ */
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  const response = await fetch(button.dataset.action, { method: "POST", credentials: "same-origin", headers: changeHeaders(), body: "{}" });
  if (response.ok) { window.location.reload(); return; }
  button.disabled = false;
  window.alert(await apiError(response));
});

/* -- run now: a form built from the flow's parameters ---------------------------------------- */
function readParameters(form) {
  const values = {};
  const problems = [];
  for (const input of form.querySelectorAll("input[name]")) {
    const name = input.name;
    const kind = input.dataset.kind;
    const raw = input.value.trim();
    if (kind === "bool") { values[name] = input.checked; continue; }
    if (raw === "") {
      if (input.dataset.required) problems.push(name + ": required");
      continue;
    }
    if (kind === "int") {
      if (!/^-?\d+$/.test(raw)) { problems.push(name + ": expected a whole number, got " + JSON.stringify(raw)); continue; }
      values[name] = parseInt(raw, 10);
    } else if (kind === "float") {
      const number = Number(raw);
      if (!Number.isFinite(number)) { problems.push(name + ": expected a number, got " + JSON.stringify(raw)); continue; }
      values[name] = number;
    } else if (kind === "json") {
      try { values[name] = JSON.parse(raw); } catch (e) { problems.push(name + ": not valid JSON (" + e.message + ")"); }
    } else {
      values[name] = input.value;
    }
  }
  return { values, problems };
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.run-now");
  if (!form) return;
  event.preventDefault();
  const message = form.querySelector(".form-error");
  const { values, problems } = readParameters(form);
  message.hidden = true;
  if (problems.length) { message.textContent = problems.join("\n"); message.hidden = false; return; }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const response = await fetch("/api/deployments/" + form.dataset.deployment + "/runs", {
    method: "POST", credentials: "same-origin", headers: changeHeaders(),
    body: JSON.stringify({ parameters: values }),
  });
  button.disabled = false;
  if (response.ok) {
    const run = await response.json();
    window.location.href = "/runs/" + run.id;
    return;
  }
  message.textContent = await apiError(response);
  message.hidden = false;
});

/* -- logs: level filter, search, live tail ---------------------------------------------------- */
function formatTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function logLine(line) {
  const row = document.createElement("div");
  row.className = "log-line l" + line.level;
  row.dataset.id = line.id;
  row.dataset.seq = line.seq;
  row.dataset.ts = line.timestamp;
  const parts = [["ts", formatTime(line.timestamp)], ["lvl", LEVELS[line.level] || String(line.level)], ["msg", line.message]];
  parts.forEach(([cls, text], i) => {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    row.appendChild(span);
    if (i < parts.length - 1) row.appendChild(document.createTextNode(" "));
  });
  return row;
}

/* The panel shows lines in time order, but they reach the server out of that order (a batch
   holds lines of several tasks, an outbox delivers old lines late). So the tail asks for the
   lines stored after a cursor (the server's after_seq / next_after_seq): it misses none and
   remembers nothing but the cursor. Each new line is put at its place in time; the panel keeps
   the latest MAX_LOG_LINES lines. */
const MAX_LOG_LINES = 5000;

function insertByTime(box, row) {
  const ts = parseFloat(row.dataset.ts);
  const rows = box.children;
  if (!rows.length || parseFloat(rows[rows.length - 1].dataset.ts) <= ts) { box.appendChild(row); return; }
  let low = 0, high = rows.length;  // the first row stamped later than this one
  while (low < high) {
    const mid = (low + high) >> 1;
    if (parseFloat(rows[mid].dataset.ts) <= ts) low = mid + 1; else high = mid;
  }
  box.insertBefore(row, rows[low]);
}

function startLogs(panel) {
  const box = panel.querySelector(".log-lines");
  const note = panel.querySelector(".log-note");
  const form = panel.querySelector(".log-filters");
  let cursor = parseInt(panel.dataset.afterSeq || "0", 10) || 0;
  let finished = panel.dataset.finished === "true";
  let generation = 0;  // a reload starts a new one: answers to older requests are dropped
  let busy = false;

  const query = (extra) => {
    const params = new URLSearchParams();
    if (form.level.value) params.set("level", form.level.value);
    if (form.search.value.trim()) params.set("search", form.search.value.trim());
    for (const [k, v] of Object.entries(extra || {})) params.set(k, v);
    return "/runs/" + panel.dataset.run + "/logs?" + params.toString();
  };
  const add = (lines) => {
    const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    for (const line of lines) insertByTime(box, logLine(line));
    let dropped = false;
    while (box.childElementCount > MAX_LOG_LINES) { box.firstElementChild.remove(); dropped = true; }
    if (dropped) note.textContent = "The earliest lines are no longer shown: the panel keeps the latest " + MAX_LOG_LINES + ".";
    if (stick || form.follow.checked) box.scrollTop = box.scrollHeight;
    return dropped;
  };
  const reload = async () => {
    const mine = ++generation;
    const response = await fetch(query({ after_seq: 0 }), { credentials: "same-origin" });
    if (mine !== generation) return;
    if (!response.ok) { note.textContent = await apiError(response); return; }
    const body = await response.json();
    if (mine !== generation) return;
    box.replaceChildren();
    cursor = body.next_after_seq;
    note.textContent = body.lines.length ? "" : "No log line matches.";
    add(body.lines);
  };
  let pending;
  form.addEventListener("submit", (event) => { event.preventDefault(); reload(); });
  form.addEventListener("input", (event) => {
    if (event.target.name === "follow") return;
    clearTimeout(pending);
    pending = setTimeout(reload, 250);
  });
  const tail = async () => {
    if (busy || !form.follow.checked || document.hidden) return;
    busy = true;
    const mine = generation;
    let again = false;
    try {
      const response = await fetch(query({ after_seq: cursor }), { credentials: "same-origin" });
      if (response.ok && mine === generation) {
        const body = await response.json();
        if (mine === generation) {
          const moved = body.next_after_seq !== cursor;
          cursor = body.next_after_seq;
          if (!add(body.lines) && body.lines.length) note.textContent = "";
          if (moved) {
            again = true;  // more may be stored already
          } else if (body.finished) {
            if (finished) form.follow.checked = false;  // one more pass after the end, then stop
            finished = true;
          }
        }
      }
    } catch (e) { /* try again later */ }
    busy = false;
    if (again) setTimeout(tail, 0);
  };
  setInterval(tail, 1500);
  if (form.follow.checked) box.scrollTop = box.scrollHeight;
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh]").forEach(startRefresh);
  const logs = document.getElementById("logs");
  if (logs) startLogs(logs);
});
