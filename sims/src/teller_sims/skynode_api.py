"""The Skycoin node simulator's HTTP side: the node's REST endpoints and the /sim/ controls.

Place in the flow: teller_sims/skynode.py builds a chain (teller_sims/skynode_chain.py) and
serves this app on 127.0.0.1; teller's node client, payer and SKY scanner talk to it as to a
Skycoin node.
The endpoints, the error texts and the request checks (Host, CSRF, JSON content type) are
listed in teller_sims/skynode.py's docstring; the facts come from reference skycoin.md §5 and §9.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from teller.coins import sky, sky_tx
from teller.coins.sky_tx import Transaction, TransactionDecodeError, TransactionInvalid
from teller_sims.serving import quiet_server
from teller_sims.skynode_chain import MAX_BLOCK_SIZE, Block, Chain, Rules, UxOut

log = logging.getLogger("teller_sims.skynode")

DEFAULT_VERSION = "0.27.1"
CSRF_LIFETIME = 30  # seconds, as v0.25+ HMAC tokens
BROADCAST_FAILED = "No addresses provided"  # what a node with no peers answers (§7)
JSON_TYPE = "application/json"
STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("-")[0].split(".") if p.isdigit())


def default_burn_factor(version: str) -> int:
    """2 up to v0.25.x, 10 from v0.26.0 (skycoin.md §4)."""
    old = version_tuple(version) < (0, 26)
    return sky_tx.BURN_FACTOR_V025 if old else sky_tx.BURN_FACTOR_V026


def format_coins(droplets: int) -> str:
    """Droplets as the node's decimal SKY string: 27000000000 → "27000.000000"."""
    whole, frac = divmod(droplets, sky.DROPLETS_PER_SKY)
    return f"{whole}.{frac:06d}"


def parse_coins(text: str) -> int:
    """Decimal SKY text (at most 6 decimals) → droplets, exactly; ValueError otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"invalid amount {text!r}") from None
    droplets = value * sky.DROPLETS_PER_SKY
    if not value.is_finite() or value < 0 or droplets != droplets.to_integral_value():
        raise ValueError(f"invalid amount {text!r}")
    return int(droplets)


def error(status: int, message: str = "") -> PlainTextResponse:
    """The node's error text: "403 Forbidden - invalid CSRF token"."""
    text = f"{status} {STATUS_TEXT.get(status, 'Error')}"
    if message:
        text += f" - {message}"
    return PlainTextResponse(text + "\n", status_code=status)


def error_v2(status: int, message: str) -> JSONResponse:
    """A v2 endpoint's error: {"error": {"message", "code"}}."""
    return JSONResponse({"error": {"message": message, "code": status}}, status_code=status)


@dataclass
class SimOptions:
    """How the simulated node behaves; the command line maps onto these."""

    version: str = DEFAULT_VERSION
    burn_factor: int | None = None  # None: by version
    block_interval: float = 10.0  # seconds; 0 = only on demand (/sim/block)
    csrf: bool = True
    header_check: bool = True
    host_whitelist: tuple[str, ...] = ()
    max_transaction_size: int = sky_tx.MAX_TRANSACTION_SIZE
    max_block_size: int = MAX_BLOCK_SIZE
    conflict_ttl: float = 60.0
    state_file: Path | None = None
    peers: int = 1  # connected peers (simulated: heights only); 0 = alone, broadcasts fail
    # HTTPS, as a node started with -web-interface-https -web-interface-cert/-key serves it.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def rules(self) -> Rules:
        return Rules(
            burn_factor=self.burn_factor or default_burn_factor(self.version),
            max_transaction_size=self.max_transaction_size,
            max_block_size=self.max_block_size,
            conflict_ttl=self.conflict_ttl,
        )


