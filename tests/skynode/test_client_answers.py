"""The node client against answers the simulator never gives: old versions, odd encodings,
garbage. Every surprise must become a SkyNodeError (retried), never a crash or a guess."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from teller.clients.skycoin_node import SkyNodeClient, SkyNodeError, TransactionRejected

from .scripted import ScriptedNode, serve_scripted

TXID = "ab" * 32
UX1, UX2, UX3 = "01" * 32, "02" * 32, "03" * 32
ADDR = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
HEAD = {"seq": 7, "block_hash": "cd" * 32, "timestamp": 1_700_000_000}


def _output(uxid: str, coins: object, hours: int = 5) -> dict[str, object]:
    return {
        "hash": uxid,
        "block_seq": 3,
        "time": 1_699_999_000,
        "src_tx": "ee" * 32,
        "address": ADDR,
        "coins": coins,
        "hours": hours,
        "calculated_hours": hours + 10,
    }


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    yield from serve_scripted()


@pytest.fixture
async def client(node: ScriptedNode) -> SkyNodeClient:
    return SkyNodeClient(node.address)


async def test_outputs_are_exact_droplets_and_outgoing_ones_are_not_spendable(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on(
        "GET",
        "/api/v1/outputs",
        (
            200,
            {
                "head": HEAD,
                "head_outputs": [
                    _output(UX1, "2.000000"),
                    _output(UX2, "0.000001"),
                    _output(UX3, "123456789.123456"),
                ],
                "outgoing_outputs": [_output(UX2, "0.000001")],
                "incoming_outputs": None,  # Go's empty slice
            },
        ),
    )
    found = await client.outputs([ADDR])
    assert [(o.uxid, o.droplets, o.hours) for o in found.confirmed] == [
        (UX1, 2_000_000, 15),
        (UX2, 1, 15),
        (UX3, 123_456_789_123_456, 15),
    ]
    assert [o.uxid for o in found.spendable] == [UX1, UX3]
    assert found.head_seq == 7 and found.incoming == ()
    assert node.requests("/api/v1/outputs")[0].query == {"addrs": [ADDR]}


@pytest.mark.parametrize(
    "coins",
    ["1.0000001", "-1.000000", "NaN", "1e400", "", True, None, "2,000000"],
)
async def test_an_amount_that_is_not_exact_droplets_is_a_node_error(
    node: ScriptedNode, client: SkyNodeClient, coins: object
) -> None:
    node.on(
        "GET",
        "/api/v1/outputs",
        (
            200,
            {
                "head": HEAD,
                "head_outputs": [_output(UX1, coins)],
                "outgoing_outputs": [],
                "incoming_outputs": [],
            },
        ),
    )
    with pytest.raises(SkyNodeError, match="/api/v1/outputs"):
        await client.outputs([ADDR])


async def test_json_numbers_are_read_without_float(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    # 0.1 + 0.2 style surprises: a float would give 300000.00000000006 droplets.
    node.on(
        "GET",
        "/api/v1/outputs",
        (
            200,
            b'{"head": {"seq": 1, "block_hash": "' + b"cd" * 32 + b'", "timestamp": 5},'
            b' "head_outputs": [{"hash": "' + UX1.encode() + b'", "block_seq": 1, "time": 1,'
            b' "src_tx": "' + b"ee" * 32 + b'", "address": "' + ADDR.encode() + b'",'
            b' "coins": 0.3, "hours": 1, "calculated_hours": 1}],'
            b' "outgoing_outputs": [], "incoming_outputs": []}',
        ),
    )
    [output] = (await client.outputs([ADDR])).confirmed
    assert output.droplets == 300_000


@pytest.mark.parametrize(
    "body",
    [
        b"<html>proxy error</html>",
        b"[]",
        b'{"head": null}',
        b'{"head": {"seq": "7"}, "head_outputs": []}',
        b'{"head": {"seq": 7, "timestamp": 1}, "head_outputs": [{"hash": "xyz"}],'
        b' "outgoing_outputs": [], "incoming_outputs": []}',
        b"[" * 100_000,
    ],
)
async def test_garbage_is_a_node_error(
    node: ScriptedNode, client: SkyNodeClient, body: bytes
) -> None:
    node.on("GET", "/api/v1/outputs", (200, body))
    with pytest.raises(SkyNodeError):
        await client.outputs([ADDR])


async def test_an_unreachable_node_is_a_node_error() -> None:
    client = SkyNodeClient("127.0.0.1:1")
    with pytest.raises(SkyNodeError, match="unreachable"):
        await client.transaction_status(TXID)


async def test_inject_sends_json_with_a_csrf_token_and_the_configured_host(
    node: ScriptedNode,
) -> None:
    client = SkyNodeClient(f"localhost:{node.port}")
    node.on("GET", "/api/v1/csrf", (200, {"csrf_token": "token-1"}))
    node.on("POST", "/api/v1/injectTransaction", (200, TXID))
    assert await client.inject("00ff") == TXID
    [sent] = node.requests("/api/v1/injectTransaction")
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-csrf-token"] == "token-1"
    assert sent.headers["host"] == f"localhost:{node.port}"
    assert "origin" not in sent.headers and "referer" not in sent.headers
    assert sent.body == b'{"rawtx":"00ff"}'


async def test_an_expired_csrf_token_is_replaced_and_the_post_sent_again(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on(
        "GET",
        "/api/v1/csrf",
        (200, {"csrf_token": "old"}),
        (200, {"csrf_token": "new"}),
    )
    node.on(
        "POST",
        "/api/v1/injectTransaction",
        (403, b"403 Forbidden - invalid CSRF token"),
        (200, TXID),
    )
    assert await client.inject("00") == TXID
    tokens = [s.headers["x-csrf-token"] for s in node.requests("/api/v1/injectTransaction")]
    assert tokens == ["old", "new"]


async def test_csrf_disabled_on_the_node_means_no_token(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on("POST", "/api/v1/injectTransaction", (200, TXID))  # /api/v1/csrf: 404
    assert await client.inject("00") == TXID
    assert await client.inject("00") == TXID
    posts = node.requests("/api/v1/injectTransaction")
    assert [("x-csrf-token" in s.headers) for s in posts] == [False, False]
    assert len(node.requests("/api/v1/csrf")) == 1  # asked once, remembered


@pytest.mark.parametrize(
    ("status", "body", "spent"),
    [
        (400, b"400 Bad Request - Transaction violates hard constraint: unspent output of "
         + UX1.encode() + b" does not exist", True),
        (500, b"500 Internal Server Error - Transaction violates soft constraint: "
         b"Transaction coinhour fee minimum not met", False),  # v0.25.1 answered 500
        (422, b'{"error": {"message": "Transaction violates hard constraint: '
         b'Signature not valid for output being spent", "code": 422}}', False),
        # Only the node's own wording stops a deposit; another "does not exist" does not.
        (400, b"400 Bad Request - Transaction violates hard constraint: "
         b"wallet does not exist", False),
    ],
)  # fmt: skip
async def test_a_refusal_is_reported_with_the_node_message(
    node: ScriptedNode, client: SkyNodeClient, status: int, body: bytes, spent: bool
) -> None:
    node.on("POST", "/api/v1/injectTransaction", (status, body))
    with pytest.raises(TransactionRejected) as refused:
        await client.inject("00")
    assert refused.value.spends_missing_inputs is spent
    assert str(refused.value).startswith("Transaction violates")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, b"503 Service Unavailable - No addresses provided"),
        (500, b"500 Internal Server Error - database is locked"),
        (403, b"403 Forbidden - Invalid Host"),
        (415, b"415 Unsupported Media Type"),
        (200, b'"not a txid"'),
        (200, b"{}"),
    ],
)
async def test_inject_failures_that_may_pass_later_are_node_errors(
    node: ScriptedNode, client: SkyNodeClient, status: int, body: bytes
) -> None:
    node.on("POST", "/api/v1/injectTransaction", (status, body))
    with pytest.raises(SkyNodeError):
        await client.inject("00")


async def test_a_wrong_host_is_explained(node: ScriptedNode, client: SkyNodeClient) -> None:
    node.on("GET", "/api/v1/transaction", (403, b"403 Forbidden - Invalid Host"))
    with pytest.raises(SkyNodeError, match=r"check sky_rpc\.address"):
        await client.transaction_status(TXID)


async def test_transaction_status_unknown_pending_confirmed(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    def status(confirmed: bool, height: int) -> dict[str, object]:
        return {
            "status": {
                "confirmed": confirmed,
                "unconfirmed": not confirmed,
                "height": height,
                "block_seq": 9 if confirmed else 0,
            },
            "time": 1,
            "txn": {},
        }

    node.on(
        "GET",
        "/api/v1/transaction",
        (404, b"404 Not Found"),
        (200, status(False, 0)),
        (200, status(True, 2)),
        (200, {"status": {"confirmed": "yes"}}),
    )
    unknown = await client.transaction_status(TXID)
    pending = await client.transaction_status(TXID)
    confirmed = await client.transaction_status(TXID)
    assert (unknown.known, pending.known, pending.confirmed) == (False, True, False)
    assert (confirmed.confirmed, confirmed.depth, confirmed.block_seq) == (True, 2, 9)
    with pytest.raises(SkyNodeError):
        await client.transaction_status(TXID)
    assert node.requests("/api/v1/transaction")[0].query == {"txid": [TXID]}


@pytest.mark.parametrize(
    ("health", "burn", "size"),
    [
        ({"version": {"version": "0.25.1"}, "csrf_enabled": True}, 2, 32768),
        ({"version": {"version": "0.26.0"}}, 10, 32768),
        (
            {
                "version": {"version": "0.27.1"},
                "user_verify_transaction": {
                    "burn_factor": 3,
                    "max_transaction_size": 5000,
                    "max_decimals": 3,
                },
            },
            3,
            5000,
        ),
    ],
)
async def test_the_burn_factor_comes_from_the_node(
    node: ScriptedNode, client: SkyNodeClient, health: dict[str, object], burn: int, size: int
) -> None:
    node.on("GET", "/api/v1/health", (200, health))
    info = await client.node_info()
    assert (info.burn_factor, info.max_transaction_size) == (burn, size)


async def test_a_zero_burn_factor_is_refused(node: ScriptedNode, client: SkyNodeClient) -> None:
    node.on(
        "GET",
        "/api/v1/health",
        (200, {"version": {"version": "0.27.1"}, "user_verify_transaction": {"burn_factor": 0}}),
    )
    with pytest.raises(SkyNodeError, match="implausible"):
        await client.node_info()


async def test_balance_sums_address_chunks_as_integers(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on(
        "GET",
        "/api/v1/balance",
        (
            200,
            {
                "confirmed": {"coins": 1_000_000_000_000_001, "hours": 7},
                "predicted": {"coins": 1, "hours": 0},
                "addresses": {},
            },
        ),
    )
    balance = await client.balance([ADDR] * 150)  # two requests of at most 100 addresses
    assert balance.confirmed_droplets == 2_000_000_000_000_002
    assert [len(s.query["addrs"][0].split(",")) for s in node.requests("/api/v1/balance")] == [
        100,
        50,
    ]


async def test_a_block_becomes_outputs_with_txid_and_index(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on(
        "GET",
        "/api/v1/block",
        (
            200,
            {
                "header": {
                    "seq": 4,
                    "block_hash": "44" * 32,
                    "previous_block_hash": "33" * 32,
                    "timestamp": 10,
                },
                "body": {
                    "txns": [
                        {
                            "txid": TXID,
                            "inputs": [UX1],
                            "outputs": [
                                {"uxid": UX2, "dst": ADDR, "coins": "1.500000", "hours": 1},
                                {"uxid": UX3, "dst": ADDR, "coins": "0.001000", "hours": 0},
                            ],
                        }
                    ]
                },
            },
        ),
    )
    block = await client.block(4)
    assert (block.hash, block.prev_hash) == ("44" * 32, "33" * 32)
    [tx] = block.transactions
    assert [(o.uxid, o.droplets) for o in tx.outputs] == [(UX2, 1_500_000), (UX3, 1_000)]
    with pytest.raises(SkyNodeError, match="asked for block 5"):
        await client.block(5)  # the same answer again: block 4


def _outputs_body(output_json: bytes) -> bytes:
    return (
        b'{"head": {"seq": 1, "block_hash": "' + b"cd" * 32 + b'", "timestamp": 5},'
        b' "head_outputs": [' + output_json + b'], "outgoing_outputs": [], "incoming_outputs": []}'
    )


def _output_json(coins: bytes, hours: bytes) -> bytes:
    return (
        b'{"hash": "' + UX1.encode() + b'", "block_seq": 1, "time": 1, "src_tx": "'
        + b"ee" * 32 + b'", "address": "' + ADDR.encode() + b'", "coins": ' + coins
        + b', "hours": 1, "calculated_hours": ' + hours + b"}"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("coins", "hours"),
    [
        (b'"2.000000"', b"1e600000"),  # an integer field: int() would build a 600000-digit number
        (b'"0e8000000"', b"1"),  # zero SKY written with a huge exponent
        (b"0e8000000", b"1"),  # the same as a JSON number
    ],
)
async def test_numbers_with_huge_exponents_are_answered_at_once(
    node: ScriptedNode, client: SkyNodeClient, coins: bytes, hours: bytes
) -> None:
    # The parsing runs on teller's event loop: a number that takes seconds of CPU to turn
    # into an int freezes every loop of teller (HTTP API included) for that long.
    node.on("GET", "/api/v1/outputs", (200, _outputs_body(_output_json(coins, hours))))
    assert not (await client.transaction_status(TXID)).known  # warm up: a 404, connected
    started = time.monotonic()
    try:
        [output] = (await client.outputs([ADDR])).confirmed
        assert output.droplets in (0, 2_000_000)
    except SkyNodeError:
        pass  # out of range: a node error is right too
    assert time.monotonic() - started < 1.0


async def test_an_amount_with_thousands_of_trailing_zeros_is_exact(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    # int() refuses more than 4300 digits with a ValueError, which is not a node error.
    coins = b'"1.' + b"0" * 5000 + b'"'
    node.on("GET", "/api/v1/outputs", (200, _outputs_body(_output_json(coins, b"1"))))
    [output] = (await client.outputs([ADDR])).confirmed
    assert output.droplets == 1_000_000
    too_precise = b'"1.' + b"0" * 5000 + b'1"'
    node.on("GET", "/api/v1/outputs", (200, _outputs_body(_output_json(too_precise, b"1"))))
    with pytest.raises(SkyNodeError, match="decimals"):
        await client.outputs([ADDR])


async def test_an_error_body_nested_too_deep_is_a_node_error(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on("POST", "/api/v1/injectTransaction", (503, b"[" * 100_000))
    node.on("GET", "/api/v1/transaction", (500, b"[" * 100_000))
    with pytest.raises(SkyNodeError, match="503"):
        await client.inject("00")
    with pytest.raises(SkyNodeError, match="500"):
        await client.transaction_status(TXID)


async def test_a_version_with_thousands_of_digits_is_not_a_crash(
    node: ScriptedNode, client: SkyNodeClient
) -> None:
    node.on("GET", "/api/v1/health", (200, {"version": {"version": "0." + "9" * 5000 + ".0"}}))
    info = await client.node_info()
    assert info.burn_factor == 10
