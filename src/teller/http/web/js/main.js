// The buyer's page: choose a coin, give a Skycoin address, get a deposit address (with a
// QR code), see the rate or the SKY for an amount, and follow every deposit of that address.
// It tells the truth about the service: closed, sold out, delayed, minimums and limits.
"use strict";

import * as api from "./api.js";
import {
  COIN_DECIMALS, SKY_DECIMALS, compareDecimal, formatUnits, parseAmount, readableDecimal, skyDroplets,
  trimDecimal,
} from "./amounts.js";
import { currentLanguage, loadLanguage, t, tCount, translate } from "./i18n.js";
import * as known from "./known.js";
import { checkSkyAddress, couldBecomeAddress } from "./skyaddress.js";

const COINS = ["BTC", "ETH", "SKY"];
// Coins whose wallets open a payment URI: BIP 21 for BTC, EIP-681 for ETH (ethereum:0xADDR).
const PAYMENT_URI = { BTC: "bitcoin:", ETH: "ethereum:" };
const STATUS_EVERY_MS = 5000; // while a deposit may still change
const STATUS_SETTLED_MS = 30000; // when every deposit is done
const SERVICE_EVERY_MS = 30000; // config and health
const RETRY_MS = 10000;
const COPIED_FOR_MS = 2500;
const STORAGE_KEY = "teller.skyaddr";
const KNOWN_ERRORS = { "Skycoin send amount is 0": "error_send_amount_zero" };
// The server's bind refusals the page words itself (the seed's texts, README "API").
const ERROR_MAX_BOUND = "The maximum number of addresses have been assigned to this SKY address";

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  health: null,
  healthError: "",
  coin: "",
  addressTouched: false,
  following: "", // the SKY address whose deposits are shown
  lastStatuses: "",
  statusTimer: 0,
  serviceTimer: 0,
  copiedTimer: 0,
  binding: false,
  newAnyway: false, // the buyer asked for another address though one is known
  unreachable: "", // why config or health could not be read
};

// --- the service: config and health ---------------------------------------------------------

function enabledCoins() {
  if (!state.config) return [];
  return COINS.filter((coin) => state.config.deposits?.[coin.toLowerCase()]?.enabled);
}

function coinConfig(coin) {
  return state.config.deposits[coin.toLowerCase()];
}

const isPassthrough = () => state.config?.buy_method === "passthrough";

function serviceState() {
  const exchange = state.health?.exchange;
  const closed = state.config ? !state.config.enabled : false;
  const emptyWallet = !isPassthrough() && exchange
    && compareDecimal(exchange.balance?.coins ?? "0", "0") === 0;
  const soldOut = Boolean(exchange && (exchange.sender_error || emptyWallet));
  const delayed = Boolean(isPassthrough() && exchange?.processor_error);
  const noCoins = state.config !== null && enabledCoins().length === 0;
  return { closed, soldOut, delayed, noCoins, canBind: !closed && !soldOut && !noCoins };
}

async function loadService() {
  clearTimeout(state.serviceTimer);
  const [config, health] = await Promise.allSettled([api.getConfig(), api.getHealth()]);
  if (config.status === "fulfilled") state.config = config.value;
  if (health.status === "fulfilled") {
    state.health = health.value;
    state.healthError = "";
  } else {
    state.healthError = health.reason.message;
  }
  const failed = config.status === "rejected" ? config.reason : health.reason;
  state.unreachable = config.status === "rejected" || health.status === "rejected"
    ? failed.message : "";
  render();
  state.serviceTimer = setTimeout(loadService, state.unreachable ? RETRY_MS : SERVICE_EVERY_MS);
}

// --- rendering the page ---------------------------------------------------------------------

function render() {
  if (state.config) {
    renderCoins();
    renderRate();
    renderFacts();
    renderFooter();
    updateQuote();
    $("bind-form").hidden = false;
  }
  renderBanner();
  const { canBind } = serviceState();
  $("bind-button").hidden = !canBind;
  $("amount").closest(".field").hidden = !canBind;
  $("loading").hidden = true;
  $("app").setAttribute("aria-busy", "false");
}

