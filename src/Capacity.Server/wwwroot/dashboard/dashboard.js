// The Capacity dashboard: plain browser JavaScript, no build step. It signs in with a tenant key,
// lists the tenant's events, follows the newest one at once, and shows it live through
// GET /events/{id}/capacity/stream. fetch() reads the stream instead of EventSource because
// EventSource cannot send an Authorization header, and putting the key in the URL would leak it into
// logs. Above the capacities, sales charts drawn from GET /events/{id}/stats; each capacity shows
// where it stands for sale, its sale rules, waiting list, buyer limits and allocations, with the
// organiser's actions on it; the event's reservations are listed below, with release, confirm and
// cancel on each row. A key with the read scope sees all of it, with every action disabled.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
let key = sessionStorage.getItem("capacity.key");
// The key the page signed in with, once the server took it; null while signing in or signed out.
let acceptedKey = null;
// What the key may do, from GET /credential: "read", "write" or "elevated".
let scope = "write";
let streamAbort = null;
let currentEvent = null;
let lastSnapshot = null;
let lastLimits = null;
let limitsTimer = null;

// Buyer limits are not in the snapshot and change rarely, so the panel re-reads them on a slow timer.
const LIMITS_REFRESH_MS = 10000;

// The stream is tried again after a failure (the network, a server restarting or overloaded) 1 s
// later, then 2, 4 … up to 30 s, and after 1 s again once a stream has brought a snapshot: a server
// down for minutes sees one try every 30 s from each open tab, not one a second.
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

// Until when the server asked to be left alone (429 with Retry-After): the timers skip their reads
// until then, and the stream waits as long before its next try.
let quietUntil = 0;

// The reservations list is read when asked for (event opened, a filter, Refresh, Load more), never
// on the stream's beat: a busy event sends a snapshot up to every 250 ms, and while one poller serves
// every viewer of the stream, each list read is a store query of its own viewer's.
// ?page_size=N on the dashboard's URL sets the page (1..1000, default 50).
const RESERVATIONS_PAGE = pageSize(new URLSearchParams(location.search).get("page_size"));
let reservationsQuery = null;
let reservationsNext = null;
let reservationsGeneration = 0;
const shownReservations = new Map();
let shownNames = "";

// The sales figures are read again when the stream reports a change, at most every STATS_THROTTLE_MS
// (a busy event changes every 250 ms, and each read sums the ledger over the period), and every
// STATS_REFRESH_MS besides, so that the charts' time axis moves on while nothing sells.
const STATS_THROTTLE_MS = 2000;
const STATS_REFRESH_MS = 30000;
const STATS_RANGES = {
  hour: { bucket: "1m", minutes: 60 },
  "six-hours": { bucket: "5m", minutes: 360 },
  "two-days": { bucket: "1h", minutes: 2880 },
  month: { bucket: "1d", minutes: 43200 },
};
const BUCKETS = {
  "1m": { ms: 60000, per: "minute" },
  "5m": { ms: 300000, per: "5 minutes" },
  "1h": { ms: 3600000, per: "hour" },
  "1d": { ms: 86400000, per: "day" },
};
let lastStats = null;
let levelsDrawnFor = null;
let statsTimer = null;
let statsPending = null;
let statsReadAt = 0;
let statsSequence = 0;

function pageSize(text) {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
}

// ---------------------------------------------------------------------------------------------
// Talking to the API

