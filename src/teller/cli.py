"""The `teller` command: run the service, migrate its database, generate deposit addresses.

teller [run] [-c CONFIG] [-d DIR]      start teller (the default command)
teller db migrate [-c CONFIG] [-d DIR] bring the database schema up to date
teller addresses btc --seed-file F N   the BTC addresses the original's tool printed, from
                                       the seed in file F (- or no F: standard input); the
                                       original's `addresses btc SEED N` works, with a warning
teller addresses btc|eth --xpub KEY N  the addresses teller derives from an extended public key
teller db import-bolt PATH [--dry-run] import a Go teller's BoltDB (read-only)
teller payout void TXID [--no-wait]    void a stuck payout; its deposits are paid anew
teller payout resume                   release the audit's hold: new payouts are signed again
teller deposit record-payment ID TXID  record a payment made by hand (checked on the node)
teller deposit release ID              a held deposit goes on to be paid
teller deposit stop ID --reason TEXT   a deposit ends, never paid
teller admin token [--file PATH | --password]   a new admin API token and its config line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
    # teller's own API processes (api_procs.py): PARENT_PID:READY_FD:INDEX; not for people
    run.add_argument("--api-process", default=None, help=argparse.SUPPRESS)
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
    _operator_commands(commands)
    _webhook_commands(commands)
    _admin_commands(commands)
    addresses = commands.add_parser("addresses", help="generate deposit addresses")
    coins = addresses.add_subparsers(dest="coin", required=True)
    btc = coins.add_parser("btc", help="BTC addresses from a seed (Skycoin's key chain)")
    btc.add_argument(
        "seed",
        nargs="?",
        help="the seed text: visible to other users (ps) and kept in shell history, so"
        " prefer --seed-file or standard input (not with --xpub)",
    )
    btc.add_argument("count", type=int, nargs="?", help="how many addresses")
    btc.add_argument(
        "--seed-file",
        metavar="FILE",
        help="read the seed from FILE, - for standard input (also the default when only N is"
        " given); one line end at its end is not part of the seed",
    )
    btc.add_argument("--json", action="store_true", help='print {"btc_addresses": [...]}')
    btc.add_argument("--xpub", help="derive from this xpub/ypub/zpub instead")
    eth = coins.add_parser("eth", help="ETH addresses from an account xpub (m/44'/60'/0')")
    eth.add_argument("--xpub", required=True, help="the account's extended public key")
    eth.add_argument("count", type=int, help="how many addresses")
    eth.add_argument("--json", action="store_true", help='print {"eth_addresses": [...]}')
    return parser


def _admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser("admin", help="the admin API's credential")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    token = admin_commands.add_parser(
        "token",
        help="print a new admin token and the auth_token_hash line for the config",
        description="Without options: a new random token and its hash for"
        " admin_panel.auth_token_hash. --file: write the new token to a new file (mode 0600)"
        " for admin_panel.auth_token_file. --password: read a password from stdin and print"
        " its PBKDF2 hash instead.",
    )
    choice = token.add_mutually_exclusive_group()
    choice.add_argument("--file", type=Path, help="write the new token to this new file")
    choice.add_argument(
        "--password", action="store_true", help="hash a password read from stdin (PBKDF2)"
    )


def cmd_admin_token(args: argparse.Namespace) -> int:
    """`teller admin token`: the credential of README "Security"; teller stores no plain
    token in the config, only in a file readable by its owner or as a hash."""
    from getpass import getpass

    from teller.config.admin_auth import (
        MIN_TOKEN_LENGTH,
        new_token,
        pbkdf2_hash,
        sha256_hash,
        write_token_file,
    )

    if args.password:
        password = getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
        password = password.strip()
        if len(password) < MIN_TOKEN_LENGTH:
            print(f"the password must have at least {MIN_TOKEN_LENGTH} characters", file=sys.stderr)
            return 1
        print(f'auth_token_hash = "{pbkdf2_hash(password)}"')
        return 0
    token = new_token()
    if args.file is not None:
        try:
            write_token_file(args.file, token)
        except FileExistsError:
            print(f"{args.file} exists: remove it first to replace its token", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(
            f"wrote a new admin token to {args.file} (mode 0600); in the config's"
            f' [admin_panel] table: auth_token_file = "{args.file.resolve()}"'
        )
        return 0
    print(f"new admin token (send it as Authorization: Bearer …): {token}")
    print(f'in the config\'s [admin_panel] table: auth_token_hash = "{sha256_hash(token)}"')
    return 0


def _operator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`teller payout void` and `teller deposit …` (services/operator.py; exit 0 done, 1
    refused or failed, 2 bad usage)."""
    payout = commands.add_parser("payout", help="operator actions on payouts")
    payout_commands = payout.add_subparsers(dest="payout_command", required=True)
    void = payout_commands.add_parser(
        "void", help="void a stuck payout: its inputs back to the wallet, its deposits paid anew"
    )
    void.add_argument("txid", help="the payout's transaction id")
    void.add_argument(
        "--no-wait", action="store_true", help="return once the void is stored (teller sends it)"
    )
    void.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the outcome (300)"
    )
    _common(void, suppress=True)
    resume = payout_commands.add_parser(
        "resume",
        help="release the hold the audit put on payouts (someone else spent from the hot wallet)",
    )
    _common(resume, suppress=True)
    deposit = commands.add_parser("deposit", help="operator actions on deposits")
    deposit_commands = deposit.add_subparsers(dest="deposit_command", required=True)
    record = deposit_commands.add_parser(
        "record-payment", help="record a payment made by hand (checked on the node)"
    )
    record.add_argument("deposit_id", help="txid:n")
    record.add_argument("txid", help="the SKY transaction that paid it")
    _common(record, suppress=True)
    release = deposit_commands.add_parser("release", help="a held deposit goes on to be paid")
    release.add_argument("deposit_id", help="txid:n")
    _common(release, suppress=True)
    stop = deposit_commands.add_parser("stop", help="a deposit ends, never paid")
    stop.add_argument("deposit_id", help="txid:n")
    stop.add_argument("--reason", required=True, help="why (shown as the deposit's error)")
    _common(stop, suppress=True)


