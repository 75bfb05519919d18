"""A real `teller run` process with an encrypted hot wallet (Skycoin v0.27.1's own file): it
starts with the right password (from the environment or a file), stops before anything starts
with a wrong one, and warns about secret files other users can read.

The Skycoin node is a listening loopback socket: teller dials it at start-up (preflight), and
nothing here needs it to answer.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vectors import load_json, vector_path

from .conftest import ANY_PORT, EXAMPLE_CONFIG, ready_addresses

FOLDER = "skycoin/wallet/encrypted"
VECTORS = load_json(f"{FOLDER}/vectors.json")
INSECURE = VECTORS["files"]["scrypt-chacha20poly1305-insecure"]


@pytest.fixture
def node_socket() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def setup(tmp_path: Path, node: str, *, wallet_mode: int = 0o600) -> tuple[Path, dict[str, str]]:
    """A config (mode 0600) paying from the encrypted vector wallet, and teller's environment."""
    wallet = tmp_path / "hot.wlt"
    shutil.copyfile(vector_path(f"{FOLDER}/{INSECURE}"), wallet)
    wallet.chmod(wallet_mode)
    examples = EXAMPLE_CONFIG.parent
    config = tmp_path / "config.toml"
    config.write_text(
        EXAMPLE_CONFIG.read_text()
        .replace('"example_btc_addresses.txt"', f'"{examples / "example_btc_addresses.txt"}"')
        .replace('"example_eth_addresses.txt"', f'"{examples / "example_eth_addresses.txt"}"')
        .replace('"example_sky_addresses.txt"', f'"{examples / "example_sky_addresses.txt"}"')
    )
    config.chmod(0o600)
    env = dict(os.environ) | ANY_PORT
    env.update(
        {
            "TELLER_DUMMY__SENDER": "false",
            "TELLER_DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY": "true",
            "TELLER_AUDIT__INTERVAL": "0",
            "TELLER_SKY_RPC__ADDRESS": node,
            "TELLER_SKY_EXCHANGER__WALLET": str(wallet),
            "TELLER_LOGFILE": str(tmp_path / "teller.log"),
        }
    )
    env.pop("TELLER_SKY_EXCHANGER__WALLET_PASSWORD", None)
    return config, env


def teller(config: Path, datadir: Path) -> list[str]:
    return [sys.executable, "-m", "teller.cli", "run", "-c", str(config), "-d", str(datadir)]


def test_a_wrong_password_stops_teller_before_anything_starts(
    tmp_path: Path, node_socket: str
) -> None:
    config, env = setup(tmp_path, node_socket)
    env["TELLER_SKY_EXCHANGER__WALLET_PASSWORD"] = "not-the-password"
    datadir = tmp_path / "data"
    result = subprocess.run(
        teller(config, datadir), env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "teller cannot start" in result.stderr
    assert "sky_exchanger.wallet:" in result.stderr and "wrong wallet password" in result.stderr
    assert str(tmp_path / "hot.wlt") in result.stderr
    assert "not-the-password" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not datadir.exists()  # no database, no lock, no listener: nothing started


def test_an_encrypted_wallet_without_a_password_is_a_config_error(
    tmp_path: Path, node_socket: str
) -> None:
    config, env = setup(tmp_path, node_socket)
    result = subprocess.run(
        teller(config, tmp_path / "data"), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "is encrypted (scrypt-chacha20poly1305-insecure)" in result.stderr
    assert "sky_exchanger.wallet_password_file" in result.stderr
    assert "TELLER_SKY_EXCHANGER__WALLET_PASSWORD" in result.stderr


@pytest.mark.parametrize("source", ["file", "environment"])
def test_the_right_password_starts_teller_and_open_secret_files_are_warned_about(
    tmp_path: Path, node_socket: str, source: str
) -> None:
    config, env = setup(tmp_path, node_socket, wallet_mode=0o644)
    if source == "file":  # as systemd's LoadCredential= provides it, with a line end
        password_file = tmp_path / "wallet-password"
        password_file.write_text(VECTORS["password"] + "\n")
        password_file.chmod(0o400)
        env["TELLER_SKY_EXCHANGER__WALLET_PASSWORD_FILE"] = str(password_file)
    else:
        env["TELLER_SKY_EXCHANGER__WALLET_PASSWORD"] = VECTORS["password"]
    logfile = tmp_path / "teller.log"
    proc = subprocess.Popen(
        teller(config, tmp_path / "data"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (logfile.exists() and ready_addresses(logfile.read_text(), proc.pid)):
            assert proc.poll() is None, logfile.read_text() if logfile.exists() else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = logfile.read_text()
    assert "hot wallet loaded addresses=3" in text
    warnings = [line for line in text.splitlines() if "open to other users" in line]
    assert len(warnings) == 1  # the wallet (0644); not the config file nor the password (0600/0400)
    assert f"file={tmp_path / 'hot.wlt'}" in warnings[0] and "chmod 600" in warnings[0]
    assert "notice=WATCH" in warnings[0]
    assert VECTORS["password"] not in text
    for entry in VECTORS["entries"]:  # no plaintext key anywhere teller writes
        for path in [logfile, *(tmp_path / "data").rglob("*")]:
            if path.is_file():
                assert entry["secret_key"] not in path.read_bytes().decode("latin-1")