class CsrfTokens:
    """Stateless HMAC tokens valid for 30 s, like v0.25+ nodes: "<expiry>.<nonce>.<mac>"."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self) -> str:
        body = f"{int(self._clock()) + CSRF_LIFETIME}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, token: str) -> bool:
        body, _, mac = token.rpartition(".")
        expiry = body.split(".", 1)[0]
        if not body or not expiry.isdigit() or not hmac.compare_digest(mac, self._mac(body)):
            return False
        return self._clock() < int(expiry)


class SkyNodeSim:
    """The simulated node: a chain, the switches tests flip, and the FastAPI app serving it."""

    def __init__(self, chain: Chain, options: SimOptions) -> None:
        self.chain = chain
        self.options = options
        self.fail_broadcasts = False
        self.paused = False
        self.peers = options.peers
        # While this node is behind (swapped for an empty one, /sim/replace): the rest of the
        # network, which keeps the real chain and makes the blocks; `chain` is what this node
        # has and serves. None when the node is synced (then `chain` is the network's too).
        self.network: Chain | None = None
        self.port = 0  # set when serving; the Host check needs it
        self.public = False  # bound to a non-loopback address: no Host check (as the node)
        self.csrf = CsrfTokens()
        self.started = time.time()
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None

    def stop(self) -> None:
        """Ask the server to finish (graceful: open connections are closed, then it returns)."""
        if self._server is not None:
            self._server.should_exit = True

    # -- state ---------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the chain to the state file, atomically (a crash leaves the old one)."""
        path = self.options.state_file
        if path is None:
            return
        tmp = path.with_name(path.name + ".tmp")
        # The network's chain: a restart brings the node back synced (the swap is not kept).
        tmp.write_text(json.dumps(self.network_chain.to_json()), encoding="utf-8")
        os.replace(tmp, path)

    @property
    def network_chain(self) -> Chain:
        """The real chain: the network's while this node is behind, else this node's."""
        return self.network if self.network is not None else self.chain

    def make_block(self) -> Block:
        # The network publishes blocks; a node that is behind gets them only by syncing.
        block = self.network_chain.make_block()
        self.save()
        if block.transactions:
            log.info("block %d: %d transactions", block.seq, len(block.transactions))
        return block

    async def produce_blocks(self) -> None:
        """A block every `block_interval` seconds while transactions are pending (as a node)."""
        interval = self.options.block_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            if not self.paused and self.network_chain.has_work():
                self.make_block()

    # -- JSON views ------------------------------------------------------------------------------

    def header_json(self, block: Block) -> dict[str, Any]:
        return {
            "seq": block.seq,
            "block_hash": block.hash,
            "previous_block_hash": block.prev_hash,
            "timestamp": block.time,
            "fee": block.fee,
            "version": 0,
            "tx_body_hash": block.body_hash,
            "ux_hash": hashlib.sha256(block.hash.encode()).hexdigest(),
        }

    def output_json(self, ux: UxOut) -> dict[str, Any]:
        return {
            "hash": ux.uxid,
            "time": ux.time,
            "block_seq": ux.block_seq,
            "src_tx": ux.src_tx,
            "address": ux.address,
            "coins": format_coins(ux.droplets),
            "hours": ux.hours,
            "calculated_hours": ux.hours_at(self.chain.head.time),
        }

    def tx_json(self, tx: Transaction, timestamp: int | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "length": tx.length,
            "type": tx.type,
            "txid": tx.txid,
            "inner_hash": tx.inner_hash.hex(),
        }
        if timestamp is not None:
            doc["timestamp"] = timestamp
        uxids = tx.output_uxids() if tx.inputs else self._genesis_uxids(tx)
        doc |= {
            "sigs": [s.hex() for s in tx.sigs],
            "inputs": [ux.hex() for ux in tx.inputs],
            "outputs": [
                {"uxid": ux, "dst": o.address, "coins": format_coins(o.droplets), "hours": o.hours}
                for ux, o in zip(uxids, tx.outputs, strict=True)
            ],
        }
        return doc

    def _genesis_uxids(self, tx: Transaction) -> tuple[str, ...]:
        return tuple(
            sky_tx.uxid(bytes(32), o.address, o.droplets, o.hours).hex() for o in tx.outputs
        )

    def verbose_tx_json(self, tx: Transaction, timestamp: int | None) -> dict[str, Any]:
        doc = self.tx_json(tx, timestamp)
        inputs = []
        in_hours = 0
        for ux in tx.inputs:
            out = self.chain.output(ux.hex())
            if out is None:
                continue
            hours = out.hours_at(self.chain.head.time)
            in_hours += hours
            inputs.append(
                {
                    "uxid": out.uxid,
                    "owner": out.address,
                    "coins": format_coins(out.droplets),
                    "hours": out.hours,
                    "calculated_hours": hours,
                    "src_txid": out.src_tx,
                }
            )
        doc["inputs"] = inputs
        doc["fee"] = max(0, in_hours - tx.output_hours())
        return doc

    def block_json(self, block: Block) -> dict[str, Any]:
        return {
            "header": self.header_json(block),
            "body": {"txns": [self.tx_json(t) for t in block.transactions]},
            "size": block.size,
        }

    def status_json(self, seq: int | None) -> dict[str, Any]:
        if seq is None:
            return {"confirmed": False, "unconfirmed": True, "height": 0, "block_seq": 0}
        depth = self.chain.head.seq - seq + 1  # 1 = in the head block
        return {"confirmed": True, "unconfirmed": False, "height": depth, "block_seq": seq}

    def health_json(self) -> dict[str, Any]:
        rules = self.chain.rules
        verify_rules = {
            "burn_factor": rules.burn_factor,
            "max_transaction_size": rules.max_transaction_size,
            "max_decimals": 3,
        }
        head = self.chain.head
        return {
            "blockchain": {
                "head": self.header_json(head),
                "unspents": len(self.chain.unspent),
                "unconfirmed": len(self.chain.live_pool()),
                "time_since_last_block": f"{max(0, int(time.time()) - head.time)}s",
            },
            "version": self.version_json(),
            "coin": "skycoin",
            "user_agent": f"skycoin:{self.options.version}",
            "open_connections": self.peers,
            "outgoing_connections": self.peers,
            "incoming_connections": 0,
            "uptime": f"{int(time.time() - self.started)}s",
            "csrf_enabled": self.options.csrf,
            "header_check_enabled": self.options.header_check,
            "csp_enabled": True,
            "wallet_api_enabled": False,
            "gui_enabled": False,
            "block_publisher": True,
            "user_verify_transaction": verify_rules,
            "unconfirmed_verify_transaction": verify_rules | {"burn_factor": 2},
            "started_at": int(self.started),
        }

    def version_json(self) -> dict[str, str]:
        return {"version": self.options.version, "commit": "simulator", "branch": "sim"}

    # -- request checks ----------------------------------------------------------------------

    def host_allowed(self, host: str) -> bool:
        if not self.options.header_check or self.public or not host:
            return True
        allowed = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        return host in allowed or host in self.options.host_whitelist

    async def check(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not self.host_allowed(request.headers.get("host", "")):
            return error(403, "Invalid Host")
        origin = request.headers.get("origin") or request.headers.get("referer") or ""
        if origin and self.options.header_check:
            netloc = origin.split("://", 1)[-1].split("/", 1)[0]
            if not self.host_allowed(netloc):
                return error(403, "Invalid Origin or Referer")
        path = request.url.path
        if (
            self.options.csrf
            and request.method in ("POST", "PUT", "DELETE")
            and path.startswith("/api/")
            and not self.csrf.valid(request.headers.get("x-csrf-token", ""))
        ):
            return error(403, "invalid CSRF token")
        return await call_next(request)

    # -- the app -----------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.middleware("http")(self.check)
        get_post = ["GET", "POST"]
        routes: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
            ("/api/v1/csrf", self.get_csrf, ["GET"]),
            ("/api/v1/health", self.get_health, ["GET"]),
            ("/api/v1/version", self.get_version, ["GET"]),
            ("/api/v1/blockchain/metadata", self.get_metadata, ["GET"]),
            ("/api/v1/blockchain/progress", self.get_progress, ["GET"]),
            ("/api/v1/network/connections", self.get_connections, ["GET"]),
            ("/api/v1/balance", self.get_balance, get_post),
            ("/api/v1/outputs", self.get_outputs, get_post),
            ("/api/v1/uxout", self.get_uxout, ["GET"]),
            ("/api/v1/transaction", self.get_transaction, ["GET"]),
            ("/api/v1/transactions", self.get_transactions, get_post),
            ("/api/v1/rawtx", self.get_rawtx, ["GET"]),
            ("/api/v1/pendingTxs", self.get_pending, ["GET"]),
            ("/api/v1/injectTransaction", self.post_inject, ["POST"]),
            ("/api/v1/block", self.get_block, ["GET"]),
            ("/api/v1/blocks", self.get_blocks, get_post),
            ("/api/v1/last_blocks", self.get_last_blocks, ["GET"]),
            ("/api/v2/transaction/verify", self.post_verify, ["POST"]),
            ("/api/v2/address/verify", self.post_address_verify, ["POST"]),
            ("/sim/block", self.sim_block, ["POST"]),
            ("/sim/fail_broadcasts", self.sim_fail_broadcasts, ["POST"]),
            ("/sim/pause", self.sim_pause, ["POST"]),
            ("/sim/peers", self.sim_peers, ["POST"]),
            ("/sim/replace", self.sim_replace, ["POST"]),
            ("/sim/sync", self.sim_sync, ["POST"]),
            ("/sim/ledger", self.sim_ledger, ["GET"]),
            ("/sim/status", self.sim_status, ["GET"]),
        ]
        for path, handler, methods in routes:
            app.add_api_route(path, handler, methods=methods)

        @app.exception_handler(405)
        async def method_not_allowed(request: Request, exc: Exception) -> Response:
            return error(405)

        @app.exception_handler(404)
        async def not_found(request: Request, exc: Exception) -> Response:
            return error(404)

        return app

    async def params(self, request: Request) -> dict[str, str]:
        """Query parameters, plus form fields of a POST (the node reads FormValue)."""
        values = dict(request.query_params)
        if request.method == "POST":
            body = (await request.body()).decode("utf-8", "replace")
            if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
                values.update(dict(parse_qsl(body, keep_blank_values=True)))
        return values

    @staticmethod
    async def json_body(request: Request) -> Any:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON_TYPE:
            raise _Refused(error(415))
        try:
            return json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Refused(error(400, str(exc))) from None

    @staticmethod
    def addresses(values: dict[str, str]) -> list[str] | PlainTextResponse:
        raw = [a.strip() for a in values.get("addrs", "").split(",") if a.strip()]
        for address in raw:
            try:
                sky_tx.address_to_wire(address)
            except sky.AddressError as exc:
                return error(400, f"address {address} is invalid: {exc}")
        return raw

    # -- node endpoints ------------------------------------------------------------------------

    async def get_csrf(self, request: Request) -> Response:
        if not self.options.csrf:
            return error(404)
        return JSONResponse({"csrf_token": self.csrf.issue()})

    async def get_health(self, request: Request) -> Response:
        return JSONResponse(self.health_json())

    async def get_version(self, request: Request) -> Response:
        return JSONResponse(self.version_json())

    async def get_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "head": self.header_json(self.chain.head),
                "unspents": len(self.chain.unspent),
                "unconfirmed": len(self.chain.live_pool()),
            }
        )

    def peer_addresses(self) -> list[str]:
        return [f"127.0.0.{2 + i}:6000" for i in range(self.peers)]

    async def get_progress(self, request: Request) -> Response:
        # v0.27: `current` = this node's head, `highest` = the most of it and what its peers
        # announced; the peers are on the network's head (a node that is behind learns it).
        height = self.network_chain.head.seq
        addresses = self.peer_addresses()
        current = self.chain.head.seq
        highest = max(current, height) if addresses else current
        peers = [{"address": a, "height": height} for a in addresses]
        return JSONResponse({"current": current, "highest": highest, "peers": peers})

    async def get_connections(self, request: Request) -> Response:
        # v0.27: ?states= (pending, connected, introduced; default connected,introduced) and
        # ?direction= (outgoing, incoming); each entry as readable.Connection.
        states = [x for x in request.query_params.get("states", "").split(",") if x]
        valid = ("pending", "connected", "introduced")
        if any(x not in valid for x in states):
            return error(
                400,
                'Invalid state in states. Valid states are "pending", "connected" or "introduced"',
            )
        direction = request.query_params.get("direction", "")
        if direction not in ("", "outgoing", "incoming"):
            return error(400, 'Invalid direction. Valid directions are "outgoing" or "incoming"')
        wanted = set(states or ("connected", "introduced"))
        rules = self.chain.rules
        now = int(time.time())
        connections = [
            {
                "id": i + 1,
                "address": address,
                "last_sent": now,
                "last_received": now,
                "connected_at": int(self.started),
                "outgoing": True,
                "state": "introduced",
                "mirror": 1000 + i,
                "listen_port": 6000,
                "height": self.network_chain.head.seq,
                "user_agent": f"skycoin:{self.options.version}",
                "is_trusted_peer": False,
                "unconfirmed_verify_transaction": {
                    "burn_factor": 2,
                    "max_transaction_size": rules.max_transaction_size,
                    "max_decimals": 3,
                },
            }
            for i, address in enumerate(self.peer_addresses())
            if "introduced" in wanted and direction != "incoming"
        ]
        return JSONResponse({"connections": connections})

    async def get_balance(self, request: Request) -> Response:
        addrs = self.addresses(await self.params(request))
        if isinstance(addrs, Response):
            return addrs
        if not addrs:
            return error(400, "addrs is required")
        head_time = self.chain.head.time
        outgoing = self.chain.outgoing()
        per: dict[str, dict[str, dict[str, int]]] = {}
        for address in addrs:
            per[address] = {
                "confirmed": {"coins": 0, "hours": 0},
                "predicted": {"coins": 0, "hours": 0},
            }
        for ux in self.chain.outputs_of(addrs):
            hours = ux.hours_at(head_time)
            entry = per[ux.address]
            entry["confirmed"]["coins"] += ux.droplets
            entry["confirmed"]["hours"] += hours
            if ux.uxid not in outgoing:
                entry["predicted"]["coins"] += ux.droplets
                entry["predicted"]["hours"] += hours
        for _, tx, index in self.chain.incoming(addrs):
            out = tx.outputs[index]
            per[out.address]["predicted"]["coins"] += out.droplets
            per[out.address]["predicted"]["hours"] += out.hours
        total = {
            kind: {key: sum(per[a][kind][key] for a in per) for key in ("coins", "hours")}
            for kind in ("confirmed", "predicted")
        }
        return JSONResponse(total | {"addresses": per})

    async def get_outputs(self, request: Request) -> Response:
        values = await self.params(request)
        if values.get("addrs") and values.get("hashes"):
            return error(400, "addrs and hashes cannot be specified together")
        if values.get("hashes"):
            wanted = {h.strip() for h in values["hashes"].split(",") if h.strip()}
            head = [u for u in self.chain.unspent.values() if u.uxid in wanted]
            addrs: list[str] = sorted({u.address for u in head})
        else:
            found = self.addresses(values)
            if isinstance(found, Response):
                return found
            addrs = found
            head = self.chain.outputs_of(addrs) if addrs else list(self.chain.unspent.values())
        outgoing = self.chain.outgoing()
        incoming = [
            {
                "hash": ux,
                "time": 0,
                "block_seq": 0,
                "src_tx": tx.txid,
                "address": tx.outputs[i].address,
                "coins": format_coins(tx.outputs[i].droplets),
                "hours": tx.outputs[i].hours,
                "calculated_hours": tx.outputs[i].hours,
            }
            for ux, tx, i in self.chain.incoming(addrs)
        ]
        return JSONResponse(
            {
                "head": self.header_json(self.chain.head),
                "head_outputs": [self.output_json(u) for u in head],
                "outgoing_outputs": [self.output_json(u) for u in head if u.uxid in outgoing],
                "incoming_outputs": incoming,
            }
        )

    async def get_uxout(self, request: Request) -> Response:
        # The node's historydb: outputs of blocks it has, spent ("spent_tx": the spending
        # transaction, "spent_block_seq" its block) or not (the zero hash, 0); 404 else.
        uxid = request.query_params.get("uxid", "")
        if not uxid:
            return error(400, "uxid is empty")
        if len(uxid) != 64 or any(c not in "0123456789abcdefABCDEF" for c in uxid):
            return error(400, "Invalid hex length" if len(uxid) != 64 else "Invalid hex")
        out = self.chain.output(uxid.lower())
        if out is None:
            return error(404)
        return JSONResponse(
            {
                "uxid": out.uxid,
                "time": out.time,
                "src_block_seq": out.block_seq,
                "src_tx": out.src_tx,
                "owner_address": out.address,
                "coins": out.droplets,
                "hours": out.hours,
                "calculated_hours": out.hours_at(self.chain.head.time),
                "spent_block_seq": out.spent_seq,
                "spent_tx": out.spent_tx or "00" * 32,
            }
        )

    def _txid_param(self, request: Request) -> str | Response:
        txid = request.query_params.get("txid", "")
        if not txid:
            return error(400, "txid is empty")
        if len(txid) != 64 or any(c not in "0123456789abcdef" for c in txid.lower()):
            return error(400, "Invalid hex length")
        return txid.lower()

    async def get_transaction(self, request: Request) -> Response:
        txid = self._txid_param(request)
        if isinstance(txid, Response):
            return txid
        found = self.chain.find_transaction(txid)
        if found is None:
            return error(404)
        tx, seq, when = found
        doc: dict[str, Any] = {"status": self.status_json(seq), "time": when}
        if request.query_params.get("encoded") in ("1", "true"):
            doc["encoded_transaction"] = tx.raw_hex
        elif request.query_params.get("verbose") in ("1", "true"):
            doc["txn"] = self.verbose_tx_json(tx, when)
        else:
            doc["txn"] = self.tx_json(tx, when)
        return JSONResponse(doc)

    async def get_transactions(self, request: Request) -> Response:
        """Every transaction that spends from or pays to `addrs` (the node's READ endpoint):
        confirmed ones in chain order, then the pool's; `confirmed=1` only the confirmed,
        `confirmed=0` only the pending; `verbose=1` inputs as objects with their owner."""
        values = await self.params(request)
        addrs = self.addresses(values)
        if isinstance(addrs, Response):
            return addrs
        wanted = set(addrs)
        only = values.get("confirmed", "")
        verbose = values.get("verbose") in ("1", "true")

        def involved(tx: Transaction) -> bool:
            if any(o.address in wanted for o in tx.outputs):
                return True
            for ux in tx.inputs:
                out = self.chain.output(ux.hex())
                if out is not None and out.address in wanted:
                    return True
            return False

        def entry(tx: Transaction, seq: int | None, when: int) -> dict[str, Any]:
            body = self.verbose_tx_json(tx, when) if verbose else self.tx_json(tx, when)
            return {"status": self.status_json(seq), "time": when, "txn": body}

        found: list[dict[str, Any]] = []
        if only in ("", "1", "true"):
            for block in self.chain.blocks:
                for tx in block.transactions:
                    if involved(tx):
                        found.append(entry(tx, block.seq, block.time))
        if only in ("", "0", "false"):
            for item in self.chain.live_pool():
                if involved(item.transaction):
                    found.append(entry(item.transaction, None, item.received))
        return JSONResponse(found)

    async def get_rawtx(self, request: Request) -> Response:
        txid = self._txid_param(request)
        if isinstance(txid, Response):
            return txid
        found = self.chain.find_transaction(txid)
        if found is None:
            return error(404)
        return JSONResponse(found[0].raw_hex)

    async def get_pending(self, request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "transaction": self.tx_json(p.transaction),
                    "received": p.received,
                    "checked": p.received,
                    "announced": p.received,
                    "is_valid": p.conflicted_at is None,
                }
                for p in self.chain.live_pool()
            ]
        )

    def _refusal(self, exc: TransactionInvalid) -> Response:
        # v0.27 answers 400 for a constraint violation; v0.25.1 answered 500 (skycoin.md §5)
        status = 500 if version_tuple(self.options.version) < (0, 26) else 400
        return error(status, exc.node_message)

    async def post_inject(self, request: Request) -> Response:
        try:
            body = await self.json_body(request)
        except _Refused as refused:
            return refused.response
        if not isinstance(body, dict) or not isinstance(body.get("rawtx", ""), str):
            return error(400, "invalid request body")
        raw = body.get("rawtx", "")
        if not raw:
            return error(400, "rawtx is required")
        try:
            tx = sky_tx.decode_transaction_hex(raw)
        except TransactionDecodeError as exc:
            return error(400, f"Invalid transaction: {exc}")
        no_broadcast = body.get("no_broadcast") is True and version_tuple(self.options.version) >= (
            0,
            27,
        )
        try:
            added = self.chain.inject(tx)
        except TransactionInvalid as exc:
            return self._refusal(exc)
        if (self.fail_broadcasts or self.peers == 0) and not no_broadcast:
            # The node verified and pooled it, the broadcast failed (with no peers too), and
            # it rolled back: nothing is kept, so retrying later is safe (skycoin.md §5, §9).
            if added:
                self.chain.drop_pending(tx.txid)
            return error(503, BROADCAST_FAILED)
        if self.network is not None and not no_broadcast:
            # Broadcast: the network takes it if it is valid on the real chain.
            with contextlib.suppress(TransactionInvalid):
                self.network.inject(tx)
        if added:
            self.save()
        return JSONResponse(tx.txid)

    async def get_block(self, request: Request) -> Response:
        seq_text = request.query_params.get("seq")
        block_hash = request.query_params.get("hash")
        if seq_text is not None and block_hash is not None:
            return error(400, "seq and hash cannot both be specified")
        if seq_text is not None:
            if not seq_text.isdigit():
                return error(400, f"Invalid seq value {seq_text!r}")
            seq = int(seq_text)
            if seq >= len(self.chain.blocks):
                return error(404)
            return JSONResponse(self.block_json(self.chain.blocks[seq]))
        if block_hash:
            for block in self.chain.blocks:
                if block.hash == block_hash:
                    return JSONResponse(self.block_json(block))
            return error(404)
        return error(400, "should specify one filter, hash or seq")

    async def get_blocks(self, request: Request) -> Response:
        values = await self.params(request)
        start_text, end_text = values.get("start", ""), values.get("end", "")
        if not start_text.isdigit() or not end_text.isdigit():
            return error(400, "start and end must be non-negative integers")
        start, end = int(start_text), int(end_text)
        blocks = self.chain.blocks[start : end + 1] if start <= end else []
        return JSONResponse({"blocks": [self.block_json(b) for b in blocks]})

    async def get_last_blocks(self, request: Request) -> Response:
        num_text = request.query_params.get("num", "")
        if not num_text.isdigit():
            return error(400, "Invalid num value")
        num = int(num_text)
        blocks = self.chain.blocks[-num:] if num else []
        return JSONResponse({"blocks": [self.block_json(b) for b in blocks]})

    async def post_verify(self, request: Request) -> Response:
        try:
            body = await self.json_body(request)
        except _Refused as refused:
            return refused.response
        raw = body.get("encoded_transaction", "") if isinstance(body, dict) else ""
        try:
            tx = sky_tx.decode_transaction_hex(raw if isinstance(raw, str) else "")
            fee = self.chain.verify(tx)
        except TransactionDecodeError as exc:
            return error_v2(400, f"Invalid transaction: {exc}")
        except TransactionInvalid as exc:
            return error_v2(422, exc.node_message)
        doc = self.verbose_tx_json(tx, None)
        doc["fee"] = fee
        return JSONResponse({"data": {"unsigned": False, "confirmed": False, "transaction": doc}})

    async def post_address_verify(self, request: Request) -> Response:
        try:
            body = await self.json_body(request)
        except _Refused as refused:
            return refused.response
        address = body.get("address", "") if isinstance(body, dict) else ""
        if not isinstance(address, str) or not address:
            return error_v2(400, "address is required")
        try:
            sky_tx.address_to_wire(address)
        except sky.AddressError as exc:
            return error_v2(422, str(exc))
        return JSONResponse({"data": {"version": 0}})

    # -- test controls ----------------------------------------------------------------------------

    @staticmethod
    async def switch(request: Request, name: str) -> bool | None:
        """A boolean from ?name= or a JSON body {name: bool}."""
        text = request.query_params.get(name)
        if text is not None:
            return text.lower() in ("1", "true", "yes", "on")
        body = await request.body()
        if body:
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                doc = json.loads(body)
                if isinstance(doc, dict) and isinstance(doc.get(name), bool):
                    return bool(doc[name])
        return None

    async def sim_block(self, request: Request) -> Response:
        block = self.make_block()
        return JSONResponse({"seq": block.seq, "hash": block.hash, "txids": block.txids})

    async def sim_fail_broadcasts(self, request: Request) -> Response:
        value = await self.switch(request, "enabled")
        if value is None:
            return error(400, 'send {"enabled": true|false}')
        self.fail_broadcasts = value
        return JSONResponse({"fail_broadcasts": value})

    async def sim_pause(self, request: Request) -> Response:
        value = await self.switch(request, "paused")
        if value is None:
            return error(400, 'send {"paused": true|false}')
        self.paused = value
        return JSONResponse({"paused": value})

    async def sim_peers(self, request: Request) -> Response:
        count = await self.number(request, "count")
        if count is None:
            return error(400, 'send {"count": n}')
        self.peers = count
        return JSONResponse({"peers": count})

    async def sim_replace(self, request: Request) -> Response:
        """This node is replaced by an empty one (same genesis, nothing else) that has
        `peers` peers (default 1: it sees the network's height and is syncing; 0: alone).
        The real chain goes on as the network's: blocks are made there, and this node gets
        them only through /sim/sync. What was pending here was broadcast: it stays pending
        on the network."""
        peers = await self.number(request, "peers")
        if self.network is None:
            self.network = self.chain
        self.chain = self.network.genesis_only()
        self.peers = 1 if peers is None else peers
        return JSONResponse({"head_seq": self.chain.head.seq, "peers": self.peers})

    async def sim_sync(self, request: Request) -> Response:
        """Download up to `blocks` (omitted: all) of the network's blocks; once this node has
        them all it is the network's node again (its pool the network's pool)."""
        count = await self.number(request, "blocks")
        if self.network is None:
            return JSONResponse({"head_seq": self.chain.head.seq, "synced": True})
        self.chain.follow(self.network, count)
        if self.chain.head.seq >= self.network.head.seq:
            self.chain, self.network = self.network, None
        return JSONResponse({"head_seq": self.chain.head.seq, "synced": self.network is None})

    @staticmethod
    async def number(request: Request, name: str) -> int | None:
        """A non-negative integer from ?name= or a JSON body {name: n}; None if absent."""
        text = request.query_params.get(name)
        if text is not None:
            return int(text) if text.isdigit() else None
        body = await request.body()
        if body:
            with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
                doc = json.loads(body)
                value = doc.get(name) if isinstance(doc, dict) else None
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    return value
        return None

    async def sim_ledger(self, request: Request) -> Response:
        wanted = [a.strip() for a in request.query_params.get("addrs", "").split(",") if a.strip()]
        ledger = self.network_chain.ledger()
        if wanted:
            ledger = {a: ledger.get(a, (0, 0)) for a in wanted}
        return JSONResponse(
            {
                "head_seq": self.network_chain.head.seq,
                "addresses": {
                    address: {"count": count, "droplets": droplets, "coins": format_coins(droplets)}
                    for address, (count, droplets) in sorted(ledger.items())
                },
            }
        )

    async def sim_status(self, request: Request) -> Response:
        return JSONResponse(
            {
                "head_seq": self.chain.head.seq,
                "head_time": self.chain.head.time,
                "network_head_seq": self.network_chain.head.seq,
                "syncing": self.network is not None,
                "peers": self.peers,
                "pending": [p.transaction.txid for p in self.chain.live_pool()],
                "network_pending": [p.transaction.txid for p in self.network_chain.live_pool()],
                "fail_broadcasts": self.fail_broadcasts,
                "paused": self.paused,
                "block_interval": self.options.block_interval,
                "burn_factor": self.chain.rules.burn_factor,
                "version": self.options.version,
            }
        )

    # -- serving -------------------------------------------------------------------------------

    async def serve(self, sock: socket.socket) -> None:
        """Serve on a bound, listening socket until cancelled; blocks are made meanwhile."""
        self.port = sock.getsockname()[1]
        self.public = sock.getsockname()[0] not in ("127.0.0.1", "::1")
        server = self._server = quiet_server(
            self.app, ssl_certfile=self.options.tls_cert, ssl_keyfile=self.options.tls_key
        )
        async with asyncio.TaskGroup() as group:
            producer = group.create_task(self.produce_blocks())
            try:
                await server.serve(sockets=[sock])
            finally:
                producer.cancel()


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response
