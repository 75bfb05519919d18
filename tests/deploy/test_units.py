"""deploy/: the systemd units pass systemd's own check, and what they hand teller (credentials,
environment) together with deploy/config.toml is a config teller starts with.

The units run `/opt/teller/bin/teller`; `systemd-analyze verify` refuses a unit whose command
does not exist, so the check runs copies whose ExecStart names this venv's teller instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from teller.cli import build_parser
from teller.config.load import load_config
from teller.config.secret_files import exposed_secret_files, wallet_password
from tests.peers import require_peer
from tests.vectors import vector_path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("teller.service", "teller@.service")
INSTALLED_TELLER = "/opt/teller/bin/teller"
WALLET_VECTOR = "skycoin/wallet/encrypted/encrypted-scrypt-chacha20poly1305-insecure.wlt"
WALLET_VECTOR_PASSWORD = "teller-vector-password"
ADMIN_TOKEN = "a-token-of-thirty-two-characters"


def unit_settings(unit: str, key: str) -> list[str]:
    """Every value of `key` in a unit file, in order (each line `KEY=VALUE`)."""
    lines = (DEPLOY / unit).read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{key}=")]


def unit_environment(unit: str, credentials: Path) -> dict[str, str]:
    """The unit's Environment= variables, with %d (the credentials directory) expanded."""
    assignments = (value.split("=", 1) for value in unit_settings(unit, "Environment"))
    return {name: value.replace("%d", str(credentials)) for name, value in assignments}


def verify(unit_dir: Path, *units: str) -> str:
    """`systemd-analyze verify`'s complaints about `units` (their files in `unit_dir`)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        require_peer("systemd-analyze", "apt-get install systemd", why="checks deploy/*.service")
    result = subprocess.run(
        [analyze, "verify", *(str(unit_dir / unit) for unit in units)],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"exit status {result.returncode}\n{result.stdout}{result.stderr}"


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    teller = Path(sys.executable).parent / "teller"
    assert teller.is_file()
    for unit in UNITS:
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace(INSTALLED_TELLER, str(teller)), "utf-8")
    # the auto-TLS drop-in is read with teller.service, from teller.service.d/ beside it
    (tmp_path / "teller.service.d").mkdir()
    shutil.copy(DEPLOY / "auto-tls.conf", tmp_path / "teller.service.d")
    # An unknown or misspelt directive is only a warning (exit status 0): none may be printed.
    assert verify(tmp_path, "teller.service", "teller@replica1.service") == "exit status 0\n"


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_run_teller_commands(unit: str) -> None:
    """ExecStartPre migrates the schema, ExecStart runs teller: both in the data directory
    systemd makes (StateDirectory), with the config in /etc/teller."""
    commands = [unit_settings(unit, key) for key in ("ExecStartPre", "ExecStart")]
    assert [len(lines) for lines in commands] == [1, 1]
    parser = build_parser()
    parsed = []
    for (command,) in commands:
        program, *arguments = command.split()
        assert program == INSTALLED_TELLER
        args = parser.parse_args(arguments)
        parsed.append((args.command, getattr(args, "db_command", None), args.config, args.dir))
    config, data = "/etc/teller/config.toml", "${STATE_DIRECTORY}"
    assert parsed == [("db", "migrate", config, data), ("run", None, config, data)]


def test_verify_reports_a_misspelt_directive(tmp_path: Path) -> None:
    # The check above can fail: what it would print for a unit with a typo.
    text = (DEPLOY / "teller.service").read_text(encoding="utf-8")
    text = text.replace(INSTALLED_TELLER, str(Path(sys.executable).parent / "teller"))
    (tmp_path / "teller.service").write_text(text.replace("ProtectSystem=", "ProtectSystm="))
    assert "Unknown key 'ProtectSystm'" in verify(tmp_path, "teller.service")


@pytest.mark.parametrize("unit", UNITS)
def test_the_unit_hands_teller_its_credentials(unit: str, tmp_path: Path) -> None:
    """deploy/config.toml as /etc/teller/config.toml, with the unit's credentials and
    environment: teller's loader and preflight accept it, and every credential reaches the key
    that reads it (a misspelt variable would be ignored and the key left at its default)."""
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(DEPLOY / "config.toml", etc / "config.toml")
    examples = ROOT / "src" / "teller" / "examples"
    for coin in ("btc", "eth"):
        shutil.copy(examples / f"example_{coin}_addresses.txt", etc / f"{coin}_addresses.txt")
    credentials = tmp_path / "credentials"  # as systemd makes it: files of mode 0400
    credentials.mkdir()
    sources = {
        "admin_token": ADMIN_TOKEN.encode(),
        "hot.wlt": vector_path(WALLET_VECTOR).read_bytes(),
        "wallet_password": WALLET_VECTOR_PASSWORD.encode() + b"\n",
    }
    names = [value.split(":", 1)[0] for value in unit_settings(unit, "LoadCredential")]
    assert sorted(names) == sorted(sources)
    for name in names:
        (credentials / name).write_bytes(sources[name])
        (credentials / name).chmod(0o400)
    env = unit_environment(unit, credentials)
    env |= {"TELLER_BTC_RPC__USER": "teller", "TELLER_BTC_RPC__PASS": "from teller.env"}

    config = load_config(etc / "config.toml", check_network=False, env=env)

    assert config.admin_panel.auth_token_file == str(credentials / "admin_token")
    assert config.sky_exchanger.wallet == str(credentials / "hot.wlt")
    assert wallet_password(config) == WALLET_VECTOR_PASSWORD.encode()
    assert (config.logfile, config.dummy.sender, config.dummy.scanner) == ("", False, False)
    assert config.web.behind_proxy and config.admin_panel.host == "127.0.0.1:7711"
    (etc / "config.toml").chmod(0o644)  # readable by the service's DynamicUser
    assert exposed_secret_files(config, etc / "config.toml") == []  # no warning at start
