"""A btcd simulator: a made-up Bitcoin chain behind btcd's JSON-RPC, for demos, tests, bench.

    python -m teller_sims.btcd [--rpc 127.0.0.1:8334] [--api 127.0.0.1:8834] [--user U --pass P]
                              [--dir DIR] [--no-tls] [--network mainnet] [--start-height 0]
    teller-sim btcd ...        (the same)

RPC (btcd's calls the BTC scanner makes, over TLS with a self-signed rpc.cert made in --dir
on first run, as btcd does; --no-tls for plain HTTP like Bitcoin Core): getblockcount,
getblockhash <height>, getblock <hash> [verbosity 0|1|2] or btcd's older
getblock <hash> <verbose> <verbosetx>, getbestblockhash, getbestblock. Basic auth when --user
is given.

Control API (plain HTTP on --api, no auth: keep it on loopback), JSON in and out:

    POST /api/blocks    {"transactions": [{"outputs": [OUT, ...]}, ...], "count": 1}
                        adds `count` blocks (the transactions go in the first); OUT is
                        {"address": A, "value": SAT} or {"multisig": [A, B], "value": SAT}
                        or {"script": HEX, "value": SAT} (no address: OP_RETURN-like).
                        Answers {"height", "hash", "txids"}.
    POST /api/nextdeposit  the original simulator's call: [{"Address", "Value", "N"}, ...] makes
                        one block with one transaction, outputs at their N (gaps: 0-value).
    POST /api/reorg     {"depth": K, "blocks": M, "transactions": [...]}: drops the last K
                        blocks and mines M new ones (default K + 1, so the new chain is
                        longer), the given transactions in the first of them.
    POST /api/generate  {"blocks": N, "transactions": T}: N blocks of T made-up transactions
                        (two outputs each, to random addresses), for the bench.
    GET  /api/tip       {"height", "hash"}

Values are satoshis in the API and BTC with 8 decimals in the RPC, written as exact decimal
text (never through a float), as Bitcoin Core prints them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from teller.coins.btc import (
    NETWORKS,
    AddressKind,
    Network,
    decode_address,
    p2pkh_address_from_hash160,
    script_pubkey,
)

COIN = 100_000_000
MAX_BODY = 64 * 1024 * 1024
_SCRIPT_TYPES = {
    AddressKind.P2PKH: "pubkeyhash",
    AddressKind.P2SH: "scripthash",
    AddressKind.WITNESS: "witness_v0_keyhash",
}


def btc_text(satoshis: int) -> str:
    """Satoshis as a JSON number of BTC with 8 decimals, exactly (no float)."""
    return f"{satoshis // COIN}.{satoshis % COIN:08d}"


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class RequestProblem(Exception):
    """A control API request that cannot be done; answered 400 with the message."""


@dataclass
class SimBlock:
    height: int
    hash: str
    prev_hash: str
    time: int
    txids: list[str]
    tx_json: bytes  # the JSON array of the verbose transactions, built once


@dataclass
class Chain:
    """The simulated chain; every method holds the lock."""

    network: Network
    blocks: list[SimBlock] = field(default_factory=list)
    start_height: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._miner = script_pubkey(decode_address(_random_address(self.network), self.network))
        self._add_block([])

    # -- building -------------------------------------------------------------------------

    def _output_json(self, n: int, out: dict[str, Any]) -> str:
        value = out.get("value", 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RequestProblem(f"output {n}: value must be a whole number of satoshis >= 0")
        if "address" in out:
            address = out["address"]
            try:
                decoded = decode_address(str(address), self.network)
            except ValueError as exc:
                raise RequestProblem(f"output {n}: {address!r}: {exc}") from exc
            script = script_pubkey(decoded).hex()
            kind = _SCRIPT_TYPES[decoded.kind]
            if decoded.kind is AddressKind.WITNESS and len(decoded.payload) == 32:
                kind = "witness_v0_scripthash"
            extra = f'"reqSigs":1,"type":"{kind}","addresses":{json.dumps([address])}'
        elif "multisig" in out:
            members = [str(a) for a in out["multisig"]]
            keys = "".join(
                "21" + (b"\x02" + hashlib.sha256(a.encode()).digest()).hex() for a in members
            )
            required = int(out.get("required", 1))
            script = f"{0x50 + required:02x}{keys}{0x50 + len(members):02x}ae"
            extra = f'"reqSigs":{required},"type":"multisig","addresses":{json.dumps(members)}'
        elif "script" in out:
            script = str(out["script"])
            extra = '"type":"nulldata"'
        else:
            script, extra = "", '"type":"nonstandard"'
        return (
            f'{{"value":{btc_text(value)},"n":{n},"scriptPubKey":{{"asm":"","hex":"{script}",'
            f"{extra}}}}}"
        )

    def _tx_json(self, outputs: list[dict[str, Any]], coinbase: bool) -> tuple[str, str]:
        self._counter += 1
        vouts = ",".join(self._output_json(n, out) for n, out in enumerate(outputs))
        seed = f"{self._counter}:{len(self.blocks)}:{vouts}".encode()
        txid = _sha256d(seed)[::-1].hex()
        raw = _sha256d(seed + b"raw").hex() * 7  # stands in for the serialized transaction
        if coinbase:
            vin = f'[{{"coinbase":"{raw[:16]}","sequence":4294967295}}]'
        else:
            prev = _sha256d(seed + b"in")[::-1].hex()
            vin = (
                f'[{{"txid":"{prev}","vout":0,"scriptSig":{{"asm":"","hex":"{raw[:212]}"}},'
                f'"sequence":4294967295}}]'
            )
        text = (
            f'{{"hex":"{raw}","txid":"{txid}","hash":"{txid}","size":225,"vsize":225,'
            f'"weight":900,"version":1,"locktime":0,"vin":{vin},"vout":[{vouts}]}}'
        )
        return txid, text

    def _add_block(self, transactions: list[list[dict[str, Any]]]) -> SimBlock:
        height = self.start_height + len(self.blocks)
        prev_hash = self.blocks[-1].hash if self.blocks else "00" * 32
        coinbase_out = [{"script": self._miner.hex(), "value": 50 * COIN}]
        built = [self._tx_json(coinbase_out, coinbase=True)]
        built += [self._tx_json(outputs, coinbase=False) for outputs in transactions]
        txids = [txid for txid, _ in built]
        self._counter += 1
        header = f"{height}:{prev_hash}:{self._counter}:{secrets.token_hex(8)}".encode()
        block = SimBlock(
            height=height,
            hash=_sha256d(header + "".join(txids).encode())[::-1].hex(),
            prev_hash=prev_hash,
            time=1_700_000_000 + height * 600,
            txids=txids,
            tx_json=("[" + ",".join(text for _, text in built) + "]").encode(),
        )
        self.blocks.append(block)
        return block

    # -- the control API ----------------------------------------------------------------------

    def add_blocks(self, transactions: list[list[dict[str, Any]]], count: int = 1) -> SimBlock:
        with self.lock:
            block = self._add_block(transactions)
            for _ in range(count - 1):
                block = self._add_block([])
            return block

    def reorg(
        self, depth: int, blocks: int | None, transactions: list[list[dict[str, Any]]]
    ) -> SimBlock:
        with self.lock:
            if not 0 < depth < len(self.blocks):
                raise RequestProblem(f"depth must be from 1 to {len(self.blocks) - 1}")
            del self.blocks[-depth:]
            new_blocks = depth + 1 if blocks is None else blocks
            if new_blocks < 1:
                raise RequestProblem("blocks must be at least 1")
            block = self._add_block(transactions)
            for _ in range(new_blocks - 1):
                block = self._add_block([])
            return block

    def generate(self, blocks: int, transactions: int) -> SimBlock:
        made_up = [
            [
                {"address": _random_address(self.network), "value": 1 + secrets.randbelow(COIN)},
                {"address": _random_address(self.network), "value": 1 + secrets.randbelow(COIN)},
            ]
            for _ in range(transactions)
        ]
        with self.lock:
            block = self.blocks[-1]
            for _ in range(blocks):
                block = self._add_block(made_up)
            return block

    # -- the RPC ----------------------------------------------------------------------------

    def tip(self) -> SimBlock:
        with self.lock:
            return self.blocks[-1]

    def at_height(self, height: int) -> SimBlock | None:
        with self.lock:
            index = height - self.start_height
            return self.blocks[index] if 0 <= index < len(self.blocks) else None

    def by_hash(self, block_hash: str) -> tuple[SimBlock, int, str] | None:
        """(block, confirmations, next hash) of a main-chain block."""
        with self.lock:
            for index in range(len(self.blocks) - 1, -1, -1):
                block = self.blocks[index]
                if block.hash == block_hash:
                    following = self.blocks[index + 1].hash if index + 1 < len(self.blocks) else ""
                    return block, len(self.blocks) - index, following
            return None

    def block_json(self, block_hash: str, verbosity: int, legacy: bool) -> bytes | None:
        found = self.by_hash(block_hash)
        if found is None:
            return None
        block, confirmations, following = found
        if verbosity == 0:
            return json.dumps(secrets.token_hex(80)).encode()
        head = (
            f'{{"hash":"{block.hash}","confirmations":{confirmations},"strippedsize":1000,'
            f'"size":1000,"weight":4000,"height":{block.height},"version":536870912,'
            f'"versionHex":"20000000","merkleroot":"{block.txids[0]}","time":{block.time},'
            f'"nonce":0,"bits":"207fffff","difficulty":4.656542373906925e-10,'
            f'"nTx":{len(block.txids)},"previousblockhash":"{block.prev_hash}"'
        )
        if following:
            head += f',"nextblockhash":"{following}"'
        if verbosity == 1:
            return (head + f',"tx":{json.dumps(block.txids)}}}').encode()
        key = "rawtx" if legacy else "tx"  # btcd's older verbose-tx answer says "rawtx"
        return head.encode() + f',"{key}":'.encode() + block.tx_json + b"}"


def _random_address(network: Network) -> str:
    return p2pkh_address_from_hash160(secrets.token_bytes(20), network)


# -- HTTP ----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once, as real nodes answer
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RequestProblem("body too large")
        return self.rfile.read(length)


class _RpcHandler(_Handler):
    def do_POST(self) -> None:
        auth = self.server.auth
        if auth is not None and self.headers.get("Authorization") != auth:
            self._answer(401, b"", "text/plain")
            return
        try:
            request = json.loads(self._body())
            method, params, request_id = (
                request["method"],
                request.get("params") or [],
                request.get("id"),
            )
        except (ValueError, KeyError, TypeError, RequestProblem):
            self._answer(
                400, b'{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}'
            )
            return
        try:
            result = self._call(str(method), list(params))
        except _RpcFailure as failure:
            error = json.dumps({"code": failure.code, "message": failure.message})
            status = 404 if failure.code == -32601 else 500
            self._answer(
                status, f'{{"result":null,"error":{error},"id":{json.dumps(request_id)}}}'.encode()
            )
            return
        self._answer(
            200,
            b'{"result":'
            + result
            + b',"error":null,"id":'
            + json.dumps(request_id).encode()
            + b"}",
        )

    def _call(self, method: str, params: list[Any]) -> bytes:
        chain = self.server.chain
        if method == "getblockcount":
            return str(chain.tip().height).encode()
        if method == "getblockchaininfo":
            tip = chain.tip()
            name = {"mainnet": "mainnet", "testnet": "testnet3", "regtest": "regtest"}
            return json.dumps(
                {"chain": name[chain.network], "blocks": tip.height, "bestblockhash": tip.hash}
            ).encode()
        if method in ("getbestblockhash",):
            return json.dumps(chain.tip().hash).encode()
        if method == "getbestblock":
            tip = chain.tip()
            return json.dumps({"hash": tip.hash, "height": tip.height}).encode()
        if method == "getblockhash":
            if not params or not isinstance(params[0], int) or isinstance(params[0], bool):
                raise _RpcFailure(-3, "Expected type number for height")
            block = chain.at_height(params[0])
            if block is None:
                raise _RpcFailure(-8, "Block height out of range")
            return json.dumps(block.hash).encode()
        if method == "getblock":
            if not params or not isinstance(params[0], str):
                raise _RpcFailure(-3, "Expected type string for hash")
            verbosity, legacy = 1, False
            if len(params) >= 2:
                if isinstance(params[1], bool):
                    legacy = True
                    verbose_tx = len(params) >= 3 and params[2] is True
                    verbosity = (2 if verbose_tx else 1) if params[1] else 0
                elif isinstance(params[1], int):
                    if self.server.legacy_getblock:
                        raise _RpcFailure(-3, "Expected type bool, got number")
                    verbosity = params[1]
                else:
                    raise _RpcFailure(-3, "Expected type number for verbosity")
            answer = chain.block_json(params[0], verbosity, legacy)
            if answer is None:
                raise _RpcFailure(-5, "Block not found")
            return answer
        raise _RpcFailure(-32601, "Method not found")


class _RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _ApiHandler(_Handler):
    def do_GET(self) -> None:
        if self.path == "/api/tip":
            tip = self.server.chain.tip()
            self._answer(200, json.dumps({"height": tip.height, "hash": tip.hash}).encode())
        else:
            self._answer(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        chain = self.server.chain
        try:
            try:
                document = json.loads(self._body() or b"{}")
            except ValueError as exc:
                raise RequestProblem(f"invalid JSON: {exc}") from exc
            if self.path == "/api/blocks":
                block = chain.add_blocks(_transactions(document), int(document.get("count", 1)))
            elif self.path == "/api/nextdeposit":
                block = chain.add_blocks([_nextdeposit_outputs(document)])
            elif self.path == "/api/reorg":
                blocks = document.get("blocks")
                block = chain.reorg(
                    int(document.get("depth", 1)),
                    None if blocks is None else int(blocks),
                    _transactions(document),
                )
            elif self.path == "/api/generate":
                block = chain.generate(
                    int(document.get("blocks", 1)), int(document.get("transactions", 0))
                )
            else:
                self._answer(404, b"not found\n", "text/plain")
                return
        except (RequestProblem, ValueError, TypeError, AttributeError) as exc:
            self._answer(400, f"{exc}\n".encode(), "text/plain")
            return
        answer = {"height": block.height, "hash": block.hash, "txids": block.txids}
        self._answer(200, json.dumps(answer).encode())


def _transactions(document: Any) -> list[list[dict[str, Any]]]:
    transactions = document.get("transactions", []) if isinstance(document, dict) else None
    if not isinstance(transactions, list):
        raise RequestProblem("transactions must be a list")
    found = []
    for tx in transactions:
        outputs = tx.get("outputs") if isinstance(tx, dict) else None
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise RequestProblem('each transaction must be {"outputs": [{...}, ...]}')
        found.append(outputs)
    return found


def _nextdeposit_outputs(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, list):
        raise RequestProblem('expected [{"Address": ..., "Value": ..., "N": ...}, ...]')
    by_n = {int(d["N"]): {"address": d["Address"], "value": int(d["Value"])} for d in document}
    size = max(by_n, default=-1) + 1
    return [by_n.get(n, {"value": 0}) for n in range(size)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], chain: Chain, auth: str | None
    ) -> None:
        super().__init__(address, handler)
        self.chain = chain
        self.auth = auth
        self.legacy_getblock = False  # answer getblock as btcd before 0.22 (booleans only)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-request: nothing to report


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def _address_text(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"{host!s}:{port}" if isinstance(host, str) else f"{host.decode()}:{port}"


def ensure_certificate(directory: Path) -> tuple[Path, Path]:
    """rpc.cert and rpc.key in `directory`, made (self-signed, openssl) if missing."""
    cert, key = directory / "rpc.cert", directory / "rpc.key"
    if cert.is_file() and key.is_file():
        return cert, key
    if shutil.which("openssl") is None:
        raise SystemExit("btcd simulator: openssl is needed to make rpc.cert (or use --no-tls)")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "3650", "-subj", "/O=btcd simulator/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key


@dataclass
class Simulator:
    """A running simulator (both servers in daemon threads); `stop()` ends it."""

    chain: Chain
    rpc: _Server
    api: _Server
    tls: bool
    cert: Path | None

    @property
    def rpc_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.rpc_address}"

    @property
    def rpc_address(self) -> str:
        return _address_text(self.rpc)

    @property
    def api_url(self) -> str:
        return f"http://{_address_text(self.api)}"

    def stop(self) -> None:
        for server in (self.rpc, self.api):
            server.shutdown()
            server.server_close()


def start(
    *,
    rpc: str = "127.0.0.1:8334",
    api: str = "127.0.0.1:8834",
    user: str = "",
    password: str = "",
    directory: Path | None = None,
    tls: bool = True,
    network: Network = "mainnet",
    start_height: int = 0,
    legacy_getblock: bool = False,
) -> Simulator:
    chain = Chain(network=network, start_height=start_height)
    auth = None
    if user or password:
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    rpc_server = _Server(_host_port(rpc), _RpcHandler, chain, auth)
    rpc_server.legacy_getblock = legacy_getblock
    cert = None
    if tls:
        cert, key = ensure_certificate(directory or Path("btcd-sim"))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        rpc_server.socket = context.wrap_socket(rpc_server.socket, server_side=True)
    api_server = _Server(_host_port(api), _ApiHandler, chain, None)
    for server in (rpc_server, api_server):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return Simulator(chain, rpc_server, api_server, tls, cert)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teller-sim btcd", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--rpc", default="127.0.0.1:8334", help="JSON-RPC listen address (port 0: any free)")
    add("--api", default="127.0.0.1:8834", help="control API listen address")
    add("--user", default="", help="RPC user (basic auth checked when set)")
    add("--pass", dest="password", default="", help="RPC password")
    add(
        "--dir",
        dest="cert_dir",
        default="btcd-sim",
        help="where rpc.cert/rpc.key are kept (default btcd-sim)",
    )
    add("--no-tls", action="store_true", help="plain HTTP, as Bitcoin Core")
    add("--network", default="mainnet", choices=NETWORKS, help="address forms (default mainnet)")
    add("--start-height", type=int, default=0, help="height of the first block")
    add("--legacy-getblock", action="store_true", help="getblock as btcd < 0.22 (booleans)")


def run(args: argparse.Namespace) -> int:
    simulator = start(
        rpc=args.rpc,
        api=args.api,
        user=args.user,
        password=args.password,
        directory=Path(args.cert_dir),
        tls=not args.no_tls,
        network=args.network,
        start_height=args.start_height,
        legacy_getblock=args.legacy_getblock,
    )
    cert = f" cert={simulator.cert}" if simulator.cert else ""
    print(
        f"btcd simulator ready rpc={simulator.rpc_url}{cert} api={simulator.api_url}",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
