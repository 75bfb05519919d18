"""The admin credential of the shipped example config (`make run`), in the real `teller` process:
the token file teller makes in its data directory at the first start and keeps after (issue 14;
README "Security")."""

from __future__ import annotations

import stat

import httpx

from .conftest import TellerProcess


def test_the_demo_makes_a_token_file_says_where_and_keeps_it(
    teller_process: TellerProcess,
) -> None:
    t = teller_process
    t.start()
    token_file = t.datadir / "admin_token"
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    log = t.log_path.read_text()
    assert f"admin API token made token_file={token_file}" in log
    assert token not in log

    url = f"{t.admin}/api/accounting"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    assert t.stop() == 0
    t.start()  # a restart keeps the operator's token
    assert token_file.read_text().strip() == token
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert t.log_path.read_text().count("admin API token made") == 1
