"""The `.wlt` wallet file (coins/sky_wallet.py) against skycoin's wallet vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from teller.coins import sky, sky_tx
from teller.coins.sky_wallet import (
    EncryptedWalletError,
    WalletError,
    load_wallet,
    wallet_document,
    write_wallet,
)
from tests.vectors import load_json, vector_path

SEED = "exchange stage green marine palm tobacco decline shadow cereal chapter lamp copy"


@pytest.mark.parametrize(
    ("name", "count"), [("integration-test.wlt", 1), ("generate-addresses.v0.27.1.golden", 2)]
)
def test_vector_wallets_load_with_checked_keys(name: str, count: int) -> None:
    wallet = load_wallet(vector_path(f"skycoin/wallet/{name}"))
    document = load_json(f"skycoin/wallet/{name}")
    assert wallet.addresses == tuple(e["address"] for e in document["entries"])
    assert len(wallet.entries) == count
    assert wallet.change_address == "2Kg3eRXUhY6hrDZvNGB99DKahtrPDQ1W9vN"
    for entry, raw in zip(wallet.entries, document["entries"], strict=True):
        assert entry.seckey.hex() == raw["secret_key"]
        assert entry.pubkey.hex() == raw["public_key"]
        assert sky_tx.seckey_matches(entry.address, entry.seckey)
    assert not hasattr(wallet, "meta")  # the seed is not kept (test_sky_wallet_encrypted.py)


@pytest.mark.parametrize(
    ("name", "count"), [("integration-test.wlt", 1), ("generate-addresses.v0.27.1.golden", 2)]
)
def test_written_wallet_matches_the_vector(tmp_path: Path, name: str, count: int) -> None:
    expected = load_json(f"skycoin/wallet/{name}")
    wallet = write_wallet(tmp_path / "hot.wlt", SEED, count)
    written = json.loads((tmp_path / "hot.wlt").read_text())
    assert written["entries"] == expected["entries"]
    assert written["meta"]["lastSeed"] == expected["meta"]["lastSeed"]
    assert written["meta"]["seed"] == SEED and written["meta"]["type"] == "deterministic"
    assert wallet.addresses == tuple(e["address"] for e in expected["entries"])
    assert (tmp_path / "hot.wlt").stat().st_mode & 0o777 == 0o600


def vector_document() -> dict[str, Any]:
    document: dict[str, Any] = load_json("skycoin/wallet/generate-addresses.v0.27.1.golden")
    return document


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "w.wlt"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_encrypted_wallet_is_a_clear_error(tmp_path: Path) -> None:
    document = vector_document()
    document["meta"] |= {"encrypted": "true", "cryptoType": "scrypt-chacha20poly1305"}
    for entry in document["entries"]:
        entry["secret_key"] = ""
    with pytest.raises(EncryptedWalletError, match="encrypted \\(scrypt-chacha20poly1305\\)"):
        load_wallet(write(tmp_path, document))
    document["meta"]["encrypted"] = "false"  # blank secrets without the flag: still encrypted
    with pytest.raises(EncryptedWalletError, match="entry 0 has no secret key"):
        load_wallet(write(tmp_path, document))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["entries"][1].update(address=d["entries"][0]["address"]), "does not belong"),
        (lambda d: d["entries"][0].update(public_key="02" + "00" * 32), "does not belong"),
        (lambda d: d["entries"][0].update(secret_key="zz"), "not a valid key"),
        (lambda d: d["entries"][0].update(secret_key="ff" * 32), "not a valid key"),
        (
            lambda d: d["entries"][0].update(address="2Kg3eRXUhY6hrDZvNGB99DKahtrPDQ1W9vM"),
            "Invalid",
        ),
        (lambda d: d["entries"][0].pop("secret_key"), "needs address, public_key and secret_key"),
        (lambda d: d.update(entries=[]), "no addresses"),
        (lambda d: d.pop("meta"), "needs meta and entries"),
        (lambda d: d["entries"].append(d["entries"][0]), "appears twice"),
        (lambda d: d["entries"].__setitem__(0, 7), "entry 0 is not an object"),
    ],
)
def test_bad_wallets_are_clear_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    document = vector_document()
    mutate(document)
    with pytest.raises(WalletError, match=message) as info:
        load_wallet(write(tmp_path, document))
    assert not isinstance(info.value, EncryptedWalletError)
    assert str(tmp_path / "w.wlt") in str(info.value)


def test_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(WalletError, match="wallet file not found"):
        load_wallet(tmp_path / "nope.wlt")
    with pytest.raises(WalletError, match="bad JSON"):
        load_wallet(write(tmp_path, "{not json"))
    with pytest.raises(WalletError, match="expected a JSON object"):
        load_wallet(write(tmp_path, "[1, 2]"))


def test_wallet_keys_sign_for_its_addresses() -> None:
    wallet_doc = wallet_document("demo", 2, label="demo", filename="demo.wlt")
    addresses = [e["address"] for e in wallet_doc["entries"]]
    keys = list(sky.deterministic_keypairs(b"demo", 2))
    assert addresses == [sky.address_from_pubkey(k.pubkey) for k in keys]
    with pytest.raises(ValueError, match="at least one"):
        wallet_document("demo", 0, label="x", filename="x.wlt")


def test_a_wallet_never_shows_its_seed_or_keys_in_a_repr(tmp_path: Path) -> None:
    path = tmp_path / "hot.wlt"
    write_wallet(path, "repr secret seed", 2)
    wallet = load_wallet(path)
    shown = repr(wallet)
    assert "repr secret seed" not in shown
    assert all(e.seckey.hex() not in shown and repr(e.seckey) not in shown for e in wallet.entries)
    assert wallet.entries[0].address in shown  # still useful for debugging