def _webhook_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`teller webhooks list|resend ID` (services/webhooks.py)."""
    webhooks = commands.add_parser("webhooks", help="the webhook deliveries")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    listing = webhook_commands.add_parser("list", help="the most recent deliveries, newest first")
    listing.add_argument("--status", choices=["pending", "delivered", "dead"])
    listing.add_argument("--limit", type=int, default=50)
    _common(listing, suppress=True)
    resend = webhook_commands.add_parser("resend", help="post a delivery again (same event)")
    resend.add_argument("id", type=int, help="the delivery's id (as listed)")
    _common(resend, suppress=True)


def cmd_webhooks(args: argparse.Namespace) -> int:
    """List the webhook deliveries, or queue one again (written to the audit trail as the OS
    user); the running teller's worker posts it."""
    import getpass

    from teller.app import open_database
    from teller.errors import RequestError
    from teller.services import webhooks

    config, appdir = _load(args)
    db = open_database(config, appdir)
    try:
        if args.webhooks_command == "resend":
            found = webhooks.resend_delivery(db, args.id, getpass.getuser())
            print(f"delivery {found['id']} ({found['event_type']} {found['event_id']}) queued")
            return 0
        listed = webhooks.deliveries(db, args.status, args.limit)
        counts = listed["counts"]
        print(" ".join(f"{status}={counts[status]}" for status in sorted(counts)))
        for d in listed["deliveries"]:
            print(
                f"{d['id']} {d['status']} attempts={d['attempts']} {d['event_type']}"
                f" {d['event_id']} {d['webhook']} {d['last_error']}".rstrip()
            )
        return 0
    except RequestError as exc:
        print(str(exc), file=sys.stderr)
        return 2 if exc.http_status == 400 else 1
    finally:
        db.dispose()


def cmd_operator(args: argparse.Namespace) -> int:
    """One operator action through services/operator.py, as the OS user."""
    import getpass

    from teller.app import StartupError, build_payer, open_database
    from teller.errors import RequestError, TellerError
    from teller.services import operator

    config, appdir = _load(args)
    action = args.payout_command if args.command == "payout" else args.deposit_command
    needs_node = action in ("void", "record-payment")
    try:
        payer = build_payer(config, appdir)[0] if needs_node else None
    except StartupError as exc:
        print(f"teller cannot act: {exc}", file=sys.stderr)
        return 1
    db = open_database(config, appdir)
    ctx = operator.OperatorContext(db, payer)
    actor = getpass.getuser()
    try:
        return asyncio.run(_operator_action(args, ctx, actor))
    except RequestError as exc:
        print(str(exc), file=sys.stderr)
        return 2 if exc.http_status == 400 else 1
    except TellerError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        db.dispose()


