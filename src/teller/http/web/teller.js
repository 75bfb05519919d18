// The buyer's page: bind a SKY address, show the deposit address, follow the deposits.
"use strict";
const TEXT = {
  waiting_deposit: "Waiting for your deposit",
  waiting_decide: "Deposit received, being processed",
  waiting_passthrough: "Buying your SKY on the exchange",
  waiting_passthrough_order_complete: "Waiting for the exchange order to complete",
  waiting_send: "Deposit confirmed, SKY about to be sent",
  waiting_confirm: "SKY sent, waiting for confirmation",
  done: "Done",
};
const $ = (id) => document.getElementById(id);
let refreshTimer = null;

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error((await response.text()).trim());
  return response.json();
}

async function loadConfig() {
  const config = await getJSON("/api/config");
  const coins = Object.entries(config.deposits).filter(([, d]) => d.enabled && d.fixed_exchange_rate);
  const rates = coins.map(([c, d]) => `${d.fixed_exchange_rate} SKY per ${c.toUpperCase()}`);
  $("rate").textContent = rates.length ? `Current rate: ${rates.join(", ")}.` : "";
  coins.forEach(([coin], i) => {
    const id = `coin-${coin}`;
    $("coins").insertAdjacentHTML("beforeend",
      `<label><input type="radio" name="coin" id="${id}" value="${coin.toUpperCase()}" ${i === 0 ? "checked" : ""}> ${coin.toUpperCase()}</label>`);
  });
  if (!config.enabled) showNotice("Skycoin OTC is currently closed.");
  const health = await getJSON("/api/health");
  if (health.exchange.sender_error) showNotice("Skycoin OTC is currently sold out, check back later.");
}

function showNotice(text) { $("notice").textContent = text; $("notice").hidden = false; }

async function bind(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  const coin = document.querySelector("input[name=coin]:checked");
  const response = await fetch("/api/bind", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ skyaddr: $("skyaddr").value.trim(), coin_type: coin ? coin.value : "" }),
  });
  if (!response.ok) { $("form-error").textContent = (await response.text()).trim(); return; }
  const result = await response.json();
  $("deposit-coin").textContent = result.coin_type;
  $("deposit-address").textContent = result.deposit_address;
  $("deposit").hidden = false;
  showStatus();
}

async function showStatus() {
  $("form-error").textContent = "";
  try {
    const result = await getJSON(`/api/status?skyaddr=${encodeURIComponent($("skyaddr").value.trim())}`);
    const list = $("status-list");
    list.replaceChildren(...(result.statuses || []).map((s) => {
      const item = document.createElement("li");
      const when = new Date(s.updated_at * 1000).toLocaleString();
      let text = `${s.coin_type}: ${TEXT[s.status] || s.status} (${when})`;
      if (s.sky_sent && s.sky_sent !== "0.000000") text += ` — ${s.sky_sent} SKY, transaction ${s.txid}`;
      if (s.error) text += ` — ${s.error}`;
      item.textContent = text;
      return item;
    }));
    $("status").hidden = false;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(showStatus, 5000);
  } catch (error) {
    $("form-error").textContent = error.message;
  }
}

$("bind-form").addEventListener("submit", bind);
$("status-button").addEventListener("click", showStatus);
loadConfig().catch((error) => showNotice(error.message));
