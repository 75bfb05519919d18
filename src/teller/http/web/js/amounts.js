// Money on the page: BigInt base units only, never floating point. The SKY for an amount is
// computed exactly as teller computes a payout (money.py): amount × rate,
// truncated toward zero to max_decimals, then to whole droplets (1 SKY = 10^6 droplets).
"use strict";

export const SKY_DECIMALS = 6;
export const COIN_DECIMALS = { BTC: 8, ETH: 18, SKY: 6 };
const MAX_AMOUNT_DIGITS = 40; // of the whole part: far beyond any real amount

const pow10 = (n) => 10n ** BigInt(n);

// A plain decimal string ("500", "0.66666667") as { units: BigInt, scale: decimals }.
export function parseDecimal(text) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(String(text).trim());
  if (!match) return null;
  const fraction = match[2] ?? "";
  return { units: BigInt(match[1] + fraction), scale: fraction.length };
}

// What the buyer typed, as base units of a coin with `decimals` decimals:
// { ok: true, units } or { ok: false, reason: "empty" | "format" | "decimals" | "too_large" }.
// A comma is read as the decimal point when there is no dot ("0,5").
export function parseAmount(raw, decimals) {
  let text = String(raw).trim().replace(/\s+/g, "");
  if (!text) return { ok: false, reason: "empty" };
  if (!text.includes(".")) text = text.replace(",", ".");
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return { ok: false, reason: "format" };
  const whole = match[1] || "0";
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) return { ok: false, reason: "decimals" };
  if (whole.replace(/^0+/, "").length > MAX_AMOUNT_DIGITS) return { ok: false, reason: "too_large" };
  return { ok: true, units: BigInt(whole) * pow10(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0") };
}

// Droplets for `units` of a coin with `coinDecimals` decimals at `rate` (a plain decimal
// string, SKY per coin), truncated to `maxDecimals` decimals of SKY as teller pays.
export function skyDroplets(units, coinDecimals, rate, maxDecimals) {
  const parsed = parseDecimal(rate);
  if (parsed === null || units < 0n) return null;
  const kept = Math.min(Math.max(Number(maxDecimals), 0), SKY_DECIMALS);
  // units × rate is the SKY amount scaled by 10^(coinDecimals + rate scale).
  const product = units * parsed.units;
  const shift = coinDecimals + parsed.scale - kept;
  const keptUnits = shift >= 0 ? product / pow10(shift) : product * pow10(-shift); // BigInt / truncates
  return keptUnits * pow10(SKY_DECIMALS - kept);
}

// Base units as a decimal string without trailing zeros: 61728000n, 6 → "61.728".
export function formatUnits(units, decimals) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return (negative ? "-" : "") + whole + (fraction ? `.${fraction}` : "");
}

// A decimal string from the API ("61.728000") without trailing zeros ("61.728").
export function trimDecimal(text) {
  const value = String(text);
  if (!/^\d+\.\d+$/.test(value)) return value;
  return value.replace(/0+$/, "").replace(/\.$/, "");
}

// Compare two plain decimal strings exactly (-1, 0, 1); null if either is not one.
export function compareDecimal(a, b) {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (x === null || y === null) return null;
  const scale = Math.max(x.scale, y.scale);
  const left = x.units * pow10(scale - x.scale);
  const right = y.units * pow10(scale - y.scale);
  return left < right ? -1 : left > right ? 1 : 0;
}

// A decimal string for reading: trailing zeros dropped, the whole part grouped by three
// digits with thin spaces (SI style, the same in every language): "1000000.500000" →
// "1 000 000.5".
export function readableDecimal(text) {
  const trimmed = trimDecimal(text);
  const [whole, fraction] = trimmed.split(".");
  if (!/^\d+$/.test(whole) || whole.length < 5) return trimmed;
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, "\u2009");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
