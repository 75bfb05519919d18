"""Wiring: build every part of teller from the config, run them together, stop cleanly.

Nothing here decides anything about deposits; it only connects the parts of DESIGN.md §1
(address pools, intake, processor, sender, HTTP servers) and runs them under one TaskGroup.
SIGINT/SIGTERM stop everything; SIGHUP reopens the log file (for logrotate).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from logging.handlers import WatchedFileHandler
from pathlib import Path

from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from teller.api_procs import ApiProcesses, api_process_count
from teller.audit.history import HistorySampler
from teller.audit.loop import Auditor, AuditPeers
from teller.clients.acme import AcmeClient
from teller.clients.c2cx import C2CXClient
from teller.clients.ethereum import EthereumClient
from teller.clients.market import Market
from teller.clients.skycoin_node import SkyNodeClient
from teller.coins.sky_wallet import Wallet, WalletError, load_wallet
from teller.config.admin_auth import AdminCredential, CredentialError, default_token_file
from teller.config.preflight import split_host_port
from teller.config.schema import BUY_METHOD_PASSTHROUGH, Config
from teller.config.secret_files import wallet_password, webhook_secret
from teller.deposits.address_files import AddressFileError, read_address_file
from teller.deposits.binding import BindService
from teller.deposits.direct import DirectProcessor
from teller.deposits.hd import load_hd_chains
from teller.deposits.health import StatusBoard
from teller.deposits.intake import DepositIntake
from teller.deposits.worker_role import WorkerRole
from teller.http.admin import create_admin_app
from teller.http.dummy import create_dummy_app
from teller.http.public import create_public_app
from teller.http.redirect import HttpsRedirect
from teller.http.servers import EmbeddedServer, Listener, bind_socket, connection_limits
from teller.logs import log_event
from teller.passthrough.orders import PassthroughProcessor
from teller.passthrough.quote import OrderBookWatch, QuoteService
from teller.payout.base import Payer
from teller.payout.dummy import DummyPayer
from teller.payout.sender import Sender
from teller.payout.skycoin_node import SkyNodePayer
from teller.scanners.base import BlockScanner
from teller.scanners.nodes import build_scanners
from teller.services.parts import Services
from teller.store.db import Database, create_store_engine, store_url
from teller.store.migrate import upgrade
from teller.store.models import WebhookTarget
from teller.store.pool import sync_pool
from teller.store.worker_lock import DatabaseInUse, SqliteProcessLock
from teller.store.worker_role import Fenced
from teller.tls.auto import AutoCertificate
from teller.tls.context import load_certificate, server_context
from teller.tls.files import CertificateFiles
from teller.webhooks.alerts import ALERT_WATCH, WatchAlerts
from teller.webhooks.delivery import Endpoint, WebhookSender
from teller.worker import Waker, run_worker

log = logging.getLogger("teller")

DUMMY_LEDGER = "dummy_sender.jsonl"


class StartupError(Exception):
    """Teller cannot start; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def database_url(config: Config, appdir: Path) -> str:
    return store_url(config.database_url, appdir, config.dbfile)


def webhook_targets(config: Config) -> tuple[WebhookTarget, ...]:
    """The [[webhooks]] as the outbox writes for them (store/webhooks.py)."""
    return tuple(WebhookTarget(hook.url, hook.event_set()) for hook in config.webhooks)


def open_database(config: Config, appdir: Path) -> Database:
    """Open the store and bring its schema up to date (Alembic, at every start)."""
    engine = create_store_engine(database_url(config, appdir))
    upgrade(engine)
    db = Database(engine)
    # Every process writing to the store (teller run, and the CLI's operator actions) queues
    # the webhook events of its changes, before anything is written.
    db.webhook_targets = webhook_targets(config)
    return db


def enabled_coins(config: Config) -> frozenset[str]:
    return frozenset(c for c in ("BTC", "ETH", "SKY") if config.scanner_enabled(c))