async def _operator_action(args: argparse.Namespace, ctx: Any, actor: str) -> int:
    from teller.services import operator

    try:
        if args.command == "payout" and args.payout_command == "resume":
            found = await operator.resume_payouts(ctx, actor)
            print(
                f"payouts resumed: {len(found['released'])} hold(s) released"
                f" ({', '.join(found['released'])}); teller signs new payouts again"
            )
            return 0
        if args.command == "payout":
            found = await operator.void_payout(ctx, args.txid, actor)
            print(
                f"payout {found['payout']}: void {found['void_txid']} stored"
                f" ({found['void_sky']} SKY back to the wallet); deposits of the payout:"
                f" {', '.join(found['deposits']) or 'none'}"
            )
            if args.no_wait:
                print("teller's sender broadcasts it; the deposits are paid again once it confirms")
                return 0
            return await _wait_for_void(ctx, found["payout"], args.timeout)
        if args.deposit_command == "record-payment":
            found = await operator.record_payment(ctx, args.deposit_id, args.txid, actor)
            print(
                f"deposit {found['deposit_id']}: done, {found['sky_sent']} SKY paid by"
                f" {found['txid']}"
            )
        elif args.deposit_command == "release":
            found = await operator.release(ctx, args.deposit_id, actor)
            print(f"deposit {found['deposit_id']}: released; it is paid as usual")
        else:
            found = await operator.stop(ctx, args.deposit_id, args.reason, actor)
            print(f"deposit {found['deposit_id']}: stopped (done, nothing sent): {found['error']}")
        return 0
    finally:
        client = getattr(ctx.payer, "client", None)
        if client is not None:
            await client.aclose()


async def _wait_for_void(ctx: Any, txid: str, timeout: float) -> int:
    """Print the void's progress until teller's sender settles it, or `timeout` seconds."""
    from teller.services import operator

    deadline = time.monotonic() + timeout
    shown = ""
    while True:
        found = await operator.void_progress(ctx, txid)
        line = f"payout {found['status']}, void {found['void_status']}"
        if line != shown:
            print(line, flush=True)
            shown = line
        if found["status"] == "voided":
            print(f"done: {found['outcome'] or 'the void confirmed'}")
            return 0
        if found["status"] != "voiding":
            print(f"the void failed: {found['outcome'] or found['status']}", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(
                f"still voiding after {timeout:g} s: teller's sender goes on with it (is teller"
                f" running?); its outcome is in the admin API's /api/actions?target={txid}",
                file=sys.stderr,
            )
            return 1
        await asyncio.sleep(0.5)


def _load(args: argparse.Namespace) -> tuple[Config, Path]:
    config, appdir, _path = _load_with_path(args)
    return config, appdir


def _load_with_path(args: argparse.Namespace) -> tuple[Config, Path, Path]:
    """The config, the data directory and the config file's path."""
    appdir = Path(os.path.expanduser(args.dir))
    path = find_config_file(args.config, appdir)
    return load_config(path), appdir, path


def cmd_run(args: argparse.Namespace) -> int:
    from teller.api_procs import (
        ApiProcessError,
        ApiProcesses,
        api_command,
        api_process_count,
    )
    from teller.app import StartupError, build_teller, serve
    from teller.config.secret_files import exposed_secret_files
    from teller.http.servers import ListenError
    from teller.logs import log_event, setup_logging

    if getattr(args, "api_process", None):
        return run_api_process(args)
    config, appdir, config_path = _load_with_path(args)
    handler = setup_logging(config.debug, config.logfile)
    log = logging.getLogger("teller")
    log.info("config loaded: %s", json.dumps(config.redacted(), default=str, sort_keys=True))
    for exposed in exposed_secret_files(config, config_path):
        log_event(
            log,
            logging.WARNING,
            "a file holding secrets is open to other users",
            watch=True,
            config_key=exposed.key,
            file=exposed.path,
            mode=f"{exposed.mode:04o}",
            fix=exposed.fix,
        )
    processes = api_process_count(config)
    try:
        teller = build_teller(config, appdir, api_processes=processes)
    except (StartupError, ListenError) as exc:
        print(f"teller cannot start:\n{exc}", file=sys.stderr)
        return 1
    if processes > 1:
        reserved = {lst.name: lst.address for lst in teller.reserved}
        teller.api_processes = ApiProcesses(api_command(config_path, appdir), processes, reserved)
        log_event(log, logging.INFO, "serving the public API from API processes", count=processes)
    pidfile = Path(config.pidfile) if config.pidfile else None
    if pidfile is not None:
        pidfile.write_text(f"{os.getpid()}\n")
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(teller, log_handler=handler))
    except KeyboardInterrupt:
        pass
    except ApiProcessError as exc:
        print(f"teller cannot start:\n{exc}", file=sys.stderr)
        return 1
    finally:
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)
    return 0