function renderBanner() {
  const s = serviceState();
  let kind = "";
  let title = "";
  let text = "";
  if (state.unreachable) {
    [kind, title, text] = ["bad", t("state_unreachable_title"),
      t("state_unreachable", { error: state.unreachable })];
  } else if (s.closed) {
    [kind, title, text] = ["warn", t("state_closed_title"), t("state_closed")];
  } else if (s.soldOut) {
    [kind, title, text] = ["bad", t("state_sold_out_title"), t("state_sold_out")];
  } else if (s.noCoins) {
    [kind, title, text] = ["warn", "", t("state_no_coins")];
  } else if (s.delayed) {
    [kind, title, text] = ["warn", t("state_delayed_title"), t("state_delayed")];
  }
  const banner = $("banner");
  banner.hidden = !text;
  banner.className = `banner banner-${kind}`;
  banner.dataset.state = s.closed ? "closed" : s.soldOut ? "sold-out" : kind ? "notice" : "";
  $("banner-title").textContent = title;
  $("banner-title").hidden = !title;
  $("banner-text").textContent = text;
}

function renderCoins() {
  const coins = enabledCoins();
  if (!coins.includes(state.coin)) state.coin = coins[0] ?? "";
  const holder = $("coin-options");
  const shown = [...holder.querySelectorAll("input")].map((input) => input.value);
  if (shown.join() !== coins.join()) {
    holder.replaceChildren(...coins.map((coin) => {
      const label = document.createElement("label");
      label.className = "coin-option";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "coin";
      input.value = coin;
      input.id = `coin-${coin}`;
      input.addEventListener("change", () => selectCoin(coin));
      const name = document.createElement("span");
      name.textContent = t(`coin_name_${coin}`);
      label.append(input, name);
      return label;
    }));
  }
  for (const input of holder.querySelectorAll("input")) input.checked = input.value === state.coin;
  $("coin-picker").hidden = coins.length === 0;
  const coin = state.coin;
  $("bind-button").textContent = t("bind_button", { coin });
  $("amount-label").textContent = t("amount_label", { coin });
}

function selectCoin(coin) {
  state.coin = coin;
  $("bind-error").textContent = "";
  render();
  if (state.following) showKnownDeposit();
}

function renderRate() {
  const coin = state.coin;
  if (!coin) {
    $("rate").textContent = "";
    return;
  }
  $("rate").textContent = isPassthrough()
    ? t("rate_market")
    : t("rate_fixed", { coin, sky: trimDecimal(coinConfig(coin).fixed_exchange_rate) });
  const coins = state.health?.exchange?.balance?.coins;
  const showInventory = !isPassthrough() && coins !== undefined && !serviceState().soldOut;
  $("inventory").hidden = !showInventory;
  if (showInventory) $("inventory").textContent = t("inventory", { sky: readableDecimal(coins) });
}

// Confirmations as Bitcoin counts them (the tip block has 1): /api/config's `confirmations`.
// `confirmations_required` is the config key, blocks on top of the deposit's block (README
// "Confirmations"), one fewer; a server without the field is read that way.
function confirmationsOf(coin) {
  const deposit = coinConfig(coin);
  return deposit.confirmations ?? Number(deposit.confirmations_required) + 1;
}

