// The page's texts: i18n/<language>.json, chosen from the browser's languages (English if
// none is shipped). Elements name their text with data-i18n="key" (content) or
// data-i18n-attr="attribute:key,attribute:key"; code asks with t("key", {placeholders}).
"use strict";

// Languages shipped in i18n/; add a code here when adding its file.
export const LANGUAGES = ["en"];
const FALLBACK = "en";

let strings = {};
let fallback = {};
let language = FALLBACK;

export function pickLanguage(wanted) {
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return FALLBACK;
}

async function loadStrings(code) {
  const response = await fetch(`i18n/${code}.json`);
  if (!response.ok) throw new Error(`i18n/${code}.json: ${response.status}`);
  return response.json();
}

export async function loadLanguage(wanted = navigator.languages || [navigator.language]) {
  language = pickLanguage(wanted);
  fallback = await loadStrings(FALLBACK);
  strings = language === FALLBACK ? fallback : { ...fallback, ...(await loadStrings(language)) };
  document.documentElement.lang = language;
  return language;
}

export function currentLanguage() {
  return language;
}

// The text of `key` with {name} placeholders filled from `values`.
export function t(key, values = {}) {
  const template = strings[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole);
}

// The text of `key`_one / _other (and _zero if the file has it) for the count `n`.
export function tCount(key, n, values = {}) {
  const count = Number(n);
  if (count === 0 && (strings[`${key}_zero`] ?? fallback[`${key}_zero`]) !== undefined) {
    return t(`${key}_zero`, { n, ...values });
  }
  const form = new Intl.PluralRules(language).select(count);
  const chosen = (strings[`${key}_${form}`] ?? fallback[`${key}_${form}`]) !== undefined
    ? form : "other";
  return t(`${key}_${chosen}`, { n, ...values });
}

// Fill every element of `root` that names its text.
export function translate(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of element.dataset.i18nAttr.split(",")) {
      const [attribute, key] = pair.split(":");
      element.setAttribute(attribute.trim(), t(key.trim()));
    }
  }
}
