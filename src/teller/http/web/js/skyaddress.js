// Checking a Skycoin address in the browser, as teller checks it (coins/sky.py): base58
// characters, 25 bytes once decoded, version byte 0, and a checksum of
// SHA256(key hash || version)[:4]; the all-zero key hash (the null address) is refused too.
// The server checks again on bind; this only tells the buyer about a typo at once.
"use strict";

import { sha256 } from "./sha256.js";

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const ADDRESS_BYTES = 25;

// Bytes of a base58 string, or null if it has a character outside the alphabet.
export function decodeBase58(text) {
  let value = 0n;
  for (const char of text) {
    const digit = ALPHABET.indexOf(char);
    if (digit < 0) return null;
    value = value * 58n + BigInt(digit);
  }
  const bytes = [];
  while (value > 0n) {
    bytes.push(Number(value & 0xffn));
    value >>= 8n;
  }
  for (const char of text) {  // each leading "1" stands for a leading zero byte
    if (char !== "1") break;
    bytes.push(0);
  }
  return Uint8Array.from(bytes.reverse());
}

// { ok: true } or { ok: false, reason, char? }; reasons name i18n texts
// (address_error_<reason>).
export function checkSkyAddress(raw) {
  const text = raw.trim();
  if (!text) return { ok: false, reason: "empty" };
  for (const char of text) {
    if (!ALPHABET.includes(char)) return { ok: false, reason: "character", char };
  }
  if (text.length > 64) return { ok: false, reason: "length" };
  const bytes = decodeBase58(text);
  if (bytes.length !== ADDRESS_BYTES) return { ok: false, reason: "length" };
  if (bytes[20] !== 0) return { ok: false, reason: "version" };
  const digest = sha256(bytes.subarray(0, 21));
  for (let i = 0; i < 4; i++) {
    if (digest[i] !== bytes[21 + i]) return { ok: false, reason: "checksum" };
  }
  if (bytes.subarray(0, 20).every((b) => b === 0)) return { ok: false, reason: "null" };
  return { ok: true };
}

// True while the text may still become an address as the buyer types: only alphabet
// characters and not longer than the longest address.
export function couldBecomeAddress(raw) {
  const text = raw.trim();
  return text.length <= 35 && [...text].every((char) => ALPHABET.includes(char));
}
