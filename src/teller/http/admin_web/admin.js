// The admin dashboard: health, address pools, accounting, charts (deposits and SKY sent per
// day, the hot wallet and the pools over time: charts.js), deposits (by status and coin,
// searchable, a page at a time, CSV export), errored and held deposits, the audit's findings,
// the operator actions (the audit trail) and a backup download, from the admin API of the same
// server, refreshed every few seconds. Amounts are BigInt base units, never floating point.
// Every API call sends the admin token as "Authorization: Bearer" (never a cookie, so no other
// page can make the browser act for the operator); the token is asked for when the API answers
// 401 and kept in sessionStorage: this tab only, gone when it closes or on "Sign out".
"use strict";

import { barChart, legend, lineChart, toUnits } from "./charts.js";
import { TEXT, text } from "./strings.js";

const REFRESH_MS = 5000;
// The charts' figures change slowly and cost more to read (a scan of 30 days of deposits):
// the automatic refresh asks for them once a minute; "Refresh now" every time.
const SLOW_MS = 60_000;
const SLOW = new Set(["stats", "history"]);
const DEPOSIT_PAGE = 100;
const DEPOSIT_MOST = 1000; // a refresh reloads at most this many rows (the API's largest page)
const SEARCH_LIMIT = 100;
const COINS = ["BTC", "ETH", "SKY"];
const TICK_EVERY = 7; // a day label under every 7th bar
const ACTION_LIMIT = 50;
const STATUSES = [
  "waiting_decide", "waiting_passthrough", "waiting_passthrough_order_complete",
  "waiting_send", "waiting_confirm", "done",
];
const DECIMALS = { BTC: 8, ETH: 18, SKY: 6 };
const KNOWN_HEALTH = new Set(["status", "application", "version", "uptime", "exchange", "scanners"]);
const KNOWN_EXCHANGE = new Set([
  "buy_method", "processor_error", "sender_error", "deposit_error_count", "balance",
  "payouts_held",
]);
const KNOWN_POOL = new Set([
  "remaining_addresses", "scanning_addresses", "scanning_enabled", "address_manager_enabled", "scanner",
]);
const SCANNER_COLUMNS = ["coin", "source", "reachable", "node_height", "scanned_height", "behind",
  "confirmations", "orphaned", "error"];
// Integer amount fields that may exceed 2^53 (wei): read as strings, then BigInt.
const BIG_FIELDS = /("(?:deposit_value|sky_sent|sky_due|value|sky_bought|deposit_value_spent)":\s*)(-?\d+)/g;

const TOKEN_KEY = "teller-admin-token";

const $ = (id) => document.getElementById(id);
const state = {
  status: "", coin: "", search: "", timer: 0, loading: false, rows: [], next: null, slowAt: 0,
};

class Unauthorized extends Error {}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function call(path, options = {}) {
  const response = await fetch(path, { cache: "no-store", ...options, headers: authHeaders() });
  if (response.status === 401) throw new Unauthorized((await response.text()).trim());
  if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
  return response;
}

async function getJSON(path) {
  const body = await (await call(path)).text();
  return JSON.parse(body.replace(BIG_FIELDS, '$1"$2"'));
}

// --- signing in -----------------------------------------------------------------------------

function showLogin(message) {
  clearTimeout(state.timer);
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  delete document.body.dataset.signedIn;
  $("token").focus();
}

function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  refresh();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin("");
}