async function api(path, { method = "GET", headers = {}, body } = {}) {
  const sentWith = key;
  const init = { method, headers: { ...headers, Authorization: `Bearer ${sentWith}` } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await refusal(response, sentWith);
  return response.json();
}

// A refused request's problem, after acting on what it says of the page as a whole: the key is no
// longer accepted (sign out), or the server asks for a pause (429 with Retry-After).
async function refusal(response, sentWith) {
  const error = await problemOf(response);
  if (error.retryAfterMs !== null) quietUntil = Math.max(quietUntil, Date.now() + error.retryAfterMs);
  // An answer to a key the page no longer uses (one from before a sign-in) says nothing of the new one.
  if (keyRefused(error) && acceptedKey !== null && sentWith === acceptedKey) signOutRefused(error);
  return error;
}

// The key itself is refused (401: unknown, revoked or expired; 403 TENANT_DISABLED), not what it asked
// for: every later request with it is refused too, and each refusal counts against the server's budget
// of refused credentials per client address (Auth:FailedAttemptsPerMinute), past which new keys from
// the same address are refused as well. A forgotten tab must not lock an office out: the page stops.
function keyRefused(error) {
  return error.status === 401 || (error.status === 403 && error.code === "TENANT_DISABLED");
}

// An RFC 9457 problem as an Error. Its message is the detail, which the panels show in a sentence; the
// action dialog shows the title, the detail, the code and the fields' errors apart.
async function problemOf(response) {
  const problem = await response.json().catch(() => ({}));
  const error = new Error(problem.detail || problem.title || `${response.status} ${response.statusText}`);
  error.status = response.status;
  error.title = problem.title ?? null;
  error.detail = problem.detail ?? null;
  error.code = problem.code ?? null;
  error.errors = problem.errors ?? null;
  error.retryAfterMs = response.status === 429 ? retryAfterMs(response.headers.get("Retry-After")) : null;
  return error;
}

// Retry-After in seconds, or as an HTTP date; null when absent or unreadable.
function retryAfterMs(text) {
  if (text === null) return null;
  const seconds = Number(text);
  if (text.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

// Every write carries an Idempotency-Key, so that it takes effect once however often it is sent. Each
// action of the user gets a fresh key. The same request sent again while its first outcome is unknown
// (no answer at all, a 5xx, a 429 from before it ran, IDEMPOTENCY_IN_PROGRESS) reuses its key, so a
// retry after a dropped connection cannot apply twice. Any other answer settles it: a refusal is
// recorded with its key and would only be replayed, so trying again after the situation changed (a
// hold released, a smaller size) needs a new key, and a changed request gets one anyway.
const unsettledWrites = new Map();

async function write(method, path, body) {
  const request = `${method} ${path} ${JSON.stringify(body ?? null)}`;
  const idempotency = unsettledWrites.get(request) ?? idempotencyKey();
  unsettledWrites.set(request, idempotency);
  try {
    const answer = await api(path, { method, body, headers: { "Idempotency-Key": idempotency } });
    unsettledWrites.delete(request);
    return answer;
  } catch (error) {
    if (settled(error)) unsettledWrites.delete(request);
    throw error;
  }
}

function settled(error) {
  return error.status !== undefined && error.status < 500 && error.status !== 429 && error.code !== "IDEMPOTENCY_IN_PROGRESS";
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a dashboard opened over plain
// http on another host still needs a key, and getRandomValues works everywhere.
function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// Signing in, the key's scope, the events

async function signIn(candidate) {
  key = candidate;
  try {
    const list = await api("/events");
    scope = await credentialScope();
    acceptedKey = key;
    sessionStorage.setItem("capacity.key", key);
    $("sign-in").hidden = true;
    $("main").hidden = false;
    $("sign-out").hidden = false;
    setStatus("signed-in", "signed in");
    showScope();
    renderEvents(list.events);
    // An organiser opens the dashboard to watch what is selling now: the newest event is followed at once.
    const newest = newestEvent(list.events);
    if (newest) follow(newest);
  } catch (error) {
    key = null;
    sessionStorage.removeItem("capacity.key");
    $("sign-in-error").textContent = error.status === 401 ? "That key was not accepted." : `Could not sign in: ${error.message}`;
  }
}

// A server from before GET /credential answers 404: the dashboard then offers every action, and the
// server refuses those the key may not take, with the reason shown in the action's dialog.
async function credentialScope() {
  try {
    return (await api("/credential")).scope;
  } catch (error) {
    if (error.status === 404) return "write";
    throw error;
  }
}

function canWrite() {
  return scope !== "read";
}

function showScope() {
  const readOnly = !canWrite();
  $("scope").hidden = !readOnly;
  $("scope").dataset.scope = scope;
  $("scope").textContent = "read-only key";
  $("read-only").hidden = !readOnly;
  for (const control of document.querySelectorAll("[data-write]")) writeControl(control);
}

// Marks a control as a write: for a read key it is disabled, and points at the note that says why.
function writeControl(control) {
  control.dataset.write = "";
  if (!canWrite()) {
    control.disabled = true;
    control.setAttribute("aria-describedby", "read-only");
  }
  return control;
}

function signOut() {
  if (streamAbort) streamAbort.abort();
  clearInterval(limitsTimer);
  clearInterval(statsTimer);
  clearTimeout(statsPending);
  acceptedKey = null;
  sessionStorage.removeItem("capacity.key");
  location.reload();
}

// Signs out as the button does, so that nothing is left to ask again, and says why on the sign-in form
// the reload brings (the problem's detail: revoked, expired, the tenant disabled).
function signOutRefused(error) {
  sessionStorage.setItem("capacity.signed-out", `Signed out: the key is no longer accepted. ${error.detail ?? `(${error.status})`}`);
  signOut();
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

// The events list is oldest first; the newest is the one created last (the later of two equal times).
function newestEvent(events) {
  let newest = null;
  for (const e of events) if (newest === null || Date.parse(e.created_at) >= Date.parse(newest.created_at)) newest = e;
  return newest?.event_id ?? null;
}

function renderEvents(events) {
  const list = $("events");
  list.replaceChildren(...events.map((e) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${e.event_id} (${e.capacities})`;
    button.dataset.eventId = e.event_id;
    button.setAttribute("aria-current", String(e.event_id === currentEvent));
    button.addEventListener("click", () => follow(e.event_id));
    item.append(button);
    return item;
  }));
  if (events.length === 0) list.innerHTML = "<li class=\"hint\">No events yet: create a capacity to start one.</li>";
}

// Reads the events again (a capacity was created, perhaps in a new event) and follows the one named.
async function refreshEvents(eventId) {
  const list = await api("/events");
  renderEvents(list.events);
  if (eventId !== currentEvent) follow(eventId);
}

// ---------------------------------------------------------------------------------------------
// Following an event live

async function follow(eventId) {
  if (streamAbort) streamAbort.abort();
  currentEvent = eventId;
  lastSnapshot = null;
  for (const b of document.querySelectorAll("#events button")) b.setAttribute("aria-current", String(b.dataset.eventId === eventId));
  $("event").hidden = false;
  $("event-title").textContent = eventId;
  $("action-result").textContent = "";
  $("tree").replaceChildren();
  $("expiring").tBodies[0].replaceChildren();
  // Until this event's first snapshot, "live" would be the previous event's.
  setStatus("connecting", "connecting…");
  followLimits(eventId);
  followStats();
  loadReservations();
  const abort = new AbortController();
  streamAbort = abort;
  let failures = 0;
  while (!abort.signal.aborted) {
    let retryAfter = null;
    try {
      await readStream(eventId, abort.signal, () => { failures = 0; });
    } catch (error) {
      // Aborted: another event is followed, or the page signed out (a refused key aborts it too).
      if (abort.signal.aborted) return;
      retryAfter = error.retryAfterMs ?? null;
    }
    // The stream dropped or was not opened (server restart, network, overload): say so and try again,
    // after as long as a 429 asks, else after a wait that grows with each failure in a row.
    const wait = retryAfter ?? Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures);
    failures++;
    setStatus("reconnecting", `reconnecting in ${Math.ceil(wait / 1000)} s…`);
    await sleep(wait, abort.signal);
    // While the next try is under way the countdown is over: say so rather than leave "in 30 s…" up
    // (two waits of 30 s in a row would otherwise read as one).
    if (!abort.signal.aborted) setStatus("connecting", "connecting…");
  }
}

// Resolves after ms, or at once when the signal aborts.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

// Reads the stream until it ends; throws the problem when it cannot be opened. received() is called
// for each snapshot, which shows the stream works.
async function readStream(eventId, signal, received) {
  const sentWith = key;
  const response = await fetch(`/events/${enc(eventId)}/capacity/stream`, {
    headers: { Authorization: `Bearer ${sentWith}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw await refusal(response, sentWith);
  setStatus("live", "live");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trimStart()]));
      if (fields.event !== "snapshot") continue;
      received();
      if (currentEvent === eventId) render(JSON.parse(fields.data));
    }
  }
}

function render(snapshot) {
  const first = lastSnapshot === null;
  lastSnapshot = snapshot;
  const t = snapshot.totals;
  $("total-capacity").textContent = t.has_unlimited ? `${t.total_capacity} + unlimited` : t.total_capacity;
  $("total-sold").textContent = t.sold_count;
  $("total-reserved").textContent = t.reserved_capacity;
  $("total-available").textContent = t.available_capacity;
  $("active-holds").textContent = snapshot.holds.active;
  renderTree();
  renderExpiring();
  // Section names may have changed or arrived after the limits and the reservations did.
  renderLimits();
  renameReservationItems();
  // The available band of the levels chart is the event's total now, less what each bucket held and sold.
  if (lastStats && levelsDrawnFor !== t.total_capacity) drawLevels();
  // The first snapshot comes with the figures read when the event was opened; later ones are changes.
  if (!first) statsSoon();
}

// ---------------------------------------------------------------------------------------------
// The capacities

// Pools as a tree: a capacity sits under each parent of this event (a weekend pass may appear under
// two days); one whose parents all belong to other events is shown at the top level. The tree is
// drawn anew on each snapshot, so the focused button is found again by its key and focused, or a
// keyboard user would lose their place four times a second on a busy event.
function renderTree() {
  if (!lastSnapshot) return;
  const capacities = lastSnapshot.capacity;
  const byId = new Map(capacities.map((c) => [c.id, c]));
  const names = new Map(capacities.map((c) => [c.id, c.section_name]));
  const children = new Map();
  const roots = [];
  for (const c of capacities) {
    const parents = c.parent_ids.filter((p) => byId.has(p));
    if (parents.length === 0) roots.push(c);
    for (const p of parents) {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(c);
    }
  }
  const setAside = setAsideByCapacity(capacities, byId);
  const limits = limitsByCapacity();
  const now = Date.now();
  const build = (c, depth) => {
    const item = document.createElement("li");
    item.append(capacityRow(c, setAside.get(c.id) || 0, names, whyNotOnSale(c, byId, now), limits.get(c.id) ?? [], closesAt(c, byId)));
    const kids = children.get(c.id) || [];
    if (kids.length > 0 && depth < 8) {
      const list = document.createElement("ul");
      list.append(...kids.map((k) => build(k, depth + 1)));
      item.append(list);
    }
    return item;
  };
  const focusKey = focusedKey($("tree"));
  $("tree").replaceChildren(...roots.map((r) => build(r, 0)));
  refocus($("tree"), focusKey);
}

function focusedKey(container) {
  const active = document.activeElement;
  return active && container.contains(active) ? active.dataset.focusKey ?? null : null;
}

function refocus(container, focusKey) {
  if (focusKey) container.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
}

// Idle tickets of an open allocation are reserved on its capacity and on every pool above it (each
// once), so each bar can show them apart from holds. The walk stops at pools of other events, which
// the snapshot does not carry: there the tickets simply stay within reserved.
function setAsideByCapacity(capacities, byId) {
  const setAside = new Map();
  for (const c of capacities) {
    const idle = (c.allocations || []).reduce((sum, a) => sum + (a.status === "open" ? a.idle : 0), 0);
    if (idle === 0) continue;
    const seen = new Set();
    const climb = (id) => {
      if (seen.has(id) || !byId.has(id)) return;
      seen.add(id);
      setAside.set(id, (setAside.get(id) || 0) + idle);
      for (const p of byId.get(id).parent_ids) climb(p);
    };
    climb(c.id);
  }
  return setAside;
}

// A hold takes from a capacity and every pool above it, and is refused when any of them is closed or
// not open yet. The server's state counts those pools already: a section under a deactivated venue
// reads closed, and so does every pool between them, though nothing of their own closes them. So a
// state is explained by the nearest capacity whose own settings close it (for a closed state) or hold
// it back (for a scheduled one): the capacity itself, else the nearest such pool of this event above.
// Answers { capacity, reason }, or null for a capacity on sale, or held back by a pool of another
// event (which the snapshot does not carry). The reasons: "deactivated", "sold_out" (closed by its
// sold-out rule), "ended" and "not_started" (its window), "tier" (it opens after another sells out).
function whyNotOnSale(c, byId, now) {
  if (c.state !== "closed" && c.state !== "scheduled") return null;
  const closed = c.state === "closed";
  const own = ownReason(c, now);
  if (own !== null && CLOSING.has(own) === closed) return { capacity: c, reason: own };
  const above = reasonAbove(c, byId, now, closed);
  if (above !== null) return above;
  if (!closed && c.opens_after_sold_out_of) return { capacity: c, reason: "tier" };
  // The page's clock and the server's may disagree about an edge of the window by a moment.
  return own === null ? null : { capacity: c, reason: own };
}

const CLOSING = new Set(["deactivated", "sold_out", "ended"]);

// What a capacity's own switch, sold-out rule and window say at now, the page's time: a window edge
// is compared with the clock, not read from the state, which counts the pools above as well.
function ownReason(c, now) {
  if (c.closed_reason === "sold_out") return "sold_out";
  if (!c.is_active) return "deactivated";
  if (c.sale_ends_at && Date.parse(c.sale_ends_at) <= now) return "ended";
  if (c.sale_starts_at && Date.parse(c.sale_starts_at) > now) return "not_started";
  return null;
}

// The nearest pool above c (breadth first) whose own settings close it, or hold it back; a pool that
// opens after another sells out holds back what is under it while it is scheduled, unless a pool
// above it is what keeps it scheduled.
function reasonAbove(c, byId, now, closed) {
  const seen = new Set();
  const queue = [...c.parent_ids];
  while (queue.length > 0) {
    const id = queue.shift();
    if (seen.has(id) || !byId.has(id)) continue;
    seen.add(id);
    const pool = byId.get(id);
    const own = ownReason(pool, now);
    if (own !== null && CLOSING.has(own) === closed) return { capacity: pool, reason: own };
    if (!closed && own === null && pool.opens_after_sold_out_of && pool.state === "scheduled" && reasonAbove(pool, byId, now, false) === null) {
      return { capacity: pool, reason: "tier" };
    }
    queue.push(...pool.parent_ids);
  }
  return null;
}

// "Venue is deactivated": why a pool keeps what is under it from sale.
function whyBlocked({ capacity, reason }) {
  const name = capacity.section_name;
  switch (reason) {
    case "deactivated": return `${name} is deactivated`;
    case "sold_out": return `${name} closed when it sold out`;
    case "ended": return `${name}'s sale has ended`;
    default: return `${name} is not on sale yet`;
  }
}

// A stacked bar: one span per [class, count], each as a share of scale. Decorative: the numbers
// beside it say the same in text.
function bar(scale, parts) {
  const spans = parts.filter(([, n]) => n > 0).map(([name, n]) => `<span class="${name}" style="width:${Math.min(100, (100 * n) / Math.max(1, scale))}%"></span>`);
  return `<div class="bar" aria-hidden="true">${spans.join("")}</div>`;
}

function capacityRow(c, setAside, names, why, limits, closes) {
  const row = document.createElement("div");
  row.className = "capacity";
  row.dataset.capacityId = c.id;
  const available = c.available_capacity;
  // Set-aside tickets are reserved; idle ones of a pool's children can never outgrow it.
  const aside = Math.min(setAside, c.reserved_capacity);
  // Units owed to waiting entries are free but not available: the public cannot take them.
  const owed = c.waitlist_demand ?? 0;
  // Available counts an overbooking allowance, so a limited bar spans the total and the allowance.
  const allowance = c.overbook_limit ?? 0;
  // A capacity whose own settings explain its state says why in its state; one that is closed or
  // scheduled only because of a pool above it names that pool.
  const blockedBy = why !== null && why.capacity !== c ? why : null;
  const onSale = (c.state === "on_sale" || c.state === "sold_out") && blockedBy === null;
  row.innerHTML = `
    <div class="head">
      <span class="name"></span><span class="mode">${c.mode}</span>
      <span class="badge sale-state" data-field="state"></span>
      ${c.is_active ? "" : '<span class="inactive">inactive</span>'}
      <span class="numbers">
        sold <b data-field="sold">${c.sold_count}</b> ·
        reserved <b data-field="reserved">${c.reserved_capacity}</b>
        ${aside === 0 ? "" : `(<b data-field="set-aside">${aside}</b> set aside)`} ·
        ${owed === 0 ? "" : `owed <b data-field="owed">${owed}</b> to the queue ·`}
        available <b data-field="available">${available ?? "∞"}</b>
        ${c.total_capacity === null ? "" : `/ ${c.total_capacity}`}${allowance === 0 ? "" : ` +${allowance}`}
      </span>
    </div>
    ${capacityBar(c, aside, owed, allowance, onSale)}`;
  row.querySelector(".name").textContent = c.section_name;
  const state = row.querySelector("[data-field='state']");
  state.dataset.state = blockedBy ? "blocked" : c.state;
  state.textContent = blockedBy ? "not on sale" : stateText(c, why);
  if (blockedBy) {
    const line = document.createElement("p");
    line.className = "blocked";
    line.dataset.field = "blocked";
    line.textContent = `Not on sale: ${whyBlocked(blockedBy)}.`;
    row.append(line);
  }
  row.append(capacityActions(c));
  const sale = saleLine(c, names, closes);
  if (sale) row.append(sale);
  if (c.waitlist) row.append(waitlistLine(c.waitlist));
  if (limits.length > 0) row.append(buyerLimitsLine(limits));
  if (c.allocations && c.allocations.length > 0) row.append(allocationTable(c));
  return row;
}

// An unlimited capacity with no limited pool above it has no share to draw: a hold takes nothing from
// a limit, so its bar is drawn open (or closed) whatever it has sold and held; its numbers say how much.
// Otherwise an unlimited capacity's bar is scaled to what it has taken and what its pools have left.
function capacityBar(c, aside, owed, allowance, onSale) {
  const available = c.available_capacity;
  const free = onSale ? "available" : "unsellable";
  if (available === null) return `<div class="bar" aria-hidden="true" data-unlimited><span class="${onSale ? "unlimited" : "unsellable"}" style="width:100%"></span></div>`;
  const scale = c.total_capacity === null ? Math.max(1, c.sold_count + c.reserved_capacity + available + owed) : c.total_capacity + allowance;
  const owedShown = Math.min(owed, Math.max(0, scale - c.sold_count - c.reserved_capacity - available));
  return bar(scale, [["sold", c.sold_count], ["reserved", c.reserved_capacity - aside], ["set-aside", aside], ["owed", owedShown], [free, available]]);
}

// "closed" says why when the capacity's own settings do: a sold-out rule (closed_reason), a
// deactivation, or the end of the sale window; plain "closed" when a pool of another event closed it.
function stateText(c, why) {
  switch (c.state) {
    case "scheduled": return "scheduled";
    case "on_sale": return "on sale";
    case "sold_out": return "sold out";
    default:
      switch (why?.reason) {
        case "sold_out": return "closed (sold out)";
        case "deactivated": return "closed (deactivated)";
        case "ended": return "closed (sale ended)";
        default: return "closed";
      }
  }
}

function capacityActions(c) {
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.append(
    actionButton("resize", "Resize", c.section_name, c.id, () => resize(c)),
    actionButton(c.is_active ? "deactivate" : "activate", c.is_active ? "Deactivate" : "Activate", c.section_name, c.id, () => setActive(c)),
    actionButton("window", "Sale window", c.section_name, c.id, () => saleWindow(c)),
  );
  return actions;
}

// A write button whose accessible name says what it acts on ("Resize Stalls"), though it shows only
// the verb; found again after a redraw by its focus key.
function actionButton(action, label, subject, id, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.action = action;
  button.dataset.focusKey = `${action}:${id}`;
  const what = document.createElement("span");
  what.className = "visually-hidden";
  what.textContent = ` ${subject}`;
  button.append(label, what);
  button.addEventListener("click", onClick);
  return writeControl(button);
}

// A capacity's sale rules and what the clock does next: when it opens or its sale ends, its window, the
// tier it opens after (by name when it is in this event), and its overbooking allowance and use. Null
// for a capacity with none of them. Every value goes in as text.
// A scheduled capacity's next change opens it, unless it is the end of its window or of a pool's above
// it (this event's pools: closesAt), which closes it before it ever opened.
function closesAt(c, byId) {
  const ends = new Set();
  const seen = new Set();
  const queue = [c.id];
  while (queue.length > 0) {
    const id = queue.shift();
    if (seen.has(id) || !byId.has(id)) continue;
    seen.add(id);
    const node = byId.get(id);
    if (node.sale_ends_at) ends.add(Date.parse(node.sale_ends_at));
    queue.push(...node.parent_ids);
  }
  return ends;
}

function saleLine(c, names, closes) {
  const parts = [];
  const part = (field, ...content) => {
    const span = document.createElement("span");
    span.dataset.field = field;
    span.append(...content);
    parts.push(span);
  };
  if (c.next_change_at) {
    const opens = c.state === "scheduled" && !closes.has(Date.parse(c.next_change_at));
    part("next-change", opens ? "opens " : c.state === "scheduled" ? "closes " : "sale ends ", timeOf(c.next_change_at));
  }
  if (c.sale_starts_at || c.sale_ends_at) {
    const edges = ["window "];
    if (c.sale_starts_at) edges.push(c.sale_ends_at ? "" : "from ", timeOf(c.sale_starts_at, "sale-starts"));
    if (c.sale_starts_at && c.sale_ends_at) edges.push(" – ");
    if (c.sale_ends_at) edges.push(c.sale_starts_at ? "" : "until ", timeOf(c.sale_ends_at, "sale-ends"));
    part("window", ...edges);
  }
  if (c.opens_after_sold_out_of) {
    const earlier = names.get(c.opens_after_sold_out_of) ?? c.opens_after_sold_out_of;
    part("opens-after", c.state === "scheduled" ? `opens after ${earlier} sells out` : `opened after ${earlier} sold out`);
  }
  if (c.overbook_limit) {
    const used = document.createElement("b");
    used.dataset.field = "overbooked";
    used.textContent = c.overbooked_by ?? 0;
    part("overbook", `overbooking up to ${c.overbook_limit} · `, used, " past total");
  }
  if (parts.length === 0) return null;
  const line = document.createElement("div");
  line.className = "sale";
  for (const [i, p] of parts.entries()) line.append(...(i === 0 ? [p] : [" · ", p]));
  return line;
}

// A <time> for an instant the server sent, shown in the viewer's own time zone.
function timeOf(iso, field) {
  const time = document.createElement("time");
  if (field) time.dataset.field = field;
  setTime(time, iso);
  return time;
}

// A capacity's waiting list: its policy and offer length, and its own entries' units waiting and offered.
function waitlistLine(w) {
  const line = document.createElement("div");
  line.className = "waitlist";
  line.dataset.enabled = String(w.enabled);
  const policy = w.policy === "first_fit" ? "first fit" : "fifo";
  line.innerHTML = `
    waiting list <span class="badge">${w.enabled ? "open" : "closed"}</span> ${policy}, offers last ${w.offer_minutes} min ·
    waiting <b data-field="waiting">${w.waiting}</b> · offered <b data-field="offered">${w.offered}</b>`;
  return line;
}

// The buyer limits covering a capacity: "Four per person: 4 per buyer (key required)", as text.
function buyerLimitsLine(limits) {
  const line = document.createElement("div");
  line.className = "buyer-limits";
  line.dataset.field = "limits";
  line.textContent = "buyer limits: " + limits.map((l) => `${l.name}: ${l.per_buyer_max} per buyer${l.require_buyer_key ? " (key required)" : ""}`).join(" · ");
  return line;
}

function limitsByCapacity() {
  const byCapacity = new Map();
  for (const l of lastLimits ?? []) {
    for (const id of l.capacity_ids) {
      if (!byCapacity.has(id)) byCapacity.set(id, []);
      byCapacity.get(id).push(l);
    }
  }
  return byCapacity;
}

function allocationTable(c) {
  const box = document.createElement("div");
  box.className = "scroll";
  const table = document.createElement("table");
  table.className = "allocations";
  table.setAttribute("aria-label", `Allocations of ${c.section_name}`);
  table.innerHTML = '<thead><tr><th scope="col">Allocation</th><th scope="col">Sold · held · idle</th><th scope="col">Size</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody></tbody>';
  table.tBodies[0].append(...c.allocations.map((a) => allocationRow(c, a)));
  box.append(table);
  return box;
}

function allocationRow(c, a) {
  const tr = document.createElement("tr");
  tr.className = "allocation";
  tr.dataset.allocationId = a.id;
  tr.dataset.status = a.status;
  tr.innerHTML = `
    <td class="name"></td>
    <td>
      ${bar(a.size, [["sold", a.sold], ["reserved", a.held], ["set-aside", a.idle]])}
      <span class="numbers"><b data-field="sold">${a.sold}</b> · <b data-field="held">${a.held}</b> · <b data-field="idle">${a.idle}</b></span>
    </td>
    <td data-field="size">${a.size}</td>
    <td data-field="status"></td>
    <td><time data-field="expires"></time></td>
    <td></td>`;
  tr.querySelector(".name").textContent = a.name;
  tr.querySelector("[data-field='status']").textContent = a.status;
  if (a.expires_at) {
    const time = tr.querySelector("time");
    time.dateTime = a.expires_at;
    time.textContent = new Date(a.expires_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  const release = actionButton("release-idle", "Release idle", `of ${a.name}`, a.id, () => releaseIdle(c, a));
  // Only an open allocation with idle tickets has any to give back.
  if (a.status !== "open" || a.idle === 0) release.disabled = true;
  tr.lastElementChild.append(release);
  return tr;
}

// The holds expiring next, drawn on each snapshot; their countdowns move every second (tickExpiring).
function renderExpiring() {
  if (!lastSnapshot) return;
  const names = capacityNames();
  const rows = lastSnapshot.holds.expiring.map((h) => {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td class="mono"></td><td data-field="sections"></td><td>${h.quantity}</td><td data-field="expires-in"></td>`;
    tr.cells[0].textContent = h.reservation_id;
    tr.cells[1].textContent = (h.items ?? []).map((i) => `${names.get(i.capacity_id) ?? i.capacity_id} ×${i.quantity}`).join(", ");
    tr.cells[3].dataset.expiresAt = h.expires_at;
    return tr;
  });
  $("expiring").tBodies[0].replaceChildren(...rows);
  tickExpiring();
}

// Each countdown as the page's clock has it now ("4:07"). Only the countdowns' text changes, so a
// reservation id being selected for copying stays selected while the seconds go by.
function tickExpiring() {
  const now = Date.now();
  for (const cell of $("expiring").querySelectorAll("[data-field='expires-in']")) {
    const seconds = Math.max(0, Math.round((Date.parse(cell.dataset.expiresAt) - now) / 1000));
    const text = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    if (cell.textContent !== text) cell.textContent = text;
  }
}

// ---------------------------------------------------------------------------------------------
// Buyer limits

// Reads the event's limits now and every LIMITS_REFRESH_MS while it is followed, skipping a hidden tab.
function followLimits(eventId) {
  clearInterval(limitsTimer);
  lastLimits = null;
  $("limits-list").replaceChildren();
  $("limits-error").textContent = "";
  loadLimits(eventId);
  limitsTimer = setInterval(() => {
    if (!document.hidden && Date.now() >= quietUntil) loadLimits(eventId);
  }, LIMITS_REFRESH_MS);
}

async function loadLimits(eventId) {
  try {
    const body = await api(`/events/${enc(eventId)}/limits`);
    // An answer for an event the viewer has since left is dropped.
    if (currentEvent !== eventId) return;
    const changed = JSON.stringify(body.limits) !== JSON.stringify(lastLimits);
    lastLimits = body.limits;
    $("limits-error").textContent = "";
    renderLimits();
    // Each capacity lists the limits that cover it.
    if (changed) renderTree();
  } catch (error) {
    if (currentEvent === eventId) $("limits-error").textContent = `Could not load limits: ${error.message}`;
  }
}

// The names of the followed event's capacities; other events' capacities are not in its snapshot.
function capacityNames() {
  return new Map((lastSnapshot ? lastSnapshot.capacity : []).map((c) => [c.id, c.section_name]));
}

function renderLimits() {
  if (!lastLimits) return;
  const names = capacityNames();
  const list = $("limits-list");
  list.replaceChildren(...lastLimits.map((l) => {
    const item = document.createElement("li");
    item.className = "limit";
    item.dataset.limitId = l.id;
    item.innerHTML = `
      <span class="name"></span>
      <span data-field="max">${l.per_buyer_max} per buyer</span>
      ${l.require_buyer_key ? '<span class="badge" data-field="key-required">key required</span>' : ""}
      <span class="covers">on <span data-field="sections"></span></span>`;
    item.querySelector(".name").textContent = l.name;
    // Until the first snapshot names them, capacities show by id.
    item.querySelector("[data-field='sections']").textContent = l.capacity_ids.map((id) => names.get(id) ?? id).join(", ");
    return item;
  }));
  if (lastLimits.length === 0) list.innerHTML = "<li>No limits.</li>";
}

// ---------------------------------------------------------------------------------------------
// Sales figures and charts

function followStats() {
  clearInterval(statsTimer);
  clearTimeout(statsPending);
  statsPending = null;
  lastStats = null;
  levelsDrawnFor = null;
  $("stats-body").hidden = true;
  $("stats-note").hidden = true;
  loadStats();
  statsTimer = setInterval(() => {
    if (!document.hidden && Date.now() >= quietUntil) loadStats();
  }, STATS_REFRESH_MS);
}

// The stream reported a change: read the figures again now, or as soon as the throttle allows.
function statsSoon() {
  if (statsPending !== null) return;
  statsPending = setTimeout(() => {
    statsPending = null;
    loadStats();
  }, Math.max(0, statsReadAt + STATS_THROTTLE_MS - Date.now()));
}

async function loadStats() {
  const eventId = currentEvent;
  const sequence = ++statsSequence;
  const range = STATS_RANGES[$("stats-range").value];
  const to = new Date();
  const from = new Date(to.getTime() - range.minutes * 60000);
  const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), bucket: range.bucket });
  statsReadAt = Date.now();
  try {
    const stats = await api(`/events/${enc(eventId)}/stats?${query}`);
    // A newer read (another event, another period, a later change) has been sent: its answer wins.
    if (sequence !== statsSequence) return;
    lastStats = stats;
    $("stats-note").hidden = true;
    $("stats-body").hidden = false;
    renderStats();
  } catch (error) {
    if (sequence !== statsSequence) return;
    $("stats-note").hidden = false;
    if (error.status === 404) {
      // A server from before the statistics: the rest of the page works without them.
      lastStats = null;
      $("stats-body").hidden = true;
      $("stats-note").textContent = "Sales charts are not available: this server does not answer GET /events/{id}/stats.";
    } else {
      // A failed read keeps the last charts, which the next read replaces.
      $("stats-note").textContent = `Could not read the sales figures: ${error.message}`;
    }
  }
}

function renderStats() {
  const s = lastStats;
  $("conversion").textContent = s.conversion === null ? "—" : `${Math.round(s.conversion * 100)}%`;
  // The share of holds ended in the period that ended in a sale (confirmed, against released and expired).
  $("conversion-detail").textContent = `${s.totals.confirmed} confirmed · ${s.totals.released + s.totals.expired} released or expired`;
  renderForecast(s.forecast);
  $("peak").textContent = s.peak_sold_per_minute;
  const t = s.time_to_confirm;
  $("time-to-confirm").textContent = t.median_seconds === null ? "—" : `${duration(t.median_seconds)} median`;
  $("time-to-confirm-detail").textContent = t.p95_seconds === null ? `${t.confirms} confirmed` : `95% within ${duration(t.p95_seconds)} · ${t.confirms} confirmed`;
  drawVelocity();
  drawLevels();
}

function renderForecast(f) {
  const value = $("forecast");
  const detail = $("forecast-detail");
  // Selling, yet no sell-out: the last sale window closes before this rate takes what is left.
  const endsFirst = f.available > 0 && f.sell_out_at === null && f.taken_per_minute > 0;
  value.dataset.state = f.available === null ? "unlimited" : f.available === 0 ? "sold-out" : endsFirst ? "ends-first" : f.sell_out_at === null ? "not-selling" : "selling";
  if (f.available === null) {
    value.textContent = "—";
    detail.textContent = "no limit to sell out";
  } else if (f.available === 0) {
    value.textContent = "sold out";
    detail.textContent = "nothing left";
  } else if (endsFirst) {
    value.textContent = "not before the sale ends";
    detail.textContent = `${f.available} left at ${Number(f.taken_per_minute.toFixed(1))} a minute`;
  } else if (f.sell_out_at === null) {
    value.textContent = "not selling";
    detail.textContent = `${f.available} left`;
  } else {
    const time = document.createElement("time");
    time.dateTime = f.sell_out_at;
    const at = new Date(f.sell_out_at);
    const today = at.toDateString() === new Date().toDateString();
    time.textContent = at.toLocaleString([], today ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" });
    value.replaceChildren(time);
    detail.textContent = `${f.available} left at ${Number(f.taken_per_minute.toFixed(1))} a minute`;
  }
}

function duration(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Number((seconds / 3600).toFixed(1))} h`;
}

// A bucket's start as the axis and the figures show it: a time of day, with the day for hourly
// buckets (two days), or the date alone for daily ones.
function bucketLabel(iso, bucket) {
  const d = new Date(iso);
  if (bucket === "1d") return d.toLocaleDateString([], { day: "numeric", month: "short" });
  if (bucket === "1h") return d.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A round top for an axis, at least the largest value and not much above it (250 for 236, not 500),
// so that a full event fills most of the chart's height.
function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(Math.max(1, value)));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
  element.append(...children);
  return element;
}

// A chart's frame: the drawing's size follows its box (redrawn when the box changes), so that its
// labels keep their size on a phone instead of shrinking with a scaled picture.
function chartFrame(figure, labelledBy, buckets, bucket, max) {
  const width = Math.max(240, figure.querySelector(".plot").clientWidth);
  const height = 170;
  const margin = { left: 36, right: 10, top: 10, bottom: 22 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": labelledBy });
  const plot = { left: margin.left, right: width - margin.right, top: margin.top, bottom: height - margin.bottom };
  const y = (v) => plot.bottom - (v * (plot.bottom - plot.top)) / max;
  for (const v of [0, max / 2, max]) {
    chart.append(svg("line", { class: v === 0 ? "axis" : "grid", x1: plot.left, x2: plot.right, y1: y(v), y2: y(v) }));
    chart.append(svg("text", { x: plot.left - 4, y: y(v) + 4, "text-anchor": "end" }, String(Number(v.toFixed(1)))));
  }
  const labelled = buckets.length <= 2 ? buckets.map((_, i) => i) : [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1];
  const column = (plot.right - plot.left) / Math.max(1, buckets.length);
  for (const i of labelled) {
    const anchor = i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle";
    const x = anchor === "start" ? plot.left : anchor === "end" ? plot.right : plot.left + column * (i + 0.5);
    chart.append(svg("text", { x, y: height - 6, "text-anchor": anchor }, bucketLabel(buckets[i].start, bucket)));
  }
  return { chart, plot, y, column };
}

// Tickets held and sold in each bucket, as two lines (sold solid, held dashed, so that they differ in
// more than colour), with the figures in a table for whoever cannot see the chart.
function drawVelocity() {
  const s = lastStats;
  const figure = $("velocity");
  const per = BUCKETS[s.bucket]?.per ?? s.bucket;
  $("velocity-title").textContent = `Tickets per ${per}, held and sold`;
  const buckets = s.buckets;
  const top = Math.max(0, ...buckets.map((b) => Math.max(b.held, b.confirmed)));
  const { chart, y, plot, column } = chartFrame(figure, "velocity-title velocity-summary", buckets, s.bucket, niceMax(top));
  const x = (i) => plot.left + column * (i + 0.5);
  const points = (field) => buckets.map((b, i) => `${x(i).toFixed(1)},${y(b[field]).toFixed(1)}`).join(" ");
  chart.append(svg("polyline", { class: "held", points: points("held") }), svg("polyline", { class: "sold-line", points: points("confirmed") }));
  figure.querySelector(".plot").replaceChildren(chart);
  const busiest = Math.max(0, ...buckets.map((b) => b.confirmed));
  $("velocity-summary").textContent = buckets.length === 0
    ? "No figures for this period."
    : `From ${bucketLabel(s.from, s.bucket)} to ${bucketLabel(s.to, s.bucket)}: ${s.totals.held} tickets held and ${s.totals.confirmed} sold; at most ${top} in one ${per}, and ${busiest} sold in the busiest.`;
  $("velocity-table").tBodies[0].replaceChildren(...buckets.map((b) => tableRow(bucketLabel(b.start, s.bucket), b.held, b.confirmed)));
}

// Sold, reserved and available at the end of each bucket, stacked. Available is the event's total
// now less what was held and sold then: the statistics count tickets, the snapshot knows the total.
function drawLevels() {
  if (!lastStats || !lastSnapshot) return;
  const s = lastStats;
  const total = lastSnapshot.totals.total_capacity;
  levelsDrawnFor = total;
  const figure = $("levels");
  const step = BUCKETS[s.bucket]?.ms ?? 0;
  const levels = s.buckets.map((b) => ({
    end: new Date(Date.parse(b.start) + step).toISOString(),
    start: b.start,
    sold: b.sold,
    reserved: b.holding,
    available: Math.max(0, total - b.holding - b.sold),
  }));
  const top = Math.max(1, ...levels.map((l) => l.sold + l.reserved + l.available));
  const { chart, y, plot, column } = chartFrame(figure, "levels-title levels-summary", s.buckets, s.bucket, niceMax(top));
  const width = Math.max(1, column - 1);
  levels.forEach((l, i) => {
    let base = 0;
    for (const band of ["sold", "reserved", "available"]) {
      if (l[band] === 0) continue;
      chart.append(svg("rect", { class: band, x: (plot.left + column * i).toFixed(1), y: y(base + l[band]).toFixed(1), width: width.toFixed(1), height: (y(base) - y(base + l[band])).toFixed(1) }));
      base += l[band];
    }
  });
  figure.querySelector(".plot").replaceChildren(chart);
  const last = levels.at(-1);
  $("levels-summary").textContent = last
    ? `At ${bucketLabel(last.end, s.bucket)}: ${last.sold} sold, ${last.reserved} reserved, ${last.available} available of ${total}${lastSnapshot.totals.has_unlimited ? " (and unlimited sections)" : ""}.`
    : "No figures for this period.";
  $("levels-table").tBodies[0].replaceChildren(...levels.map((l) => tableRow(bucketLabel(l.end, s.bucket), l.sold, l.reserved, l.available)));
}

function tableRow(...cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

// ---------------------------------------------------------------------------------------------
// The organiser's actions: one dialog for all of them. It says what will change, takes the values
// the action needs and is the confirmation; a refusal stays in it with the API's problem (title,
// detail, code and each field's errors), so the user can correct it and send again.

let dialogAction = null;
let dialogOpener = null;
let dialogBusy = false;

function openAction(action) {
  dialogAction = action;
  dialogOpener = document.activeElement?.dataset?.focusKey ?? document.activeElement?.id ?? null;
  $("action-title").textContent = action.title;
  $("action-fields").replaceChildren(...(action.fields ?? []).map(field));
  $("action-submit").textContent = action.submit;
  showProblem(null);
  askAgain();
  $("action-dialog").showModal();
  // Straight to the first value to type; a dialog without one leaves the focus on Cancel, its first button.
  $("action-fields").querySelector("input, select")?.focus();
}

// The question restates the values as they are typed, so that what is confirmed is what is sent.
function askAgain() {
  if (!dialogAction) return;
  const question = dialogAction.question;
  $("action-question").textContent = typeof question === "function" ? question(dialogValues()) : question;
}

function dialogValues() {
  return Object.fromEntries([...new FormData($("action-form"))].map(([k, v]) => [k, String(v).trim()]));
}

function field(f) {
  const wrapper = document.createElement("div");
  wrapper.className = "field";
  const id = `action-${f.name}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = f.label;
  let input;
  if (f.options) {
    input = document.createElement("select");
    input.append(...f.options.map(([value, text]) => new Option(text, value)));
  } else {
    input = document.createElement("input");
    input.type = f.type ?? "text";
    input.autocomplete = "off";
  }
  input.id = id;
  input.name = f.name;
  input.required = Boolean(f.required);
  for (const attribute of ["min", "max", "step", "pattern"]) if (f[attribute] !== undefined) input.setAttribute(attribute, f[attribute]);
  input.value = f.value ?? "";
  wrapper.append(label, input);
  if (f.hint) {
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.id = `${id}-hint`;
    hint.textContent = f.hint;
    input.setAttribute("aria-describedby", hint.id);
    wrapper.append(hint);
  }
  return wrapper;
}

function closeAction() {
  dialogAction = null;
  if ($("action-dialog").open) $("action-dialog").close();
}

function showProblem(error) {
  const box = $("action-problem");
  if (!error) {
    box.replaceChildren();
    return;
  }
  const parts = [];
  const add = (tag, className, text) => {
    const element = document.createElement(tag);
    element.className = className;
    element.textContent = text;
    parts.push(element);
    return element;
  };
  if (error.status === undefined) {
    add("strong", "title", "No answer from the server");
    add("span", "detail", `${error.message}. `);
  } else {
    add("strong", "title", error.title ?? `Refused (${error.status})`);
    if (error.detail) add("span", "detail", `${error.detail} `);
    if (error.code) add("code", "code", error.code);
    if (error.errors) {
      const list = document.createElement("ul");
      for (const [name, messages] of Object.entries(error.errors)) {
        const item = document.createElement("li");
        item.textContent = `${name}: ${[].concat(messages).join(" ")}`;
        list.append(item);
      }
      parts.push(list);
    }
  }
  if (!settled(error)) add("p", "hint", "It may not have been applied. Sending it again is safe: it goes with the same Idempotency-Key, so it takes effect once.");
  box.replaceChildren(...parts);
}

async function submitAction(e) {
  e.preventDefault();
  const action = dialogAction;
  if (!action || dialogBusy) return;
  const values = dialogValues();
  dialogBusy = true;
  $("action-submit").disabled = true;
  $("action-cancel").disabled = true;
  $("action-form").setAttribute("aria-busy", "true");
  showProblem(null);
  try {
    const answer = await action.send(values);
    closeAction();
    $("action-result").textContent = action.done(answer, values);
    if (action.after) await action.after(answer);
  } catch (error) {
    if (dialogAction === action) showProblem(error);
  } finally {
    dialogBusy = false;
    $("action-submit").disabled = false;
    $("action-cancel").disabled = false;
    $("action-form").setAttribute("aria-busy", "false");
    // The close event may have come before a redraw that followed the change (action.after).
    refocusOpener();
  }
}

// Text in a number field: empty is "no limit" (null) where a field allows it.
function numberOrNull(text) {
  return text === "" ? null : Number(text);
}

function limitText(total) {
  return total === null ? "no limit" : `${total} tickets`;
}

function newCapacity() {
  const capacities = lastSnapshot?.capacity ?? [];
  openAction({
    title: "New capacity",
    question: (v) => `Create ${v.section_name ? `“${v.section_name}”` : "a capacity"} in ${v.event || "…"} with ${v.total === "" ? "no limit of its own" : `${v.total} tickets`}${v.parent ? `, drawing from ${capacities.find((c) => c.id === v.parent)?.section_name}` : ""}? It is on sale once created.`,
    fields: [
      { name: "event", label: "Event", value: currentEvent ?? "", required: true, pattern: "[A-Za-z0-9._:\\-]{1,64}", hint: "1 to 64 letters, digits, '.', '_', ':' or '-'. A new id starts a new event." },
      { name: "section_name", label: "Name", required: true },
      { name: "total", label: "Tickets", type: "number", min: 0, max: 1000000, step: 1, hint: "Empty: no limit of its own (unlimited, or as many as the pool above has)." },
      { name: "parent", label: "Pool above it", options: [["", "none"], ...capacities.map((c) => [c.id, c.section_name])], hint: "A hold on the new capacity takes from this pool too." },
    ],
    submit: "Create",
    send: (v) => write("POST", `/events/${enc(v.event)}/capacity`, { section_name: v.section_name, total_capacity: numberOrNull(v.total), parent_ids: v.parent ? [v.parent] : [] }),
    done: (c) => `Created ${c.section_name} in ${c.event_id}, with ${limitText(c.total_capacity)}.`,
    after: (c) => refreshEvents(c.event_id),
  });
}

function resize(c) {
  const taken = c.sold_count + c.reserved_capacity;
  openAction({
    title: `Resize ${c.section_name}`,
    question: (v) => `${c.section_name} has ${limitText(c.total_capacity)}, of which ${taken} are sold, held or set aside. Give it ${v.total === "" ? "no limit" : `${v.total} tickets`}?`,
    fields: [{ name: "total", label: "Tickets", type: "number", min: 0, max: 1000000, step: 1, value: c.total_capacity ?? "", hint: "Empty: no limit of its own." }],
    submit: "Resize",
    send: (v) => write("PUT", `/capacity/${enc(c.id)}`, { total_capacity: numberOrNull(v.total) }),
    done: (r) => `${r.section_name} has ${limitText(r.total_capacity)} now.`,
  });
}

function setActive(c) {
  const activate = !c.is_active;
  openAction({
    title: `${activate ? "Activate" : "Deactivate"} ${c.section_name}`,
    question: activate
      ? `${c.section_name} goes back on sale (within its sale window), and so do the sections under it that are active.`
      : `No new holds are taken from ${c.section_name}, or from the sections under it. Holds and sales already made stay.`,
    submit: activate ? "Activate" : "Deactivate",
    send: () => write("PUT", `/capacity/${enc(c.id)}`, { is_active: activate }),
    done: (r) => `${r.section_name} is ${r.is_active ? "active" : "deactivated"}.`,
  });
}

function saleWindow(c) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const when = (text) => new Date(text).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const starts = localInput(c.sale_starts_at);
  const ends = localInput(c.sale_ends_at);
  openAction({
    title: `Sale window of ${c.section_name}`,
    question: (v) => `Sell ${c.section_name} ${v.starts ? `from ${when(v.starts)}` : "from now"} ${v.ends ? `until ${when(v.ends)}` : "with no end"}?`,
    fields: [
      { name: "starts", label: "Sale starts", type: "datetime-local", value: starts, hint: `In your time zone (${zone}). Empty: no start.` },
      { name: "ends", label: "Sale ends", type: "datetime-local", value: ends, hint: "Empty: no end." },
    ],
    submit: "Set window",
    // The fields show each edge to the minute: an edge left as it was shown is not sent, or editing
    // one edge would cut the seconds off the other. An edge emptied is sent as null, which clears it.
    send: (v) => write("PUT", `/capacity/${enc(c.id)}`, {
      ...(v.starts === starts ? {} : { sale_starts_at: instant(v.starts) }),
      ...(v.ends === ends ? {} : { sale_ends_at: instant(v.ends) }),
    }),
    done: (r) => r.sale_starts_at || r.sale_ends_at ? `${r.section_name} has a new sale window.` : `${r.section_name} has no sale window now.`,
  });
}

function releaseIdle(c, a) {
  openAction({
    title: `Release tickets of ${a.name}`,
    question: (v) => `${a.name} has ${a.idle} idle tickets set aside on ${c.section_name}. Release ${v.quantity || "…"} of them to the public? The allocation shrinks by as many.`,
    fields: [{ name: "quantity", label: "Tickets", type: "number", min: 1, max: a.idle, step: 1, value: a.idle, required: true }],
    submit: "Release",
    send: (v) => write("POST", `/allocations/${enc(a.id)}/release`, { quantity: Number(v.quantity) }),
    done: (r, v) => `Released ${v.quantity} tickets of ${r.name} to the public; ${r.idle} stay set aside.`,
  });
}

// A datetime-local input's value for an instant: the viewer's own time, to the minute.
function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A datetime-local value (the viewer's time) as RFC 3339; empty clears the edge.
function instant(text) {
  return text ? new Date(text).toISOString() : null;
}

// ---------------------------------------------------------------------------------------------
// Reservations

// Reads the first page for the filters as they are now. A reference is the platform's order or cart
// id, so it is searched in every event (a cart may span several); without one, the followed event's.
function loadReservations() {
  const params = new URLSearchParams();
  const ref = $("reservations-ref").value.trim();
  const buyer = $("reservations-buyer").value.trim();
  const status = $("reservations-status").value;
  if (ref) params.set("external_ref", ref);
  else params.set("event_id", currentEvent);
  $("reservations-scope").textContent = ref ? `Reference “${ref}” in every event` : `Event ${currentEvent}`;
  if (status) params.set("status", status);
  if (buyer) params.set("buyer_key", buyer);
  params.set("limit", String(RESERVATIONS_PAGE));
  reservationsQuery = params.toString();
  reservationsGeneration++;
  shownReservations.clear();
  $("reservations-table").tBodies[0].replaceChildren();
  $("reservations-error").textContent = "";
  $("reservations-empty").hidden = true;
  $("reservations-more").hidden = true;
  return loadReservationPage(null);
}

async function loadReservationPage(after) {
  // A page that answers after a newer search (another event, filter or Refresh) began is dropped.
  const generation = reservationsGeneration;
  const path = `/reservations?${reservationsQuery}` + (after ? `&after=${enc(after)}` : "");
  $("reservations").setAttribute("aria-busy", "true");
  $("reservations-more").disabled = true;
  try {
    const page = await api(path);
    if (generation !== reservationsGeneration) return;
    for (const r of page.reservations) shownReservations.set(r.id, r);
    $("reservations-table").tBodies[0].append(...page.reservations.map(reservationRow));
    $("reservations-empty").hidden = shownReservations.size > 0;
    // The server sets next_after whenever a page is full, so the last "Load more" may bring nothing.
    reservationsNext = page.next_after;
    $("reservations-more").hidden = reservationsNext === null;
  } catch (error) {
    if (generation === reservationsGeneration) $("reservations-error").textContent = `Could not list reservations: ${error.message}`;
  } finally {
    if (generation === reservationsGeneration) {
      $("reservations").setAttribute("aria-busy", "false");
      $("reservations-more").disabled = false;
    }
  }
}

const RESERVATION_ACTIONS = {
  active: [["release", "Release"], ["confirm", "Confirm"]],
  confirmed: [["cancel", "Cancel"]],
};

const ACTION_QUESTIONS = {
  release: "Release this hold? Its tickets go back on sale.",
  confirm: "Confirm this hold into a sale?",
  cancel: "Cancel this sale and refund it? Its tickets go back on sale.",
};

function reservationRow(r) {
  const tr = document.createElement("tr");
  tr.className = "reservation";
  tr.dataset.reservationId = r.id;
  tr.dataset.status = r.status;
  // A fixed skeleton: every value of the reservation goes in as text (references, metadata and buyer
  // keys are the platform's data, and could hold markup).
  tr.innerHTML = `
    <td><time data-field="created"></time></td>
    <td><span class="badge" data-field="status"></span></td>
    <td data-field="items"></td>
    <td class="mono" data-field="ref"></td>
    <td class="metadata" data-field="metadata"></td>
    <td class="mono" data-field="buyer"></td>
    <td><time data-field="expires"></time></td>
    <td class="actions"></td>`;
  setTime(tr.querySelector("[data-field='created']"), r.created_at);
  tr.querySelector("[data-field='status']").textContent = r.status;
  tr.querySelector("[data-field='items']").textContent = itemsText(r, capacityNames());
  tr.querySelector("[data-field='ref']").textContent = r.external_ref ?? "";
  tr.querySelector("[data-field='metadata']").append(...Object.entries(r.metadata ?? {}).map(([k, v]) => {
    const pair = document.createElement("span");
    pair.className = "pair";
    pair.textContent = `${k}=${v}`;
    return pair;
  }));
  tr.querySelector("[data-field='buyer']").textContent = r.buyer_key ?? "";
  // Only an active hold's expiry means anything to whoever reads the list.
  if (r.status === "active") setTime(tr.querySelector("[data-field='expires']"), r.expires_at);
  tr.querySelector(".actions").append(...(RESERVATION_ACTIONS[r.status] ?? []).map(([action, label]) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    button.textContent = label;
    button.setAttribute("aria-label", `${label} ${itemsText(r, capacityNames())}`);
    button.addEventListener("click", () => act(r.id, action));
    return writeControl(button);
  }));
  return tr;
}

// "Stalls ×2, Circle ×1 (1 cancelled)": the followed event's capacities by name, others by id.
function itemsText(r, names) {
  return r.items.map((i) => {
    const cancelled = i.cancelled_quantity ? ` (${i.cancelled_quantity} cancelled)` : "";
    return `${names.get(i.capacity_id) ?? i.capacity_id} ×${i.quantity}${cancelled}`;
  }).join(", ");
}

function setTime(time, iso) {
  time.dateTime = iso;
  time.textContent = new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
}

// The rows shown before the first snapshot (or before a section was renamed) name capacities by id;
// they are named again only when the names change, not on every snapshot.
function renameReservationItems() {
  const names = capacityNames();
  const signature = JSON.stringify([...names]);
  if (signature === shownNames) return;
  shownNames = signature;
  for (const tr of $("reservations-table").tBodies[0].rows) {
    const r = shownReservations.get(tr.dataset.reservationId);
    if (r) tr.querySelector("[data-field='items']").textContent = itemsText(r, names);
  }
}

// Puts a reservation as the server now has it in place of its row, if the list still shows it. The
// row stays even when it no longer matches the status filter, so the user sees what their action did.
function showReservation(r) {
  if (!shownReservations.has(r.id)) return;
  shownReservations.set(r.id, r);
  const old = $("reservations-table").querySelector(`tr[data-reservation-id="${CSS.escape(r.id)}"]`);
  if (old) old.replaceWith(reservationRow(r));
}

// Release, confirm or cancel after the user says yes. The capacity bars follow through the stream.
async function act(id, action) {
  const r = shownReservations.get(id);
  if (!r || !confirm(`${ACTION_QUESTIONS[action]}\n\n${itemsText(r, capacityNames())}${r.external_ref ? ` · ${r.external_ref}` : ""}`)) return;
  const generation = reservationsGeneration;
  const row = $("reservations-table").querySelector(`tr[data-reservation-id="${CSS.escape(id)}"]`);
  for (const button of row ? row.querySelectorAll("button") : []) button.disabled = true;
  $("reservations-error").textContent = "";
  try {
    showReservation(await write("POST", `/reservations/${enc(id)}/${action}`));
  } catch (error) {
    // The problem's detail says why (409: it is no longer active, or already expired), unless the viewer has moved on.
    if (generation === reservationsGeneration) $("reservations-error").textContent = `Could not ${action} the reservation: ${error.message}`;
    // Most refusals mean another client moved it first: show it as it is now.
    try {
      showReservation(await api(`/reservations/${enc(id)}`));
    } catch {
      if (generation === reservationsGeneration) showReservation(r);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

$("reservations-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  loadReservations();
});
$("reservations-status").addEventListener("change", loadReservations);
$("reservations-refresh").addEventListener("click", loadReservations);
$("reservations-more").addEventListener("click", () => loadReservationPage(reservationsNext));
$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  $("sign-in-error").textContent = "";
  signIn($("api-key").value.trim());
});
$("sign-out").addEventListener("click", signOut);
$("new-capacity").addEventListener("click", newCapacity);
$("stats-range").addEventListener("change", () => {
  if (currentEvent) loadStats();
});
$("action-form").addEventListener("submit", submitAction);
$("action-form").addEventListener("input", askAgain);
$("action-cancel").addEventListener("click", closeAction);
$("action-dialog").addEventListener("cancel", (e) => {
  // Escape while a write is on its way would hide its outcome.
  if (dialogBusy) e.preventDefault();
});
$("action-dialog").addEventListener("close", () => {
  // The close event comes a task after the dialog closed: by then the same key press that closed it
  // (Escape) may have been followed by one that opened it again (Enter on the opener), whose action
  // this must not forget.
  if ($("action-dialog").open) return;
  dialogAction = null;
  refocusOpener();
});

// The button that opened the dialog may have been drawn anew while it was open (the stream's update of
// the change it made often arrives before the change's own answer): focus its successor, unless the
// focus has found a place of its own since.
function refocusOpener() {
  const active = document.activeElement;
  const lost = active === null || active === document.body || !active.isConnected || $("action-dialog").contains(active);
  if (dialogOpener && lost && !$("action-dialog").open) {
    (document.querySelector(`[data-focus-key="${CSS.escape(dialogOpener)}"]`) ?? $(dialogOpener))?.focus();
  }
}
// The charts are drawn to their box's width: drawn again when it changes (a phone turned, a window
// resized), not when a redraw changes the box's height.
let statsWidth = 0;
new ResizeObserver((entries) => {
  const width = Math.round(entries[0].contentRect.width);
  if (width === statsWidth) return;
  statsWidth = width;
  if (lastStats && !$("stats-body").hidden) {
    drawVelocity();
    drawLevels();
  }
}).observe($("stats"));
// The countdowns of the holds expiring next move with the page's clock: a quiet event sends no snapshot.
setInterval(tickExpiring, 1000);
// A page signed out because its key was refused says why on the sign-in form (signOutRefused).
const signedOutBecause = sessionStorage.getItem("capacity.signed-out");
if (signedOutBecause) {
  sessionStorage.removeItem("capacity.signed-out");
  $("sign-in-error").textContent = signedOutBecause;
}
if (key) signIn(key);
