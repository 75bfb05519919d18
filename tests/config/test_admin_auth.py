"""The [admin_panel] credential keys and the Host allow-lists (config/admin_auth.py, preflight):
refused at start with one clear line each, never echoing a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from teller.config.admin_auth import (
    AdminCredential,
    CredentialError,
    StoredHash,
    is_loopback_host,
    pbkdf2_hash,
    sha256_hash,
)
from teller.config.preflight import listen_host, split_host_port

from .test_config import load, problems_of


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for name in ("btc.json", "eth.json"):
        (tmp_path / name).write_text('{"addresses": []}')
    return tmp_path


NO_AUTH = "admin_panel.disable_auth_on_loopback"


@pytest.mark.parametrize("host", ["127.0.0.1:7711", ":7711", "[::1]:7711", "localhost:7711"])
def test_auth_may_be_turned_off_on_a_loopback_listener(config_dir: Path, host: str) -> None:
    config = load(config_dir, {"admin_panel": {"host": host, "disable_auth_on_loopback": True}})
    assert config.admin_panel.disable_auth_on_loopback


@pytest.mark.parametrize("host", ["0.0.0.0:7711", "192.0.2.5:7711", "[::]:7711", "admin.lan:1"])
def test_auth_off_is_refused_on_any_other_listener(config_dir: Path, host: str) -> None:
    problems = problems_of(
        config_dir, {"admin_panel": {"host": host, "disable_auth_on_loopback": True}}
    )
    assert len(problems) == 1
    assert problems[0].startswith(f"{NO_AUTH} = true is only allowed when admin_panel.host")
    assert repr(host) in problems[0]


def test_auth_off_beside_a_credential_is_refused(config_dir: Path) -> None:
    problems = problems_of(
        config_dir,
        {"admin_panel": {"disable_auth_on_loopback": True, "auth_token_hash": sha256_hash("t")}},
    )
    assert problems == [
        f"{NO_AUTH} = true turns the admin credential off, but admin_panel.auth_token_hash or"
        " auth_token_file is set: choose one"
    ]


def test_a_bad_hash_is_refused_without_echoing_it(config_dir: Path) -> None:
    problems = problems_of(config_dir, {"admin_panel": {"auth_token_hash": "my-password"}})
    assert len(problems) == 1
    assert problems[0].startswith("admin_panel.auth_token_hash must be")
    assert "my-password" not in problems[0]


def test_the_hash_is_redacted_when_the_config_is_shown(config_dir: Path) -> None:
    stored = sha256_hash("a token of the operator")
    config = load(config_dir, {"admin_panel": {"auth_token_hash": stored}})
    assert config.redacted()["admin_panel"]["auth_token_hash"] == "<redacted>"
    assert stored not in repr(config)


def test_a_missing_or_short_token_file_is_refused(config_dir: Path) -> None:
    problems = problems_of(config_dir, {"admin_panel": {"auth_token_file": "admin.token"}})
    path = config_dir / "admin.token"  # relative to the config file's directory
    assert problems == [
        f"admin_panel.auth_token_file {path} does not exist (make one: teller admin token"
        f" --file {path})"
    ]
    path.write_text("short\n")
    problems = problems_of(config_dir, {"admin_panel": {"auth_token_file": "admin.token"}})
    assert problems == [
        f"admin_panel.auth_token_file {path} must hold a token of at least 16 characters on"
        " its first line"
    ]


def test_allowed_hosts_are_names_without_ports(config_dir: Path) -> None:
    config = load(
        config_dir,
        {"admin_panel": {"allowed_hosts": ["teller.lan", "192.0.2.5", "::1"]}},
        env={"TELLER_DUMMY__ALLOWED_HOSTS": "dummy.lan,box"},
    )
    assert config.dummy.allowed_hosts == ["dummy.lan", "box"]
    problems = problems_of(config_dir, {"admin_panel": {"allowed_hosts": ["teller.lan:7711"]}})
    assert problems == [
        "admin_panel.allowed_hosts: 'teller.lan:7711' is not a host name or IP address (write"
        " names without a port)"
    ]


def test_port_only_means_loopback() -> None:
    assert listen_host(split_host_port(":7711")[0]) == "127.0.0.1"
    assert listen_host(split_host_port("0.0.0.0:7711")[0]) == "0.0.0.0"
    assert listen_host(split_host_port("[::]:7711")[0]) == "::"
    assert is_loopback_host(listen_host(""))
    assert not is_loopback_host("0.0.0.0")
    assert not is_loopback_host("localhost.evil.example")


def test_a_credential_accepts_only_its_tokens() -> None:
    token = "a-random-token-of-43-characters-0123456789a"
    for stored in (sha256_hash(token), pbkdf2_hash(token, iterations=1000)):
        credential = AdminCredential([StoredHash(stored)])
        assert not credential.accepts(token[:-1])
        assert not credential.known(token)
        assert credential.accepts(token)
        assert credential.known(token)  # remembered: no PBKDF2 on the next request
        assert not credential.accepts(token + "x")
    with pytest.raises(CredentialError, match="auth_token_hash must be"):
        StoredHash("sha256:abc")
