"""web.auto_tls_host: obtain a certificate by ACME, serve it, renew it before it expires.

Place in the flow: app.py builds one AutoCertificate when web.auto_tls_host is set, hands its
`challenges` to the HTTP listener (web.http_addr answers the CA's HTTP-01 requests from it)
and its TLS context to the HTTPS listener, and runs `run()` beside the servers.

- At start a stored certificate (tls/files.py) for the host that has not expired is served at
  once, and no order is placed until it is due: a restart costs the CA nothing.
- Due means less than web.acme_renew_left of its lifetime is left (1/3 by default: Let's
  Encrypt's 90-day certificates renew with 30 days left). The new certificate is stored, then
  loaded into the same TLS context, so new connections get it without a restart.
- A failed order (CA unreachable, validation refused) is logged with notice=WATCH and retried
  with backoff; meanwhile the old certificate is served while it is valid, and before the first
  one exists HTTPS handshakes fail (web.http_addr still redirects: it never serves the API in
  plain text once HTTPS is configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import ssl
import threading
from collections.abc import Callable
from typing import TypeVar

from teller.clients.acme import AcmeClient, AcmeError, new_private_key_pem
from teller.logs import log_event
from teller.tls.context import load_certificate
from teller.tls.files import CertificateFileError, CertificateFiles, StoredCertificate
from teller.worker import Backoff

log = logging.getLogger("teller.tls")
T = TypeVar("T")

# A failed order is tried again after 30 s, doubling up to an hour (Let's Encrypt allows 5
# failed validations per host and hour).
RETRY_FIRST_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
# Sleep at most this long at once before looking again (a clock change, a long suspend).
RECHECK_SECONDS = 3600.0


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """`work()` in a thread of its own that does not hold up the process's exit: an order in
    flight at shutdown (up to clients/acme.py's request timeouts and order deadline) is
    abandoned, not waited for, as asyncio.to_thread's pool would be. Abandoning it is safe:
    files are replaced whole (tls/files.py); the next start orders again if nothing was
    stored."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="acme order", daemon=True).start()
    return await future


class AutoCertificate:
    """The certificate of one host: its files, its ACME account, the context serving it."""

    def __init__(
        self,
        host: str,
        files: CertificateFiles,
        make_client: Callable[[bytes], AcmeClient],
        context: ssl.SSLContext,
        *,
        renew_left: float,
        now: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.host = host.lower()
        self.files = files
        self.make_client = make_client  # account key PEM -> client
        self.context = context
        self.renew_left = renew_left
        self.now = now
        self.challenges: dict[str, str] = {}  # token -> key authorization, for web.http_addr
        self.current: StoredCertificate | None = None
        self.backoff = Backoff(RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS)

    def challenge_answer(self, token: str) -> str | None:
        """The key authorization the CA expects at /.well-known/acme-challenge/<token>."""
        return self.challenges.get(token)

    def load_stored(self) -> StoredCertificate | None:
        """Serve the stored certificate if it is for this host and not expired (at start)."""
        stored = self.files.read()
        if stored is None or self.host not in stored.hosts or stored.not_after <= self.now():
            return None
        load_certificate(self.context, self.files.certificate_path, self.files.key_path)
        self.current = stored
        log_event(
            log,
            logging.INFO,
            "serving the stored certificate",
            host=self.host,
            serial=stored.serial,
            not_after=stored.not_after.isoformat(),
            renew_at=stored.renew_at(self.renew_left).isoformat(),
        )
        return stored

    def seconds_until_due(self) -> float:
        """0 when a certificate must be ordered now, else how long until it must."""
        if self.current is None:
            return 0.0
        due = self.current.renew_at(self.renew_left)
        return max(0.0, (due - self.now()).total_seconds())

    async def run(self) -> None:
        """Keep a valid certificate served, until cancelled."""
        while True:
            wait = self.seconds_until_due()
            if wait > 0:
                await asyncio.sleep(min(wait, RECHECK_SECONDS))
                continue
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # AcmeError, CertificateFileError, or a bug: never fatal
                if not isinstance(exc, AcmeError | CertificateFileError | ssl.SSLError):
                    log.exception("certificate renewal failed unexpectedly")
                delay = self.backoff.failure()
                current = self.current
                log_event(
                    log,
                    logging.ERROR,
                    "could not obtain a certificate; HTTPS keeps the current one until it expires"
                    if current is not None
                    else "could not obtain a certificate; HTTPS handshakes fail until one is"
                    " obtained",
                    watch=True,
                    host=self.host,
                    expires=current.not_after.isoformat() if current is not None else None,
                    error=str(exc),
                    retry_in=f"{delay:.0f}s",
                )
                await asyncio.sleep(delay)
                continue
            self.backoff.reset()

    async def renew(self) -> StoredCertificate:
        """Order a new certificate, store it, serve it."""
        # The order and the files in a thread (the acme library blocks); the context is
        # changed here, on the event loop's thread, where every handshake reads it.
        stored = await in_daemon_thread(self._order_and_store)
        load_certificate(self.context, self.files.certificate_path, self.files.key_path)
        previous, self.current = self.current, stored
        log_event(
            log,
            logging.INFO,
            "certificate obtained and served",
            host=self.host,
            serial=stored.serial,
            replaced=previous.serial if previous is not None else "",
            not_after=stored.not_after.isoformat(),
            renew_at=stored.renew_at(self.renew_left).isoformat(),
        )
        return stored

    def _order_and_store(self) -> StoredCertificate:
        account_key = self.files.account_key(create=new_private_key_pem())
        key_pem = new_private_key_pem()
        chain = self.make_client(account_key).obtain(self.host, key_pem, self.challenges)
        # Stored before it is served: a crash right after cannot lose a certificate the CA
        # counted against its rate limits.
        return self.files.write(chain.encode("ascii"), key_pem)
