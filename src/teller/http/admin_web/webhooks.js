// The dashboard's webhook panel (README "Webhooks"): the outbox's most recent deliveries, their
// status, attempts, last error and next try, with a "Re-send" button for delivered and dead
// ones (POST /api/webhooks/deliveries/{id}/resend, audited as webhook.resend). Self-contained:
// it fills its own <section id="webhooks-card">, refreshes with the dashboard (every few
// seconds while auto-refresh is on, and on "Refresh now"), and signs its calls with the same
// token as admin.js (sessionStorage, this tab only). Its texts, for translation, are below.
"use strict";

const TEXT = {
  heading: "Webhook deliveries",
  none: "No webhook events: none configured ([[webhooks]] in the config), or none yet.",
  counts: "{pending} pending ({failing} failing), {delivered} delivered, {dead} dead",
  col_id: "#",
  col_event: "Event",
  col_status: "Status",
  col_attempts: "Attempts",
  col_error: "Last error",
  col_next: "Next try",
  col_webhook: "Webhook",
  resend: "Re-send",
  resend_error: "The re-send failed: {error}",
  load_error: "Could not load the webhook deliveries: {error}",
};
const LIMIT = 50;
const REFRESH_MS = 5000;
const TOKEN_KEY = "teller-admin-token"; // admin.js keeps the token here
const COLUMNS = ["id", "event", "status", "attempts", "error", "next", "webhook"];

const $ = (id) => document.getElementById(id);

function text(key, values = {}) {
  return TEXT[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function cell(content, className) {
  const node = document.createElement("td");
  node.textContent = content === null || content === undefined ? "" : String(content);
  if (className) node.className = className;
  return node;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

async function resend(id) {
  $("webhooks-error").textContent = "";
  const response = await fetch(`api/webhooks/deliveries/${id}/resend`, {
    method: "POST", cache: "no-store", headers: headers(),
  });
  if (!response.ok) {
    $("webhooks-error").textContent = text("resend_error", { error: (await response.text()).trim() });
  }
  load();
}

function row(delivery) {
  const tr = document.createElement("tr");
  tr.dataset.deliveryId = String(delivery.id);
  tr.dataset.status = delivery.status;
  if (delivery.status === "dead") tr.className = "row-error";
  const event = cell(`${delivery.event_type} ${delivery.event_id}`);
  const status = cell(delivery.status, delivery.status === "dead" ? "bad" : "");
  if (delivery.status !== "pending") {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text("resend");
    button.addEventListener("click", () => resend(delivery.id));
    status.append(" ", button);
  }
  tr.append(cell(delivery.id), event, status, cell(delivery.attempts), cell(delivery.last_error),
    cell(when(delivery.next_try_at)), cell(delivery.webhook));
  return tr;
}

function render(answer) {
  const deliveries = answer.deliveries ?? [];
  $("webhooks-none").hidden = deliveries.length > 0;
  $("webhooks-counts").textContent = deliveries.length ? text("counts", answer.counts ?? {}) : "";
  $("webhooks").replaceChildren(...deliveries.map(row));
}

async function load() {
  if (document.body.dataset.signedIn !== "true") return; // admin.js signs in first
  try {
    const response = await fetch(`api/webhooks/deliveries?limit=${LIMIT}`, {
      cache: "no-store", headers: headers(),
    });
    if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
    render(await response.json());
    $("webhooks-card").dataset.ready = "true";
  } catch (error) {
    $("webhooks-error").textContent = text("load_error", { error: error.message });
  }
}

function start() {
  $("webhooks-heading").textContent = text("heading");
  $("webhooks-none").textContent = text("none");
  $("webhooks-head").replaceChildren(...COLUMNS.map((column) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text(`col_${column}`);
    return th;
  }));
  $("refresh").addEventListener("click", load);
  // Signed in (admin.js sets body[data-signed-in]): load at once, then with the dashboard.
  new MutationObserver(load).observe(document.body, { attributeFilter: ["data-signed-in"] });
  setInterval(() => { if ($("auto-refresh").checked) load(); }, REFRESH_MS);
  load();
}

start();
