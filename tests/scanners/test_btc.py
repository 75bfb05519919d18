"""The BTC node client (clients/bitcoind.py): block JSON shapes, exact amounts, node trouble.

Against Litecoin Core in regtest (Bitcoin Core 0.21's JSON-RPC) and, for the answers a good
node never gives, tiny loopback HTTP servers that answer badly.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from teller.clients.bitcoind import BitcoinClient, parse_block, satoshis
from teller.coins.btc import script_pubkey_for_address
from teller.errors import NodeBadAnswer, NodeUnreachable
from tests.scanners.conftest import (
    RPC_PASS,
    RPC_USER,
    LitecoinNode,
    Rig,
    multisig_script,
    new_key,
    scan_all,
)

HASH = "ab" * 32


def _block(*vouts: dict[str, Any]) -> dict[str, Any]:
    return {
        "hash": HASH,
        "height": 7,
        "previousblockhash": "cd" * 32,
        "tx": [{"txid": "ef" * 32, "vout": list(vouts)}],
    }


def _parsed(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


# -- JSON shapes -----------------------------------------------------------------------------


def test_both_address_shapes_are_deposits_and_multisig_or_none_are_not() -> None:
    script = script_pubkey_for_address("1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB").hex()
    block = parse_block(
        _block(
            {"value": Decimal("0.1"), "n": 0, "scriptPubKey": {"hex": script, "address": "1P"}},
            {"value": Decimal("0.2"), "n": 1, "scriptPubKey": {"hex": script, "addresses": ["1P"]}},
            {"value": 1, "n": 2, "scriptPubKey": {"hex": "51", "addresses": ["1A", "1B"]}},
            {"value": 0, "n": 3, "scriptPubKey": {"hex": "6a00", "type": "nulldata"}},
        ),
        7,
    )
    assert [(o.n, o.watch_key, o.value) for o in block.outputs] == [
        (0, script, 10_000_000),
        (1, script, 20_000_000),
    ]
    assert (block.height, block.hash, block.prev_hash) == (7, HASH, "cd" * 32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1", 10_000_000),
        ("0.29", 29_000_000),  # 0.29 * 1e8 is 28999999.999999996 in floats
        ("20999999.97690000", 2_099_999_997_690_000),
        ("0.00000001", 1),
        ("1e-8", 1),
        ("0", 0),
        ("21", 2_100_000_000),
    ],
)
def test_amounts_are_exact_satoshis(text: str, expected: int) -> None:
    assert satoshis(_parsed(text)) == expected


@pytest.mark.parametrize("text", ["0.000000001", "-0.1", '"0.1"', "true", "null"])
def test_an_amount_that_is_no_satoshi_count_is_garbage(text: str) -> None:
    with pytest.raises(NodeBadAnswer):
        satoshis(_parsed(text))


@pytest.mark.parametrize(
    "document",
    [
        {"hash": HASH, "height": 7},  # no transactions at all
        {"hash": HASH, "height": 7, "tx": ["ef" * 32], "nTx": 1},  # verbosity 1
        {"hash": "short", "height": 7, "tx": []},
        [],
        "garbage",
    ],
)
def test_a_block_that_is_not_a_verbose_block_is_garbage(document: Any) -> None:
    with pytest.raises(NodeBadAnswer):
        parse_block(document, 7)


# -- Litecoin Core ---------------------------------------------------------------------------


@pytest.fixture
async def client(ltc: LitecoinNode) -> AsyncIterator[BitcoinClient]:
    node = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    yield node
    await node.aclose()


async def test_every_watched_output_of_a_transaction_is_its_own_deposit(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    a, b, other = new_key(), new_key(segwit=True), new_key()
    rig.bind("BTC", a.btc_address)
    rig.bind("BTC", b.btc_address)
    start = ltc.height() + 1
    txid = ltc.pay(
        (a.script, 10_000_000),  # n=0
        (other.script, 50_000),  # n=1: not watched
        (a.script, 12_345_678),  # n=2: a second deposit to the same address
        (multisig_script(a, other), 40_000),  # n=3: names a watched address, but multisig
        (b.script, 100_001),  # n=4: to a segwit address
    )
    again = ltc.pay((a.script, 77_777))  # a later payment to the same address
    block_hash = ltc.mine(1)[0]
    multisig = ltc.rpc("getrawtransaction", txid, True, block_hash)["vout"][3]
    assert multisig["scriptPubKey"]["addresses"][0] == a.ltc_address  # the JSON names it

    await scan_all(rig.scanner(client, confirmations_required=0, start=start))

    found = {i: (d.deposit_address, d.value, d.n) for i, d in rig.deposits().items()}
    assert found == {
        f"{txid}:0": (a.btc_address, 10_000_000, 0),
        f"{txid}:2": (a.btc_address, 12_345_678, 2),
        f"{txid}:4": (b.btc_address, 100_001, 4),
        f"{again}:0": (a.btc_address, 77_777, 0),
    }


async def test_the_client_reads_heights_hashes_and_blocks(
    ltc: LitecoinNode, client: BitcoinClient
) -> None:
    tip = await client.tip_height()
    assert tip == ltc.height()
    block = await client.block(tip)
    assert block.hash == await client.block_hash(tip) == ltc.rpc("getblockhash", tip)
    assert block.prev_hash == ltc.rpc("getblockhash", tip - 1)
    with pytest.raises(NodeBadAnswer, match="getblockhash failed"):
        await client.block_hash(tip + 1000)


async def test_a_wrong_password_is_a_bad_answer(ltc: LitecoinNode) -> None:
    wrong = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, "wrong", tls=False)
    with pytest.raises(NodeBadAnswer, match="user/pass"):
        await wrong.tip_height()
    await wrong.aclose()


# -- node trouble ----------------------------------------------------------------------------


class _BadNode(BaseHTTPRequestHandler):
    """Answers getblockcount per the server's `mode`."""

    protocol_version = "HTTP/1.1"
    server: _BadServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        mode = self.server.mode
        if mode == "slow":
            self.server.release.wait(10)
            body = b'{"result": 1, "error": null, "id": 1}'
        elif mode == "garbage":
            body = b"<html>502 Bad Gateway</html>"
        elif mode == "error":
            body = b'{"result": null, "error": {"code": -28, "message": "Loading block index"}}'
        else:
            body = b'{"result": "seven", "error": null, "id": 1}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _BadServer(ThreadingHTTPServer):
    daemon_threads = True
    mode = ""
    release = threading.Event()


