"""The rules of the [[webhooks]] tables (README "Webhooks"), one problem line each.

Place in the flow: preflight.py runs `webhook_problems` with its other rules, before anything
starts. A webhook posts deposit details and alerts: to https:// only, or to http:// on a
loopback host (as the nodes teller talks to: nothing that leaves the machine in the clear).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from teller.config.admin_auth import is_loopback_host
from teller.config.schema import WEBHOOK_EVENTS, Config

MAX_URL = 500  # characters (webhook_deliveries.webhook)


def webhook_problems(config: Config) -> Iterator[str]:
    seen: set[str] = set()
    for number, hook in enumerate(config.webhooks, start=1):
        key = f"webhooks[{number}]"
        yield from _url_problems(key, hook.url)
        if hook.url in seen:
            yield f"{key}.url {hook.url} is given twice: one [[webhooks]] table per url"
        seen.add(hook.url)
        unknown = sorted(set(hook.events) - set(WEBHOOK_EVENTS))
        if unknown:
            yield (
                f"{key}.events: unknown event {', '.join(unknown)}; known events are"
                f" {', '.join(WEBHOOK_EVENTS)}"
            )
        has_secret = bool(hook.secret.get_secret_value())
        if has_secret and hook.secret_file:
            yield f"{key}: give secret or secret_file, not both"
        elif not has_secret and not hook.secret_file:
            yield f"{key}: a secret is needed to sign the events: set secret or secret_file"
        elif hook.secret_file:
            try:
                text = Path(hook.secret_file).read_text("utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                yield f"{key}.secret_file {hook.secret_file}: cannot be read ({reason})"
            else:
                if not text:
                    yield f"{key}.secret_file {hook.secret_file} is empty"
        if hook.max_attempts < 1:
            yield f"{key}.max_attempts must be >= 1, got {hook.max_attempts}"
        for name in ("timeout", "retry_wait", "retry_wait_max"):
            if getattr(hook, name).total_seconds() <= 0:
                yield f"{key}.{name} must be more than 0"


def _url_problems(key: str, url: str) -> Iterator[str]:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  # ValueError on a port that is no number
    except ValueError:
        yield f"{key}.url {url!r} is not a URL"
        return
    if parts.scheme not in ("https", "http") or not host:
        yield f"{key}.url must be an https:// URL, got {url!r}"
    elif parts.scheme == "http" and not is_loopback_host(host):
        yield (
            f"{key}.url {url} is plain HTTP to a host that is not loopback: the events (deposit"
            " details, alerts) would cross the network in the clear; write https://"
        )
    if len(url) > MAX_URL or not url.isprintable() or " " in url:
        yield f"{key}.url must be at most {MAX_URL} printable characters without spaces"
