"""The encrypted hot wallet's password in the config (preflight.py, load.py, secret_files.py):
where it may come from, what is refused before start-up, and files open to other users."""

from __future__ import annotations

import shutil
from pathlib import Path

from teller.config.secret_files import exposed_secret_files, wallet_password
from tests.config.test_config import REAL_SENDER, config_dir, load, problems_of
from tests.vectors import vector_path

__all__ = ["config_dir"]  # the fixture, shared with test_config.py

PASSWORD_ENV = "TELLER_SKY_EXCHANGER__WALLET_PASSWORD"


def copy_vector(directory: Path, cipher: str) -> dict[str, dict[str, str]]:
    names = {
        "insecure": "encrypted-scrypt-chacha20poly1305-insecure.wlt",
        "sha256-xor": "encrypted-sha256-xor.wlt",
    }
    shutil.copy(vector_path(f"skycoin/wallet/encrypted/{names[cipher]}"), directory / "enc.wlt")
    return {"sky_exchanger": {"wallet": "enc.wlt"}}


def test_an_encrypted_wallet_needs_a_password_source(config_dir: Path) -> None:
    wallet = copy_vector(config_dir, "insecure")
    assert problems_of(config_dir, REAL_SENDER, wallet) == [
        f"sky_exchanger.wallet file {config_dir}/enc.wlt is encrypted"
        " (scrypt-chacha20poly1305-insecure): name a file holding its password in"
        " sky_exchanger.wallet_password_file (e.g. a systemd LoadCredential path) or set"
        f" {PASSWORD_ENV}"
    ]


def test_the_password_comes_from_a_file_or_the_environment(config_dir: Path) -> None:
    wallet = copy_vector(config_dir, "insecure")
    (config_dir / "pw").write_bytes(b"secret words\r\n")
    from_file = load(
        config_dir, REAL_SENDER, wallet, {"sky_exchanger": {"wallet_password_file": "pw"}}
    )
    assert from_file.sky_exchanger.wallet_password_file == str(config_dir / "pw")
    assert wallet_password(from_file) == b"secret words"  # one line end is not the password
    from_env = load(config_dir, REAL_SENDER, wallet, env={PASSWORD_ENV: "from env"})
    assert wallet_password(from_env) == b"from env"
    assert "from env" not in repr(from_env) and "from env" not in str(from_env.redacted())
    assert wallet_password(load(config_dir, REAL_SENDER)) is None


def test_password_sources_that_are_refused(config_dir: Path) -> None:
    wallet = copy_vector(config_dir, "insecure")
    (config_dir / "pw").write_text("x")
    both = problems_of(
        config_dir,
        REAL_SENDER,
        wallet,
        {"sky_exchanger": {"wallet_password_file": "pw"}},
        env={PASSWORD_ENV: "y"},
    )
    assert both == [
        f"sky_exchanger.wallet_password_file and {PASSWORD_ENV} are both set: give the hot"
        " wallet's password one way only"
    ]
    missing = problems_of(
        config_dir, REAL_SENDER, wallet, {"sky_exchanger": {"wallet_password_file": "nope"}}
    )
    assert missing == [f"sky_exchanger.wallet_password_file file {config_dir}/nope does not exist"]
    in_file = problems_of(
        config_dir, REAL_SENDER, wallet, {"sky_exchanger": {"wallet_password": "p"}}
    )
    assert in_file == [
        "sky_exchanger.wallet_password must not be written in the config file: put the hot"
        " wallet's password in a file named by sky_exchanger.wallet_password_file, or in"
        f" {PASSWORD_ENV}"
    ]


def test_a_sha256_xor_wallet_is_refused_before_start_up(config_dir: Path) -> None:
    wallet = copy_vector(config_dir, "sha256-xor")
    (problem,) = problems_of(config_dir, REAL_SENDER, wallet, env={PASSWORD_ENV: "p"})
    assert problem.startswith(f"sky_exchanger.wallet file {config_dir}/enc.wlt: the wallet is")
    assert "sha256-xor" in problem and "re-encrypt it with scrypt-chacha20poly1305" in problem


def test_secret_files_open_to_other_users_are_named_with_the_fix(config_dir: Path) -> None:
    wallet = copy_vector(config_dir, "insecure")
    (config_dir / "pw").write_text("x")
    config = load(
        config_dir,
        REAL_SENDER,
        wallet,
        {"sky_exchanger": {"wallet_password_file": "pw"}},
        {"btc_rpc": {"pass": "rpc password"}},  # the config file holds a secret
    )
    config_file = config_dir / "config.toml"
    for path in (config_file, config_dir / "enc.wlt", config_dir / "pw"):
        path.chmod(0o600)
    assert exposed_secret_files(config, config_file) == []
    (config_dir / "enc.wlt").chmod(0o644)
    (config_dir / "pw").chmod(0o640)
    config_file.chmod(0o604)
    found = [str(e) for e in exposed_secret_files(config, config_file)]
    # A config file without credentials (dummy mode, the example) may be read by others.
    no_secrets = load(
        config_dir, REAL_SENDER, wallet, env={"TELLER_SKY_EXCHANGER__WALLET_PASSWORD": "x"}
    )
    assert [e.key for e in exposed_secret_files(no_secrets, config_dir / "config.toml")] == [
        "sky_exchanger.wallet"
    ]
    assert found == [
        f"config file {config_file} is open to other users (mode 0604) but holds secrets:"
        f" run chmod 600 {config_file}",
        f"sky_exchanger.wallet {config_dir}/enc.wlt is open to other users (mode 0644) but"
        f" holds secrets: run chmod 600 {config_dir}/enc.wlt",
        f"sky_exchanger.wallet_password_file {config_dir}/pw is open to other users (mode 0640)"
        f" but holds secrets: run chmod 600 {config_dir}/pw",
    ]


def test_credentials_from_the_environment_leave_the_config_file_readable(
    config_dir: Path,
) -> None:
    """deploy/teller.service gives the RPC password and the database URL in the environment
    (an EnvironmentFile only root reads) and the service's own user reads a config file of
    mode 0644: no warning then, whose chmod 600 would lock the service out of its config."""
    env = {
        "TELLER_BTC_RPC__USER": "teller",
        "TELLER_BTC_RPC__PASS": "rpc password",
        "TELLER_DATABASE_URL": "postgresql+psycopg://teller:db-password@127.0.0.1:5432/teller",
    }
    config = load(config_dir, env=env)
    assert config.btc_rpc.pass_.get_secret_value() == "rpc password"
    config_file = config_dir / "config.toml"
    config_file.chmod(0o644)
    assert exposed_secret_files(config, config_file) == []
    written = load(config_dir, {"database_url": env["TELLER_DATABASE_URL"]})
    assert [e.key for e in exposed_secret_files(written, config_file)] == ["config file"]