def load_pools(config: Config, db: Database, coins: frozenset[str]) -> None:
    """Read and check every enabled coin's address file, then sync the store's pool to it."""
    files = {"BTC": config.btc_addresses, "ETH": config.eth_addresses, "SKY": config.sky_addresses}
    problems: list[str] = []
    loaded: dict[str, list[str]] = {}
    for coin in sorted(coins):
        if not files[coin]:
            problems.append(f"{coin.lower()}_addresses missing")
            continue
        try:
            loaded[coin] = read_address_file(Path(files[coin]), coin, config.btc_scanner.network)
        except AddressFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise StartupError(problems)
    with db.write() as conn:
        for coin, addresses in loaded.items():
            added = sync_pool(conn, coin, addresses)
            log_event(
                log,
                logging.INFO,
                "address pool loaded",
                coin_type=coin,
                addresses=len(addresses),
                new=added,
            )


async def hot_droplets(payer: Payer) -> int:
    """The hot wallet's confirmed SKY in droplets (for the history sampler)."""
    return (await payer.balance()).droplets


def dummy_droplets(balance: str) -> int:
    return int(Decimal(balance) * 1_000_000)


@dataclass
class Teller:
    """A built teller: its services, its background stages and its listeners."""

    services: Services
    processor: DirectProcessor
    sender: Sender
    listeners: list[Listener] = field(default_factory=list)
    servers: list[EmbeddedServer] = field(default_factory=list)
    process_lock: SqliteProcessLock | None = None
    # This process's candidacy for the worker role (deposits/worker_role.py); None: api_only.
    role: WorkerRole | None = None
    scanners: list[BlockScanner] = field(default_factory=list)  # chain scanners (not dummy)
    market: Market | None = None  # the exchange of passthrough deposits, if there is one
    passthrough: PassthroughProcessor | None = None
    book_watch: OrderBookWatch | None = None  # the order book behind passthrough quotes
    auditor: Auditor | None = None  # the independent audit (audit/loop.py), worker role only
    history: HistorySampler | None = None  # the dashboard's lines (audit/history.py), worker role
    webhooks: WebhookSender | None = None  # webhooks/delivery.py, worker role only
    # web.auto_tls_host's certificate (tls/auto.py); every replica keeps its own
    auto_certificate: AutoCertificate | None = None
    # With several API processes (api_procs.py): in the parent, the public addresses it
    # reserves (not served) and the processes serving them; in an API process, api_only.
    reserved: list[Listener] = field(default_factory=list)
    api_processes: ApiProcesses | None = None
    api_only: bool = False

    def addresses(self) -> dict[str, str]:
        return {lst.name: lst.address for lst in [*self.reserved, *self.listeners]}


def load_hot_wallet(config: Config) -> Wallet:
    """The hot wallet of sky_exchanger.wallet, decrypted with its password if it is encrypted
    (config/secret_files.py says where the password comes from). Only its entries' keys are
    kept (coins/sky_wallet.py); nothing decrypted is written anywhere. StartupError, naming
    the key and the file, when it cannot be read or the password is wrong."""
    exchanger = config.sky_exchanger
    try:
        password = wallet_password(config)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StartupError(
            [f"sky_exchanger.wallet_password_file {exchanger.wallet_password_file}: {reason}"]
        ) from exc
    if password is not None:
        log_event(log, logging.INFO, "decrypting the hot wallet", wallet=exchanger.wallet)
    try:
        wallet = load_wallet(exchanger.wallet, password=password)
    except WalletError as exc:
        raise StartupError([f"sky_exchanger.wallet: {exc}"]) from exc
    log_event(log, logging.INFO, "hot wallet loaded", addresses=len(wallet.entries))
    return wallet