// A file answer saved as a download (under the name the server gives).
async function saveAnswer(response, fallback) {
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallback;
  const url = URL.createObjectURL(await response.blob());
  const link = element("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The backup is a POST with the token (a plain link could not send it), saved from a blob.
async function downloadBackup() {
  $("backup-error").textContent = "";
  try {
    await saveAnswer(await call("api/backup", { method: "POST" }), "teller-backup.db");
  } catch (error) {
    if (error instanceof Unauthorized) showLogin(text("login_refused", { error: error.message }));
    else $("backup-error").textContent = text("backup_error", { error: error.message });
  }
}

// The deposits of the present filters as CSV: fetched with the token, saved from a blob.
async function downloadCSV() {
  $("csv-error").textContent = "";
  try {
    await saveAnswer(await call(`api/deposits.csv?${filterParams()}`), "teller-deposits.csv");
  } catch (error) {
    if (error instanceof Unauthorized) showLogin(text("login_refused", { error: error.message }));
    else $("csv-error").textContent = text("csv_error", { error: error.message });
  }
}

function formatUnits(value, decimals) {
  let units;
  try {
    units = BigInt(String(value));
  } catch {
    return String(value);
  }
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return (negative ? "-" : "") + whole + (fraction ? `.${fraction}` : "");
}

function element(tag, content, className) {
  const node = document.createElement(tag);
  if (content !== undefined && content !== null) node.textContent = String(content);
  if (className) node.className = className;
  return node;
}

function pairs(list, entries) {
  list.replaceChildren(...entries.flatMap(([label, value, className]) => {
    const data = element("dd", undefined, className);
    if (value instanceof Node) data.append(value);
    else data.textContent = String(value);
    return [element("dt", label), data];
  }));
}

// Any JSON value as nested definition lists (for fields this page does not know by name,
// e.g. scanner heights added by newer tellers).
function anyValue(value) {
  if (value === null || typeof value !== "object") return element("span", String(value));
  if (Array.isArray(value)) {
    return element("span", value.length > 8 ? `${value.length} items` : value.join(", "));
  }
  const list = element("dl", undefined, "pairs nested");
  pairs(list, Object.entries(value).map(([key, inner]) => [key, anyValue(inner)]));
  return list;
}

// --- sections -------------------------------------------------------------------------------

function renderHealth(health) {
  const exchange = health.exchange ?? {};
  const problem = Boolean(exchange.sender_error || exchange.processor_error
    || exchange.deposit_error_count || exchange.payouts_held);
  const pill = $("health-pill");
  pill.textContent = `${text("health")}: ${problem ? text("health_problem") : text("health_ok")}`;
  pill.className = `pill ${problem ? "pill-bad" : "pill-ok"}`;
  const balance = exchange.balance ?? {};
  const entries = [
    [text("status"), health.status],
    [text("version"), health.version || "-"],
    [text("uptime"), health.uptime],
    [text("buy_method"), exchange.buy_method],
    [text("balance"), text("balance_value", { coins: balance.coins, hours: balance.hours })],
    [text("sender_error"), exchange.sender_error || text("none"), exchange.sender_error ? "bad" : ""],
    [text("processor_error"), exchange.processor_error || text("none"),
      exchange.processor_error ? "bad" : ""],
    [text("deposit_error_count"), exchange.deposit_error_count,
      exchange.deposit_error_count ? "bad" : ""],
    [text("payouts_held"), exchange.payouts_held ? text("payouts_held_yes") : text("none"),
      exchange.payouts_held ? "bad" : ""],
  ];
  for (const [key, value] of Object.entries(exchange)) {
    if (!KNOWN_EXCHANGE.has(key)) entries.push([key, anyValue(value)]);
  }
  for (const [key, value] of Object.entries(health)) {
    if (!KNOWN_HEALTH.has(key)) entries.push([key, anyValue(value)]);
  }
  pairs($("health"), entries);
}

function renderPools(view) {
  const rows = [];
  const extras = [];
  for (const [coin, pool] of Object.entries(view)) {
    const bound = (pool.scanning_addresses ?? []).length;
    const remaining = pool.remaining_addresses ?? 0;
    const total = bound + remaining;
    const row = element("tr");
    row.dataset.coin = coin;
    row.append(element("th", coin), element("td", pool.scanning_enabled ? text("yes") : text("no")),
      element("td", bound), element("td", pool.address_manager_enabled ? remaining : text("no_pool")));
    const usage = element("td");
    if (pool.address_manager_enabled && total > 0) {
      const meter = element("meter");
      meter.min = 0;
      meter.max = total;
      meter.value = bound;
      meter.high = total * 0.8;
      meter.optimum = 0;
      meter.title = `${bound} / ${total}`;
      usage.append(meter, element("span", ` ${Math.floor((bound * 100) / total)}%`));
    } else {
      usage.textContent = "-";
    }
    row.append(usage);
    rows.push(row);
    const extra = Object.entries(pool).filter(([key]) => !KNOWN_POOL.has(key));
    if (extra.length) extras.push([coin, anyValue(Object.fromEntries(extra))]);
  }
  $("pools").replaceChildren(...rows);
  const holder = $("pool-extras");
  holder.replaceChildren();
  if (extras.length) {
    const list = element("dl", undefined, "pairs");
    pairs(list, extras);
    holder.append(list);
  }
}

// Scanner state: /api/health "scanners" (heights, node) and the orphaned deposit counts of
// /api/deposit-addresses; absent on a teller that does not report them.
function renderScanners(health, pools) {
  const scanners = health?.scanners ?? {};
  const rows = Object.entries(scanners).map(([coin, scanner]) => {
    const upper = coin.toUpperCase();
    const orphaned = pools?.[upper]?.scanner?.orphaned_deposits;
    const reachable = scanner.node_reachable === true ? text("reachable_yes")
      : scanner.node_reachable === false ? text("reachable_no") : text("reachable_unknown");
    const behind = Number.isInteger(scanner.node_height) && Number.isInteger(scanner.scanned_height)
      ? scanner.node_height - scanner.scanned_height : "-";
    const cells = {
      coin: upper,
      source: scanner.source ?? (scanner.enabled ? text("yes") : text("no")),
      reachable,
      node_height: scanner.node_height ?? "-",
      scanned_height: scanner.scanned_height ?? "-",
      behind,
      confirmations: scanner.confirmations ?? "-", // as Bitcoin counts them: the tip block has 1
      orphaned: orphaned ?? "-",
      error: scanner.error || "",
    };
    const row = element("tr");
    row.dataset.coin = upper;
    row.append(...SCANNER_COLUMNS.map((column) =>
      element(column === "coin" ? "th" : "td", cells[column],
        (column === "error" && cells.error) || (column === "orphaned" && orphaned) ? "bad" : "")));
    return row;
  });
  if (rows.length === 0) {
    const row = element("tr");
    const cell = element("td", text("no_scanners"));
    cell.colSpan = SCANNER_COLUMNS.length;
    row.append(cell);
    rows.push(row);
  }
  $("scanners").replaceChildren(...rows);
}

function renderAccounting(accounting) {
  pairs($("accounting"), [
    [text("sent"), accounting.sent, "amount"],
    ...Object.entries(accounting.received ?? {}).map(([coin, amount]) =>
      [text("received", { coin }), amount, "amount"]),
  ]);
}

const COLUMNS = ["seq", "updated", "status", "coin", "sky_address", "deposit_id", "value",
  "sky_sent", "txid", "error"];

function depositHead(row) {
  row.replaceChildren(...COLUMNS.map((column) => {
    const cell = element("th", text(`col_${column}`));
    cell.scope = "col";
    return cell;
  }));
}

function depositRow(deposit) {
  const row = element("tr");
  row.dataset.depositId = deposit.deposit_id;
  const when = new Date(deposit.updated_at * 1000).toLocaleString();
  const cells = {
    seq: deposit.seq,
    updated: when,
    status: deposit.status,
    coin: deposit.coin_type,
    sky_address: deposit.sky_address,
    deposit_id: deposit.deposit_id,
    value: `${formatUnits(deposit.deposit_value, DECIMALS[deposit.coin_type] ?? 0)} ${deposit.coin_type}`,
    sky_sent: formatUnits(deposit.sky_sent, 6),
    txid: deposit.txid,
    error: deposit.error,
  };
  row.append(...COLUMNS.map((column) => element("td", cells[column], `col-${column}`)));
  if (deposit.error) row.className = "row-error";
  return row;
}

function renderFilters(counts) {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const buttons = [["", text("all"), total], ...STATUSES.map((s) => [s, s, counts[s] ?? 0])];
  const holder = $("status-filters");
  holder.setAttribute("aria-label", text(holder.dataset.label));
  holder.replaceChildren(...buttons.map(([status, label, count]) => {
    const button = element("button", `${label} (${count})`, "filter");
    button.type = "button";
    button.dataset.status = status;
    button.setAttribute("aria-pressed", String(state.status === status));
    button.addEventListener("click", () => {
      state.status = status;
      resetList();
      refresh();
    });
    return button;
  }));
}

function filterParams() {
  const params = new URLSearchParams();
  if (state.status) params.set("status", state.status);
  if (state.coin) params.set("coin", state.coin);
  return params;
}

// A search asks /api/deposits; the list, /api/deposits/page (newest first, a page at a time:
// a refresh reloads as many rows as are shown, so rows loaded with "Show more" stay).
function depositQuery() {
  if (state.search) {
    const params = new URLSearchParams({ limit: String(SEARCH_LIMIT) });
    if (state.status) params.set("status", state.status);
    params.set(state.search.includes(":") ? "deposit_id" : "sky_address", state.search);
    return `api/deposits?${params}`;
  }
  const params = filterParams();
  params.set("limit", String(Math.min(Math.max(state.rows.length, DEPOSIT_PAGE), DEPOSIT_MOST)));
  return `api/deposits/page?${params}`;
}

function renderDeposits(answer) {
  const deposits = answer.deposits ?? [];
  if (state.search) {
    state.rows = [...deposits].reverse(); // /api/deposits lists the oldest first
    state.next = null;
  } else if (state.rows.length <= DEPOSIT_MOST) {
    state.rows = deposits;
    state.next = answer.next ?? null;
  } // else: more rows are shown than a refresh reloads; they stay as they are
  showDeposits();
}

function showDeposits() {
  $("deposits").replaceChildren(...state.rows.map(depositRow));
  const count = state.rows.length;
  $("deposits-caption").textContent = state.search
    ? text("deposits_caption_search", { count, what: state.search })
    : text(state.next ? "deposits_caption_more" : "deposits_caption", { count });
  $("deposits-more").hidden = !state.next || Boolean(state.search);
}

async function moreDeposits() {
  if (!state.next) return;
  const params = filterParams();
  params.set("limit", String(DEPOSIT_PAGE));
  params.set("after", state.next);
  try {
    const answer = await getJSON(`api/deposits/page?${params}`);
    state.rows = [...state.rows, ...(answer.deposits ?? [])];
    state.next = answer.next ?? null;
    showDeposits();
  } catch (error) {
    if (error instanceof Unauthorized) showLogin(text("login_refused", { error: error.message }));
    else $("load-error").textContent = text("load_error", { what: "deposits", error: error.message });
  }
}

function resetList() {
  state.rows = [];
  state.next = null;
}

// --- charts ----------------------------------------------------------------------------------

function chartBody(id) {
  return $(id).querySelector(".chart-body");
}

function drawInto(id, ...nodes) {
  chartBody(id).replaceChildren(...nodes);
}

// The width a chart is drawn for: its box's, in CSS pixels (0 while hidden: the default).
function widthOf(id) {
  return chartBody(id).clientWidth || undefined;
}

function shortTime(at) {
  return new Date(at * 1000).toISOString().slice(5, 16).replace("T", " "); // "12-07 15:22"
}

function shortDay(day) {
  return day.slice(5); // "2026-12-07" -> "12-07"
}

function utcTime(at) {
  return new Date(at * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

// /api/stats/daily: a bar a day for the deposits (their count; each bar's title gives the count
// and exact sum per coin) and one for the SKY sent.
function renderStats(stats) {
  const days = stats.days ?? [];
  const coins = stats.coins ?? [];
  let total = 0n;
  let most = 0n;
  const depositBars = days.map((day) => {
    let count = 0n;
    const parts = [];
    for (const coin of coins) {
      const figures = day.deposits?.[coin] ?? { count: 0, value: "0" };
      count += BigInt(figures.count);
      if (figures.count) parts.push(text("chart_deposits_coin", { coin, ...figures }));
    }
    total += count;
    if (count > most) most = count;
    const coinText = parts.length ? ` (${parts.join(", ")})` : "";
    return { label: day.day, short: shortDay(day.day), value: count,
      title: text("chart_deposits_bar", { day: day.day, count, coins: coinText }) };
  });
  drawInto("chart-deposits", barChart(depositBars, {
    title: text("chart_deposits"), yLabel: text("chart_count"), xLabel: text("chart_day"),
    description: text("chart_deposits_desc", { total, days: days.length, most }),
    decimals: 0, every: TICK_EVERY, width: widthOf("chart-deposits"),
  }));
  let sent = 0n;
  const sentBars = days.map((day) => {
    const value = toUnits(day.sky_sent, DECIMALS.SKY);
    sent += value;
    return { label: day.day, short: shortDay(day.day), value,
      title: text("chart_sent_bar", { day: day.day, sky: day.sky_sent, count: day.deposits_paid }) };
  });
  drawInto("chart-sent", barChart(sentBars, {
    title: text("chart_sent"), yLabel: text("chart_sky"), xLabel: text("chart_day"),
    description: text("chart_sent_desc", { total: formatUnits(sent, DECIMALS.SKY), days: days.length }),
    decimals: DECIMALS.SKY, every: TICK_EVERY, width: widthOf("chart-sent"),
  }));
}

// /api/history: a line for the hot wallet, one per pool.
function renderHistory(history) {
  const now = Math.floor(Date.now() / 1000);
  const wallet = history.hot_wallet ?? [];
  const pools = Object.entries(history.pools ?? {});
  const times = [...wallet, ...pools.flatMap(([, points]) => points)].map((p) => p.at);
  const from = times.length ? Math.min(...times) : now - 3600;
  const to = Math.max(now, ...times);
  const span = { from, to, timeLabel: shortTime, xLabel: text("chart_time") };
  if (wallet.length === 0) {
    drawInto("chart-wallet", element("p", text("chart_no_samples"), "muted"));
  } else {
    const series = [{ name: text("chart_wallet"), points: wallet.map((p) => ({
      at: p.at, value: toUnits(p.sky, DECIMALS.SKY),
      title: text("chart_wallet_point", { time: utcTime(p.at), sky: p.sky }) })) }];
    const latest = wallet[wallet.length - 1].sky;
    drawInto("chart-wallet", lineChart(series, { ...span, title: text("chart_wallet"),
      description: text("chart_wallet_desc", { count: wallet.length, sky: latest }),
      yLabel: text("chart_sky"), decimals: DECIMALS.SKY, width: widthOf("chart-wallet") }));
  }
  if (pools.length === 0) {
    drawInto("chart-pools", element("p", text("chart_no_samples"), "muted"));
  } else {
    const series = pools.map(([coin, points]) => ({ name: coin, points: points.map((p) => ({
      at: p.at, value: BigInt(p.free),
      title: text("chart_pools_point", { time: utcTime(p.at), coin, free: p.free }) })) }));
    const count = pools.reduce((sum, [, points]) => sum + points.length, 0);
    drawInto("chart-pools", lineChart(series, { ...span, title: text("chart_pools"),
      description: text("chart_pools_desc", { count, coins: pools.map(([coin]) => coin).join(", ") }),
      yLabel: text("chart_addresses"), decimals: 0, width: widthOf("chart-pools") }),
    legend(series));
  }
}

function renderErrored(deposits) {
  $("errored").replaceChildren(...[...deposits].reverse().map(depositRow));
  $("errored-none").hidden = deposits.length > 0;
}

// The audit's latest round (/api/audit): its findings, or "no differences", and each check.
function renderAudit(report) {
  const summary = $("audit-summary");
  const findings = report.findings ?? [];
  const time = report.ran_at ? new Date(report.ran_at * 1000).toLocaleString() : "";
  if (!report.enabled) summary.textContent = text("audit_off");
  else if (!report.ran_at) summary.textContent = text("audit_not_run");
  else if (findings.length === 0) summary.textContent = text("audit_clean", { time });
  else summary.textContent = text("audit_differences", { count: findings.length, time });
  summary.className = findings.length ? "bad" : "muted";
  $("audit-findings").replaceChildren(...findings.map((finding) => {
    const row = element("tr", undefined, "row-error");
    row.dataset.kind = finding.kind;
    row.append(element("th", finding.kind), element("td", finding.subject),
      element("td", finding.expected), element("td", finding.found), element("td", finding.detail));
    return row;
  }));
  $("audit-table").classList.toggle("audit-table-empty", findings.length === 0);
  $("audit-checks").replaceChildren(...(report.checks ?? []).map((check) => {
    const item = element("li", text("au_check", check));
    item.dataset.check = check.name;
    if (check.state === "differences" || check.state === "failed") item.className = "bad";
    return item;
  }));
}

// Deposits held from payment until the operator decides (/api/deposits/held).
function renderHeld(deposits) {
  $("held").replaceChildren(...deposits.map((deposit) => {
    const row = element("tr", undefined, "row-error");
    row.dataset.depositId = deposit.deposit_id;
    row.append(element("td", deposit.seq), element("td", deposit.deposit_id),
      element("td", deposit.sky_address), element("td", formatUnits(deposit.sky_due, 6)),
      element("td", deposit.hold_reason));
    return row;
  }));
  $("held-none").hidden = deposits.length > 0;
  $("held-note").hidden = deposits.length === 0;
}

// The audit trail of the operator tools (/api/actions), newest first.
function renderActions(actions) {
  $("actions").replaceChildren(...actions.map((action) => {
    const row = element("tr", undefined, action.outcome.startsWith("done") ? "" : "muted");
    row.dataset.action = action.action;
    row.append(element("td", new Date(action.at * 1000).toLocaleString()),
      element("td", action.actor), element("td", action.action), element("td", action.target),
      element("td", action.detail), element("td", action.outcome));
    return row;
  }));
  $("actions-none").hidden = actions.length > 0;
}

// --- refreshing -----------------------------------------------------------------------------

const SECTIONS = [
  ["health", "api/health", renderHealth],
  ["pools", "api/deposit-addresses", renderPools],
  ["accounting", "api/accounting", renderAccounting],
  ["counts", "api/deposits/counts", renderFilters],
  ["deposits", depositQuery, renderDeposits],
  ["stats", "api/stats/daily", renderStats],
  ["history", "api/history", renderHistory],
  ["errored", "api/deposits/errored", (answer) => renderErrored(answer.deposits ?? [])],
  ["audit", "api/audit", renderAudit],
  ["held", "api/deposits/held", (answer) => renderHeld(answer.deposits ?? [])],
  ["actions", `api/actions?limit=${ACTION_LIMIT}`, (answer) => renderActions(answer.actions ?? [])],
];

async function refresh(options = {}) {
  clearTimeout(state.timer);
  state.loading = true;
  const slow = options.all === true || Date.now() - state.slowAt >= SLOW_MS;
  const sections = SECTIONS.filter(([name]) => slow || !SLOW.has(name));
  const results = await Promise.allSettled(sections.map(([, path]) =>
    getJSON(typeof path === "function" ? path() : path)));
  const refused = results.find((r) => r.status === "rejected" && r.reason instanceof Unauthorized);
  if (refused) {
    const hadToken = Boolean(sessionStorage.getItem(TOKEN_KEY));
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(hadToken ? text("login_refused", { error: refused.reason.message }) : "");
    state.loading = false;
    document.body.dataset.ready = "true"; // first render done: the sign-in form
    return;
  }
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = !sessionStorage.getItem(TOKEN_KEY);
  document.body.dataset.signedIn = "true";
  const errors = [];
  if (slow && results.every((r) => r.status === "fulfilled")) state.slowAt = Date.now();
  results.forEach((result, i) => {
    const [name, , render] = sections[i];
    if (result.status === "fulfilled") {
      render(result.value);
    } else {
      errors.push(text("load_error", { what: name, error: result.reason.message }));
    }
  });
  const [health, pools] = results.slice(0, 2).map((r) => (r.status === "fulfilled" ? r.value : null));
  renderScanners(health, pools);
  $("load-error").textContent = errors.join(" ");
  $("updated").textContent = text("updated", { time: new Date().toLocaleTimeString() });
  state.loading = false;
  document.body.dataset.ready = "true"; // first render done (tests wait for it)
  if ($("auto-refresh").checked) state.timer = setTimeout(refresh, REFRESH_MS);
}

function start() {
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = text(node.dataset.text);
  document.title = TEXT.title;
  depositHead($("deposits-head"));
  depositHead($("errored-head"));
  $("scanners-head").replaceChildren(...SCANNER_COLUMNS.map((column) => {
    const cell = element("th", text(`sc_${column}`));
    cell.scope = "col";
    return cell;
  }));
  $("refresh").addEventListener("click", () => refresh({ all: true }));
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("backup").addEventListener("click", downloadBackup);
  $("deposits-csv").addEventListener("click", downloadCSV);
  $("deposits-more").addEventListener("click", moreDeposits);
  const coinFilter = $("coin-filter");
  coinFilter.replaceChildren(element("option", text("coin_all")),
    ...COINS.map((coin) => element("option", coin)));
  coinFilter.options[0].value = "";
  coinFilter.addEventListener("change", () => {
    state.coin = coinFilter.value;
    resetList();
    refresh();
  });
  $("auto-refresh").addEventListener("change", () => {
    if ($("auto-refresh").checked) refresh();
    else clearTimeout(state.timer);
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.search = $("search").value.trim();
    resetList();
    refresh();
  });
  $("search-clear").addEventListener("click", () => {
    $("search").value = "";
    state.search = "";
    resetList();
    refresh();
  });
  refresh();
}

start();
