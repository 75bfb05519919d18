"""A real teller for HTTP tests: config file, SQLite store, uvicorn servers on loopback.

`TellerLauncher(tmp_path).start(**options)` (the `start_teller` fixture) writes a config
TOML into tmp_path (with copies of the example address files next to it), loads it with
teller.config.load.load_config, builds teller with build_teller and runs teller.app.serve in a
background thread with its own event loop, on port-0 listeners. The returned RunningTeller
has the base URLs of the public, HTTPS, admin and dummy servers and small helpers that
talk to them over real HTTP; every teller started in a test is stopped cleanly (servers
shut down, workers cancelled) after it, and the test fails if teller logged an ERROR it
did not expect (`expect_errors()`).

Teller runs in its own thread so tests can be plain synchronous functions using
httpx.Client, including hypothesis tests.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

import teller
from teller.app import Teller, build_teller, serve
from teller.config.load import load_config
from teller.config.schema import Config

EXAMPLES = Path(teller.__file__).resolve().parent / "examples"
ADDRESS_FILES = {
    "BTC": "example_btc_addresses.txt",
    "ETH": "example_eth_addresses.txt",
    "SKY": "example_sky_addresses.txt",
}

# Valid SKY addresses (test vector teller/address_validation.json, sky_valid: true).
SKY_A = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
SKY_B = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"
SKY_C = "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY"

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def example_addresses(coin: str) -> list[str]:
    """The example pool file's addresses, in file order."""
    text = (EXAMPLES / ADDRESS_FILES[coin]).read_text(encoding="utf-8")
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


# -- a minimal TOML writer (the values a config needs: str, bool, int, list of str) ------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table (a [[webhooks]] entry)
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    while tables:
        name, table = tables.pop(0)
        lines.append(f"\n[{name}]")
        for key, value in table.items():
            if isinstance(value, dict):
                tables.append((f"{name}.{key}", value))
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


# -- the running teller ------------------------------------------------------------------------