def build_payer(
    config: Config, appdir: Path, wallet: Wallet | None = None
) -> tuple[Payer, DummyPayer | None]:
    """The payer the sender uses, and the dummy payer if it is that one (for its API).

    dummy.sender: the fake network of payout/dummy.py. Otherwise the real one: the hot
    wallet of sky_exchanger.wallet (`wallet` if already loaded; else loaded and checked
    here, before anything runs) signing for the Skycoin node at sky_rpc.address (a node
    simulator is just such a node, on a loopback address: `teller-sim skynode`).
    """
    if config.dummy.sender:
        dummy = DummyPayer(
            appdir / DUMMY_LEDGER,
            dummy_droplets(config.dummy.balance),
            auto_confirm=config.dummy.auto_confirm,
        )
        return dummy, dummy
    if wallet is None:
        wallet = load_hot_wallet(config)
    return SkyNodePayer(
        SkyNodeClient(config.sky_rpc.address, cert=config.sky_rpc.cert), wallet
    ), None


def build_market(config: Config) -> Market | None:
    """The exchange passthrough deposits are bought on: C2CX at exchange_client.base_url (or
    a `teller-sim c2cx` on a loopback address), in passthrough mode only.

    None in direct mode, whatever credentials are set: then nothing (order book, orders,
    audit) contacts the exchange, and passthrough deposits left from an earlier passthrough
    run wait in their status (/api/health says so) until buy_method is passthrough again.
    None without credentials too (the config refuses buy_method passthrough without them).
    """
    exchanger = config.sky_exchanger
    if exchanger.buy_method != BUY_METHOD_PASSTHROUGH:
        return None
    client = exchanger.exchange_client
    key, secret = client.key.get_secret_value(), client.secret.get_secret_value()
    if key and secret:
        return C2CXClient(key, secret, client.base_url)
    return None


NOT_ON_THIS_NODE = {
    "btc_deposit_addresses": "not on this node: Bitcoin Core tells an address's received"
    " total only for addresses of its own wallet (getreceivedbyaddress), and teller imports no"
    " deposit address into it; scantxoutset would show only what is unspent now",
    "sky_deposit_addresses": "the SKY deposit addresses' received totals are not compared yet",
}


def build_auditor(
    config: Config, db: Database, payer: Payer, market: Market | None
) -> Auditor | None:
    """The audit of README "Audit" with the peers this config has; None when audit.interval
    is 0. Each check that cannot run here is listed with the reason."""
    interval = config.audit.interval.total_seconds()
    if interval <= 0:
        return None
    peers = AuditPeers()
    if isinstance(payer, SkyNodePayer):
        peers.sky, peers.hot_addresses = payer.client, tuple(payer.addresses)
    else:
        why = "the dummy sender pays no real transactions"
        peers.unchecked |= {"hot_wallet_spends": why, "hot_wallet_balance": why}
    if isinstance(market, C2CXClient):
        peers.exchange = market
    else:
        peers.unchecked["exchange_orders"] = (
            "no exchange account configured"
            if config.sky_exchanger.buy_method == BUY_METHOD_PASSTHROUGH
            else "the exchange is contacted only with buy_method passthrough"
        )
    on_node = not config.dummy.scanner
    if config.eth_scanner.enabled and on_node:
        peers.eth, peers.owns_eth = EthereumClient(config.eth_rpc.server, config.eth_rpc.port), True
    if config.btc_scanner.enabled and on_node:
        peers.unchecked["btc_deposit_addresses"] = NOT_ON_THIS_NODE["btc_deposit_addresses"]
    if config.sky_scanner.enabled and on_node:
        peers.unchecked["sky_deposit_addresses"] = NOT_ON_THIS_NODE["sky_deposit_addresses"]
    return Auditor(db, peers, interval_seconds=interval)


def build_webhook_sender(config: Config, db: Database) -> WebhookSender | None:
    """The delivery loop of the [[webhooks]] (None without any). StartupError when a
    secret_file cannot be read."""
    endpoints = []
    for number, hook in enumerate(config.webhooks, start=1):
        try:
            secret = webhook_secret(hook)
        except OSError as exc:
            raise StartupError(
                [f"webhooks[{number}].secret_file {hook.secret_file}: {exc.strerror or exc}"]
            ) from exc
        endpoints.append(
            Endpoint(
                url=hook.url,
                secret=secret,
                timeout=hook.timeout.total_seconds(),
                max_attempts=hook.max_attempts,
                retry_wait=hook.retry_wait.total_seconds(),
                retry_wait_max=hook.retry_wait_max.total_seconds(),
            )
        )
    return WebhookSender(db, endpoints) if endpoints else None


