"""The `teller` command as an operator uses it: addresses, db migrate, start-up errors, signals."""

from __future__ import annotations

import base64
import getpass
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from teller.clock import unix_now
from teller.deposits import states
from teller.store.bindings import insert_binding
from teller.store.db import Database, create_store_engine, sqlite_url
from teller.store.deposits import insert_deposit_if_new
from teller.store.models import IncomingDeposit
from teller.store.operator_actions import recent_actions

from .e2e.conftest import ANY_PORT, EXAMPLE_CONFIG, ready_addresses
from .vectors import load_json

TELLER = [sys.executable, "-m", "teller.cli"]


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TELLER, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        input=stdin,
    )


def _golden(name: str) -> dict[str, object]:
    return dict(load_json(f"skycoin/cipher/{name}"))


@pytest.mark.parametrize("name", ["seed-0000.golden", "seed-0001.golden"])
def test_addresses_btc_prints_the_originals_addresses(name: str) -> None:
    golden = _golden(name)
    seed = base64.b64decode(str(golden["seed"])).decode()
    keys = golden["keys"]
    assert isinstance(keys, list)
    result = run("addresses", "btc", seed, str(len(keys)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [k["bitcoin_address"] for k in keys]
    # The original's form still works, and says who else can see the seed.
    assert "can be read by other users" in result.stderr and "shell history" in result.stderr
    assert "--seed-file" in result.stderr


def test_addresses_btc_reads_the_seed_from_a_file_or_standard_input(tmp_path: Path) -> None:
    golden = _golden("seed-0000.golden")
    seed = base64.b64decode(str(golden["seed"])).decode()
    keys = golden["keys"]
    assert isinstance(keys, list)
    expected = [k["bitcoin_address"] for k in keys[:3]]
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(seed + "\n")  # as an editor or `echo` writes it
    for args, stdin in [
        (["--seed-file", str(seed_file), "3"], ""),
        (["--seed-file", "-", "3"], seed + "\n"),
        (["3"], seed),  # N alone: the seed comes on standard input
    ]:
        result = run("addresses", "btc", *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == expected
        assert result.stderr == ""  # no warning: the seed was never on the command line
    missing = run("addresses", "btc", "--seed-file", str(tmp_path / "nope"), "3")
    assert missing.returncode == 1 and "cannot read the seed from" in missing.stderr
    both = run("addresses", "btc", "--seed-file", str(seed_file), "words", "3")
    assert both.returncode == 2 and "usage: teller addresses btc" in both.stderr
    empty = run("addresses", "btc", "--seed-file", "-", "3", stdin="\n")
    assert empty.returncode == 2 and "seed must not be empty" in empty.stderr


def test_addresses_btc_json_has_the_address_file_format() -> None:
    golden = _golden("many-addresses.golden")
    seed = base64.b64decode(str(golden["seed"])).decode()
    keys = golden["keys"]
    assert isinstance(keys, list)
    result = run("addresses", "btc", "--json", "--seed-file", "-", "1000", stdin=seed)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"btc_addresses": [k["bitcoin_address"] for k in keys]}
    assert result.stdout.startswith('{\n    "btc_addresses": [\n        "')
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed", "-1"], "count must be from 0 to 1,000,000"),
        (["seed", "1000001"], "count must be from 0 to 1,000,000"),
        (["seed", "ten"], "invalid int value"),
        (["", "3"], "seed must not be empty"),
    ],
)
def test_addresses_btc_refuses_bad_arguments_clearly(args: list[str], message: str) -> None:
    result = run("addresses", "btc", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_db_migrate_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    first = run("db", "migrate", "-c", str(EXAMPLE_CONFIG), "-d", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to" in first.stdout
    assert (tmp_path / "teller.db").exists()
    second = run("db", "migrate", "-c", str(EXAMPLE_CONFIG), "-d", str(tmp_path))
    assert "up to date" in second.stdout


def test_an_eth_address_with_a_wrong_eip55_checksum_stops_the_start(tmp_path: Path) -> None:
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test case, as it is written
    typo = good[:-1] + "D"  # one letter's case changed: the checksum catches it
    (tmp_path / "eth.txt").write_text(f"# pool\n{good}\n{typo}\n")
    (tmp_path / "btc.txt").write_text("1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB\n")
    config = tmp_path / "teller.toml"
    config.write_text(
        'btc_addresses = "btc.txt"\neth_addresses = "eth.txt"\nlogfile = ""\n'
        '[sky_exchanger]\nsky_btc_exchange_rate = "500"\nsky_eth_exchange_rate = "100"\n'
        "[eth_scanner]\nenabled = true\n"
        '[dummy]\nsender = true\nscanner = true\nhttp_addr = "127.0.0.1:0"\n'
        '[web]\nhttp_addr = "127.0.0.1:0"\n[admin_panel]\nhost = "127.0.0.1:0"\n'
    )
    result = run("-c", str(config), "-d", str(tmp_path / "data"))
    assert result.returncode == 1
    assert f"eth.txt line 3: invalid ETH address '{typo}': Invalid EIP-55 checksum" in result.stderr


def test_a_bad_config_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        'btc_addresses = ""\neth_addresses = ""\n[sky_exchanger]\nmax_decimals = 7\n'
        "[dummy]\nsender = true\nscanner = true\n[eth_scanner]\nenabled = true\n"
    )
    result = run("-c", str(config), "-d", str(tmp_path / "data"))
    assert result.returncode == 1
    assert result.stderr.startswith("Config error:\n")
    for problem in ("btc_addresses missing", "eth_addresses missing", "max_decimals"):
        assert problem in result.stderr
    assert not (tmp_path / "data" / "teller.db").exists()


def test_a_bad_address_file_stops_start_up_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "btc.txt").write_text("1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB\nnonsense\n")
    (tmp_path / "eth.txt").write_text("0x77720eeb0be8b4060636e4f8e77b178ace343e11\n")
    config = tmp_path / "config.toml"
    config.write_text(
        EXAMPLE_CONFIG.read_text()
        .replace("example_btc_addresses.txt", "btc.txt")
        .replace("example_eth_addresses.txt", "eth.txt")
    )
    result = run("-c", str(config), "-d", str(tmp_path / "data"))
    assert result.returncode == 1
    assert f"{tmp_path / 'btc.txt'} line 2: invalid BTC address 'nonsense'" in result.stderr


