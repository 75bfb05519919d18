"""The `teller` command: run the service, migrate its database, generate deposit addresses.

teller [run] [-c CONFIG] [-d DIR]      start teller (the default command)
teller db migrate [-c CONFIG] [-d DIR] bring the database schema up to date
teller addresses btc SEED N [--json]   the BTC addresses the original's tool printed
teller addresses btc|eth --xpub KEY N  the addresses teller derives from an extended public key
teller db import-bolt PATH [--dry-run] import a Go teller's BoltDB (read-only)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from teller.config.load import find_config_file, load_config
from teller.config.schema import Config, ConfigError

DEFAULT_APPDIR = "~/.teller-skycoin"
MAX_ADDRESSES = 1_000_000  # per run of `teller addresses` (they are held in memory)


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "-c", "--config", default=default, help="config name or path (default: config)"
    )
    parser.add_argument(
        "-d",
        "--dir",
        default=argparse.SUPPRESS if suppress else DEFAULT_APPDIR,
        help=f"application data directory (default: {DEFAULT_APPDIR})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teller", description="Sell Skycoin for BTC and ETH.")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="start teller (default)")
    _common(run, suppress=True)
    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    migrate = db_commands.add_parser("migrate", help="bring the schema up to date")
    _common(migrate, suppress=True)
    import_bolt = db_commands.add_parser(
        "import-bolt", help="import a Go teller's BoltDB (its teller.db), read-only"
    )
    import_bolt.add_argument("path", help="the Go teller's database file (never written)")
    import_bolt.add_argument(
        "--dry-run", action="store_true", help="print what would be imported, per bucket"
    )
    _common(import_bolt, suppress=True)
    addresses = commands.add_parser("addresses", help="generate deposit addresses")
    coins = addresses.add_subparsers(dest="coin", required=True)
    btc = coins.add_parser("btc", help="BTC addresses from a seed (Skycoin's key chain)")
    btc.add_argument("seed", nargs="?", help="the seed text (not with --xpub)")
    btc.add_argument("count", type=int, nargs="?", help="how many addresses")
    btc.add_argument("--json", action="store_true", help='print {"btc_addresses": [...]}')
    btc.add_argument("--xpub", help="derive from this xpub/ypub/zpub instead")
    eth = coins.add_parser("eth", help="ETH addresses from an account xpub (m/44'/60'/0')")
    eth.add_argument("--xpub", required=True, help="the account's extended public key")
    eth.add_argument("count", type=int, help="how many addresses")
    eth.add_argument("--json", action="store_true", help='print {"eth_addresses": [...]}')
    return parser


def _load(args: argparse.Namespace) -> tuple[Config, Path]:
    appdir = Path(os.path.expanduser(args.dir))
    path = find_config_file(args.config, appdir)
    return load_config(path), appdir


def cmd_run(args: argparse.Namespace) -> int:
    from teller.app import StartupError, build_teller, serve
    from teller.http.servers import ListenError
    from teller.logs import setup_logging

    config, appdir = _load(args)
    handler = setup_logging(config.debug, config.logfile)
    log = logging.getLogger("teller")
    log.info("config loaded: %s", json.dumps(config.redacted(), default=str, sort_keys=True))
    try:
        teller = build_teller(config, appdir)
    except (StartupError, ListenError) as exc:
        print(f"teller cannot start:\n{exc}", file=sys.stderr)
        return 1
    pidfile = Path(config.pidfile) if config.pidfile else None
    if pidfile is not None:
        pidfile.write_text(f"{os.getpid()}\n")
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(teller, log_handler=handler))
    except KeyboardInterrupt:
        pass
    finally:
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it is a dependency), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def cmd_migrate(args: argparse.Namespace) -> int:
    from teller.app import database_url
    from teller.store.db import create_store_engine
    from teller.store.migrate import current_revision, head_revision, upgrade

    config, appdir = _load(args)
    appdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = create_store_engine(database_url(config, appdir))
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    if before == after:
        print(f"database schema is up to date (revision {after})")
    else:
        print(
            f"database schema upgraded from {before or 'empty'} to {after} (head {head_revision()})"
        )
    engine.dispose()
    return 0


def cmd_import_bolt(args: argparse.Namespace) -> int:
    from teller.goteller.importer import run_import

    config, appdir = _load(args)
    return run_import(
        config, appdir, Path(args.path), dry_run=args.dry_run, out=sys.stdout, err=sys.stderr
    )


def cmd_addresses_hd(args: argparse.Namespace) -> int:
    """`teller addresses btc|eth --xpub KEY N`: the addresses teller hands out from KEY."""
    from teller.deposits.hd import print_addresses

    if args.coin == "btc":  # `--xpub KEY N`: the one positional is N (seed is unused)
        if args.count is not None or args.seed is None or not args.seed.isdigit():
            print("usage: teller addresses btc --xpub KEY N (N a number)", file=sys.stderr)
            return 2
        args.count = int(args.seed)
    if not 0 <= args.count <= MAX_ADDRESSES:
        print(f"count must be from 0 to {MAX_ADDRESSES:,}", file=sys.stderr)
        return 2
    return print_addresses(args.coin.upper(), args.xpub, args.count, as_json=args.json)


def cmd_addresses_btc(args: argparse.Namespace) -> int:
    from teller.coins.btc import p2pkh_address_from_pubkey
    from teller.coins.sky import deterministic_keypairs
    from teller.progress import Progress

    if args.count is None:
        print("usage: teller addresses btc SEED N, or --xpub KEY N", file=sys.stderr)
        return 2
    if not 0 <= args.count <= MAX_ADDRESSES:
        print(f"count must be from 0 to {MAX_ADDRESSES:,}", file=sys.stderr)
        return 2
    if not args.seed:
        print("seed must not be empty", file=sys.stderr)
        return 2
    addresses = []
    with Progress(args.count, "deriving addresses") as progress:
        for _secret, public in deterministic_keypairs(args.seed.encode("utf-8"), args.count):
            addresses.append(p2pkh_address_from_pubkey(public))
            progress.advance()
    if args.json:
        print(json.dumps({"btc_addresses": addresses}, indent=4))
    else:
        sys.stdout.write("".join(a + "\n" for a in addresses))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    if not hasattr(args, "dir"):
        args.dir = DEFAULT_APPDIR
    try:
        if args.command == "db" and args.db_command == "import-bolt":
            return cmd_import_bolt(args)
        if args.command == "db":
            return cmd_migrate(args)
        if args.command == "addresses" and (args.coin == "eth" or args.xpub is not None):
            return cmd_addresses_hd(args)
        if args.command == "addresses":
            return cmd_addresses_btc(args)
        return cmd_run(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