def build_teller(
    config: Config, appdir: Path, *, api_only: bool = False, api_processes: int = 1
) -> Teller:
    """Build teller from its config. api_only: an API process of api_procs.py (public
    listeners only, sharing their ports; no worker role, no schema upgrade, no pool sync: its
    parent did those). api_processes > 1: the parent of that many API processes (it reserves
    the public addresses and serves admin and dummy; serve() starts the processes)."""
    # The hot wallet first: a wrong password (or a wallet teller cannot read) stops teller
    # before anything is created, locked or listened on.
    wallet = None if config.dummy.sender else load_hot_wallet(config)
    appdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    process_lock = None
    url = make_url(database_url(config, appdir))
    if url.get_backend_name() == "sqlite" and url.database and not api_only:
        # An API process shares its parent's lock: the parent holds it for them all.
        process_lock = SqliteProcessLock(Path(url.database))
        try:
            process_lock.acquire()
        except DatabaseInUse as exc:
            raise StartupError([str(exc)]) from exc
    if api_only:  # the parent upgraded the schema
        db = Database(create_store_engine(database_url(config, appdir)))
        db.webhook_targets = webhook_targets(config)  # its binds' binding.created events
    else:
        db = open_database(config, appdir)
    coins = enabled_coins(config)
    hd_chains = load_hd_chains(config, db, coins)  # these coins need no address file
    if not api_only:
        load_pools(config, db, coins - hd_chains.keys())
    board = StatusBoard()
    role = None
    if not api_only:
        role = WorkerRole(
            db,
            board,
            lease_seconds=config.worker.lease.total_seconds(),
            renew_seconds=config.worker.renew.total_seconds(),
        )
    # The stages write through the fence: each write checks this process's epoch first.
    worker_db = role.fenced_db if role is not None else db
    processor_waker, sender_waker = Waker(), Waker()
    payer, dummy_payer = build_payer(config, appdir, wallet)
    market = build_market(config)
    exchanger = config.sky_exchanger
    book_watch = None
    if market is not None:
        client = exchanger.exchange_client
        book_watch = OrderBookWatch(
            market, client.orderbook_refresh.total_seconds(), client.ratelimit_wait.total_seconds()
        )
    bind = BindService(
        db,
        enabled_coins=coins,
        bind_enabled=config.teller.bind_enabled,
        max_bound_addrs=config.teller.max_bound_addrs,
        buy_method=exchanger.buy_method,
        hd_chains=hd_chains,
        pool_low_warning=config.teller.pool_low_warning(),
    )
    services = Services(
        config=config,
        db=db,
        bind=bind,
        intake=DepositIntake(db, processor_waker),
        payer=payer,
        board=board,
        processor_waker=processor_waker,
        sender_waker=sender_waker,
        enabled_coins=coins,
        pool_coins=coins,
        dummy_payer=dummy_payer,
        quote=QuoteService(config, bind.check_coin_type, book_watch),
        role=role,
    )
    teller = Teller(
        services=services,
        processor=DirectProcessor(
            worker_db, config, board, sender_waker, passthrough_available=market is not None
        ),
        sender=Sender(worker_db, payer, board, send_enabled=exchanger.send_enabled),
        process_lock=process_lock,
        role=role,
        api_only=api_only,
    )
    # Scanned deposits go in through the intake unfenced (idempotent: keyed by txid:n); the
    # scanners' own progress is fenced.
    teller.scanners = build_scanners(config, worker_db, services.intake, board)
    teller.market, teller.book_watch = market, book_watch
    if market is not None and not api_only:
        passthrough_waker = Waker()
        processor_waker.add_follower(passthrough_waker)
        teller.passthrough = PassthroughProcessor(
            worker_db, config, board, market, sender_waker, passthrough_waker
        )
    if not api_only:  # the worker role's loops: never in an API process
        teller.auditor = services.audit = build_auditor(config, worker_db, payer, market)
        teller.history = HistorySampler(
            worker_db, partial(hot_droplets, payer), skip_pools=services.bind.hd_chains.keys()
        )
        teller.webhooks = build_webhook_sender(config, worker_db)
    teller.auto_certificate = build_auto_certificate(config, appdir)
    serving = "api" if api_only else "parent" if api_processes > 1 else "all"
    listeners = make_listeners(
        services,
        None if api_only else admin_credential(config, appdir),
        teller.auto_certificate,
        role=serving,
    )
    public = {"web.http_addr", "web.https_addr"}
    if serving == "parent":
        teller.reserved = [lst for lst in listeners if lst.name in public]
        listeners = [lst for lst in listeners if lst.name not in public]
    teller.listeners = listeners
    return teller


