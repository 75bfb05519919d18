"""A Skycoin node simulator: the REST API teller uses, over real HTTP, with a real ledger.

Place in the flow: a peer of teller, never part of it. As its own process it stands in for a
Skycoin node (v0.25–v0.27) at `sky_rpc.address` in the demo (`make run SKYNODE=1`), component
tests and the crash test. teller's node client (clients/skycoin_node.py), SKY payer and SKY
scanner talk to it exactly as to a node; it decodes, verifies and confirms the transactions
teller signs (teller_sims/skynode_chain.py, coins/sky_tx.py). Reference: skycoin.md §5 and §9.
Run it with `teller-sim skynode --help` (or `python -m teller_sims.skynode`).

This module builds the node (genesis, demo wallet, state file) and runs it; the endpoints are
in teller_sims/skynode_api.py, the chain in teller_sims/skynode_chain.py.

The node's API (errors are text "<code> <status> - <message>", as the node's):

    GET  /api/v1/csrf                  {"csrf_token"}; 404 with --disable-csrf
    GET  /api/v1/health                version, csrf_enabled, user_verify_transaction.burn_factor…
    GET  /api/v1/version               {"version", "commit", "branch"}
    GET  /api/v1/blockchain/metadata   {"head", "unspents", "unconfirmed"}
    GET  /api/v1/blockchain/progress   {"current", "highest", "peers": [{"address", "height"}]}
    GET  /api/v1/network/connections   {"connections": [...]} (?states=, ?direction= as v0.27)
    GET|POST /api/v1/balance?addrs=    confirmed / predicted {coins (droplets), hours}
    GET|POST /api/v1/outputs?addrs=|hashes=   head_outputs, outgoing_outputs, incoming_outputs
    GET  /api/v1/uxout?uxid=           one output of a block, spent ("spent_tx",
                                       "spent_block_seq") or not (zero hash, 0); 404 unknown
    GET  /api/v1/transaction?txid=[&verbose=1|&encoded=1]   status.height = depth; 404 unknown
    GET|POST /api/v1/transactions?addrs=[&confirmed=1|0][&verbose=1]   every transaction
                                       spending from or paying to addrs, {status, time, txn}
    GET  /api/v1/rawtx?txid=           the hex, as a JSON string
    GET  /api/v1/pendingTxs            the pool
    POST /api/v1/injectTransaction     {"rawtx", "no_broadcast" (v0.27)} → "txid"; 400 refused
                                       (500 on v0.25), 503 broadcast failed (nothing kept)
    GET  /api/v1/block?seq=|hash=      one block; also /api/v1/blocks?start=&end=,
                                       /api/v1/last_blocks?num=
    POST /api/v2/transaction/verify    dry run: {"data": {"transaction": {"fee"…}}} or 422
    POST /api/v2/address/verify        {"data": {"version": 0}} or 422

Every request needs Host 127.0.0.1:<port> or localhost:<port> (403 "Invalid Host"), and every
POST under /api/ an X-CSRF-Token from /api/v1/csrf (403 "invalid CSRF token"); inject and
the v2 endpoints need Content-Type application/json (415).

Test controls, under /sim/ (no CSRF; they are not part of any node):

    POST /sim/block                  make a block now (even an empty one) → {"seq", "txids"}
    POST /sim/fail_broadcasts        {"enabled": bool}: inject answers 503 and keeps nothing
    POST /sim/pause                  {"paused": bool}: stop/start the periodic blocks
    POST /sim/peers                  {"count": n}: connected peers (0: alone, inject 503s)
    POST /sim/replace                {"peers": n (default 1)}: the node is swapped for an
                                     empty one (same genesis); the real chain goes on as the
                                     network's (blocks are made there), this node is behind
    POST /sim/sync                   {"blocks": n (default all)}: download the network's
                                     blocks; with all of them the node is synced again
    GET  /sim/ledger[?addrs=]        per address: count and droplets of all confirmed outputs
    GET  /sim/status                 head, pending txids, switches
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from teller.coins import sky_tx
from teller.coins.sky_wallet import (
    Wallet,
    WalletError,
    load_wallet,
    parse_wallet,
    wallet_document,
    write_wallet,
)
from teller_sims.serving import bind, run_command, serving_in_background
from teller_sims.skynode_api import (
    DEFAULT_VERSION,
    SimOptions,
    SkyNodeSim,
    format_coins,
    parse_coins,
)
from teller_sims.skynode_chain import (
    GENESIS_DROPLETS,
    GENESIS_HOURS,
    MAX_BLOCK_SIZE,
    Chain,
    Rules,
    split_payments,
)

__all__ = [
    "Genesis",
    "SimOptions",
    "SkyNodeSim",
    "format_coins",
    "load_or_create",
    "main",
    "new_chain",
    "parse_coins",
    "running_sim",
]

DEFAULT_SEED = "teller skynode simulator demo wallet"

# --- building a node ---------------------------------------------------------------------------


@dataclass
class Genesis:
    """Where the initial coins go: a seed's wallet (written to `wallet`) or one address."""

    seed: str = DEFAULT_SEED
    wallet: Path | None = None
    addresses: int = 1
    outputs: int = 10
    droplets: int = GENESIS_DROPLETS
    hours: int = GENESIS_HOURS
    address: str | None = None  # fund this address instead of a wallet (no signing then)


