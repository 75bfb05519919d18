"""Which scanner each coin gets, from the config: a node client and its block loop.

With dummy.scanner on, deposits come from the dummy API only and no node is contacted.
Otherwise every coin whose scanner is enabled gets a `BlockScanner` on its node client.
"""

from __future__ import annotations

from teller.clients.chain import ChainClient
from teller.coins import COIN_TYPES
from teller.config.schema import Config
from teller.deposits.health import ScannerHealth, StatusBoard
from teller.deposits.intake import DepositIntake
from teller.errors import InvalidValue
from teller.scanners.base import BlockScanner, ScanSettings
from teller.store.db import Database


def node_client(config: Config, coin: str) -> ChainClient:
    if coin == "BTC":
        from teller.clients.bitcoind import BitcoinClient

        rpc = config.btc_rpc
        return BitcoinClient(
            rpc.server,
            rpc.user.get_secret_value(),
            rpc.pass_.get_secret_value(),
            cert=rpc.cert,
            tls=rpc.tls,
            network=config.btc_scanner.network,  # type: ignore[arg-type]  # checked at load
        )
    if coin == "ETH":
        from teller.clients.ethereum import EthereumClient

        return EthereumClient(
            config.eth_rpc.server, config.eth_rpc.port, chain_id=config.eth_scanner.chain_id
        )
    if coin == "SKY":
        from teller.clients.skycoin_node import SkyNodeClient
        from teller.scanners.sky import SkyChainClient

        return SkyChainClient(SkyNodeClient(config.sky_rpc.address, cert=config.sky_rpc.cert))
    raise InvalidValue(f"no chain scanner for coin {coin!r}")


def scan_settings(config: Config, coin: str) -> ScanSettings:
    scanner = config.scanner_for(coin)
    return ScanSettings(
        scan_period=scanner.scan_period.total_seconds(),
        initial_scan_height=scanner.initial_scan_height,
        confirmations_required=scanner.confirmations_required,
    )


def build_scanners(
    config: Config, db: Database, intake: DepositIntake, board: StatusBoard
) -> list[BlockScanner]:
    """The chain scanners to run; every coin's entry on the status board is set as well."""
    scanners: list[BlockScanner] = []
    for coin in COIN_TYPES:
        settings = config.scanner_for(coin)
        if not settings.enabled:
            source = "off"
        elif config.dummy.scanner:
            source = "dummy"
        else:
            source = "node"
        health = ScannerHealth(
            coin_type=coin,
            source=source,
            confirmations_required=settings.confirmations_required,
        )
        board.scanners[coin] = health
        if source == "node":
            client = node_client(config, coin)
            scanners.append(BlockScanner(client, db, intake, scan_settings(config, coin), health))
    return scanners