def admin_credential(config: Config, appdir: Path) -> AdminCredential | None:
    """What the admin server accepts (README "Security"): the token hash and/or token file of
    the config; with neither, the data directory's admin_token, made with a new token at the
    first start. None (no credential) only with admin_panel.disable_auth_on_loopback, which
    preflight allows on a loopback listener only. The token itself is never logged."""
    admin = config.admin_panel
    if admin.disable_auth_on_loopback:
        log_event(
            log,
            logging.WARNING,
            "admin API without a credential (admin_panel.disable_auth_on_loopback): every"
            " user and program of this machine can read and act on it",
            host=admin.host,
        )
        return None
    stored = admin.auth_token_hash.get_secret_value()
    token_file = Path(admin.auth_token_file) if admin.auth_token_file else None
    if not stored and token_file is None:
        token_file, made = default_token_file(appdir)
        log_event(
            log,
            logging.INFO,
            "admin API token made" if made else "admin API token",
            token_file=str(token_file),
            use="Authorization: Bearer <the file's token>",
        )
    try:
        return AdminCredential.of(stored, token_file)
    except CredentialError as exc:
        raise StartupError([str(exc)]) from exc


def _loopback_by_default(name: str, address: str) -> None:
    """Say so when ":PORT" makes a public listener loopback-only (the Go teller listened on
    every interface): an operator who meant the internet must write 0.0.0.0:PORT."""
    try:
        host = split_host_port(address)[0]
    except ValueError:
        return
    if not host:
        log_event(
            log,
            logging.WARNING,
            'listener written ":PORT" listens on loopback only: write 0.0.0.0:PORT to serve'
            " every interface",
            watch=True,
            listener=name,
            address=address,
        )


def build_auto_certificate(config: Config, appdir: Path) -> AutoCertificate | None:
    """web.auto_tls_host's certificate, kept in `appdir/acme`; a stored one still valid is
    served from the start. None without auto_tls_host."""
    web = config.web
    if not (web.https_addr and web.auto_tls_host):
        return None

    def make_client(account_key: bytes) -> AcmeClient:
        return AcmeClient(
            web.acme_directory, account_key, ca_file=web.acme_ca_file, email=web.acme_email
        )

    auto = AutoCertificate(
        web.auto_tls_host,
        CertificateFiles(appdir),
        make_client,
        server_context(),
        renew_left=float(web.acme_renew_left),
    )
    auto.load_stored()
    return auto