@pytest.fixture
def bad_node() -> Iterator[_BadServer]:
    server = _BadServer(("127.0.0.1", 0), _BadNode)
    server.release = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        ("garbage", NodeBadAnswer, "not a JSON-RPC answer"),
        ("error", NodeBadAnswer, "Loading block index"),
        ("nonsense", NodeBadAnswer, "expected a block height"),
        ("slow", NodeUnreachable, "no answer"),
    ],
)
async def test_a_node_answering_badly_is_a_node_error(
    bad_node: _BadServer, mode: str, error: type[Exception], message: str
) -> None:
    bad_node.mode = mode
    host, port = bad_node.server_address[:2]
    client = BitcoinClient(f"{host!s}:{port}", "u", "p", tls=False, timeout=0.3)
    with pytest.raises(error, match=message):
        await client.tip_height()
    await client.aclose()


async def test_node_trouble_is_retried_shown_in_health_and_recovers(
    ltc: LitecoinNode, rig: Rig, caplog: pytest.LogCaptureFixture, refused_port: int
) -> None:
    port = refused_port  # nothing listens here
    client = BitcoinClient(f"127.0.0.1:{port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    txid = ltc.pay((key.script, 424_242))
    ltc.mine(1)
    scanner = rig.scanner(client, confirmations_required=0, start=start)
    task = asyncio.create_task(scanner.run())
    try:
        for _ in range(100):
            if scanner.health.node_reachable is False:
                break
            await asyncio.sleep(0.05)
        assert scanner.health.node_reachable is False
        assert "cannot reach" in scanner.health.error
        # The node comes back (the same client now pointed at the running node).
        client.rpc.url = f"http://127.0.0.1:{ltc.port}"
        # Wait for the whole round: the deposit is recorded mid-round, the trouble is cleared
        # only once the round has ended well.
        for _ in range(200):
            if rig.deposits() and scanner.health.error == "":
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
    assert list(rig.deposits()) == [f"{txid}:0"]
    assert scanner.health.node_reachable is True
    assert scanner.health.error == ""
    failures = [r for r in caplog.records if r.getMessage() == "scan round failed"]
    assert failures and failures[0].levelname == "WARNING"
    assert any(r.getMessage() == "scanning again" for r in caplog.records)


# -- garbage in the ids: never a second id for one output, nothing the store cannot hold ------


def test_a_txid_is_read_in_lower_case_so_a_node_changing_case_makes_no_second_deposit() -> None:
    script = "76a914" + "11" * 20 + "88ac"
    out = {"value": Decimal("0.1"), "n": 1, "scriptPubKey": {"hex": script, "address": "1P"}}
    upper = _block(out)
    upper["tx"][0]["txid"] = "EF" * 32
    upper["hash"] = "AB" * 32
    (lower,) = parse_block(_block(out), 7).outputs
    block = parse_block(upper, 7)
    assert block.outputs == (lower,) and lower.txid == "ef" * 32
    assert block.hash == HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", Decimal("1.0")),  # would be deposit "txid:1.0" beside "txid:1"
        ("n", "1"),
        ("n", True),
        ("n", -1),
        ("n", 2**64),  # more than the store's BIGINT
        ("txid", "ef" * 33),
        ("txid", "zz" * 32),
        ("txid", 12),
        ("value", Decimal("1e999999")),  # before: an exponent overflow, not a bad answer
        ("value", 21_000_001),  # more than can exist
    ],
)
def test_an_output_with_a_garbage_id_or_amount_is_a_bad_answer(field: str, value: Any) -> None:
    out = {"value": Decimal("0.1"), "n": 1, "scriptPubKey": {"hex": "51", "address": "1P"}}
    document = _block(out)
    if field == "txid":
        document["tx"][0]["txid"] = value
    else:
        out[field] = value
    with pytest.raises(NodeBadAnswer):
        parse_block(document, 7)


@pytest.mark.parametrize("parent", [None, 12, "cd" * 31, ""])
def test_a_block_above_the_genesis_without_a_parent_hash_is_garbage(parent: Any) -> None:
    document = _block()
    if parent is None:
        del document["previousblockhash"]
    else:
        document["previousblockhash"] = parent
    with pytest.raises(NodeBadAnswer):
        parse_block(document, 7)
