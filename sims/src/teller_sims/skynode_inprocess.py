"""`dummy.skynode_sim = true`: real signed payouts without installing a Skycoin node.

Place in the flow: app.py calls `in_process_node` when the switch is on. teller then runs the
project's node simulator (sim/skynode.py) inside its own process, on a free loopback port,
and pays through it with the real payer (payers/skynode.py) and the real node client, from a
demo hot wallet the simulator writes and funds in the data directory. Everything the sender
does is what it does against a real node: sign, store, inject, wait for a block.

Kept in the data directory, so a restart continues the same chain:

    skynode_sim.wlt    the demo hot wallet (unencrypted; its coins exist only here)
    skynode_sim.json   the simulator's chain (blocks of raw transactions)
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from teller.coins.sky_wallet import Wallet, load_wallet
from teller_sims.serving import bind
from teller_sims.skynode import Genesis, SimOptions, SkyNodeSim, load_or_create

SIM_WALLET = "skynode_sim.wlt"
SIM_STATE = "skynode_sim.json"
SIM_BLOCK_SECONDS = 5.0  # a real node makes one every 10 s; a demo need not wait that long
SIM_OUTPUTS = 10  # the demo wallet's coins start in this many outputs (parallel payouts)


@dataclass
class InProcessNode:
    """A simulator bound to a loopback socket, ready to serve in teller's event loop."""

    sim: SkyNodeSim
    sock: socket.socket
    # Not in repr() either (Wallet already hides its seed and keys): a second safeguard.
    wallet: Wallet = field(repr=False)

    @property
    def address(self) -> str:
        """For the node client: "127.0.0.1:<port>", the Host the simulator accepts."""
        return f"127.0.0.1:{self.sim.port}"

    async def serve(self) -> None:
        """Answer requests and make blocks until cancelled."""
        try:
            await self.sim.serve(self.sock)
        finally:
            self.sock.close()


def in_process_node(appdir: Path, block_interval: float = SIM_BLOCK_SECONDS) -> InProcessNode:
    """Load (or create and fund) the simulator's chain and demo wallet in `appdir`."""
    options = SimOptions(block_interval=block_interval, state_file=appdir / SIM_STATE)
    genesis = Genesis(wallet=appdir / SIM_WALLET, outputs=SIM_OUTPUTS)
    chain = load_or_create(options, genesis)
    sim = SkyNodeSim(chain, options)
    sock = bind("127.0.0.1", 0)  # listening already: requests queue until it serves
    sim.port = sock.getsockname()[1]
    sim.save()
    return InProcessNode(sim=sim, sock=sock, wallet=load_wallet(appdir / SIM_WALLET))
