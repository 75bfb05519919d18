// The deposit addresses this browser was given, remembered in localStorage by SKY address and
// coin: teller's /api/status never tells them (as the original's), so without this a buyer
// who reloads the page could not see their address again, and would bind a new one each time,
// using up one of max_bound_addrs. Also how many more teller said the SKY address can get.
// Storage may be off or full: then nothing is remembered and the page works as before.
"use strict";

const STORAGE_KEY = "teller.deposit_addresses";
const MAX_PER_COIN = 20; // a SKY address gets max_bound_addrs (5 by default) in all

function load() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
    return stored && typeof stored === "object" && !Array.isArray(stored) ? stored : {};
  } catch {
    return {};
  }
}

function save(all) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(all));
  } catch {
    // storage off or full: not remembered
  }
}

function entryOf(all, skyaddr) {
  const entry = all[skyaddr];
  return entry && typeof entry === "object" ? entry : {};
}

// The addresses given for `coin` to `skyaddr`, oldest first.
export function addressesOf(skyaddr, coin) {
  const list = entryOf(load(), skyaddr).coins?.[coin];
  return Array.isArray(list) ? list.filter((a) => typeof a === "string") : [];
}

// How many addresses this browser was given for `skyaddr`, all coins.
export function countOf(skyaddr) {
  const coins = entryOf(load(), skyaddr).coins ?? {};
  return Object.values(coins).reduce((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
}

// teller's count of addresses `skyaddr` can still get (-1: no limit), or null if never told.
export function leftOf(skyaddr) {
  const left = entryOf(load(), skyaddr).left;
  return Number.isInteger(left) ? left : null;
}

export function remember(skyaddr, coin, address, left) {
  const all = load();
  const entry = entryOf(all, skyaddr);
  const coins = entry.coins && typeof entry.coins === "object" ? entry.coins : {};
  const list = Array.isArray(coins[coin]) ? coins[coin].filter((a) => a !== address) : [];
  coins[coin] = [...list, address].slice(-MAX_PER_COIN);
  all[skyaddr] = { ...entry, coins, ...(Number.isInteger(left) ? { left } : {}) };
  save(all);
}

export function setLeft(skyaddr, left) {
  const all = load();
  all[skyaddr] = { ...entryOf(all, skyaddr), left };
  save(all);
}
