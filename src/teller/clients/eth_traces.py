"""Internal ETH transfers: the value moved by a transaction's inner calls, read from a node's
block trace (the two shapes nodes answer), for clients/ethereum.py.

Place in the flow: `EthereumClient.block` reads a block, then its trace; the transfers found
here become `ChainOutput`s beside the transactions' own values, and the block loop
(scanners/base.py) matches them against bound deposit addresses like any other output.

What counts as a transfer to `to` (value in wei, > 0):

- a CALL frame (the value moves from the caller to `to`);
- a CREATE / CREATE2 frame (to the created contract);
- a SELFDESTRUCT frame (the contract's whole balance, to the beneficiary).

DELEGATECALL and CALLCODE frames move nothing to the address they name: that is only where
the code comes from (callTracer even prints the caller's value on a DELEGATECALL frame, which
is no transfer), and STATICCALL carries no value. A CALL made *inside* a DELEGATECALL frame is
a real transfer (from the delegating contract) and counts.

A frame that failed (callTracer's `error`, a parity trace's `error`: reverted, out of gas, ...)
undid everything in it: its transfer and every transfer in the frames under it did not
happen (`happened` False), even though the trace lists them.

Numbering (the `n` of the deposit id "<tx hash>:<n>"): 0 is the transaction's own value (read
from the block, not from here); the value-carrying internal frames are 1, 2, ... in
depth-first order (the order calls were made), failed ones included, so a transfer's number
depends only on the transaction's own execution, never on its place in a block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from teller.errors import NodeBadAnswer

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")

# callTracer frame types (upper case) and parity call types (lower case) that move value to
# the address they name.
_CALL_TRACER_MOVES = {"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"}
_CALL_TRACER_KNOWN = _CALL_TRACER_MOVES | {"DELEGATECALL", "CALLCODE", "STATICCALL"}
_PARITY_CALL_TYPES = {"call", "delegatecall", "callcode", "staticcall"}


@dataclass(frozen=True, slots=True)
class Transfer:
    """One internal value transfer of a transaction."""

    n: int  # 1, 2, ...: its place among the transaction's value-carrying internal frames
    to: str  # lower-case 0x address ("" only for a failed creation, which names none)
    value: int  # wei, > 0
    happened: bool  # False: its frame, or one above it, failed; nothing moved


def call_tracer_transfers(txid: str, top: object) -> list[Transfer]:
    """The internal transfers of one transaction from geth's callTracer frame `top` (the
    transaction itself; its `calls` nest the inner frames). NodeBadAnswer on garbage."""
    if not isinstance(top, dict):
        raise NodeBadAnswer(f"trace of {txid}: not a call frame: {top!r:.80}")
    transfers: list[Transfer] = []
    # Depth-first, in call order, without recursion (the EVM nests up to 1024 frames):
    # (frame, whether a frame above it failed).
    stack: list[tuple[Any, bool]] = [
        (child, _failed(top, txid)) for child in reversed(_calls(top, txid))
    ]
    while stack:
        frame, undone = stack.pop()
        if not isinstance(frame, dict):
            raise NodeBadAnswer(f"trace of {txid}: not a call frame: {frame!r:.80}")
        undone = undone or _failed(frame, txid)
        kind = frame.get("type")
        if not isinstance(kind, str) or kind.upper() not in _CALL_TRACER_KNOWN:
            raise NodeBadAnswer(f"trace of {txid}: unknown frame type {kind!r:.40}")
        value = _quantity(frame.get("value", "0x0"), txid)
        if kind.upper() in _CALL_TRACER_MOVES and value > 0:
            to = _recipient(frame.get("to"), undone, txid)
            transfers.append(Transfer(len(transfers) + 1, to, value, not undone))
        stack.extend((child, undone) for child in reversed(_calls(frame, txid)))
    return transfers


def call_tracer_block(
    answer: object, block_hash: str, txids: Sequence[str]
) -> dict[str, list[Transfer]]:
    """The internal transfers of every transaction (`txids`, in block order) of block
    `block_hash` from a callTracer block trace: one entry per transaction, in block order,
    each `{"txHash": ..., "result": <top frame>}` (older nodes: no txHash; a failed trace: an
    `error` instead of a result, which is a bad answer: the block is read again later)."""
    if not isinstance(answer, list) or len(answer) != len(txids):
        count = len(answer) if isinstance(answer, list) else type(answer).__name__
        raise NodeBadAnswer(
            f"debug_traceBlockByHash: {count} traces for the {len(txids)} transactions"
            f" of {block_hash}"
        )
    found: dict[str, list[Transfer]] = {}
    for txid, entry in zip(txids, answer, strict=True):
        if not isinstance(entry, dict):
            raise NodeBadAnswer(f"debug_traceBlockByHash: not a trace of {txid}: {entry!r:.80}")
        if "txHash" in entry and _hash(entry["txHash"]) != txid:
            raise NodeBadAnswer(
                f"debug_traceBlockByHash: trace of {entry['txHash']!r:.80}, not {txid}"
            )
        if "result" not in entry:
            error = entry.get("error", "no result")
            raise NodeBadAnswer(
                f"debug_traceBlockByHash: the node could not trace {txid}: {error!r:.120}"
            )
        found[txid] = call_tracer_transfers(txid, entry["result"])
    return found


def parity_transfers(
    traces: object, block_hash: str, txids: Sequence[str]
) -> dict[str, list[Transfer]]:
    """The internal transfers of every transaction of block `block_hash`, from a parity-style
    `trace_block` answer (a flat list; `traceAddress` places each trace in its transaction's
    call tree). Every transaction of `txids` gets an entry. NodeBadAnswer on garbage, or when
    the traces belong to another block (the chain moved between the calls)."""
    if not isinstance(traces, list):
        raise NodeBadAnswer(f"trace_block: not a list of traces: {traces!r:.80}")
    by_tx: dict[str, list[tuple[tuple[int, ...], dict[str, Any]]]] = {t: [] for t in txids}
    for trace in traces:
        if not isinstance(trace, dict):
            raise NodeBadAnswer(f"trace_block: not a trace: {trace!r:.80}")
        if trace.get("transactionHash") is None:
            continue  # a block or uncle reward (PoW chains): no transaction, no deposit
        txid = _hash(trace["transactionHash"])
        if "blockHash" in trace and _hash(trace["blockHash"]) != block_hash:
            raise NodeBadAnswer(f"trace_block: a trace of block {trace['blockHash']!r:.80}")
        if txid not in by_tx:
            raise NodeBadAnswer(f"trace_block: {txid} is not a transaction of {block_hash}")
        by_tx[txid].append((_trace_address(trace, txid), trace))
    return {txid: _tree_transfers(txid, sorted(found)) for txid, found in by_tx.items()}


def _tree_transfers(
    txid: str, traces: list[tuple[tuple[int, ...], dict[str, Any]]]
) -> list[Transfer]:
    """`traces` of one transaction sorted by traceAddress: depth-first (pre-order)."""
    if not traces or traces[0][0] != ():
        raise NodeBadAnswer(f"trace_block: no top-level trace of {txid}")
    undone: dict[tuple[int, ...], bool] = {}
    transfers: list[Transfer] = []
    for address, trace in traces:
        if address in undone:
            raise NodeBadAnswer(f"trace_block: two traces at {list(address)} of {txid}")
        parent = address[:-1]
        if address and parent not in undone:
            raise NodeBadAnswer(f"trace_block: trace {list(address)} of {txid} has no parent")
        failed = _failed(trace, txid)
        undone[address] = failed or (bool(address) and undone[parent])
        if not address:
            continue  # the transaction's own value: read from the block
        moved = _parity_move(trace, txid)
        if moved is not None and moved[1] > 0:
            to = _recipient(moved[0], undone[address], txid)
            transfers.append(Transfer(len(transfers) + 1, to, moved[1], not undone[address]))
    return transfers


def _parity_move(trace: dict[str, Any], txid: str) -> tuple[Any, int] | None:
    """(recipient, value) of a trace that moves value to an address; None for one that
    cannot (delegatecall, callcode, staticcall)."""
    kind = trace.get("type")
    action = trace.get("action")
    if not isinstance(action, dict):
        raise NodeBadAnswer(f"trace_block: a trace of {txid} without action")
    if kind == "call":
        call_type = action.get("callType", "call")
        if call_type not in _PARITY_CALL_TYPES:
            raise NodeBadAnswer(f"trace_block: unknown call type {call_type!r:.40} in {txid}")
        if call_type != "call":
            return None
        return action.get("to"), _quantity(action.get("value", "0x0"), txid)
    if kind == "create":
        result = trace.get("result")
        to = result.get("address") if isinstance(result, dict) else None
        return to, _quantity(action.get("value", "0x0"), txid)
    if kind in ("suicide", "selfdestruct"):
        return action.get("refundAddress"), _quantity(action.get("balance", "0x0"), txid)
    raise NodeBadAnswer(f"trace_block: unknown trace type {kind!r:.40} in {txid}")


def _trace_address(trace: dict[str, Any], txid: str) -> tuple[int, ...]:
    found = trace.get("traceAddress")
    if not isinstance(found, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in found
    ):
        raise NodeBadAnswer(f"trace_block: bad traceAddress {found!r:.80} in {txid}")
    return tuple(found)


def _calls(frame: dict[str, Any], txid: str) -> list[Any]:
    calls = frame.get("calls", [])
    if calls is None:
        return []
    if not isinstance(calls, list):
        raise NodeBadAnswer(f"trace of {txid}: `calls` is not a list: {calls!r:.80}")
    return calls


def _failed(frame: dict[str, Any], txid: str) -> bool:
    error = frame.get("error")
    if error is not None and not isinstance(error, str):
        raise NodeBadAnswer(f"trace of {txid}: `error` is not text: {error!r:.80}")
    return bool(error)


def _quantity(value: object, txid: str) -> int:
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        raise NodeBadAnswer(f"trace of {txid}: expected a hex quantity, got {value!r:.80}")
    return int(value, 16)


def _recipient(value: object, undone: bool, txid: str) -> str:
    """The lower-case recipient of a transfer; "" for a failed creation, which names no
    contract (nothing moved, so no address is needed)."""
    if value is None and undone:
        return ""
    return _address(value, txid)


def _address(value: object, txid: str) -> str:
    if not isinstance(value, str) or _ADDRESS.fullmatch(value) is None:
        raise NodeBadAnswer(f"trace of {txid}: expected an address, got {value!r:.80}")
    return value.lower()


def _hash(value: object) -> str:
    if not isinstance(value, str) or _HASH.fullmatch(value) is None:
        raise NodeBadAnswer(f"trace: expected a 32-byte hash, got {value!r:.80}")
    return value.lower()