class _ErrorLog(logging.Handler):
    """ERROR records of teller and uvicorn: a test fails if teller logged one unexpectedly
    (an internal error answered as a 500, a worker step that crashed)."""

    LOGGERS = ("teller", "uvicorn.error")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def install(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


@dataclass
class RunningTeller:
    teller: Teller
    config: Config
    dir: Path
    public: str  # "http://127.0.0.1:port"
    admin: str
    dummy: str
    https: str | None = None
    ca: trustme.CA | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    error_log: _ErrorLog | None = None
    admin_token: str = ""  # the data directory's admin_token ("" with auth off)

    def __post_init__(self) -> None:
        if self.ca is not None:
            self.http.close()
            self.http = httpx.Client(timeout=10.0, verify=self.ssl_context())
        # `http` is the operator's client: it sends the admin credential on every request
        # (the public and dummy servers ignore it); tests of the credential use their own.
        if self.admin_token:
            self.http.headers["Authorization"] = f"Bearer {self.admin_token}"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the test CA that signed teller's certificate."""
        assert self.ca is not None
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def expect_errors(self) -> list[str]:
        """The ERROR log lines so far, which the test expected (they are then forgotten)."""
        assert self.error_log is not None
        lines = [r.getMessage() for r in self.error_log.records]
        self.error_log.records.clear()
        return lines

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, **kwargs)

    def bind(self, skyaddr: str, coin_type: str = "BTC") -> httpx.Response:
        return self.http.post(
            self.public + "/api/bind",
            json={"skyaddr": skyaddr, "coin_type": coin_type},
        )

    def bind_ok(self, skyaddr: str, coin_type: str = "BTC") -> str:
        response = self.bind(skyaddr, coin_type)
        assert response.status_code == 200, response.text
        address = response.json()["deposit_address"]
        assert isinstance(address, str)
        return address

    def status(self, skyaddr: str) -> httpx.Response:
        return self.http.get(self.public + "/api/status", params={"skyaddr": skyaddr})

    def statuses(self, skyaddr: str) -> list[dict[str, Any]]:
        response = self.status(skyaddr)
        assert response.status_code == 200, response.text
        found = response.json().get("statuses", [])
        assert isinstance(found, list)
        return found

    def admin_get(self, path: str, **params: str) -> Any:
        response = self.http.get(self.admin + path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def remaining(self) -> dict[str, int]:
        """Free deposit addresses per coin (admin /api/deposit-addresses)."""
        view = self.admin_get("/api/deposit-addresses")
        return {coin: view[coin]["remaining_addresses"] for coin in view}

    def snapshot(self) -> dict[str, Any]:
        """What a bad request must not change: pools, bound addresses, deposits."""
        view = self.admin_get("/api/deposit-addresses")
        return {
            "addresses": view,
            "deposits": self.admin_get("/api/deposits")["deposits"],
        }

    def deposit(self, **params: str | int) -> httpx.Response:
        """POST /dummy/scanner/deposit with the query (POST is taken in every dummy mode; GET
        only with dummy.scanner and dummy.sender both on: tests/http/test_dummy.py)."""
        return self.http.post(
            self.dummy + "/dummy/scanner/deposit",
            params={k: str(v) for k, v in params.items()},
        )

    def deposit_ok(self, **params: str | int) -> None:
        response = self.deposit(**params)
        assert response.status_code == 200, response.text

    def broadcasts(self) -> list[dict[str, Any]]:
        response = self.http.get(self.dummy + "/dummy/sender/broadcasts")
        assert response.status_code == 200, response.text
        found = response.json()
        assert isinstance(found, list)
        return found

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)

    def wait_status(self, skyaddr: str, status: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        def reached() -> list[dict[str, Any]] | None:
            found = self.statuses(skyaddr)
            return found if found and all(s["status"] == status for s in found) else None

        result: list[dict[str, Any]] = self.wait_for(reached, timeout, f"{skyaddr} {status}")
        return result


class _TellerThread(threading.Thread):
    """teller.app.serve in a thread with its own event loop."""

    def __init__(self, built: Teller) -> None:
        super().__init__(name="teller-under-test", daemon=True)
        self.built = built
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        try:
            await serve(self.built, on_ready=lambda _: self.ready.set())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported to the test by stop()/start
            self.error = exc
        finally:
            self.ready.set()

    async def _shutdown(self) -> None:
        # Let every uvicorn server finish its graceful shutdown, then stop serve() itself
        # (it waits for SIGINT/SIGTERM, which a thread cannot receive).
        for server in self.built.servers:
            server.should_exit = True
        serving = [t for t in asyncio.all_tasks() if t.get_name().startswith("serve ")]
        if serving:
            await asyncio.wait(serving, timeout=STOP_TIMEOUT)
        assert self.task is not None
        self.task.cancel()

    def request_stop(self) -> None:
        """Start the clean shutdown (uvicorn's takes ~0.15 s, so tests do not wait for it)."""
        if self.loop is not None and self.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)

    def stop(self) -> None:
        self.request_stop()
        self.join(STOP_TIMEOUT)
        assert not self.is_alive(), "teller did not stop"


# Tellers whose shutdown was requested at the end of their test; joined by reap_stopping().
_STOPPING: list[tuple[_TellerThread, Path]] = []


def reap_stopping(wait: bool) -> list[str]:
    """Join the stopping tellers (all of them if `wait`, else the finished ones); returns
    one line per teller that failed to stop or stopped with an error."""
    problems = []
    for thread, directory in list(_STOPPING):
        if wait:
            thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            if wait:
                problems.append(f"teller in {directory} did not stop")
            continue
        _STOPPING.remove((thread, directory))
        if thread.error is not None:
            problems.append(f"teller in {directory} stopped with {thread.error!r}")
    return problems