def test_sigterm_stops_cleanly_sighup_reopens_the_log_and_pidfile_is_removed(
    tmp_path: Path,
) -> None:
    logfile, pidfile = tmp_path / "teller.log", tmp_path / "teller.pid"
    env = dict(os.environ)
    env.update(ANY_PORT)  # the kernel picks the ports; the ready line says which
    env.update(
        {
            "TELLER_LOGFILE": str(logfile),
            "TELLER_PIDFILE": str(pidfile),
        }
    )
    proc = subprocess.Popen(
        [*TELLER, "-c", str(EXAMPLE_CONFIG), "-d", str(tmp_path / "data")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        addresses = None
        while addresses is None:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
            if logfile.exists():
                addresses = ready_addresses(logfile.read_text(), proc.pid)
        public = addresses["web.http_addr"]
        assert pidfile.read_text().strip() == str(proc.pid)
        logfile.rename(tmp_path / "teller.log.1")  # what logrotate does
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert httpx.get(f"http://{public}/api/health").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped" in logfile.read_text()  # written to the new file after the rotation
    assert not pidfile.exists()


def _waiting_send_deposit(datadir: Path) -> str:
    """A deposit in waiting_send (5 SKY owed) in the store of `datadir` (example config)."""
    db = Database(create_store_engine(sqlite_url(datadir / "teller.db")))
    try:
        with db.write() as conn:
            binding = insert_binding(
                conn,
                coin_type="BTC",
                deposit_address="1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                sky_address="2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW",
                buy_method="direct",
                now=1,
            )
            incoming = IncomingDeposit("BTC", binding.deposit_address, 1_000_000, 1, "ab" * 32, 0)
            deposit, _ = insert_deposit_if_new(conn, incoming, binding, unix_now())
            states.move(conn, deposit, states.WAITING_SEND, unix_now(), sky_due=5_000_000)
    finally:
        db.dispose()
    return deposit.deposit_id


def test_operator_commands_act_once_refuse_clearly_and_exit_0_1_2(tmp_path: Path) -> None:
    config = ["-c", str(EXAMPLE_CONFIG), "-d", str(tmp_path)]
    assert run("db", "migrate", *config).returncode == 0
    deposit_id = _waiting_send_deposit(tmp_path)
    stopped = run("deposit", "stop", deposit_id, "--reason", "refunded", *config)
    assert stopped.returncode == 0, stopped.stderr
    assert f"deposit {deposit_id}: stopped" in stopped.stdout
    again = run("deposit", "stop", deposit_id, "--reason", "refunded", *config)
    assert (again.returncode, again.stderr.strip()) == (1, f"deposit {deposit_id} is done already")
    released = run("deposit", "release", deposit_id, *config)
    assert (released.returncode, released.stderr.strip()) == (1, f"deposit {deposit_id} is done")
    bad = run("payout", "void", "not-a-txid", *config)
    assert bad.returncode == 2 and "64 hex digits" in bad.stderr
    dummy = run("payout", "void", "ab" * 32, *config)  # the example config pays with dummy.sender
    assert dummy.returncode == 1 and "needs the Skycoin node payer" in dummy.stderr
    usage = run("deposit", "stop", deposit_id, *config)  # --reason is required
    assert usage.returncode == 2 and "--reason" in usage.stderr
    db = Database(create_store_engine(sqlite_url(tmp_path / "teller.db")))
    try:
        with db.read() as conn:
            actions = recent_actions(conn, 10)
    finally:
        db.dispose()
    assert [(a.action, a.outcome.split(":")[0]) for a in actions] == [
        ("payout.void", "refused"),
        ("payout.void", "refused"),
        ("deposit.release", "refused"),
        ("deposit.stop", "refused"),
        ("deposit.stop", "done"),
    ]
    assert {a.actor for a in actions} == {getpass.getuser()}


def test_admin_token_prints_a_token_and_its_hash() -> None:
    from teller.config.admin_auth import AdminCredential, StoredHash

    result = run("admin", "token")
    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[0].rsplit(" ", 1)[1]
    stored = result.stdout.splitlines()[1].split('"')[1]
    assert len(token) >= 43 and stored.startswith("sha256:")
    assert AdminCredential([StoredHash(stored)]).accepts(token)
    assert run("admin", "token").stdout != result.stdout  # a new one each time


def test_admin_token_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "admin.token"
    made = run("admin", "token", "--file", str(path))
    assert made.returncode == 0, made.stderr
    token = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in made.stdout and f'auth_token_file = "{path}"' in made.stdout
    again = run("admin", "token", "--file", str(path))
    assert (again.returncode, path.read_text().strip()) == (1, token)
    assert "exists" in again.stderr


def test_admin_token_password_prints_a_pbkdf2_hash() -> None:
    from teller.config.admin_auth import AdminCredential, StoredHash

    password = "a long passphrase of the operator"
    result = subprocess.run(
        [*TELLER, "admin", "token", "--password"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stored = result.stdout.split('"')[1]
    assert stored.startswith("pbkdf2_sha256:600000:") and password not in result.stdout
    assert AdminCredential([StoredHash(stored)]).accepts(password)
    short = subprocess.run(
        [*TELLER, "admin", "token", "--password"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert short.returncode == 1 and "at least 16 characters" in short.stderr
