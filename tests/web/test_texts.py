"""Every text the pages show is in their one strings file (no browser needed).

A key missing from web/i18n/en.json would show on the page as the bare key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from teller.deposits.states import ALL_STATUSES
from teller.http.pages import ADMIN_WEB_DIR, WEB_DIR

STRINGS = json.loads((WEB_DIR / "i18n" / "en.json").read_text(encoding="utf-8"))


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_status_has_plain_words() -> None:
    for status in ALL_STATUSES:
        assert f"status_{status}" in STRINGS, status


def test_every_key_the_buyer_page_names_exists() -> None:
    html = source(WEB_DIR / "index.html")
    scripts = "\n".join(
        source(p)
        for p in (WEB_DIR / "js").glob("*.js")
        if p.name != "i18n.js"  # the loader
    )
    named = set(re.findall(r'data-i18n="([a-z_0-9]+)"', html))
    named |= set(re.findall(r'\bt\("([a-z_0-9]+)"', scripts))
    counted = set(re.findall(r'\btCount\("([a-z_0-9]+)"', scripts))
    # Keys built from a value: every value the code can produce.
    reasons = ["empty", "character", "length", "version", "checksum", "null"]
    named |= {f"address_error_{r}" for r in reasons}
    named |= {f"amount_error_{r}" for r in ("format", "decimals", "too_large")}
    named |= {f"coin_name_{c}" for c in ("BTC", "ETH", "SKY")}
    assert len(named) > 40 and counted
    assert sorted(named - STRINGS.keys()) == []
    for key in counted:
        assert {f"{key}_one", f"{key}_other"} <= STRINGS.keys(), key


def test_the_address_checker_gives_only_reasons_with_texts() -> None:
    checker = source(WEB_DIR / "js" / "skyaddress.js")
    for reason in set(re.findall(r'reason: "([a-z]+)"', checker)):
        assert f"address_error_{reason}" in STRINGS, reason
    amounts = source(WEB_DIR / "js" / "amounts.js")
    for reason in set(re.findall(r'reason: "([a-z_]+)"', amounts)):
        assert reason == "empty" or f"amount_error_{reason}" in STRINGS, reason


def test_every_key_the_dashboard_names_exists() -> None:
    texts = source(ADMIN_WEB_DIR / "strings.js")
    defined = set(re.findall(r"^\s+([a-z_0-9]+): ", texts, re.MULTILINE))
    html = source(ADMIN_WEB_DIR / "index.html")
    script = source(ADMIN_WEB_DIR / "admin.js")
    named = set(re.findall(r'data-(?:text|label)="([a-z_0-9]+)"', html))
    named |= set(re.findall(r'\btext\("([a-z_0-9]+)"', script))
    assert len(named) > 20
    assert sorted(named - defined) == []