def run_api_process(args: argparse.Namespace) -> int:
    """An API process started by `teller run` (api_procs.py): the public servers only."""
    from teller.api_procs import ProcessLabel, die_with_parent, tell_ready
    from teller.app import StartupError, build_teller, serve
    from teller.http.servers import ListenError
    from teller.logs import setup_logging

    parent, ready_fd, index = (int(part) for part in args.api_process.split(":"))
    die_with_parent(parent)
    config, appdir = _load(args)
    handler = setup_logging(config.debug, config.logfile)
    label = ProcessLabel(f"api {index}")
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(label)
    try:
        teller = build_teller(config, appdir, api_only=True)
    except (StartupError, ListenError) as exc:
        print(f"teller API process {index} cannot start:\n{exc}", file=sys.stderr)
        return 1
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(teller, log_handler=handler, on_ready=lambda _t: tell_ready(ready_fd)))
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
        if (
            args.seed_file is not None
            or args.count is not None
            or args.seed is None
            or not args.seed.isdigit()
        ):
            print("usage: teller addresses btc --xpub KEY N (N a number)", file=sys.stderr)
            return 2
        args.count = int(args.seed)
    if not 0 <= args.count <= MAX_ADDRESSES:
        print(f"count must be from 0 to {MAX_ADDRESSES:,}", file=sys.stderr)
        return 2
    return print_addresses(args.coin.upper(), args.xpub, args.count, as_json=args.json)


SEED_ON_COMMAND_LINE = (
    "warning: a seed on the command line can be read by other users of this machine (ps,"
    " /proc) and stays in your shell history; give it with --seed-file FILE, or on standard"
    " input: teller addresses btc --seed-file - N"
)


def _seed_from(source: str) -> str:
    """The seed in file `source` ("-": standard input; a terminal is asked without echo),
    without the one line end it ends with."""
    if source == "-":
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass("seed: ")
        text = sys.stdin.read()
    else:
        text = Path(source).read_text(encoding="utf-8")
    return text.removesuffix("\n").removesuffix("\r")


def cmd_addresses_btc(args: argparse.Namespace) -> int:
    from teller.coins.btc import p2pkh_address_from_pubkey
    from teller.coins.sky import deterministic_keypairs
    from teller.progress import Progress

    usage = "usage: teller addresses btc [--seed-file FILE] N, or SEED N, or --xpub KEY N"
    source = args.seed_file
    if source is None and args.count is None and args.seed is not None and args.seed.isdigit():
        source = "-"  # `teller addresses btc N`: the seed comes on standard input
    if source is not None:  # the one positional is N
        if args.count is not None or args.seed is None or not args.seed.isdigit():
            print(usage, file=sys.stderr)
            return 2
        args.count = int(args.seed)
    elif args.count is None:
        print(usage, file=sys.stderr)
        return 2
    if not 0 <= args.count <= MAX_ADDRESSES:
        print(f"count must be from 0 to {MAX_ADDRESSES:,}", file=sys.stderr)
        return 2
    if source is None:
        print(SEED_ON_COMMAND_LINE, file=sys.stderr)
        seed = args.seed
    else:
        try:
            seed = _seed_from(source)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"cannot read the seed from {source}: {exc}", file=sys.stderr)
            return 1
    if not seed:
        print("seed must not be empty", file=sys.stderr)
        return 2
    addresses = []
    with Progress(args.count, "deriving addresses") as progress:
        for _secret, public in deterministic_keypairs(seed.encode("utf-8"), args.count):
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
        if args.command == "admin":
            return cmd_admin_token(args)
        if args.command in ("payout", "deposit"):
            return cmd_operator(args)
        if args.command == "webhooks":
            return cmd_webhooks(args)
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
