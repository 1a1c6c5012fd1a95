// The Capacity dashboard: plain browser JavaScript, no build step. It signs in with a tenant key,
// lists the tenant's events, and follows one live through GET /events/{id}/capacity/stream.
// fetch() reads the stream instead of EventSource because EventSource cannot send an
// Authorization header, and putting the key in the URL would leak it into logs. Each capacity shows
// where it stands for sale and its sale rules. The event's reservations are listed below its
// capacities, with release, confirm and cancel on each row.
"use strict";

const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("capacity.key");
let streamAbort = null;
let currentEvent = null;
let lastSnapshot = null;
let lastLimits = null;
let limitsTimer = null;

// Buyer limits are not in the snapshot and change rarely, so the panel re-reads them on a slow timer.
const LIMITS_REFRESH_MS = 10000;

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

function pageSize(text) {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
}

async function api(path, { method = "GET", headers = {} } = {}) {
  const response = await fetch(path, { method, headers: { ...headers, Authorization: `Bearer ${key}` } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail || `${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// Every write carries a fresh Idempotency-Key, so a request sent twice (a browser or a proxy retrying
// on a dropped connection) is applied once.
function post(path) {
  return api(path, { method: "POST", headers: { "Idempotency-Key": idempotencyKey() } });
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a dashboard opened over plain
// http on another host still needs a key, and getRandomValues works everywhere.
function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function signIn(candidate) {
  key = candidate;
  try {
    const list = await api("/events");
    sessionStorage.setItem("capacity.key", key);
    $("sign-in").hidden = true;
    $("main").hidden = false;
    $("sign-out").hidden = false;
    setStatus("signed-in", "signed in");
    renderEvents(list.events);
  } catch (error) {
    key = null;
    sessionStorage.removeItem("capacity.key");
    $("sign-in-error").textContent = error.status === 401 ? "That key was not accepted." : `Could not sign in: ${error.message}`;
  }
}

function signOut() {
  if (streamAbort) streamAbort.abort();
  sessionStorage.removeItem("capacity.key");
  location.reload();
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function renderEvents(events) {
  const list = $("events");
  list.replaceChildren(...events.map((e) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = `${e.event_id} (${e.capacities})`;
    button.dataset.eventId = e.event_id;
    button.addEventListener("click", () => follow(e.event_id));
    item.append(button);
    return item;
  }));
  if (events.length === 0) list.innerHTML = "<li>No events yet.</li>";
}

async function follow(eventId) {
  if (streamAbort) streamAbort.abort();
  currentEvent = eventId;
  for (const b of document.querySelectorAll("#events button")) b.setAttribute("aria-current", String(b.dataset.eventId === eventId));
  $("event").hidden = false;
  $("event-title").textContent = eventId;
  followLimits(eventId);
  loadReservations();
  const abort = new AbortController();
  streamAbort = abort;
  while (!abort.signal.aborted) {
    try {
      await readStream(eventId, abort.signal);
    } catch (error) {
      if (abort.signal.aborted) return;
    }
    // The stream dropped (server restart, network): say so and reconnect.
    setStatus("reconnecting", "reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function readStream(eventId, signal) {
  const response = await fetch(`/events/${encodeURIComponent(eventId)}/capacity/stream`, {
    headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw new Error(`${response.status}`);
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
      if (fields.event === "snapshot" && currentEvent === eventId) render(JSON.parse(fields.data));
    }
  }
}

function render(snapshot) {
  lastSnapshot = snapshot;
  const t = snapshot.totals;
  $("total-capacity").textContent = t.has_unlimited ? `${t.total_capacity} + unlimited` : t.total_capacity;
  $("total-sold").textContent = t.sold_count;
  $("total-reserved").textContent = t.reserved_capacity;
  $("total-available").textContent = t.available_capacity;
  $("active-holds").textContent = snapshot.holds.active;
  renderTree(snapshot.capacity);
  renderExpiring();
  // Section names may have changed or arrived after the limits and the reservations did.
  renderLimits();
  renameReservationItems();
}

// Pools as a tree: a capacity sits under each parent of this event (a weekend pass may appear under
// two days); one whose parents all belong to other events is shown at the top level.
function renderTree(capacities) {
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
  const build = (c, depth) => {
    const item = document.createElement("li");
    item.append(capacityRow(c, setAside.get(c.id) || 0, names));
    const kids = children.get(c.id) || [];
    if (kids.length > 0 && depth < 8) {
      const list = document.createElement("ul");
      list.append(...kids.map((k) => build(k, depth + 1)));
      item.append(list);
    }
    return item;
  };
  $("tree").replaceChildren(...roots.map((r) => build(r, 0)));
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

// A stacked bar: one span per [class, count], each as a share of scale.
function bar(scale, parts) {
  const spans = parts.map(([name, n]) => `<span class="${name}" style="width:${Math.min(100, (100 * n) / Math.max(1, scale))}%"></span>`);
  return `<div class="bar">${spans.join("")}</div>`;
}

function capacityRow(c, setAside, names) {
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
  // An unlimited node's bar is scaled to what it has taken, so the proportions still read.
  const scale = c.total_capacity === null ? Math.max(1, c.sold_count + c.reserved_capacity + (available ?? 0) + owed) : c.total_capacity + allowance;
  const owedShown = Math.min(owed, Math.max(0, scale - c.sold_count - c.reserved_capacity - (available ?? 0)));
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
    ${bar(scale, [["sold", c.sold_count], ["reserved", c.reserved_capacity - aside], ["set-aside", aside], ["owed", owedShown], ["available", available ?? 0]])}`;
  row.querySelector(".name").textContent = c.section_name;
  const state = row.querySelector("[data-field='state']");
  state.dataset.state = c.state;
  state.textContent = stateText(c);
  const sale = saleLine(c, names);
  if (sale) row.append(sale);
  if (c.waitlist) row.append(waitlistLine(c.waitlist));
  if (c.allocations && c.allocations.length > 0) row.append(allocationTable(c));
  return row;
}

// "closed" says why: a sold-out rule (closed_reason), a deactivation, or the end of the sale window.
function stateText(c) {
  switch (c.state) {
    case "scheduled": return "scheduled";
    case "on_sale": return "on sale";
    case "sold_out": return "sold out";
    default:
      if (c.closed_reason === "sold_out") return "closed (sold out)";
      return c.is_active ? "closed (sale ended)" : "closed (deactivated)";
  }
}

// A capacity's sale rules and what the clock does next: when it opens or its sale ends, its window, the
// tier it opens after (by name when it is in this event), and its overbooking allowance and use. Null
// for a capacity with none of them. Every value goes in as text.
function saleLine(c, names) {
  const parts = [];
  const part = (field, ...content) => {
    const span = document.createElement("span");
    span.dataset.field = field;
    span.append(...content);
    parts.push(span);
  };
  if (c.next_change_at) part("next-change", c.state === "scheduled" ? "opens " : "sale ends ", timeOf(c.next_change_at));
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

function allocationTable(c) {
  const table = document.createElement("table");
  table.className = "allocations";
  table.setAttribute("aria-label", `Allocations of ${c.section_name}`);
  table.innerHTML = "<thead><tr><th>Allocation</th><th>Sold · held · idle</th><th>Size</th><th>Status</th><th>Expires</th></tr></thead><tbody></tbody>";
  table.tBodies[0].append(...c.allocations.map(allocationRow));
  return table;
}

function allocationRow(a) {
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
    <td><time data-field="expires"></time></td>`;
  tr.querySelector(".name").textContent = a.name;
  tr.querySelector("[data-field='status']").textContent = a.status;
  if (a.expires_at) {
    const time = tr.querySelector("time");
    time.dateTime = a.expires_at;
    time.textContent = new Date(a.expires_at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  return tr;
}

function renderExpiring() {
  if (!lastSnapshot) return;
  const now = Date.now();
  const rows = lastSnapshot.holds.expiring.map((h) => {
    const seconds = Math.max(0, Math.round((Date.parse(h.expires_at) - now) / 1000));
    const tr = document.createElement("tr");
    tr.innerHTML = `<td class="mono"></td><td>${h.quantity}</td><td>${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}</td>`;
    tr.firstChild.textContent = h.reservation_id;
    return tr;
  });
  $("expiring").tBodies[0].replaceChildren(...rows);
}

// Reads the event's limits now and every LIMITS_REFRESH_MS while it is followed, skipping a hidden tab.
function followLimits(eventId) {
  clearInterval(limitsTimer);
  lastLimits = null;
  $("limits-list").replaceChildren();
  $("limits-error").textContent = "";
  loadLimits(eventId);
  limitsTimer = setInterval(() => {
    if (!document.hidden) loadLimits(eventId);
  }, LIMITS_REFRESH_MS);
}

async function loadLimits(eventId) {
  try {
    const body = await api(`/events/${encodeURIComponent(eventId)}/limits`);
    // An answer for an event the viewer has since left is dropped.
    if (currentEvent !== eventId) return;
    lastLimits = body.limits;
    $("limits-error").textContent = "";
    renderLimits();
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
  const path = `/reservations?${reservationsQuery}` + (after ? `&after=${encodeURIComponent(after)}` : "");
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
    button.addEventListener("click", () => act(r.id, action));
    return button;
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
    showReservation(await post(`/reservations/${encodeURIComponent(id)}/${action}`));
  } catch (error) {
    // The problem's detail says why (409: it is no longer active, or already expired), unless the viewer has moved on.
    if (generation === reservationsGeneration) $("reservations-error").textContent = `Could not ${action} the reservation: ${error.message}`;
    // Most refusals mean another client moved it first: show it as it is now.
    try {
      showReservation(await api(`/reservations/${encodeURIComponent(id)}`));
    } catch {
      if (generation === reservationsGeneration) showReservation(r);
    }
  }
}

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
setInterval(renderExpiring, 1000);
if (key) signIn(key);
