"""The real SKY payer: signs payouts with the hot wallet, injects them into a Skycoin node.

Place in the flow: the sender (payout/sender.py) asks it how much may be spent, has it sign
one transaction for a batch of waiting deposits, stores that transaction, and only then asks
it to broadcast the stored bytes (DESIGN.md §4). Keys come from the unencrypted `.wlt` file
of `sky_exchanger.wallet` (coins/sky_wallet.py); transactions are built and signed locally by
coins/sky_tx.py; the node (clients/skycoin_node.py) only lists outputs, injects and reports status.

Which outputs a new payout may spend, and why each rule is there:

- only confirmed outputs (the node rejects unconfirmed inputs);
- none that an unconfirmed transaction in the node's pool spends (`outgoing_outputs`): the
  node would accept a second spend, but only one of the two could ever confirm;
- none that a stored payout not yet confirmed spends (`pending[*].inputs`), even if the
  node has never seen that payout: after a crash between signing and broadcasting, those
  stored bytes will still be broadcast, and a second transaction on the same inputs would
  make one of the two payouts impossible;
- at most `MAX_INPUTS` of them, the largest, so that `max_outputs_per_tx` deposits always
  fit in the node's size limit together with the inputs and the change output.

So a new payout never waits for the previous one to confirm while the wallet has other
confirmed outputs, and it never conflicts with a stored one. What is still on its way back to
the wallet (the change of pending payouts) counts as spendable for the "sold out" decision;
when only such change could pay, `build_payout` raises PayoutDeferred (wait for a block).
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from collections.abc import Awaitable, Collection, Sequence
from typing import TypeVar

from teller.clients.skycoin_node import (
    NodeInfo,
    SkyNodeClient,
    SkyNodeError,
    SyncProgress,
    TransactionRejected,
    WalletOutputs,
)
from teller.coins.sky_tx import (
    DROPLET_PRECISION,
    MAX_TRANSACTION_SIZE,
    InsufficientCoins,
    InsufficientHours,
    TransactionBuildError,
    TransactionDecodeError,
    TransactionTooLarge,
    Unspent,
    build_transaction,
    decode_transaction_hex,
    max_payments,
)
from teller.coins.sky_wallet import Wallet
from teller.errors import (
    ConflictNotProven,
    InsufficientBalance,
    InvalidValue,
    PayoutDeferred,
    SendConflict,
    SendTemporary,
)
from teller.logs import log_event, log_once
from teller.money import format_droplets
from teller.payout.base import Balance, PastPayment, PayoutOutput, SignedPayout, TxState
from teller.store.models import Payout

log = logging.getLogger("teller.payer.skynode")

MAX_INPUTS = 32  # inputs of one payout; with a 32 KiB limit that leaves room for 799 outputs
NODE_RULES_SECONDS = 60.0  # how long the node's burn factor and size limit are reused
BALANCE_SECONDS = 2.0  # /api/health is public: at most one balance query per 2 s to the node

T = TypeVar("T")


def _not_synced(progress: SyncProgress, connections: int) -> str:
    """Why the node's chain cannot be taken as the network's ("" when it can)."""
    if connections == 0 or not progress.peers:
        return f"has no peers (height {progress.current}): it is not synced"
    if progress.current < progress.highest:
        return f"is not synced (height {progress.current} of {progress.highest})"
    if progress.current == 0:
        return "has only the genesis block: it is not synced"
    return ""


def payout_inputs(payout: Payout) -> list[str]:
    """The uxids a stored payout spends (its `inputs` column: a JSON list)."""
    if not payout.inputs:
        return []
    found = json.loads(payout.inputs)
    return [str(u) for u in found] if isinstance(found, list) else []


class SkyNodePayer:
    name = "skynode"

    def __init__(
        self, client: SkyNodeClient, wallet: Wallet, *, max_inputs: int = MAX_INPUTS
    ) -> None:
        self.client = client
        self.wallet = wallet
        self.max_inputs = max_inputs
        self.addresses = wallet.addresses
        self._seckeys = wallet.seckeys  # address -> secret key; never logged
        # Until the node has been asked: its default size limit (updated by _node_rules).
        self.max_outputs_per_tx = max_payments(max_inputs, MAX_TRANSACTION_SIZE)
        self._rules: NodeInfo | None = None
        self._rules_read = 0.0
        self._refusals_reported: set[str] = set()
        self._balance: tuple[float, Balance] | None = None

    # -- what the node says -----------------------------------------------------------------

    async def _node_rules(self) -> NodeInfo:
        if self._rules is None or time.monotonic() - self._rules_read > NODE_RULES_SECONDS:
            self._rules = await self._ask(self.client.node_info())
            self._rules_read = time.monotonic()
            fits = max_payments(self.max_inputs, self._rules.max_transaction_size)
            self.max_outputs_per_tx = max(1, fits)
        return self._rules

    async def _outputs(self) -> WalletOutputs:
        return await self._ask(self.client.outputs(self.addresses))

    @staticmethod
    async def _ask(call: Awaitable[T]) -> T:
        """Await a node call; a node problem becomes SendTemporary (retried by the sender)."""
        try:
            return await call
        except SkyNodeError as exc:
            raise SendTemporary(str(exc)) from exc

    def _usable(
        self, outputs: WalletOutputs, pending: Sequence[Payout], taken: Collection[str] = ()
    ) -> list[Unspent]:
        """The outputs a new payout may spend (see the module docstring), largest first.

        `taken`: the outputs locked by stored payouts (store/payouts.py), conflicted ones
        included; choosing one would only make the payout's store transaction fail."""
        locked = {u for p in pending for u in payout_inputs(p)} | set(taken)
        # By uxid: an output the node lists twice must be neither counted twice nor spent
        # twice in one transaction (the builder's own check would raise "Duplicate spend").
        found = {o.uxid: o for o in outputs.spendable}
        usable = [
            Unspent(o.uxid, o.address, o.droplets, o.hours)
            for o in found.values()
            if o.uxid not in locked
            and o.address in self._seckeys
            and o.droplets > 0
            and o.droplets % DROPLET_PRECISION == 0  # the change of dust could not be sent
        ]
        usable.sort(key=lambda u: (-u.droplets, -u.hours, u.uxid))
        return usable[: self.max_inputs]

    def _on_the_way(self, outputs: WalletOutputs, pending: Sequence[Payout]) -> int:
        """Droplets coming to the wallet, not confirmed yet: the change of stored payouts
        (known from their bytes even before the node has them) and what the node's pool
        sends to wallet addresses. Each output counted once, by uxid."""
        confirmed = {o.uxid for o in outputs.confirmed}
        mine = set(self.addresses)
        coming = {o.uxid: o.droplets for o in outputs.incoming if o.address in mine}
        for payout in pending:
            try:
                tx = decode_transaction_hex(payout.raw_tx)
            except TransactionDecodeError:
                continue
            for out, ux in zip(tx.outputs, tx.output_uxids(), strict=True):
                if out.address in mine and ux not in confirmed:
                    coming[ux] = out.droplets
        return sum(coming.values())

    # -- the Payer protocol -----------------------------------------------------------------

    async def balance(self) -> Balance:
        """The wallet's confirmed balance (coins and coin hours at the head block)."""
        now = time.monotonic()
        if self._balance is not None and now - self._balance[0] < BALANCE_SECONDS:
            return self._balance[1]
        found = await self._ask(self.client.balance(self.addresses))
        balance = Balance(droplets=found.confirmed_droplets, hours=found.confirmed_hours)
        self._balance = (now, balance)
        return balance

    async def spendable(self, pending: Sequence[Payout], locked: Collection[str] = ()) -> int:
        """What new payouts may spend: free confirmed outputs plus change on its way back.

        The change counts so that a deposit is not called "sold out" only because the
        wallet's coins are in flight; `build_payout` then waits for them (PayoutDeferred).
        """
        outputs = await self._outputs()
        now = sum(u.droplets for u in self._usable(outputs, pending, locked))
        return now + self._on_the_way(outputs, pending)

    async def build_payout(
        self,
        outputs: Sequence[PayoutOutput],
        pending: Sequence[Payout],
        locked: Collection[str] = (),
    ) -> SignedPayout:
        """Sign one transaction paying as many of `outputs` (in order) as can be paid now.

        Each paid deposit gets its own output of exactly its droplets; the change goes back
        to the wallet's first address. Outputs that do not fit now are left out (the sender
        keeps them waiting); if none fits, PayoutDeferred (change on its way) or
        InsufficientBalance (sold out). Nothing is broadcast here.
        """
        if not outputs:
            raise InvalidValue("a payout needs at least one output")
        rules = await self._node_rules()
        wallet_outputs = await self._outputs()
        usable = self._usable(wallet_outputs, pending, locked)
        budget = sum(u.droplets for u in usable)
        room = max(1, max_payments(max(len(usable), 1), rules.max_transaction_size))
        chosen: list[PayoutOutput] = []
        for output in outputs:
            if len(chosen) < room and output.droplets <= budget:
                chosen.append(output)
                budget -= output.droplets
        if not chosen:
            self._raise_short(outputs, wallet_outputs, pending, usable)
        try:
            built = build_transaction(
                usable,
                [(o.address, o.droplets) for o in chosen],
                self.wallet.change_address,
                self._seckeys,
                burn_factor=rules.burn_factor,
                max_size=rules.max_transaction_size,
            )
        except InsufficientHours as exc:
            raise InsufficientBalance(f"the hot wallet cannot pay the fee: {exc}") from exc
        except InsufficientCoins as exc:
            raise InsufficientBalance(str(exc)) from exc
        except TransactionTooLarge as exc:  # cannot happen with `room` above; never fatal
            raise SendTemporary(str(exc)) from exc
        except (TransactionBuildError, ValueError, OverflowError, struct.error) as exc:
            # Whatever else the builder refuses (its own checks of the node's rules, a bad
            # amount) is shown in /api/health and retried, never an unexplained crash.
            raise SendTemporary(f"cannot build the payout: {exc}") from exc
        paid = built.transaction.outputs[: len(chosen)]
        # The builder promises output i pays payment i; checked before anything is stored,
        # as the original checked the output to the user before broadcasting.
        if [(o.address, o.droplets) for o in paid] != [(c.address, c.droplets) for c in chosen]:
            raise SendTemporary("built transaction does not pay what was asked; not stored")
        return SignedPayout(
            txid=built.txid, raw_tx=built.raw_hex, inputs=built.inputs, outputs=tuple(chosen)
        )

    def _raise_short(
        self,
        outputs: Sequence[PayoutOutput],
        wallet_outputs: WalletOutputs,
        pending: Sequence[Payout],
        usable: Sequence[Unspent],
    ) -> None:
        smallest = min(o.droplets for o in outputs)
        now = sum(u.droplets for u in usable)
        if now + self._on_the_way(wallet_outputs, pending) >= smallest:
            raise PayoutDeferred("waiting for the hot wallet's pending transactions to confirm")
        raise InsufficientBalance(
            f"not enough coins: {format_droplets(smallest)} SKY needed,"
            f" {format_droplets(now)} SKY spendable"
        )

    async def broadcast(self, raw_tx: str) -> None:
        """Inject the stored bytes. Injecting bytes the node already has is harmless.

        A refusal is never taken at its word: the same answer comes for a transaction that
        already confirmed and for one whose inputs another spent (skycoin.md §9), so the
        node is asked about the txid first. Only a transaction the node does not know, whose
        inputs are gone, is a conflict (the deposit stops with notice=WATCH; never re-signed).
        """
        txid = hashlib.sha256(bytes.fromhex(raw_tx)).hexdigest()
        try:
            node_txid = await self.client.inject(raw_tx)
        except SkyNodeError as exc:
            raise SendTemporary(str(exc)) from exc
        except TransactionRejected as refusal:
            status = await self._ask(self.client.transaction_status(txid))
            if status.known:
                return  # in the pool or in a block already: nothing more to send
            if refusal.spends_missing_inputs:
                # Raises SendConflict only with the proof; returns if the payout is in a block.
                await self._prove_conflict(txid, raw_tx, refusal)
                return
            log_once(  # once per transaction, not per round
                self._refusals_reported,
                txid,
                log,
                logging.ERROR,
                "the node refuses a stored payout; it is retried, never re-signed",
                watch=True,
                txid=txid,
                error=refusal.message,
            )
            raise SendTemporary(f"the node refused payout {txid}: {refusal}") from refusal
        if node_txid != txid:
            log_event(
                log,
                logging.ERROR,
                "the node reports another txid for an injected payout",
                watch=True,
                txid=txid,
                node_txid=node_txid,
            )

    async def _prove_conflict(self, txid: str, raw_tx: str, refusal: TransactionRejected) -> None:
        """Raise SendConflict only if the node proves payout `txid` can never confirm.

        "Unknown txid" plus "unspent output … does not exist" is also what a node answers
        that was swapped for an empty one, restored from an old snapshot, or is still
        syncing, while the payout is on the network and confirms (skycoin.md §11). Calling
        that a conflict stops the deposits for payment by hand: paid twice. So the proof is:
        the node is synced (it has peers and its head is the highest they know), and each of
        the payout's inputs that is spent is spent, in a block the node has, by a transaction
        other than the payout (the node has that transaction in that block). Anything short of
        that raises ConflictNotProven (a temporary error: the payout stays as it is, the reason
        is shown in /api/health, and the next round asks again). If an input turns out to be
        spent by the payout itself and the node now knows it, it returns: nothing to send.
        """
        progress = await self._ask(self.client.blockchain_progress())
        peers = await self._ask(self.client.connections())
        behind = _not_synced(progress, len(peers))
        if behind:
            raise ConflictNotProven(f"payout {txid} unknown to the node, which {behind}: waiting")
        try:
            inputs = [ux.hex() for ux in decode_transaction_hex(raw_tx).inputs]
        except TransactionDecodeError as exc:  # teller's own stored bytes: cannot happen
            raise ConflictNotProven(f"payout {txid}: stored bytes unreadable: {exc}") from exc
        proof: list[str] = []
        for uxid in inputs:
            out = await self._ask(self.client.uxout(uxid))
            if out is None:
                raise ConflictNotProven(
                    f"payout {txid} unknown to the node, which has never seen its input"
                    f" {uxid} (height {progress.current}): waiting"
                )
            if out.spent_tx is None:
                continue  # unspent on the node's chain: it proves nothing either way
            if out.spent_tx == txid:
                # The payout itself spent it: it is in a block after all.
                if (await self._ask(self.client.transaction_status(txid))).known:
                    return
                raise ConflictNotProven(
                    f"the node shows input {uxid} spent by payout {txid} but does not know"
                    " the payout: waiting"
                )
            spender = await self._ask(self.client.transaction_status(out.spent_tx))
            if not (spender.confirmed and spender.block_seq == out.spent_block_seq):
                raise ConflictNotProven(
                    f"the node shows input {uxid} of payout {txid} spent by {out.spent_tx},"
                    f" which it does not show in block {out.spent_block_seq}: waiting"
                )
            proof.append(f"{uxid} by {out.spent_tx} in block {out.spent_block_seq}")
        if not proof:
            raise ConflictNotProven(
                f"the node refuses payout {txid} ({refusal.message}) but shows none of its"
                " inputs spent: waiting"
            )
        raise SendConflict(
            f"{refusal.message}; the node (height {progress.current}, {len(peers)} peer(s))"
            f" shows spent: {', '.join(proof)}"
        ) from refusal

    async def tx_state(self, txid: str) -> TxState:
        status = await self._ask(self.client.transaction_status(txid))
        if status.confirmed:
            return TxState.CONFIRMED
        return TxState.PENDING if status.known else TxState.UNKNOWN

    async def payments_to(self, address: str) -> list[PastPayment]:
        """Transactions the node knows (confirmed or pending) paying `address`, each with
        whether the hot wallet's addresses owned its inputs (sender: imported deposits).

        Asked by the paid address, not by the wallet's: its history is what is searched, and
        it stays short while the hot wallet's grows with every payout.
        """
        found = await self._ask(self.client.transactions_of([address]))
        mine = set(self.addresses)
        payments = []
        for tx in found:
            paid = sum(o.droplets for o in tx.outputs if o.address == address)
            if paid == 0:
                continue  # the address only spent in it, or received nothing
            ours = [owner in mine for owner in tx.input_owners]
            payments.append(
                PastPayment(
                    txid=tx.txid,
                    droplets=paid,
                    confirmed=tx.confirmed,
                    all_from_wallet=bool(ours) and all(ours),
                    any_from_wallet=any(ours),
                )
            )
        return payments
