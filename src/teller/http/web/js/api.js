// teller's public API as the page uses it. Errors come back as plain text (the original's
// contract); they are raised as ApiError with that text, the HTTP status and, for 429, how
// long to wait. Paths are relative, so the page also works behind a proxy under a prefix.
"use strict";

export class ApiError extends Error {
  constructor(status, message, retryAfterSeconds = 0) {
    super(message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

async function call(path, options) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", ...options });
  } catch (error) {
    throw new ApiError(0, error.message || "network error");
  }
  if (!response.ok) {
    const text = (await response.text()).trim();
    const retry = Number.parseInt(response.headers.get("Retry-After") || "0", 10) || 0;
    throw new ApiError(response.status, text || `HTTP ${response.status}`, retry);
  }
  return response.json();
}

export const getConfig = () => call("api/config");
export const getHealth = () => call("api/health");
export const getStatus = (skyaddr) => call(`api/status?skyaddr=${encodeURIComponent(skyaddr)}`);
export const getQuote = (coinType, amount) =>
  call(`api/quote?coin_type=${encodeURIComponent(coinType)}&amount=${encodeURIComponent(amount)}`);
export const bind = (skyaddr, coinType) =>
  call("api/bind", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ skyaddr, coin_type: coinType }),
  });

// The image URL of a QR code of `data`, drawn by teller (GET /api/qr).
export const qrUrl = (data) => `api/qr?data=${encodeURIComponent(data)}`;
