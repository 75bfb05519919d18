"""Files that hold secrets: the hot wallet's password, and who else may read such files.

Place in the flow: app.py reads the encrypted hot wallet's password with `wallet_password`
just before it decrypts the wallet (coins/sky_wallet.py); cli.py logs the lines of
`exposed_secret_files` as warnings at start-up. The password comes from the file named by
sky_exchanger.wallet_password_file (systemd's LoadCredential= puts one at
$CREDENTIALS_DIRECTORY/NAME, mode 0400) or from TELLER_SKY_EXCHANGER__WALLET_PASSWORD;
preflight.py has already refused both at once and a missing file. The config file counts as
holding secrets only for those written in it: credentials given in the environment (a systemd
EnvironmentFile, deploy/teller.service) leave it readable by the service's own user.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from teller.config.go_compat import normalized_file_data
from teller.config.schema import Config, WebhookConfig

# Keys whose value is a credential, as the file writes them (after go_compat's renaming).
CREDENTIAL_KEYS = (
    ("btc_rpc", "user"),
    ("btc_rpc", "pass"),
    ("sky_exchanger", "exchange_client", "key"),
    ("sky_exchanger", "exchange_client", "secret"),
)


def wallet_password(config: Config) -> bytes | None:
    """The hot wallet's password as UTF-8 bytes, None when none is configured. A password
    file's one trailing line end is not part of it (`echo PASSWORD > file` writes one).
    OSError when the file cannot be read."""
    exchanger = config.sky_exchanger
    if exchanger.wallet_password_file:
        text = Path(exchanger.wallet_password_file).read_bytes()
        return text.removesuffix(b"\n").removesuffix(b"\r")
    password = exchanger.wallet_password.get_secret_value()
    return password.encode("utf-8") if password else None


def webhook_secret(hook: WebhookConfig) -> bytes:
    """The key a webhook's events are signed with (HMAC-SHA256): its secret, or the text of
    its secret_file without the whitespace around it (preflight.py has checked that exactly
    one is set). OSError when the file cannot be read."""
    if hook.secret_file:
        text = Path(hook.secret_file).read_text("utf-8")
        return text.strip().encode("utf-8")
    return hook.secret.get_secret_value().encode("utf-8")


@dataclass(frozen=True, slots=True)
class ExposedFile:
    """A file holding secrets that the group or other users may read or change."""

    key: str  # the config key naming it ("config file" for the config itself)
    path: str
    mode: int

    @property
    def fix(self) -> str:
        return f"chmod 600 {self.path}"

    def __str__(self) -> str:
        return (
            f"{self.key} {self.path} is open to other users (mode {self.mode:04o}) but holds"
            f" secrets: run {self.fix}"
        )


def exposed_secret_files(config: Config, config_file: Path | None) -> list[ExposedFile]:
    """The files holding a secret that the group or other users may read or change: the
    config file (when the config has credentials), the hot wallet, its password file, the
    HTTPS key."""
    files = [
        (
            "config file",
            str(config_file) if config_file and _holds_credentials(config_file) else "",
        ),
        ("sky_exchanger.wallet", "" if config.dummy.sender else config.sky_exchanger.wallet),
        ("sky_exchanger.wallet_password_file", config.sky_exchanger.wallet_password_file),
        ("web.tls_key", config.web.tls_key),
        *(
            (f"webhooks[{number}].secret_file", hook.secret_file)
            for number, hook in enumerate(config.webhooks, start=1)
        ),
    ]
    exposed = []
    for key, path in files:
        mode = _mode(path)
        if mode is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
            exposed.append(ExposedFile(key, path, mode))
    return exposed


def _holds_credentials(config_file: Path) -> bool:
    """Whether the config file itself holds a secret: RPC or exchange credentials, a database
    password (not those the environment gives)."""
    try:
        data, _problems, _table = normalized_file_data(
            tomllib.loads(config_file.read_text("utf-8"))
        )
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # teller has just loaded it: not expected
    if any(_value(data, key) for key in CREDENTIAL_KEYS):
        return True
    hooks = data.get("webhooks")
    if isinstance(hooks, list) and any(
        isinstance(hook, Mapping) and _value(hook, ("secret",)) for hook in hooks
    ):
        return True
    url = _value(data, ("database_url",))
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return bool(url)


def _value(data: Mapping[str, object], key: tuple[str, ...]) -> str:
    """The text at a dotted key of the file's data, "" when absent or not text."""
    found: object = data
    for part in key:
        found = found.get(part) if isinstance(found, Mapping) else None
    return found if isinstance(found, str) else ""


def _mode(path: str) -> int | None:
    if not path:
        return None
    try:
        return stat.S_IMODE(Path(path).stat().st_mode)
    except OSError:
        return None  # a missing file is preflight's problem
