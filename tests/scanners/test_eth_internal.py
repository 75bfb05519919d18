"""Internal ETH transfers (clients/ethereum.py, clients/eth_traces.py) on a real node: anvil.

ETH that reaches a deposit address through a contract (a contract wallet, an exchange's
batched withdrawal) is a deposit "<tx hash>:<n>", n its place among the transaction's
value-carrying inner frames. The contracts are deployed here from hand-assembled EVM
bytecode (see `forwarder` and friends). Every scenario is scanned with geth's callTracer
(`debug_traceBlockByHash`, which the client tries first), and its blocks are then read with
parity's `trace_block` too (anvil serves both): both must give the same outputs.

Cost (anvil, this machine, 2 cores shared): reading a block of one transaction takes one more
call with tracing, about 2 ms more on a loaded machine than the block alone (`tracing_cost`
in the report of the change that added this); a real node's trace of a full mainnet block is
a few MB of JSON, read off the event loop like the block itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from teller.clients import ethereum
from teller.clients.ethereum import EthereumClient
from teller.errors import NodeBadAnswer
from tests.scanners.conftest import AnvilNode, Rig, scan_all, watch_notices

CALL_TRACER, PARITY_TRACE = "debug_traceBlockByHash", "trace_block"

# -- hand-assembled EVM bytecode -------------------------------------------------------------
# Opcodes used (one byte each; PUSH1 and PUSH20 are followed by 1 and 20 bytes of data).
STOP, ADD, SUB, ISZERO, SWAP1, DUP1, POP = 0x00, 0x01, 0x03, 0x15, 0x90, 0x80, 0x50
ADDRESS, CALLVALUE, CALLDATALOAD, CODECOPY, SELFBALANCE = 0x30, 0x34, 0x35, 0x39, 0x47
MSTORE, JUMPI, GAS, JUMPDEST, PUSH1, PUSH20 = 0x52, 0x57, 0x5A, 0x5B, 0x60, 0x73
CALL, CALLCODE, RETURN, DELEGATECALL, STATICCALL = 0xF1, 0xF2, 0xF3, 0xF4, 0xFA
REVERT, SELFDESTRUCT = 0xFD, 0xFF

# CALL and CALLCODE pop gas, address, value, argsOffset, argsSize, retOffset, retSize;
# DELEGATECALL and STATICCALL the same without value. Pushed in reverse, the last four are
# zero here: no calldata sent, nothing returned kept.
NO_DATA = bytes([PUSH1, 0] * 4)
REVERT_NOW = bytes([PUSH1, 0, PUSH1, 0, REVERT])  # revert(0, 0)


def push20(address: str) -> bytes:
    return bytes([PUSH20]) + bytes.fromhex(address[2:])


def or_revert(call: bytes) -> bytes:
    """`call` (leaving CALL's success flag on the stack), then: stop if it succeeded, revert
    the whole frame if it failed (ISZERO PUSH1 <fail> JUMPI STOP fail: JUMPDEST REVERT)."""
    fail = len(call) + 5
    return call + bytes([ISZERO, PUSH1, fail, JUMPI, STOP, JUMPDEST]) + REVERT_NOW


def send_value(target: str, op: int = CALL) -> bytes:
    """CALL (or CALLCODE) `target` with the value this frame received and all its gas."""
    return NO_DATA + bytes([CALLVALUE]) + push20(target) + bytes([GAS, op])


def forwarder(target: str) -> bytes:
    """Runtime code: send every wei received on to `target`; revert if that call fails."""
    return or_revert(send_value(target))


def forward_then_revert(target: str) -> bytes:
    """Runtime code: send the value on to `target`, then revert: the transfer is undone."""
    return send_value(target) + REVERT_NOW


def try_forward(target: str) -> bytes:
    """Runtime code: send the value on to `target`, ignore whether that call failed (the
    contract keeps the ether then), and succeed."""
    return send_value(target) + bytes([STOP])


def no_value_call(target: str, op: int) -> bytes:
    """Runtime code: DELEGATECALL or STATICCALL `target` (these take no value); revert if it
    fails."""
    return or_revert(NO_DATA + push20(target) + bytes([GAS, op]))


def self_destruct(beneficiary: str) -> bytes:
    """Runtime code: SELFDESTRUCT, sending the contract's whole balance to `beneficiary`."""
    return push20(beneficiary) + bytes([SELFDESTRUCT])


def recurse_then_pay(target: str) -> bytes:
    """Runtime code: called with a 32-byte n, call itself (no value) with n - 1 until n is 0,
    then send the contract's whole balance to `target`; revert if a call fails. A call tree
    n frames deep, the deepest paying."""
    head = bytes([PUSH1, 0, CALLDATALOAD, DUP1, ISZERO, PUSH1, 0, JUMPI])  # n == 0: pay
    head += bytes([PUSH1, 1, SWAP1, SUB, PUSH1, 0, MSTORE])  # memory[0:32] = n - 1
    # call(gas, this contract, 0, 0, 32, 0, 0)
    head += bytes([PUSH1, 0, PUSH1, 0, PUSH1, 32, PUSH1, 0, PUSH1, 0, ADDRESS, GAS, CALL])
    head = or_revert(head)
    pay = bytes([JUMPDEST, POP]) + NO_DATA + bytes([SELFBALANCE]) + push20(target)
    code = head + or_revert(pay + bytes([GAS, CALL]))
    return code[:6] + bytes([len(head)]) + code[7:]  # the jump to `pay`


def init_code(runtime: bytes) -> bytes:
    """Creation code returning `runtime` (codecopy(0, 11, n); return(0, n))."""
    assert len(runtime) < 256
    head = bytes([PUSH1, len(runtime), DUP1, PUSH1, 11, PUSH1, 0, CODECOPY, PUSH1, 0, RETURN])
    return head + runtime


# -- the node --------------------------------------------------------------------------------


def transact(anvil: AnvilNode, **fields: Any) -> str:
    """A transaction from the first account, once mined (automine): its hash."""
    tx = {"from": anvil.accounts[0], **fields}
    txid = str(anvil.rpc("eth_sendTransaction", tx))
    wait_mined(anvil, txid)
    return txid


def wait_mined(anvil: AnvilNode, txid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (receipt := anvil.rpc("eth_getTransactionReceipt", txid)) is None:
        assert time.monotonic() < deadline, f"anvil did not mine {txid} in 30 s"
        time.sleep(0.02)
    return dict(receipt)


def deploy(anvil: AnvilNode, runtime: bytes) -> str:
    txid = transact(anvil, data="0x" + init_code(runtime).hex())
    address = wait_mined(anvil, txid)["contractAddress"]
    assert isinstance(address, str)
    return address.lower()


def balance(anvil: AnvilNode, address: str) -> int:
    return int(anvil.rpc("eth_getBalance", address, "latest"), 16)


_addresses = iter(range(1, 10**6))


def fresh_address(anvil: AnvilNode) -> str:
    """A lower-case address nothing has paid yet (one anvil serves the whole module)."""
    return f"0x{anvil.height():08x}{next(_addresses):04x}" + "de" * 14


@pytest.fixture
async def client(anvil: AnvilNode) -> AsyncIterator[EthereumClient]:
    """A client as teller makes one: it finds out which trace the node answers."""
    node = EthereumClient("127.0.0.1", str(anvil.port))
    yield node
    await node.aclose()


@pytest.fixture
async def parity(anvil: AnvilNode) -> AsyncIterator[EthereumClient]:
    """A client reading parity's `trace_block` (told to try it first; anvil answers it)."""
    node = EthereumClient("127.0.0.1", str(anvil.port))
    node.trace_method = PARITY_TRACE
    yield node
    await node.aclose()


async def scan(anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: Any, start: int) -> None:
    """Scan from `start` to the tip with `client` (callTracer); then check that parity's
    trace gives every block the same outputs."""
    await scan_all(rig.scanner(client, confirmations_required=0, start=start))
    assert client.trace_method == CALL_TRACER
    for height in range(start, anvil.height() + 1):
        assert (await parity.block(height)).outputs == (await client.block(height)).outputs
    assert parity.trace_method == PARITY_TRACE


def paid(rig: Rig) -> dict[str, tuple[str, int]]:
    return {i: (d.deposit_address, d.value) for i, d in rig.deposits().items()}


# -- what counts ---------------------------------------------------------------------------


async def test_eth_a_contract_forwards_to_a_deposit_address_is_paid(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    contract = deploy(anvil, forwarder(deposit))
    tx = transact(anvil, to=contract, value=hex(7 * 10**17 + 3))
    assert balance(anvil, deposit) == 7 * 10**17 + 3  # the chain moved it there

    await scan(anvil, rig, client, parity, start)

    # n = 1: the first value-carrying frame under the transaction (whose own value, n = 0,
    # paid the contract, not a deposit address).
    assert paid(rig) == {f"{tx}:1": (deposit, 7 * 10**17 + 3)}


async def test_a_nested_forward_and_a_contract_creation_are_numbered_depth_first(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    inner = deploy(anvil, forwarder(deposit))
    outer = deploy(anvil, forwarder(inner))
    nested = transact(anvil, to=outer, value=hex(1000))  # 0: -> outer, 1: -> inner, 2: -> deposit
    # A creation whose constructor forwards its value: 0 is the creation, 1 the CALL.
    created = transact(anvil, data="0x" + forwarder(deposit).hex(), value=hex(333))
    assert balance(anvil, deposit) == 1333

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {f"{nested}:2": (deposit, 1000), f"{created}:1": (deposit, 333)}


async def test_a_selfdestruct_paying_a_deposit_address_is_a_deposit(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    contract = deploy(anvil, self_destruct(deposit))
    tx = transact(anvil, to=contract, value=hex(4242))
    assert balance(anvil, deposit) == 4242

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {f"{tx}:1": (deposit, 4242)}


async def test_a_direct_and_an_internal_payment_in_one_block_are_both_deposits(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit, other = fresh_address(anvil), fresh_address(anvil)
    rig.bind("ETH", deposit)
    rig.bind("ETH", other)
    contract = deploy(anvil, forwarder(deposit))
    start = anvil.height() + 1
    anvil.rpc("evm_setAutomine", False)
    try:
        sender = anvil.accounts[0]
        direct = anvil.rpc("eth_sendTransaction", {"from": sender, "to": deposit, "value": "0x5"})
        through = anvil.rpc("eth_sendTransaction", {"from": sender, "to": contract, "value": "0x7"})
        third = anvil.rpc("eth_sendTransaction", {"from": sender, "to": other, "value": "0x9"})
        anvil.rpc("evm_mine")
    finally:
        anvil.rpc("evm_setAutomine", True)
    heights = {wait_mined(anvil, t)["blockNumber"] for t in (direct, through, third)}
    assert len(heights) == 1

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {
        f"{direct}:0": (deposit, 5),
        f"{through}:1": (deposit, 7),
        f"{third}:0": (other, 9),
    }
    assert len({d.height for d in rig.deposits().values()}) == 1


# -- what does not count ---------------------------------------------------------------------


async def test_a_transfer_in_a_reverted_frame_or_under_one_is_no_deposit(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit, refusing, control = (fresh_address(anvil) for _ in range(3))
    for address in (deposit, refusing, control):
        rig.bind("ETH", address)
    start = anvil.height() + 1
    anvil.rpc("anvil_setCode", refusing, "0x" + REVERT_NOW.hex())  # a bound address that reverts
    # Under a reverted parent: try_forward -> forward_then_revert -> deposit (the CALL to the
    # deposit address itself succeeded, but its parent frame reverted it).
    undone = deploy(anvil, try_forward(deploy(anvil, forward_then_revert(deposit))))
    # The frame paying the bound address reverted itself.
    refused = deploy(anvil, try_forward(refusing))
    first = transact(anvil, to=undone, value=hex(10**18))
    second = transact(anvil, to=refused, value=hex(10**18))
    assert {wait_mined(anvil, t)["status"] for t in (first, second)} == {"0x1"}
    control_tx = anvil.send(control, 11)
    assert balance(anvil, deposit) == balance(anvil, refusing) == 0

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {f"{control_tx}:0": (control, 11)}


async def test_a_failed_transaction_pays_nothing_internally(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    deposit, control = fresh_address(anvil), fresh_address(anvil)
    rig.bind("ETH", deposit)
    rig.bind("ETH", control)
    start = anvil.height() + 1
    contract = deploy(anvil, forward_then_revert(deposit))
    failed = anvil.rpc(
        "eth_sendTransaction",
        {"from": anvil.accounts[0], "to": contract, "value": hex(10**18), "gas": hex(200_000)},
    )
    assert wait_mined(anvil, failed)["status"] == "0x0"
    control_tx = anvil.send(control, 12)

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {f"{control_tx}:0": (control, 12)}


async def test_delegatecall_callcode_and_staticcall_move_no_value_of_their_own(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    library, deposit = fresh_address(anvil), fresh_address(anvil)
    rig.bind("ETH", library)  # a bound address only ever named as code to run
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    anvil.rpc("anvil_setCode", library, "0x00")  # STOP
    # callTracer prints the caller's value on a DELEGATECALL frame; CALLCODE moves the value
    # from the caller to itself: neither pays `library`.
    callers = [
        deploy(anvil, no_value_call(library, DELEGATECALL)),
        deploy(anvil, or_revert(send_value(library, CALLCODE))),
        deploy(anvil, no_value_call(library, STATICCALL)),
    ]
    for caller in callers:
        transact(anvil, to=caller, value=hex(10**15))
    # A CALL made by code run through DELEGATECALL is a real transfer (from the caller).
    delegating = deploy(anvil, no_value_call(deploy(anvil, forwarder(deposit)), DELEGATECALL))
    real = transact(anvil, to=delegating, value=hex(77))
    assert balance(anvil, library) == 0
    assert balance(anvil, deposit) == 77

    await scan(anvil, rig, client, parity, start)

    # n = 1: the DELEGATECALL frame carries no transfer, so the CALL under it is the first.
    assert paid(rig) == {f"{real}:1": (deposit, 77)}


async def test_a_call_tree_deeper_than_the_json_decoder_allows_is_read(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, parity: EthereumClient
) -> None:
    """A transaction nesting hundreds of calls makes a callTracer answer nested deeper than
    Python's default recursion limit: the block must still be read (else anyone could stop
    the scanner for good with one such transaction)."""
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    contract = deploy(anvil, recurse_then_pay(deposit))
    depth = 600  # ~1,200 levels of JSON; the gas runs out near the bottom: the tx fails
    deep = anvil.rpc(
        "eth_sendTransaction",
        {
            "from": anvil.accounts[0],
            "to": contract,
            "value": "0x1",
            "data": "0x" + depth.to_bytes(32, "big").hex(),
            "gas": hex(16_000_000),
        },
    )
    assert wait_mined(anvil, deep)["status"] == "0x0"
    shallow = anvil.rpc(
        "eth_sendTransaction",
        {
            "from": anvil.accounts[0],
            "to": contract,
            "value": hex(55),
            "data": "0x" + (3).to_bytes(32, "big").hex(),
        },
    )
    assert wait_mined(anvil, shallow)["status"] == "0x1"

    await scan(anvil, rig, client, parity, start)

    assert paid(rig) == {f"{shallow}:1": (deposit, 55)}  # 0 pays the contract, 1-3 carry none


# -- which node answers what -----------------------------------------------------------------


class RpcProxy:
    """A JSON-RPC server on a loopback port that passes every call on to anvil, letting
    `answer(method, params)` replace the node's answer (return None to pass it through)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.answer: Callable[[str, list[Any], dict[str, Any]], dict[str, Any] | None] = (
            lambda method, params, real: None
        )
        self.calls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                proxy.calls.append(request["method"])
                real = httpx.post(proxy.upstream, json=request, timeout=30).json()
                reply = proxy.answer(request["method"], request["params"], real) or real
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RpcProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[RpcProxy]:
    with RpcProxy(anvil.url) as server:
        yield server


def method_not_found(method: str, params: list[Any], real: dict[str, Any]) -> dict[str, Any] | None:
    if method.startswith(("debug_", "trace_")):
        # What geth answers for a namespace it does not serve.
        message = f"the method {method} does not exist/is not available"
        return {"jsonrpc": "2.0", "id": real["id"], "error": {"code": -32601, "message": message}}
    return None


async def test_a_node_that_traces_nothing_still_pays_direct_deposits_and_says_so_once(
    anvil: AnvilNode, rig: Rig, proxy: RpcProxy, caplog: pytest.LogCaptureFixture
) -> None:
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    through = transact(anvil, to=deploy(anvil, forwarder(deposit)), value="0x3")
    direct = anvil.send(deposit, 4)
    proxy.answer = method_not_found
    node = EthereumClient("127.0.0.1", str(proxy.port))
    try:
        scanner = rig.scanner(node, confirmations_required=0, start=start)
        await scan_all(scanner)
        later = anvil.send(deposit, 5)
        await scan_all(scanner)
        assert node.trace_method == ethereum.NO_TRACES
    finally:
        await node.aclose()

    assert paid(rig) == {f"{direct}:0": (deposit, 4), f"{later}:0": (deposit, 5)}
    assert f"{through}:1" not in paid(rig)  # not seen: that is what the notice says
    notices = [m for m in watch_notices(caplog) if "internal transfers" in m]
    assert len(notices) == 1, notices
    assert proxy.calls.count(CALL_TRACER) == proxy.calls.count(PARITY_TRACE) == 1


def spoiled(method: str, real: dict[str, Any], garbage: str, txid: str) -> dict[str, Any]:
    """`real`, the node's answer to trace `method`, made into `garbage`."""
    document = json.loads(json.dumps(real))
    traces = document["result"]
    tx_key = "txHash" if method == CALL_TRACER else "transactionHash"
    if garbage == "value not hex":
        for entry in traces:
            if method == CALL_TRACER:
                for frame in entry["result"].get("calls", []):
                    frame["value"] = "12"
            elif entry["traceAddress"]:
                entry["action"]["value"] = "12"
    elif garbage == "no trace of a transaction":
        document["result"] = traces[:-1] if method == CALL_TRACER else []
    elif garbage == "another transaction's trace":
        for entry in traces:
            entry[tx_key] = "0x" + "ab" * 32
    elif garbage == "not a list":
        document["result"] = {"oops": 1}
    elif garbage == "the node failed to trace":
        document["result"] = [{"error": "tracing failed", tx_key: txid}]
    elif garbage == "unknown frame type":
        for entry in traces:
            if method == CALL_TRACER:
                entry["result"]["calls"][0]["type"] = "TELEPORT"
            else:
                entry["type"] = "teleport"
    elif garbage == "error that is no text":
        for entry in traces:
            (entry["result"] if method == CALL_TRACER else entry)["error"] = 1
    elif garbage == "another block":
        assert method == PARITY_TRACE
        for entry in traces:
            entry["blockHash"] = "0x" + "cd" * 32
    else:
        raise AssertionError(garbage)
    return document


GARBAGE = [
    "value not hex",
    "no trace of a transaction",
    "another transaction's trace",
    "not a list",
    "the node failed to trace",
    "unknown frame type",
    "error that is no text",
]


async def test_trace_answers_that_do_not_fit_the_block_are_bad_answers(anvil: AnvilNode) -> None:
    """Every kind of garbage, on real answers of anvil for a block with a forwarded payment."""
    from teller.clients.eth_traces import call_tracer_block, parity_transfers

    deposit = fresh_address(anvil)
    txid = transact(anvil, to=deploy(anvil, forwarder(deposit)), value="0x2")
    block = anvil.rpc("eth_getBlockByNumber", hex(anvil.height()), False)
    txids = [t.lower() for t in block["transactions"]]
    real = {
        CALL_TRACER: {"result": anvil.rpc(CALL_TRACER, block["hash"], {"tracer": "callTracer"})},
        PARITY_TRACE: {"result": anvil.rpc(PARITY_TRACE, block["number"])},
    }

    def read(method: str, answer: Any) -> Any:
        if method == CALL_TRACER:
            return call_tracer_block(answer, block["hash"], txids)
        return parity_transfers(answer, block["hash"], txids)

    for method in (CALL_TRACER, PARITY_TRACE):
        transfers = read(method, real[method]["result"])  # the real answer reads
        assert [(t.n, t.to, t.value, t.happened) for t in transfers[txid]] == [
            (1, deposit, 2, True)
        ]
        kinds = GARBAGE + (["another block"] if method == PARITY_TRACE else [])
        for garbage in kinds:
            with pytest.raises(NodeBadAnswer):
                read(method, spoiled(method, real[method], garbage, txid)["result"])
                pytest.fail(f"{method}: {garbage} was read")


@pytest.mark.parametrize("method", [CALL_TRACER, PARITY_TRACE])
async def test_a_trace_answer_that_does_not_fit_is_retried_never_guessed(
    anvil: AnvilNode, rig: Rig, proxy: RpcProxy, method: str
) -> None:
    deposit = fresh_address(anvil)
    rig.bind("ETH", deposit)
    start = anvil.height() + 1
    contract = deploy(anvil, forwarder(deposit))
    direct = anvil.send(deposit, 1)
    through = transact(anvil, to=contract, value="0x2")

    def spoil(name: str, params: list[Any], real: dict[str, Any]) -> dict[str, Any] | None:
        if name != method or not real.get("result"):
            return None
        return spoiled(method, real, "value not hex", "")

    proxy.answer = spoil
    node = EthereumClient("127.0.0.1", str(proxy.port))
    node.trace_method = method
    try:
        scanner = rig.scanner(node, confirmations_required=0, start=start)
        with pytest.raises(NodeBadAnswer, match="hex quantity"):
            await scan_all(scanner)
        assert paid(rig) == {f"{direct}:0": (deposit, 1)}  # its block has no inner frame
        proxy.answer = lambda name, params, real: None  # the node answers sense again
        await scan_all(scanner)
    finally:
        await node.aclose()
    assert paid(rig) == {f"{direct}:0": (deposit, 1), f"{through}:1": (deposit, 2)}