def _https_files(directory: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = directory / "tls_cert.pem", directory / "tls_key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    return ca, cert_path, key_path


StartTeller = Callable[..., RunningTeller]


class TellerLauncher:
    """Starts tellers in `tmp_path` and stops every one of them at the end of a test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[tuple[_TellerThread, RunningTeller]] = []
        self.error_log = _ErrorLog()
        self.error_log.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.error_log.install()

    def start(
        self,
        *,
        bind_enabled: bool = True,
        max_bound_addrs: int = 5,
        throttle_max: int = 1000,
        throttle_duration: str = "60s",
        cors_allowed: list[str] | None = None,
        behind_proxy: bool = False,
        https: bool = False,
        http: bool = True,
        balance: str = "1000000",
        auto_confirm: bool = False,
        send_enabled: bool = True,
        profile: bool = False,
        eth_enabled: bool = True,
        sky_enabled: bool = False,
        pool_size: int | None = 5,
        max_body_bytes: int = 4096,
        overrides: dict[str, Any] | None = None,
    ) -> RunningTeller:
        directory = self.tmp_path / f"teller{len(self.started)}"
        directory.mkdir()
        for coin, name in ADDRESS_FILES.items():
            if pool_size is None:
                shutil.copy(EXAMPLES / name, directory / name)
            else:
                kept = example_addresses(coin)[:pool_size]
                (directory / name).write_text("\n".join(kept) + "\n", encoding="utf-8")
        data: dict[str, Any] = {
            "debug": False,
            "profile": profile,
            "logfile": "",
            "dbfile": "teller.db",
            "btc_addresses": ADDRESS_FILES["BTC"],
            "eth_addresses": ADDRESS_FILES["ETH"],
            "sky_addresses": ADDRESS_FILES["SKY"],
            "teller": {"max_bound_addrs": max_bound_addrs, "bind_enabled": bind_enabled},
            "btc_scanner": {"enabled": True, "confirmations_required": 1},
            "eth_scanner": {"enabled": eth_enabled, "confirmations_required": 1},
            "sky_scanner": {"enabled": sky_enabled},
            "sky_exchanger": {
                "sky_btc_exchange_rate": "500",
                "sky_eth_exchange_rate": "100",
                "sky_sky_exchange_rate": "1",
                "max_decimals": 3,
                "tx_confirmation_check_wait": "1s",
                "send_enabled": send_enabled,
                "buy_method": "direct",
            },
            "web": {
                "behind_proxy": behind_proxy,
                "http_addr": "127.0.0.1:0" if http else "",
                "throttle_max": throttle_max,
                "throttle_duration": throttle_duration,
                "cors_allowed": cors_allowed or [],
                "max_body_bytes": max_body_bytes,
            },
            "admin_panel": {"host": "127.0.0.1:0"},
            "dummy": {
                "sender": True,
                "scanner": True,
                "http_addr": "127.0.0.1:0",
                "balance": balance,
                "auto_confirm": auto_confirm,
            },
        }
        ca = None
        if https:
            ca, cert_path, key_path = _https_files(directory)
            data["web"].update(
                {"https_addr": "127.0.0.1:0", "tls_cert": cert_path.name, "tls_key": key_path.name}
            )
        _merge(data, overrides or {})
        config_path = directory / "config.toml"
        config_path.write_text(to_toml(data), encoding="utf-8")
        return self._launch(directory, http=http, https=https, ca=ca)

    def restart(self, running: RunningTeller) -> RunningTeller:
        """Stop `running` and wait until it has stopped, then start a teller again on the same
        config file and data directory (a restart of the process, as an operator does it)."""
        for thread, started in list(self.started):
            if started is running:
                running.http.close()
                thread.stop()
                self.started.remove((thread, started))
                if thread.error is not None:
                    raise RuntimeError(f"teller stopped with {thread.error!r}")
        web = running.config.web
        return self._launch(
            running.dir, http=bool(web.http_addr), https=running.https is not None, ca=running.ca
        )

    def _launch(
        self, directory: Path, *, http: bool, https: bool, ca: trustme.CA | None
    ) -> RunningTeller:
        config = load_config(directory / "config.toml", check_network=False, env={})
        built = build_teller(config, directory / "data")
        thread = _TellerThread(built)
        thread.start()
        if not thread.ready.wait(START_TIMEOUT) or thread.error is not None:
            thread.stop()
            raise RuntimeError(f"teller did not start: {thread.error!r}")
        addresses = built.addresses()
        token_file = directory / "data" / "admin_token"
        running = RunningTeller(
            teller=built,
            config=config,
            dir=directory,
            public=f"http://{addresses['web.http_addr']}" if http else "",
            admin=f"http://{addresses['admin_panel.host']}",
            dummy=f"http://{addresses['dummy.http_addr']}"
            if "dummy.http_addr" in addresses
            else "",
            https=f"https://{addresses['web.https_addr']}" if https else None,
            ca=ca,
            error_log=self.error_log,
            admin_token=token_file.read_text().strip() if token_file.exists() else "",
        )
        self.started.append((thread, running))
        return running

    def stop_all(self) -> None:
        """Close the clients, request every teller's shutdown, and check the error log.

        The shutdowns finish in the background; `reap_stopping(wait=True)` (run at the end
        of the session) checks that every teller stopped and stopped without an error.
        """
        for thread, running in reversed(self.started):
            running.http.close()
            thread.request_stop()
            _STOPPING.append((thread, running.dir))
        self.started.clear()
        self.error_log.remove()
        unexpected = [self.error_log.format(r) for r in self.error_log.records]
        assert not unexpected, "teller logged errors:\n" + "\n".join(unexpected)
        problems = reap_stopping(wait=False)
        assert not problems, "\n".join(problems)
