// tidewatch's page: plain JavaScript, no framework, nothing loaded from outside the daemon.
// Three views chosen by the path (`/`, `/containers/WATCHER/NAME`, `/config`); the list's
// filters live in the query string so a view can be bookmarked. Data comes from the daemon's
// JSON API; `/api/events` (server-sent events, read with fetch so the login header goes along)
// says when to fetch again.
"use strict";

const STATUSES = ["update-available", "up-to-date", "skipped", "failed"];
const STATUS_TEXT = {
  "update-available": "Update available", "up-to-date": "Up to date", skipped: "Skipped", failed: "Failed",
  unchecked: "Not checked yet",
};
const KINDS = ["major", "minor", "patch", "prerelease", "digest"];
const AUTH_KEY = "tidewatch.auth";

const state = {
  containers: [],    // GET /api/overview
  loaded: false,
  follow: null,      // {watcher, name, trigger} of an update the page is following
  progress: null,    // {cls, text} shown under the actions of the container page
  plan: null,        // the plan shown before an update is confirmed
  history: [],
  labels: [],
  triggers: [],
  config: null,
};

// ---- small helpers ------------------------------------------------------------------------

/** Builds an element: h("a", {href: "/"}, "text", child). Text is never parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

function when(iso) {
  return h("time", { datetime: iso || "", title: iso ? new Date(iso).toLocaleString() : "" }, ago(iso));
}

function toast(text) {
  const el = h("div", { class: "toast", role: "status" }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 4000);
}

function kindBadge(kind) {
  return kind ? h("span", { class: `badge kind-${kind}`, "data-kind": kind }, kind) : null;
}

function statusBadge(c) {
  return h("span", { class: `badge status-${c.status}`, "data-status": c.status }, STATUS_TEXT[c.status] || c.status);
}

/** How the API is asked about `c`: its name, which an update keeps (the ID changes), unless
 * another watcher has a container of the same name. */
function key(c) {
  const same = state.containers.filter((o) => o.name === c.name).length;
  return encodeURIComponent(same > 1 ? c.id : c.name);
}

function containerPath(c) {
  return `/containers/${encodeURIComponent(c.watcher)}/${encodeURIComponent(c.name)}`;
}

// ---- talking to the daemon ----------------------------------------------------------------

function authHeader() {
  return sessionStorage.getItem(AUTH_KEY);
}

