"""The ACME server's wire (RFC 8555): Let's Encrypt in production, Pebble in the tests.

Place in the flow: tls/auto.py calls `AcmeClient.obtain` (in a worker thread: the `acme`
library, certbot's own, speaks over blocking `requests`) when web.auto_tls_host has no
certificate or its certificate is due for renewal. One call is one order: register the account
key (RFC 8555 §7.3: a key already registered gets its existing account back, so the key is the
whole account and nothing else needs storing), order the host, answer its HTTP-01 challenge
through `challenges` (a token -> key authorization map that web.http_addr serves under
/.well-known/acme-challenge/), and finalize with a CSR of the certificate key. Every failure,
of the network or of the CA, is one AcmeError with the CA's words; the caller retries.
"""

from __future__ import annotations

import datetime
from collections.abc import MutableMapping

import josepy
import requests
from acme import challenges as acme_challenges
from acme import client as acme_client
from acme import crypto_util, messages
from acme import errors as acme_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from teller.errors import TellerError

USER_AGENT = "teller"
REQUEST_TIMEOUT_SECONDS = 30
# How long one order may wait for the CA to validate the challenge and issue.
ORDER_DEADLINE_SECONDS = 90


class AcmeError(TellerError):
    """The ACME server could not issue a certificate now (unreachable, or it refused)."""


def new_private_key_pem() -> bytes:
    """A new EC P-256 private key, PEM (PKCS#8): used for the account and for certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class AcmeClient:
    """One ACME account (its key) at one directory URL."""

    def __init__(
        self,
        directory_url: str,
        account_key_pem: bytes,
        *,
        ca_file: str = "",
        email: str = "",
    ) -> None:
        self.directory_url = directory_url
        try:
            key = serialization.load_pem_private_key(account_key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise AcmeError(f"the stored ACME account key is unreadable: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AcmeError("the stored ACME account key is not an EC key")
        self._account_key = JWKEC(key=key)
        # requests' `verify`: a CA file for a private ACME server (Pebble), else the system's.
        self._verify: bool | str = ca_file or True
        self._email = email

    def obtain(self, host: str, cert_key_pem: bytes, challenges: MutableMapping[str, str]) -> str:
        """A new certificate for `host` (PEM, leaf first, then the chain) for `cert_key_pem`."""
        try:
            return self._obtain(host, cert_key_pem, challenges)
        except AcmeError:
            raise
        except acme_errors.ValidationError as exc:
            problems = "; ".join(
                str(authz.body.challenges[0].error or authz.body.status)
                for authz in exc.failed_authzrs
            )
            raise AcmeError(f"{host}: the CA could not validate the challenge: {problems}") from exc
        except (acme_errors.Error, messages.Error, josepy.errors.Error) as exc:
            raise AcmeError(f"{self.directory_url}: {exc}") from exc
        except requests.RequestException as exc:
            raise AcmeError(f"{self.directory_url}: {_network_reason(exc)}") from exc

    def _obtain(self, host: str, cert_key_pem: bytes, challenges: MutableMapping[str, str]) -> str:
        net = acme_client.ClientNetwork(
            self._account_key,
            alg=ES256,
            verify_ssl=self._verify,  # type: ignore[arg-type]  # requests accepts a CA path
            user_agent=USER_AGENT,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        directory = acme_client.ClientV2.get_directory(self.directory_url, net)
        client = acme_client.ClientV2(directory, net)
        self._register(client, net)
        order = client.new_order(crypto_util.make_csr(cert_key_pem, [host]))
        published: list[str] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue  # the CA reused an authorization it validated before
                challb = _http01(authz, host)
                response, key_authorization = challb.response_and_validation(self._account_key)
                challenges[challb.chall.encode("token")] = key_authorization
                published.append(challb.chall.encode("token"))
                client.answer_challenge(challb, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_DEADLINE_SECONDS)
            finished = client.poll_and_finalize(order, deadline=deadline)
        finally:
            for token in published:
                challenges.pop(token, None)
        if not finished.fullchain_pem:
            raise AcmeError(f"{host}: the CA finalized the order without a certificate")
        return str(finished.fullchain_pem)

    def _register(self, client: acme_client.ClientV2, net: acme_client.ClientNetwork) -> None:
        registration = messages.NewRegistration.from_data(
            email=self._email or None, terms_of_service_agreed=True
        )
        try:
            client.new_account(registration)
        except acme_errors.ConflictError as exc:
            # RFC 8555 §7.3.1: this key already has an account, at exc.location: use it.
            net.account = messages.RegistrationResource(
                uri=exc.location, body=messages.Registration()
            )


def _http01(authz: messages.AuthorizationResource, host: str) -> messages.ChallengeBody:
    for challb in authz.body.challenges:
        if isinstance(challb.chall, acme_challenges.HTTP01):
            return challb
    offered = ", ".join(str(c.chall.typ) for c in authz.body.challenges)
    raise AcmeError(f"{host}: the CA offers no http-01 challenge (only {offered})")


def _network_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS to the ACME server failed (web.acme_ca_file?): {exc}"
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return f"ACME server unreachable: {exc}"
    return str(exc)