def demo_wallet(genesis: Genesis) -> Wallet:
    """The demo wallet: loaded if the file exists (it must be the seed's), else written."""
    if genesis.wallet is not None and genesis.wallet.exists():
        wallet = load_wallet(genesis.wallet)
    elif genesis.wallet is not None:
        wallet = write_wallet(genesis.wallet, genesis.seed, genesis.addresses, label="skynode-sim")
    else:
        document = wallet_document(genesis.seed, genesis.addresses, label="sim", filename="sim.wlt")
        wallet = parse_wallet(document, Path("sim.wlt"))
    return wallet


def new_chain(genesis: Genesis, rules: Rules, clock: Callable[[], int] | None = None) -> Chain:
    """A chain whose genesis pays the demo wallet, split into `outputs` outputs in block 1.

    The split is a transaction signed with the wallet's first key, verified like any other,
    so the wallet starts with several confirmed outputs to spend in parallel.
    """
    chain = Chain(rules=rules)
    if clock is not None:
        chain.clock = clock
    if genesis.address is not None:
        chain.create_genesis(genesis.address, genesis.droplets, genesis.hours)
        return chain
    wallet = demo_wallet(genesis)
    first = wallet.addresses[0]
    chain.create_genesis(first, genesis.droplets, genesis.hours)
    payments = split_payments(wallet.addresses, genesis.droplets, genesis.outputs)
    if payments:
        (ux,) = chain.unspent.values()
        unspent = sky_tx.Unspent(ux.uxid, ux.address, ux.droplets, ux.hours)
        built = sky_tx.build_transaction(
            [unspent],
            payments,
            first,
            wallet.seckeys,
            burn_factor=rules.burn_factor,
            max_size=rules.max_transaction_size,
        )
        chain.inject(built.transaction)
        chain.make_block()
    return chain


def load_or_create(
    options: SimOptions, genesis: Genesis, clock: Callable[[], int] | None = None
) -> Chain:
    """The chain from `options.state_file` if it exists, else a new one (then saved)."""
    path = options.state_file
    if path is not None and path.exists():
        document = json.loads(path.read_text(encoding="utf-8"))
        if genesis.wallet is not None and not genesis.wallet.exists() and genesis.address is None:
            demo_wallet(genesis)  # the wallet file was removed: write it again from the seed
        return Chain.from_json(document, options.rules(), clock)
    return new_chain(genesis, options.rules(), clock)