function renderFacts() {
  const config = state.config;
  const facts = [];
  for (const coin of enabledCoins()) {
    facts.push(tCount("fact_confirmations", confirmationsOf(coin), { coin }));
  }
  if (config.max_bound_addrs > 0) facts.push(tCount("fact_max_addresses", config.max_bound_addrs));
  if (isPassthrough()) {
    for (const coin of enabledCoins()) {
      const minimum = coinConfig(coin).passthrough_minimum_volume;
      if (compareDecimal(minimum, "0") === 1) facts.push(t("fact_minimum", { minimum, coin }));
    }
  } else {
    facts.push(config.max_decimals > 0
      ? t("fact_decimals", { decimals: config.max_decimals }) : t("fact_decimals_zero"));
    facts.push(t("fact_any_amount"));
  }
  const list = $("facts-list");
  list.replaceChildren(...facts.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  $("facts").hidden = facts.length === 0;
}

// Who runs the service, a contact and the terms (web.operator_name, contact, terms_url).
function renderFooter() {
  const { operator_name: name = "", contact = "", terms_url: terms = "" } = state.config;
  $("operator-name").textContent = name ? t("footer_operator", { name }) : "";
  $("operator-name").hidden = !name;
  $("operator-contact").textContent = contact ? t("footer_contact", { contact }) : "";
  $("operator-contact").hidden = !contact;
  const link = $("operator-terms");
  link.hidden = !terms.startsWith("https://");
  if (!link.hidden) link.href = terms;
}

// The explorer page of a transaction of `coin` (web.explorer_urls), or "" when none is set.
function explorerUrl(coin, txid) {
  const template = state.config?.explorer_urls?.[coin] ?? "";
  if (!template.startsWith("https://") || !template.includes("{txid}")) return "";
  return template.replaceAll("{txid}", encodeURIComponent(txid));
}

// --- the amount and its quote ---------------------------------------------------------------

function updateQuote() {
  const coin = state.coin;
  const quote = $("quote");
  quote.className = "quote";
  if (!coin || !$("amount").value.trim()) {
    quote.textContent = "";
    return;
  }
  const decimals = COIN_DECIMALS[coin];
  const parsed = parseAmount($("amount").value, decimals);
  if (!parsed.ok) {
    quote.className = "quote error";
    quote.textContent = t(`amount_error_${parsed.reason}`, { coin, decimals });
    return;
  }
  const amount = formatUnits(parsed.units, decimals);
  if (isPassthrough()) {
    const minimum = coinConfig(coin).passthrough_minimum_volume;
    if (compareDecimal(amount, minimum) === -1) {
      quote.className = "quote error";
      quote.textContent = t("amount_below_minimum", { minimum, coin });
    } else {
      quote.textContent = t("amount_quote_market", { amount, coin });
      askExchangeQuote(coin, amount);
    }
    return;
  }
  // The exact configured rate if teller gives it, else the rate for 1 coin (already cut to
  // max_decimals: exact only for rates with no more decimals than that).
  const rate = coinConfig(coin).exact_exchange_rate || coinConfig(coin).fixed_exchange_rate;
  const droplets = skyDroplets(parsed.units, decimals, rate, state.config.max_decimals);
  if (droplets === null) {
    quote.textContent = "";
  } else if (droplets === 0n) {
    quote.className = "quote error";
    quote.textContent = t("amount_zero");
  } else {
    const sky = readableDecimal(formatUnits(droplets, SKY_DECIMALS));
    quote.textContent = t("amount_quote", { amount, coin, sky });
  }
}

// Passthrough: the SKY the amount buys on the exchange's order book now (GET /api/quote),
// asked once typing pauses; an answer for an amount no longer typed is dropped.
let quoteTimer = 0;
let quoteAsked = 0;

function askExchangeQuote(coin, amount) {
  clearTimeout(quoteTimer);
  const asked = ++quoteAsked;
  quoteTimer = setTimeout(async () => {
    let answer;
    try {
      answer = await api.getQuote(coin, amount);
    } catch {
      return; // no book now: the general sentence stays
    }
    if (asked !== quoteAsked || state.coin !== coin || answer.below_minimum) return;
    const sky = readableDecimal(answer.sky);
    $("quote").textContent = t("amount_quote_exchange", {
      amount, coin, sky, age: answer.order_book_age_seconds,
    });
  }, 300);
}

// --- the SKY address ------------------------------------------------------------------------

function showAddressCheck(force) {
  const input = $("skyaddr");
  const check = $("skyaddr-check");
  const value = input.value;
  const result = checkSkyAddress(value);
  let text = "";
  let invalid = false;
  if (result.ok) {
    text = t("address_ok");
  } else if (force || (value.trim() && (state.addressTouched || !couldBecomeAddress(value)))) {
    text = t(`address_error_${result.reason}`, { char: result.char ?? "" });
    invalid = true;
  }
  check.textContent = text;
  check.className = invalid ? "check error" : result.ok ? "check ok" : "check";
  input.setAttribute("aria-invalid", String(invalid));
  return result.ok;
}

function validAddressOrFocus() {
  if (showAddressCheck(true)) return $("skyaddr").value.trim();
  $("skyaddr").focus();
  return "";
}

// --- binding --------------------------------------------------------------------------------

async function onBind(event) {
  event.preventDefault();
  $("bind-error").textContent = "";
  if (state.binding || !serviceState().canBind) return;
  const skyaddr = validAddressOrFocus();
  if (!skyaddr) return;
  const coin = state.coin;
  const given = known.addressesOf(skyaddr, coin);
  if (given.length > 0 && !state.newAnyway) {
    // Already given one: offer it again rather than use up another of max_bound_addrs.
    showDeposit({ coin_type: coin, deposit_address: given.at(-1), buy_method: state.config.buy_method },
      skyaddr, false);
    showOffer(skyaddr, coin);
    follow(skyaddr);
    return;
  }
  state.newAnyway = false;
  $("bind-offer").hidden = true;
  state.binding = true;
  const button = $("bind-button");
  button.disabled = true;
  button.textContent = t("bind_busy");
  try {
    const result = await api.bind(skyaddr, coin);
    known.remember(skyaddr, result.coin_type, result.deposit_address, result.bound_addrs_left);
    showDeposit(result, skyaddr);
    follow(skyaddr);
  } catch (error) {
    if (error.message === ERROR_MAX_BOUND) known.setLeft(skyaddr, 0);
    $("bind-error").textContent = bindErrorText(error);
    if (error.status === 403) loadService(); // closed meanwhile: show it
  } finally {
    state.binding = false;
    button.disabled = false;
    button.textContent = t("bind_button", { coin: state.coin });
  }
}

// How many more deposit addresses this SKY address can get: teller's count from the last
// bind answer, else the limit less the addresses this browser was given (null: no limit).
function addressesLeft(skyaddr) {
  const max = state.config.max_bound_addrs;
  if (!(max > 0)) return null;
  const left = known.leftOf(skyaddr);
  if (left !== null) return left < 0 ? null : left;
  return Math.max(0, max - known.countOf(skyaddr));
}

function showOffer(skyaddr, coin) {
  const left = addressesLeft(skyaddr);
  $("bind-offer-text").textContent = t("bind_offer", { coin });
  $("bind-offer-left").textContent = left === null ? t("bind_offer_unlimited")
    : tCount("bind_offer_left", left);
  $("bind-new-button").hidden = left === 0;
  $("bind-new-button").textContent = t("bind_new_button", { coin });
  $("bind-offer").hidden = false;
}

function onBindNew() {
  state.newAnyway = true;
  $("bind-offer").hidden = true;
  $("bind-form").requestSubmit();
}

function bindErrorText(error) {
  if (error.status === 429) return errorText(error);
  if (error.message === ERROR_MAX_BOUND) {
    return tCount("bind_error_max_bound", state.config.max_bound_addrs);
  }
  return t("bind_error", { error: errorText(error) });
}

function errorText(error) {
  if (error.status === 429) {
    return error.retryAfterSeconds > 0
      ? tCount("server_error_429_wait", error.retryAfterSeconds) : t("server_error_429");
  }
  if (error.status === 0) return t("network_error");
  return error.message;
}

function showDeposit(result, skyaddr, focus = true) {
  const coin = result.coin_type;
  const address = result.deposit_address;
  const uri = PAYMENT_URI[coin] ? `${PAYMENT_URI[coin]}${address}` : address;
  $("deposit-heading").textContent = t("deposit_heading", { coin });
  const qr = $("deposit-qr");
  qr.src = api.qrUrl(uri);
  qr.alt = t("deposit_qr_alt", { uri });
  qr.dataset.uri = uri;
  $("deposit-address").textContent = address;
  const link = $("wallet-link");
  link.hidden = !PAYMENT_URI[coin];
  if (PAYMENT_URI[coin]) link.href = uri;
  $("deposit-for").textContent = t("deposit_for", { skyaddr });
  $("deposit-passthrough").hidden = result.buy_method !== "passthrough";
  $("deposit-passthrough").textContent = t("deposit_passthrough", { coin });
  $("copy-feedback").textContent = "";
  $("deposit").hidden = false;
  if (focus) $("deposit-heading").focus();
}

// After a reload or on choosing a coin: the deposit address this browser was last given for
// the SKY address and coin, shown again (teller's /api/status never tells addresses).
// With `pickCoin`, an enabled coin that has one is chosen when the chosen coin has none.
function showKnownDeposit(pickCoin = false) {
  const skyaddr = state.following;
  if (pickCoin && skyaddr && known.addressesOf(skyaddr, state.coin).length === 0) {
    const other = enabledCoins().find((coin) => known.addressesOf(skyaddr, coin).length > 0);
    if (other) {
      state.coin = other;
      render();
    }
  }
  const given = skyaddr && state.coin ? known.addressesOf(skyaddr, state.coin) : [];
  $("bind-offer").hidden = true;
  if (given.length === 0) {
    $("deposit").hidden = true;
    return;
  }
  const result = { coin_type: state.coin, deposit_address: given.at(-1), buy_method: state.config?.buy_method };
  showDeposit(result, skyaddr, false);
}

async function onCopy() {
  const address = $("deposit-address").textContent;
  let copied = false;
  try {
    await navigator.clipboard.writeText(address);
    copied = true;
  } catch {
    // No clipboard API (plain-HTTP page) or no permission: select and copy the old way.
    const range = document.createRange();
    range.selectNodeContents($("deposit-address"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
  }
  // Said once, next to the button (which keeps its own label), then cleared.
  $("copy-feedback").textContent = copied ? t("copied") : t("copy_failed");
  clearTimeout(state.copiedTimer);
  if (copied) {
    state.copiedTimer = setTimeout(() => {
      $("copy-feedback").textContent = "";
    }, COPIED_FOR_MS);
  }
}

// --- following the deposits of a SKY address ------------------------------------------------

function onCheckStatus() {
  $("bind-error").textContent = "";
  const skyaddr = validAddressOrFocus();
  if (!skyaddr) return;
  follow(skyaddr);
  showKnownDeposit(true);
}

function follow(skyaddr) {
  if (state.following !== skyaddr) state.lastStatuses = "";
  state.following = skyaddr;
  try {
    sessionStorage.setItem(STORAGE_KEY, skyaddr);
  } catch {
    // storage may be off: the page works without it
  }
  $("status").hidden = false;
  $("status-for").textContent = t("status_for", { skyaddr });
  refreshStatus();
}

async function refreshStatus() {
  clearTimeout(state.statusTimer);
  const skyaddr = state.following;
  if (!skyaddr) return;
  let wait = STATUS_EVERY_MS;
  try {
    const answer = await api.getStatus(skyaddr);
    if (skyaddr !== state.following) return; // the buyer switched address meanwhile
    const statuses = answer.statuses ?? [];
    renderStatuses(statuses);
    $("status-error").textContent = "";
    $("status-updated").textContent = t("status_updated", { time: clock(Date.now()) });
    const settled = statuses.length > 0 && statuses.every((s) => s.status === "done" && !s.seen?.length);
    wait = settled ? STATUS_SETTLED_MS : STATUS_EVERY_MS;
  } catch (error) {
    $("status-error").textContent = errorText(error);
    wait = error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : RETRY_MS;
  }
  if (skyaddr === state.following) state.statusTimer = setTimeout(refreshStatus, wait);
}

function renderStatuses(statuses) {
  const serial = JSON.stringify(statuses);
  if (serial === state.lastStatuses) return; // unchanged: leave the list (and readers) alone
  state.lastStatuses = serial;
  $("status-none").hidden = statuses.length > 0;
  $("status-list").replaceChildren(...statuses.map(statusItem));
}

function statusItem(entry) {
  const item = document.createElement("li");
  const done = entry.status === "done";
  const failed = done && Boolean(entry.error);
  const seen = Array.isArray(entry.seen) ? entry.seen : [];
  const waiting = entry.status === "waiting_deposit" && seen.length === 0;
  const kind = failed ? "failed" : done ? "done" : waiting ? "waiting" : "progress";
  item.className = `status-item status-${kind}`;
  item.dataset.status = entry.status;

  const head = document.createElement("div");
  head.className = "status-head";
  const title = document.createElement("span");
  title.className = "status-title";
  title.textContent = t("status_item", { seq: entry.seq, coin: entry.coin_type });
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = statusWords(entry);
  head.append(title, badge);
  item.append(head);

  const details = document.createElement("dl");
  const add = (label, value, className) => {
    const term = document.createElement("dt");
    term.textContent = label;
    const data = document.createElement("dd");
    data.textContent = value;
    if (className) data.className = className;
    details.append(term, data);
  };
  if (entry.deposit_value) add(t("status_paid"), `${trimDecimal(entry.deposit_value)} ${entry.coin_type}`);
  if (entry.sky_sent && compareDecimal(entry.sky_sent, "0") === 1) {
    add(t("status_sky_sent"), `${readableDecimal(entry.sky_sent)} SKY`, "sky-sent");
  }
  if (entry.txid) {
    add(t("status_txid"), entry.txid, "txid");
    const url = explorerUrl("SKY", entry.txid); // the txid shown is the SKY payout's
    if (url) {
      const link = document.createElement("a");
      link.className = "explorer-link";
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = t("status_explorer");
      const data = document.createElement("dd");
      data.append(link);
      details.append(document.createElement("dt"), data);
    }
  }
  if (entry.updated_at) add(t("status_time"), clock(entry.updated_at * 1000, true));
  if (details.childElementCount) item.append(details);
  if (seen.length) item.append(seenList(entry.coin_type, seen));

  if (entry.error && !failed) {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = t("status_error_prefix", { error: errorWords(entry.error) });
    item.append(note);
  }
  return item;
}

// Payments teller sees on the chain that do not count yet (/api/status `seen`): in the mempool
// (0 confirmations) or in a block with k of the N confirmations a deposit needs.
function seenList(coin, seen) {
  const list = document.createElement("ul");
  list.className = "seen-list";
  for (const payment of seen) {
    const k = Number(payment.confirmations) || 0;
    const n = Number(payment.confirmations_needed) || 0;
    const line = document.createElement("li");
    line.className = "seen";
    const words = document.createElement("span");
    words.className = "seen-words";
    words.textContent = k === 0 ? t("seen_mempool", { k, n }) : t("seen_confirmations", { k, n });
    const amount = document.createElement("span");
    amount.className = "seen-amount";
    amount.textContent = `${trimDecimal(payment.value)} ${coin}`;
    line.append(words, amount);
    if (n > 0) {
      const bar = document.createElement("progress");
      bar.max = n;
      bar.value = Math.min(k, n);
      bar.setAttribute("aria-label", t("seen_progress", { k, n }));
      line.append(bar);
    }
    list.append(line);
  }
  return list;
}

function statusWords(entry) {
  if (entry.status === "waiting_deposit" && entry.seen?.length) return t("status_seen");
  if (entry.status === "done" && entry.error) {
    return `${t("status_done_error")}: ${errorWords(entry.error)}`;
  }
  const key = `status_${entry.status}`;
  const words = t(key);
  return words === key ? t("status_unknown", { status: entry.status }) : words;
}

function errorWords(error) {
  return KNOWN_ERRORS[error] ? t(KNOWN_ERRORS[error]) : error;
}

function clock(milliseconds, withDate = false) {
  const when = new Date(milliseconds);
  return withDate ? when.toLocaleString(currentLanguage()) : when.toLocaleTimeString(currentLanguage());
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  await loadLanguage();
  translate();
  document.title = t("page_title");
  $("bind-form").addEventListener("submit", onBind);
  $("status-button").addEventListener("click", onCheckStatus);
  $("copy-button").addEventListener("click", onCopy);
  $("bind-new-button").addEventListener("click", onBindNew);
  $("amount").addEventListener("input", updateQuote);
  const address = $("skyaddr");
  address.addEventListener("input", () => {
    $("bind-error").textContent = "";
    showAddressCheck(false);
  });
  address.addEventListener("blur", () => {
    if (address.value.trim()) state.addressTouched = true;
    showAddressCheck(false);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.following) refreshStatus();
  });
  await loadService();
  let remembered = "";
  try {
    remembered = sessionStorage.getItem(STORAGE_KEY) || "";
  } catch {
    remembered = "";
  }
  if (remembered && checkSkyAddress(remembered).ok) {
    address.value = remembered;
    showAddressCheck(false);
    follow(remembered);
    showKnownDeposit(true);
  }
  document.body.dataset.ready = "true"; // first render done (tests wait for it)
}

start().catch((error) => {
  $("loading").textContent = `${error.message}`;
});
