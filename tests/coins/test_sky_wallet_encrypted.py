"""Encrypted `.wlt` hot wallets (coins/sky_wallet.py, coins/sky_wallet_crypto.py) against the
files Skycoin v0.27.1's own wallet package wrote (tests/fixtures/vectors/skycoin/wallet/
encrypted/, vectors.json names the seed, the password and the keys).

The default cipher derives its key with scrypt n = 2^20 (about 3 s and 1 GiB, as in Skycoin):
it is decrypted once, in one test; every other case uses the `-insecure` file (n = 2^15).
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from teller.coins import sky_tx
from teller.coins.sky_wallet import (
    EncryptedWalletError,
    Wallet,
    WalletPasswordError,
    crypto_type,
    load_wallet,
)
from tests.vectors import load_json, vector_path

FOLDER = "skycoin/wallet/encrypted"
VECTORS: dict[str, Any] = load_json(f"{FOLDER}/vectors.json")
PASSWORD = VECTORS["password"].encode()
FILES: dict[str, str] = VECTORS["files"]
INSECURE = FILES["scrypt-chacha20poly1305-insecure"]


def wallet_file(name: str) -> Path:
    return vector_path(f"{FOLDER}/{name}")


def assert_vector_keys(wallet: Wallet) -> None:
    expected = VECTORS["entries"]
    assert wallet.addresses == tuple(e["address"] for e in expected)
    for entry, raw in zip(wallet.entries, expected, strict=True):
        assert entry.seckey.hex() == raw["secret_key"]
        assert entry.pubkey.hex() == raw["public_key"]
        assert sky_tx.seckey_matches(entry.address, entry.seckey)


def test_the_plain_vector_loads_without_a_password() -> None:
    assert_vector_keys(load_wallet(wallet_file(FILES["none"])))
    assert_vector_keys(load_wallet(wallet_file(FILES["none"]), password=b"ignored"))


@pytest.mark.parametrize("cipher", ["scrypt-chacha20poly1305", "scrypt-chacha20poly1305-insecure"])
def test_both_scrypt_vectors_decrypt_to_the_listed_keys(cipher: str) -> None:
    path = wallet_file(FILES[cipher])
    assert crypto_type(json.loads(path.read_text())) == cipher
    assert_vector_keys(load_wallet(path, password=PASSWORD))


def test_sha256_xor_is_refused_with_the_advice_to_re_encrypt() -> None:
    for password in (PASSWORD, None):
        with pytest.raises(EncryptedWalletError) as info:
            load_wallet(wallet_file(FILES["sha256-xor"]), password=password)
        message = str(info.value)
        assert "sha256-xor" in message and "re-encrypt" in message
        assert "scrypt-chacha20poly1305" in message
        assert FILES["sha256-xor"] in message  # names the file


def test_a_wrong_password_is_refused_clearly() -> None:
    with pytest.raises(WalletPasswordError, match="wrong wallet password") as info:
        load_wallet(wallet_file(INSECURE), password=b"not-the-password")
    assert INSECURE in str(info.value)
    assert "not-the-password" not in str(info.value)


def test_an_encrypted_wallet_without_a_password_says_so() -> None:
    with pytest.raises(EncryptedWalletError, match=r"encrypted .* no password was given"):
        load_wallet(wallet_file(INSECURE))
    with pytest.raises(EncryptedWalletError, match="missing password"):
        load_wallet(wallet_file(INSECURE), password=b"")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.update(secrets="not base64!"), "not base64"),
        (lambda m: m.update(secrets=""), "meta.secrets is empty"),
        (lambda m: m.update(cryptoType="rot13"), "cipher 'rot13' is unknown"),
        (lambda m: m.update(secrets=m["secrets"][:-8] + "AAAAAAAA"), "wrong wallet password"),
    ],
)
def test_damaged_secrets_are_clear_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    document = json.loads(wallet_file(INSECURE).read_text())
    mutate(document["meta"])
    path = tmp_path / "damaged.wlt"
    path.write_text(json.dumps(document))
    with pytest.raises(EncryptedWalletError, match=message):
        load_wallet(path, password=PASSWORD)


def reachable(root: object) -> list[object]:
    """Every object reachable from `root` (its fields, their items, ...)."""
    seen: dict[int, object] = {}
    todo = [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, type):
            continue
        seen[id(item)] = item
        todo.extend(gc.get_referents(item))
    return list(seen.values())


@pytest.mark.parametrize("name", [FILES["none"], INSECURE])
def test_a_loaded_wallet_keeps_the_keys_and_never_the_seed(name: str) -> None:
    wallet = load_wallet(wallet_file(name), password=PASSWORD)
    plain = json.loads(wallet_file(FILES["none"]).read_text())
    secrets = {VECTORS["seed"], plain["meta"]["lastSeed"]}
    held = reachable(wallet)
    texts = {o for o in held if isinstance(o, str)}
    texts |= {o.decode("latin-1") for o in held if isinstance(o, bytes | bytearray)}
    assert not any(secret in text for secret in secrets for text in texts)
    assert {e.seckey.hex() for e in wallet.entries} == {e["secret_key"] for e in VECTORS["entries"]}