@contextlib.asynccontextmanager
async def running_sim(
    options: SimOptions | None = None,
    genesis: Genesis | None = None,
    *,
    chain: Chain | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[SkyNodeSim]:
    """Run a simulator in this event loop on 127.0.0.1 (port 0: any free port).

    For tests and tools: `async with running_sim(SimOptions(block_interval=0)) as sim:` then
    talk HTTP to `f"http://127.0.0.1:{sim.port}"`.
    """
    options = options or SimOptions()
    chain = chain or load_or_create(options, genesis or Genesis())
    sim = SkyNodeSim(chain, options)
    sock = bind(host, port)
    sim.port = sock.getsockname()[1]
    sim.save()
    async with serving_in_background(sim.serve, sim.stop, sock, "skynode sim"):
        yield sim


# --- command line ----------------------------------------------------------------------------


def build_parser(prog: str = "python -m teller_sims.skynode") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A Skycoin node simulator (REST API of v0.25–v0.27) with a funded demo "
        "wallet, for teller demos and tests. Test controls are under /sim/.",
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared by `teller-sim skynode`)."""
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=6420, help="port, 0 = any free (default 6420)")
    net.add_argument("--port-file", type=Path, help="write the port listened on to this file")
    node = parser.add_argument_group("node")
    node.add_argument("--node-version", default=DEFAULT_VERSION, help="version to act as")
    node.add_argument(
        "--burn-factor", type=int, help="coin-hour burn factor (default: 2 before v0.26, else 10)"
    )
    node.add_argument(
        "--block-interval",
        type=float,
        default=10.0,
        help="seconds between blocks while transactions are pending; 0 = only on POST "
        "/sim/block (default 10)",
    )
    node.add_argument("--disable-csrf", action="store_true", help="no CSRF tokens needed")
    node.add_argument("--disable-header-check", action="store_true", help="accept any Host")
    node.add_argument(
        "--host-whitelist", default="", help="more Host values to accept, comma-separated"
    )
    node.add_argument("--max-transaction-size", type=int, default=sky_tx.MAX_TRANSACTION_SIZE)
    node.add_argument("--max-block-size", type=int, default=MAX_BLOCK_SIZE)
    node.add_argument(
        "--conflict-ttl",
        type=float,
        default=60.0,
        help="seconds a losing double spend still shows as unconfirmed (default 60)",
    )
    node.add_argument("--fail-broadcasts", action="store_true", help="start failing injects (503)")
    node.add_argument(
        "--peers", type=int, default=1, help="connected peers to report (0: none; default 1)"
    )
    node.add_argument("--state", type=Path, help="keep the chain in this JSON file across restarts")
    node.add_argument(
        "--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM; with --tls-key)"
    )
    node.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    coins = parser.add_argument_group("genesis and demo wallet")
    coins.add_argument("--seed", default=DEFAULT_SEED, help="the demo wallet's seed")
    coins.add_argument("--wallet", type=Path, help="write the demo wallet (.wlt) here")
    coins.add_argument("--addresses", type=int, default=1, help="addresses in the demo wallet")
    coins.add_argument(
        "--outputs", type=int, default=10, help="confirmed outputs the coins start in (default 10)"
    )
    coins.add_argument(
        "--coins", default=format_coins(GENESIS_DROPLETS), help="initial SKY (default 100M)"
    )
    coins.add_argument("--genesis-hours", type=int, default=GENESIS_HOURS)
    coins.add_argument(
        "--genesis-address", help="fund this address instead of the demo wallet (cannot spend)"
    )


def options_from_args(args: argparse.Namespace) -> tuple[SimOptions, Genesis]:
    options = SimOptions(
        version=args.node_version,
        burn_factor=args.burn_factor,
        block_interval=args.block_interval,
        csrf=not args.disable_csrf,
        header_check=not args.disable_header_check,
        host_whitelist=tuple(h.strip() for h in args.host_whitelist.split(",") if h.strip()),
        max_transaction_size=args.max_transaction_size,
        max_block_size=args.max_block_size,
        conflict_ttl=args.conflict_ttl,
        state_file=args.state,
        peers=args.peers,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    genesis = Genesis(
        seed=args.seed,
        wallet=args.wallet,
        addresses=args.addresses,
        outputs=args.outputs,
        droplets=parse_coins(args.coins),
        hours=args.genesis_hours,
        address=args.genesis_address,
    )
    return options, genesis


async def run(args: argparse.Namespace) -> None:
    options, genesis = options_from_args(args)
    chain = load_or_create(options, genesis)
    sim = SkyNodeSim(chain, options)
    sim.fail_broadcasts = args.fail_broadcasts
    sock = bind(args.host, args.port)
    sim.port = sock.getsockname()[1]
    sim.save()
    if args.port_file is not None:
        args.port_file.write_text(f"{sim.port}\n")
    print(
        f"skynode simulator v{options.version} listening on"
        f" {'https' if options.tls_cert else 'http'}://{args.host}:{sim.port} "
        f"(burn factor {chain.rules.burn_factor}, head block {chain.head.seq})",
        flush=True,
    )
    if genesis.wallet is not None and genesis.address is None:
        print(f"demo wallet: {genesis.wallet}", flush=True)
    await sim.serve(sock)


def main(argv: Sequence[str] | None = None, prog: str = "python -m teller_sims.skynode") -> int:
    args = build_parser(prog).parse_args(argv)
    return run_args(args)


def run_args(args: argparse.Namespace) -> int:
    return run_command(run(args), "skynode simulator", (ValueError, WalletError, OSError))


if __name__ == "__main__":
    sys.exit(main())
