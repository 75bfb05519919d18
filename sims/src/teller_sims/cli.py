"""The `teller-sim` command: run one of the simulated peers as its own process.

teller-sim btcd [--rpc ADDR --api ADDR]    a btcd JSON-RPC node with a made-up chain
teller-sim skynode [--port N --wallet F]   a Skycoin node (REST API) with a demo wallet
teller-sim c2cx [--port N --btc B]         a C2CX exchange (BTC_SKY) with a demo order book
teller-sim demo --c2cx|--skynode --dir D -- TELLER…   teller beside simulators (the demos)

Teller talks to each over loopback sockets exactly as to the real peer; it never imports them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from teller_sims import btcd, c2cx, demo, skynode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teller-sim", description=__doc__.splitlines()[0])
    simulators = parser.add_subparsers(dest="simulator", required=True)
    btcd.add_arguments(simulators.add_parser("btcd", help="a btcd JSON-RPC node"))
    skynode.add_arguments(simulators.add_parser("skynode", help="a Skycoin node (REST API)"))
    c2cx.add_arguments(simulators.add_parser("c2cx", help="a C2CX exchange (BTC_SKY)"))
    demo.add_arguments(
        simulators.add_parser("demo", help="run a teller command beside simulator processes")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.simulator == "btcd":
        return btcd.run(args)
    if args.simulator == "skynode":
        return skynode.run_args(args)
    if args.simulator == "demo":
        return demo.run(args)
    return c2cx.run_args(args)


if __name__ == "__main__":
    sys.exit(main())