def https_context(config: Config, auto: AutoCertificate | None) -> ssl.SSLContext:
    """The TLS context of web.https_addr: auto_tls_host's, or one loaded from tls_cert/tls_key."""
    if auto is not None:
        return auto.context
    web = config.web
    context = server_context()
    try:
        load_certificate(context, web.tls_cert, web.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(
            [f"web.tls_cert {web.tls_cert} and web.tls_key {web.tls_key} cannot be loaded: {exc}"]
        ) from exc
    return context


def make_listeners(
    services: Services,
    credential: AdminCredential | None,
    auto: AutoCertificate | None = None,
    *,
    role: str = "all",
) -> list[Listener]:
    """Bind every listener of the config. With web.https_addr, web.http_addr only redirects to
    HTTPS (and answers auto_tls_host's ACME challenges): http/redirect.py.

    role "all": one process serves everything. "parent": the public addresses are only
    reserved (SO_REUSEPORT, not listening) for the API processes, which bind them too with
    role "api" (public listeners only)."""
    config = services.config
    web = config.web
    listeners: list[Listener] = []
    shared = role != "all"

    def public_socket(name: str, address: str) -> socket.socket:
        return bind_socket(name, address, reuse_port=shared, listen=role != "parent")

    if role != "api":
        for name, address in (
            ("web.http_addr", web.http_addr),
            ("web.https_addr", web.https_addr),
        ):
            if address:
                _loopback_by_default(name, address)
    try:
        public = create_public_app(
            services, throttle_share=api_process_count(config) if role == "api" else 1
        )
        https = None
        if web.https_addr:
            context = https_context(config, auto)
            https = Listener(
                "web.https_addr",
                public,
                public_socket("web.https_addr", web.https_addr),
                ssl_context=context,
            )
            listeners.append(https)
        if web.http_addr:
            plain: ASGIApp = public
            if https is not None:
                plain = HttpsRedirect(
                    https.sock.getsockname()[1],
                    host=web.auto_tls_host,
                    challenge_answer=auto.challenge_answer if auto is not None else None,
                )
            listeners.append(
                Listener("web.http_addr", plain, public_socket("web.http_addr", web.http_addr))
            )
        if role != "api":  # the API processes of `teller run` serve the public API alone
            listeners.append(
                Listener(
                    "admin_panel.host",
                    create_admin_app(services, credential),
                    bind_socket("admin_panel.host", config.admin_panel.host),
                )
            )
            if config.dummy.sender or config.dummy.scanner:
                listeners.append(
                    Listener(
                        "dummy.http_addr",
                        create_dummy_app(services),
                        bind_socket("dummy.http_addr", config.dummy.http_addr),
                    )
                )
    except Exception:
        for listener in listeners:
            listener.sock.close()
        raise
    return _with_limits(config, listeners)


def _with_limits(config: Config, listeners: list[Listener]) -> list[Listener]:
    for listener in listeners:  # the [http] limits, on every server
        listener.limits = connection_limits(config, listener.name)
    return listeners


async def serve(
    teller: Teller,
    *,
    log_handler: WatchedFileHandler | None = None,
    on_ready: Callable[[Teller], None] | None = None,
) -> None:
    """Run every stage and server until SIGINT/SIGTERM (or cancellation), then stop cleanly."""
    services = teller.services
    loop = asyncio.get_running_loop()
    # Store calls run in worker threads; as many as the connection pool holds, so that binds
    # and deposits arriving together can share a group commit (asyncio's default is 6).
    loop.set_default_executor(ThreadPoolExecutor(max_workers=24, thread_name_prefix="store"))
    services.processor_waker.bind_loop(loop)
    if teller.passthrough is not None:
        teller.passthrough.waker.bind_loop(loop)
    services.sender_waker.bind_loop(loop)
    stop = asyncio.Event()
    installed = _install_signal_handlers(loop, stop, log_handler)
    alerts = None
    if any(ALERT_WATCH in target.events for target in services.db.webhook_targets):
        alerts = WatchAlerts(services.db)
        logging.getLogger().addHandler(alerts)
    try:
        async with asyncio.TaskGroup() as group:
            teller.servers = []
            for listener in teller.listeners:
                server = listener.server()
                teller.servers.append(server)
                group.create_task(
                    server.serve(sockets=[listener.sock]), name=f"serve {listener.name}"
                )
            side_tasks = []
            if teller.book_watch is not None:
                # Every replica quotes, so every replica reads the book (not only the worker).
                side_tasks.append(group.create_task(teller.book_watch.run(), name="order book"))
            if teller.auto_certificate is not None:
                side_tasks.append(
                    group.create_task(teller.auto_certificate.run(), name="auto certificate")
                )
            if not teller.api_only:
                side_tasks.append(
                    group.create_task(run_workers_when_allowed(teller), name="workers")
                )
            while not all(s.started for s in teller.servers):
                await asyncio.sleep(0.01)
            if teller.api_processes is not None:
                await teller.api_processes.start()
                side_tasks.append(
                    group.create_task(teller.api_processes.watch(), name="API processes")
                )
            listening = " ".join(f"{k}={v}" for k, v in teller.addresses().items())
            log_event(log, logging.INFO, "teller ready", pid=os.getpid(), listening=listening)
            if on_ready is not None:
                on_ready(teller)
            await stop.wait()
            log.info("stopping")
            for task in side_tasks:
                task.cancel()
            if teller.api_processes is not None:
                await teller.api_processes.stop()
            for server in teller.servers:
                server.should_exit = True
    finally:
        if teller.api_processes is not None:
            teller.api_processes.kill_all()
        for sig in installed:
            loop.remove_signal_handler(sig)
        if teller.market is not None:
            await teller.market.aclose()
        if teller.auditor is not None:
            await teller.auditor.aclose()
        if teller.webhooks is not None:
            await teller.webhooks.aclose()
        if alerts is not None:
            logging.getLogger().removeHandler(alerts)
            alerts.close()  # stores the alerts still queued
        services.db.dispose()
        if teller.process_lock is not None:
            teller.process_lock.release()
    log.info("stopped")


# A stage's fenced write ends the stages at once (deposits/worker_role.py stops them, WATCH):
# the worker role is lost, retrying the step would only be fenced again.
FENCED = (Fenced,)


async def run_workers(teller: Teller) -> None:
    """The deposit stages: processor and sender, until cancelled."""
    services = teller.services
    check_wait = services.config.sky_exchanger.tx_confirmation_check_wait.total_seconds()
    async with asyncio.TaskGroup() as group:
        group.create_task(
            run_worker(
                "processor", teller.processor.step, services.processor_waker, 5.0, fatal=FENCED
            ),
            name="processor",
        )
        group.create_task(
            run_worker(
                "sender", teller.sender.step, services.sender_waker, check_wait, fatal=FENCED
            ),
            name="sender",
        )
        if teller.passthrough is not None:
            group.create_task(teller.passthrough.run(), name="passthrough")
        for scanner in teller.scanners:
            group.create_task(scanner.run(), name=f"scanner {scanner.coin}")
        if teller.auditor is not None:  # read-only, off the money path
            group.create_task(teller.auditor.run(), name="audit")
        if teller.history is not None:  # off the money path: the dashboard's lines
            group.create_task(teller.history.run(), name="history")
        if teller.webhooks is not None:
            # Polls the outbox every second (events are written by every stage, and by the
            # web role's binds): an event waits at most that long before its first attempt.
            group.create_task(
                run_worker("webhooks", teller.webhooks.step, Waker(), 1.0, fatal=FENCED),
                name="webhooks",
            )


async def run_workers_when_allowed(teller: Teller) -> None:
    """Be a candidate for the worker role and run the stages while holding it
    (deposits/worker_role.py); an api_only process runs none."""
    role = teller.role
    if role is None:
        return
    await role.run(lambda: run_workers(teller))


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, log_handler: WatchedFileHandler | None
) -> list[int]:
    installed: list[int] = []
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        if log_handler is not None:
            loop.add_signal_handler(signal.SIGHUP, log_handler.reopenIfNeeded)
            installed.append(signal.SIGHUP)
    except (NotImplementedError, RuntimeError):
        pass  # not the main thread (tests running teller in a thread): no signals
    return installed