class Refused extends Error {}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const auth = authHeader();
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  for (let attempt = 1; ; attempt++) {
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
      break;
    } catch (err) {
      // The browser drops requests when the machine's network changes (a laptop's Wi-Fi, a
      // Docker host's interfaces coming and going). A read is asked again; an action never.
      if (method !== "GET" || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
  if (response.status === 401 || response.status === 403) {
    throw new Refused(`${response.status}`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || text || response.statusText;
    throw new Error(`${response.status}: ${typeof message === "string" ? message : JSON.stringify(message)}`);
  }
  return data;
}

/** Runs `action` (a call that changes something); on 401 asks for the token and says so. */
async function acting(action) {
  try {
    return await action();
  } catch (err) {
    if (err instanceof Refused) {
      renderAuth();
      askLogin("The daemon refused: this action needs the API token or a login.");
    }
    throw err;
  }
}

// ---- sign in ------------------------------------------------------------------------------

function renderAuth() {
  const button = document.getElementById("auth");
  const signedIn = !!authHeader();
  button.textContent = signedIn ? "Sign out" : "Sign in";
  button.dataset.signedIn = signedIn ? "yes" : "no";
}

function askLogin(why) {
  const dialog = document.getElementById("login");
  document.getElementById("login-why").textContent = why ||
    "Actions need the API token (or a login) of this tidewatch. It is kept for this browser tab only.";
  if (!dialog.open) dialog.showModal();
  document.getElementById("login-token").focus();
}

function setupLogin() {
  const dialog = document.getElementById("login");
  document.getElementById("auth").addEventListener("click", () => {
    if (authHeader()) {
      sessionStorage.removeItem(AUTH_KEY);
      renderAuth();
      toast("Signed out.");
    } else {
      askLogin();
    }
  });
  document.getElementById("login-cancel").addEventListener("click", () => dialog.close("cancel"));
  const signIn = (value) => {
    if (value) sessionStorage.setItem(AUTH_KEY, value);
    for (const id of ["login-token", "login-user", "login-password"]) document.getElementById(id).value = "";
    renderAuth();
    restartEvents();
  };
  document.getElementById("token-form").addEventListener("submit", () => {
    const token = document.getElementById("login-token").value.trim();
    signIn(token ? `Bearer ${token}` : null);
  });
  document.getElementById("login-form").addEventListener("submit", () => {
    const user = document.getElementById("login-user").value;
    const password = document.getElementById("login-password").value;
    const pair = new TextEncoder().encode(`${user}:${password}`);
    signIn(user ? `Basic ${btoa(String.fromCharCode(...pair))}` : null);
  });
  renderAuth();
}

// ---- routing ------------------------------------------------------------------------------

function route() {
  const path = location.pathname;
  const match = path.match(/^\/containers\/([^/]+)\/([^/]+)\/?$/);
  if (match) return { view: "container", watcher: decodeURIComponent(match[1]), name: decodeURIComponent(match[2]) };
  if (path === "/config" || path === "/config/") return { view: "config" };
  return { view: "list" };
}

function go(url) {
  history.pushState(null, "", url);
  state.plan = null;
  state.progress = null;
  show();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", show);

async function show() {
  const r = route();
  document.getElementById("nav-containers").classList.toggle("current", r.view !== "config");
  document.getElementById("nav-config").classList.toggle("current", r.view === "config");
  try {
    if (r.view === "config") {
      await loadConfig();
    } else {
      await loadContainers();
      if (r.view === "container") await loadContainer(r);
    }
  } catch (err) {
    if (err instanceof Refused) {
      askLogin("Reading needs the API token or a login on this tidewatch.");
      render(h("p", { class: "empty" }, "Sign in to see this tidewatch."));
      return;
    }
    render(h("p", { class: "empty" }, `Could not load: ${err.message}. Trying again…`));
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => show(), 5000);
    return;
  }
  draw();
}

function draw() {
  const r = route();
  if (r.view === "config") render(configView());
  else if (r.view === "container") render(containerView(r));
  else render(listView());
}

function render(node) {
  const main = document.getElementById("main");
  // Keep the focus and caret of the search box across a live refresh.
  const active = document.activeElement && document.activeElement.id;
  const caret = active === "q" ? document.activeElement.selectionStart : null;
  main.replaceChildren(node);
  if (active && active !== "main") {
    const again = document.getElementById(active);
    if (again && main.contains(again)) {
      again.focus();
      if (caret !== null) again.setSelectionRange(caret, caret);
    }
  }
}

// ---- the list -----------------------------------------------------------------------------

async function loadContainers() {
  const data = await api("GET", "/api/overview");
  const label = (c) => (c.displayName || c.name).toLowerCase();
  state.containers = (data.containers || []).sort((a, b) => label(a).localeCompare(label(b)) || a.watcher.localeCompare(b.watcher));
  state.loaded = true;
}

function filters() {
  const q = new URLSearchParams(location.search);
  return {
    status: q.get("status") || "", kind: q.get("kind") || "", watcher: q.get("watcher") || "", q: q.get("q") || "",
  };
}

function setFilter(key, value) {
  const q = new URLSearchParams(location.search);
  if (value) q.set(key, value); else q.delete(key);
  const search = q.toString();
  history.replaceState(null, "", search ? `/?${search}` : "/");
  draw();
}

function matches(c, f, ignore) {
  if (f.status && ignore !== "status" && c.status !== f.status) return false;
  if (f.kind && (!c.update || c.update.kind !== f.kind)) return false;
  if (f.watcher && c.watcher !== f.watcher) return false;
  if (f.q) {
    const text = [c.name, c.displayName, c.image, c.watcher, c.currentTag, c.update && c.update.tag, c.reason]
      .filter(Boolean).join(" ").toLowerCase();
    if (!f.q.toLowerCase().split(/\s+/).filter(Boolean).every((word) => text.includes(word))) return false;
  }
  return true;
}

function listView() {
  const f = filters();
  const watchers = [...new Set(state.containers.map((c) => c.watcher))].sort();
  // Counts follow the other filters, so they say what clicking them would show.
  const counted = state.containers.filter((c) => matches(c, f, "status"));
  const counts = Object.fromEntries(STATUSES.map((s) => [s, counted.filter((c) => c.status === s).length]));
  const shown = state.containers.filter((c) => matches(c, f));

  const countChips = h("div", { class: "counts", id: "counts" },
    h("button", {
      type: "button", class: `count${f.status ? "" : " active"}`, "data-count": "all", onclick: () => setFilter("status", ""),
    }, h("b", {}, counted.length), "all"),
    STATUSES.map((s) => h("button", {
      type: "button", class: `count status-${s}${f.status === s ? " active" : ""}`, "data-count": s,
      onclick: () => setFilter("status", f.status === s ? "" : s),
    }, h("b", {}, counts[s]), STATUS_TEXT[s].toLowerCase())));

  const select = (id, label, value, options) => h("select", {
    id, "aria-label": label, onchange: (e) => setFilter(id, e.target.value),
  }, h("option", { value: "" }, label), options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));

  const search = h("input", {
    id: "q", type: "search", placeholder: "Search name, image, tag…", value: f.q, "aria-label": "Search",
    oninput: (e) => setFilter("q", e.target.value),
  });
  const bar = h("div", { class: "filters" }, search,
    select("status", "Any status", f.status, STATUSES.map((s) => [s, STATUS_TEXT[s]])),
    select("kind", "Any kind", f.kind, KINDS.map((k) => [k, k])),
    select("watcher", "Any watcher", f.watcher, watchers.map((w) => [w, w])));

  let body;
  if (!state.containers.length) {
    body = h("p", { class: "empty" }, "No container checked yet. The first check runs when the daemon starts.");
  } else if (!shown.length) {
    body = h("p", { class: "empty" }, "No container matches these filters.");
  } else {
    body = h("table", { class: "list", id: "containers" },
      h("thead", {}, h("tr", {}, ["Container", "Watcher", "Image", "Version", "Status", "Checked", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, shown.map(row)));
  }
  return h("section", {}, h("h1", {}, "Containers"), countChips, bar, h("div", { class: "panel" }, body));
}

function versionCell(c) {
  const current = h("span", { class: "current mono" }, c.currentTag || "—");
  if (!c.update) return h("span", { class: "version" }, current);
  const target = c.update.kind === "digest"
    ? `${c.update.tag}@${(c.update.digest || "").replace("sha256:", "").slice(0, 12)}`
    : c.update.tag;
  return h("span", { class: "version" }, current, h("span", { class: "arrow" }, "→"),
    h("span", { class: "new mono" }, target), " ", kindBadge(c.update.kind));
}

function row(c) {
  const link = c.update && c.update.link;
  return h("tr", { "data-container": c.name, "data-watcher": c.watcher, "data-status": c.status, "data-kind": c.update ? c.update.kind : "" },
    h("td", { class: "name", "data-label": "Container" },
      h("a", { href: containerPath(c), "data-nav": true }, c.displayName || c.name),
      c.displayName && c.displayName !== c.name ? h("span", { class: "sub" }, c.name) : null),
    h("td", { "data-label": "Watcher" }, c.watcher),
    h("td", { class: "mono", "data-label": "Image" }, c.imageName || c.image),
    h("td", { "data-label": "Version" }, versionCell(c)),
    h("td", { "data-label": "Status" }, statusBadge(c), c.reason ? h("span", { class: "reason" }, c.reason) : null),
    h("td", { "data-label": "Checked" }, when(c.checkedAt)),
    h("td", {}, link ? h("a", { href: link, rel: "noopener noreferrer", target: "_blank", class: "notes" }, "Release notes") : null));
}

// ---- one container ------------------------------------------------------------------------

function findContainer(r) {
  return state.containers.find((c) => c.watcher === r.watcher && c.name === r.name);
}

async function loadContainer(r) {
  const c = findContainer(r);
  if (!c) return;
  const id = key(c);
  const [history, labels, triggers] = await Promise.all([
    api("GET", `/api/containers/${id}/history`),
    api("GET", `/api/containers/${id}/labels`),
    api("GET", `/api/containers/${id}/triggers`).catch((err) => {
      if (err instanceof Refused) throw err;
      return [];
    }),
  ]);
  state.history = history || [];
  state.labels = labels || [];
  state.triggers = Array.isArray(triggers) ? triggers : [];
}

function containerView(r) {
  const c = findContainer(r);
  if (!c) {
    return h("section", {}, h("h1", {}, r.name),
      h("p", { class: "empty" }, `No container ${r.name} on watcher ${r.watcher}. `, h("a", { href: "/", "data-nav": true }, "Back to the list")));
  }
  const facts = h("dl", { class: "grid" },
    h("dt", {}, "Status"), h("dd", {}, statusBadge(c), c.reason ? h("span", { class: "reason" }, c.reason) : null),
    h("dt", {}, "Version"), h("dd", { id: "version" }, versionCell(c)),
    h("dt", {}, "Image"), h("dd", { class: "mono" }, c.image),
    h("dt", {}, "Watcher"), h("dd", {}, c.watcher),
    h("dt", {}, "Container"), h("dd", { class: "mono" }, `${c.name} · ${c.id.slice(0, 12)}${c.state ? ` · ${c.state}` : ""}`),
    h("dt", {}, "Last checked"), h("dd", {}, when(c.checkedAt)),
    c.update && c.update.link ? [h("dt", {}, "Release notes"), h("dd", {}, h("a", { href: c.update.link, rel: "noopener noreferrer", target: "_blank" }, c.update.link))] : null);

  // A rollback needs an update in the history to undo; a hold, an update to hold back.
  const updated = state.history.some((e) => e.event === "update-applied" || e.event === "rollback-applied");
  const actions = h("div", { class: "actions" },
    h("button", { type: "button", id: "check-now", class: "ghost", onclick: () => checkNow(c) }, "Check now"),
    state.triggers.map((t) => triggerButton(c, t)),
    updated ? h("button", { type: "button", id: "rollback", class: "ghost", disabled: !!state.follow, onclick: () => holdAction(c, "rollback", `Rolling ${c.name} back…`) }, "Roll back") : null,
    c.status === "held"
      ? h("button", { type: "button", id: "release", class: "ghost", onclick: () => holdAction(c, "release", `Releasing ${c.name}…`) }, "Release hold")
      : c.update ? h("button", { type: "button", id: "hold", class: "ghost", onclick: () => holdAction(c, "hold", `Holding ${c.name}'s updates…`) }, "Hold updates") : null);

  const panel = h("div", { class: "panel", id: "actions" }, facts, actions,
    state.plan ? planView(c) : null,
    state.progress ? h("div", { class: `progress ${state.progress.cls}`, id: "progress", role: "status" }, state.progress.text) : null);

  const labels = state.labels.length
    ? h("table", { id: "labels" }, h("thead", {}, h("tr", {}, h("th", {}, "Label"), h("th", {}, "Value"), h("th", {}, "Meaning"))),
      h("tbody", {}, state.labels.map((l) => h("tr", {}, h("td", { class: "mono" }, l.label), h("td", { class: "mono" }, l.value), h("td", {}, l.meaning)))))
    : h("p", { class: "empty" }, "No label tidewatch reads is set: the watcher's defaults apply.");

  const history = state.history.length
    ? h("table", { id: "history" }, h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Event"), h("th", {}, "Detail"))),
      h("tbody", {}, [...state.history].reverse().map((e) => h("tr", {},
        h("td", {}, when(e.at)), h("td", { class: `event-${e.event}` }, e.event), h("td", {}, e.detail)))))
    : h("p", { class: "empty" }, "Nothing recorded yet.");

  return h("section", {},
    h("p", {}, h("a", { href: "/", "data-nav": true }, "← All containers")),
    h("h1", {}, c.displayName || c.name),
    panel,
    h("h2", {}, "Triggers that apply"),
    h("div", { class: "panel" }, state.triggers.length
      ? h("ul", { id: "triggers" }, state.triggers.map((t) => h("li", {}, h("code", {}, `${t.type}.${t.name}`))))
      : h("p", { class: "empty" }, "No trigger applies to this container: it is only watched.")),
    h("h2", {}, "Labels"), h("div", { class: "panel" }, labels),
    h("h2", {}, "History"), h("div", { class: "panel" }, history));
}

function triggerButton(c, t) {
  const kind = t.type;
  if (kind === "docker") {
    return h("button", {
      type: "button", id: `trigger-${t.type}-${t.name}`, "data-trigger": `${t.type}.${t.name}`,
      disabled: !c.update || !!state.follow, onclick: () => showPlan(c, t),
    }, t.name === "local" ? "Update…" : `Update with ${t.name}…`);
  }
  const label = kind === "compose" ? `Rewrite compose file (${t.name})` : `Notify ${t.type}.${t.name}`;
  return h("button", {
    type: "button", class: "ghost", id: `trigger-${t.type}-${t.name}`, "data-trigger": `${t.type}.${t.name}`,
    disabled: !c.update || !!state.follow, onclick: () => runTrigger(c, t),
  }, label);
}

function planView(c) {
  const plan = state.plan;
  return h("div", { class: "plan", id: "plan" },
    h("strong", {}, "Plan"),
    h("ul", {}, (plan.lines || []).map((line) => h("li", {}, line))),
    h("button", { type: "button", id: "apply", disabled: !plan.applicable || !!state.follow, onclick: () => runTrigger(c, plan.trigger) }, "Apply update"),
    " ",
    h("button", { type: "button", class: "ghost", onclick: () => { state.plan = null; draw(); } }, "Cancel"));
}

async function checkNow(c) {
  try {
    await acting(() => api("POST", `/api/containers/${key(c)}/watch`));
    toast("Checked.");
    await show();
  } catch (err) {
    if (!(err instanceof Refused)) toast(`Check failed: ${err.message}`);
  }
}

/** Roll back, hold or release (tidewatch's own routes): the answer's lines are shown, then
 * the container's page is read again. */
async function holdAction(c, action, running) {
  state.progress = { cls: "running", text: running };
  draw();
  try {
    const done = await acting(() => api("POST", `/api/containers/${key(c)}/${action}`));
    state.progress = { cls: "applied", text: ((done && done.lines) || []).join(" ") || "Done." };
  } catch (err) {
    state.progress = err instanceof Refused
      ? { cls: "refused", text: "Refused: sign in with the API token to do this." }
      : { cls: "failed", text: `Failed: ${err.message}` };
  }
  const progress = state.progress;
  await show();
  state.progress = progress;
  draw();
}

async function showPlan(c, t) {
  try {
    const plan = await api("GET", `/api/containers/${key(c)}/plan?trigger=${encodeURIComponent(`${t.type}.${t.name}`)}`);
    state.plan = { ...plan, trigger: t };
    state.progress = null;
    draw();
  } catch (err) {
    if (err instanceof Refused) askLogin("Reading the plan needs the API token or a login.");
    else toast(`No plan: ${err.message}`);
  }
}

async function runTrigger(c, t) {
  state.follow = { watcher: c.watcher, name: c.name, trigger: `${t.type}.${t.name}`, docker: t.type === "docker" };
  state.progress = { cls: "running", text: t.type === "docker" ? `Updating ${c.name}…` : `Running ${t.type}.${t.name}…` };
  draw();
  try {
    await acting(() => api("POST", `/api/containers/${key(c)}/triggers/${encodeURIComponent(t.type)}/${encodeURIComponent(t.name)}`));
    // The run answered; for an update, the event (or the list) says how it ended.
    if (!state.follow || !state.follow.docker) finish("applied", `${t.type}.${t.name} ran.`);
    else await settleFromList();
  } catch (err) {
    if (err instanceof Refused) finish("refused", "Refused: sign in with the API token to run this.");
    else finish("failed", `Failed: ${err.message}`);
  }
}

/** After the trigger's request returned, the list tells whether the container moved. */
async function settleFromList() {
  const f = state.follow;
  if (!f) return;
  const before = findContainer(f);
  await loadContainers();
  const after = findContainer(f);
  if (state.follow && after && before && (after.id !== before.id || !after.update)) {
    finish("applied", `Applied: ${after.name} runs ${after.currentTag}.`);
  }
}

function finish(cls, text) {
  state.follow = null;
  state.plan = null;
  state.progress = { cls, text };
  show();
}

// ---- live ---------------------------------------------------------------------------------

let events = null;
let refreshTimer = null;

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => show(), 250);
}

function onEvent(kind, data) {
  const f = state.follow;
  if (f && data && data.watcher === f.watcher && data.name === f.name) {
    if (kind === "update-applied") finish("applied", `Applied: ${data.name} now runs ${data.detail || "the new image"}.`);
    else if (kind === "rolled-back") finish("rolled-back", `Rolled back: ${data.detail || "the new container failed"}.`);
    else if (kind === "update-failed") finish("failed", `Failed: ${data.detail || "see the history"}.`);
    else if (kind === "update-skipped") finish("failed", `Skipped: ${data.detail || ""}`);
  }
  if (kind !== "hello") refreshSoon();
}

function restartEvents() {
  if (events) events.abort();
  events = new AbortController();
  streamEvents(events.signal, 1000);
}

async function streamEvents(signal, backoff) {
  const live = document.getElementById("live");
  try {
    const headers = { Accept: "text/event-stream" };
    const auth = authHeader();
    if (auth) headers.Authorization = auth;
    const response = await fetch("/api/events", { headers, signal });
    if (!response.ok || !response.body) throw new Error(`${response.status}`);
    live.classList.add("on");
    live.title = "Live: the page refreshes itself";
    backoff = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        let parsed = null;
        try { parsed = data ? JSON.parse(data) : null; } catch (_) { parsed = null; }
        onEvent(kind, parsed);
      }
    }
  } catch (_) {
    if (signal.aborted) return;
  }
  live.classList.remove("on");
  live.title = "Not live: reconnecting";
  if (signal.aborted) return;
  setTimeout(() => streamEvents(signal, Math.min(backoff * 2, 30000)), backoff);
}

// ---- configuration ------------------------------------------------------------------------

async function loadConfig() {
  state.config = await api("GET", "/api/config");
}

function configView() {
  const entries = (state.config && state.config.entries) || [];
  const groups = [
    ["Watchers", (k) => k.startsWith("watcher.")],
    ["Registries", (k) => k.startsWith("registry.")],
    ["Triggers", (k) => k.startsWith("trigger.")],
    ["Everything else", () => true],
  ];
  const seen = new Set();
  const sections = groups.map(([title, test]) => {
    const mine = entries.filter((e) => !seen.has(e.key) && test(e.key));
    mine.forEach((e) => seen.add(e.key));
    if (!mine.length) return null;
    return [h("h2", {}, title), h("div", { class: "panel" }, h("table", { class: "config-group" },
      h("thead", {}, h("tr", {}, h("th", {}, "Setting"), h("th", {}, "Value"), h("th", {}, "Set by"))),
      h("tbody", {}, mine.map((e) => h("tr", { "data-key": e.key },
        h("td", { class: "mono" }, e.key), h("td", { class: "mono" }, e.value), h("td", { class: "origin mono" }, e.origin))))))];
  });
  return h("section", {}, h("h1", {}, "Configuration"),
    h("p", { class: "muted" }, "What tidewatch runs with (as ", h("code", {}, "tidewatch config"), " prints it): secrets are masked; the last column names the variable or file that set each value."),
    sections);
}

// ---- start --------------------------------------------------------------------------------

setupLogin();
show();
restartEvents();
// A page left (or kept in the back-forward cache) gives its event stream back: browsers allow
// six connections to a host, and streams of pages no one sees would starve the others.
window.addEventListener("pagehide", () => { if (events) events.abort(); });
window.addEventListener("pageshow", (event) => {
  if (event.persisted) { restartEvents(); show(); }
});
// Relative times ("2 min ago") stay true without a reload.
setInterval(() => { if (route().view !== "config" && !document.getElementById("login").open) draw(); }, 60000);
