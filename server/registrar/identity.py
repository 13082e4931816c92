"""Identity checks before a credential is issued (docs/protocol.md §8.4), in an order that
nobody can use to block an owner.

The registrar trusts an identity provider's Ed25519 key; :class:`AttestationVerifier` checks an
attestation v2 (crypto/attestation.py) against it. :class:`GuardedVerifier` runs every request
through one :class:`Attempt`:

1. The provider's signature is checked first. A request whose signature does not verify is a
   forgery and says nothing about the owner it names: it counts against the client's address
   only (server/registrar/limits.py), never against that owner.
2. A signature-valid attestation is then checked in full, by the caller, inside the attempt:
   the election, the expiry, the blinded message it must authorise (RequestCredential), the
   roll, the nonce. Each such refusal (a ``Forbidden`` raised in the attempt) counts against the
   owner and against the client.
3. A request that passes every check is accepted, whatever either count says: the limits only
   ever turn a refusal into RATE_LIMITED (with RetryInfo), so failures naming an owner (many
   forged requests, or a stolen attestation replayed with other blinded messages) cannot keep
   the owner's own valid attestation out. What they stop is a client or an owner learning
   more from each failure, and probing at a rate.

A nonce is used once per registrar (:class:`DatabaseNonces`, the ``attestation_nonces`` table):
a credential request records its attestation's nonce with the owner and the blinded message's
digest; the identical retry (same owner, same blinded message) passes and gets the identical
blind signature from the registrar, and any other request with that nonce is NONCE_REPLAYED.
GetEligibility uses no nonce (it issues nothing). :class:`MemoryNonces` and
:class:`~server.registrar.limits.MemoryFailureLimiter` are the single-process fallbacks.
:class:`crypto.attestation.DemoIdentityProvider` stands in for the real-name /
face-recognition service in the demo and the tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.attestation import (
    Attestation,
    blinded_digest,
    check_attestation,
    verify_attestation_signature,
)
from crypto.errors import AttestationRefused, InvalidSignature

from ..db import insert_skipping_conflicts, read_engine, write_once
from ..errors import Exhausted, Forbidden
from .limits import FailureLimiter, MemoryFailureLimiter
from .schema import attestation_nonces

Clock = Callable[[], float]
NONCE_GRACE = 3600  # seconds past an attestation's expiry before its nonce may be pruned


class IdentityRefused(Forbidden):
    """The attestation was refused: its signature does not verify (field ``attestation``), or
    it is for another election (``attestation.election_id``) or expired
    (``attestation.expires_at``)."""

    def __init__(self, message: str, field: str = "attestation") -> None:
        super().__init__(message, reason="IDENTITY_REFUSED", field=field)


class ForgedAttestation(IdentityRefused):
    """The identity provider's signature does not verify: nothing is known of the owner."""


class UnauthorisedRequest(Forbidden):
    """A genuine attestation that does not authorise this blinded message (a stolen one
    replayed with another blinded message, or an eligibility-only one)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="UNAUTHORISED_REQUEST", field="attestation.authorises")


class NonceReplayed(Forbidden):
    """The attestation's nonce was used by another request."""

    def __init__(self) -> None:
        super().__init__("the attestation's nonce was used by another request",
                         reason="NONCE_REPLAYED", field="attestation.nonce")


class RateLimited(Exhausted):
    """Too many failed requests for this owner or from this client; ``retry_after`` seconds
    (answered as RetryInfo, and as the ErrorInfo metadata ``retry_after``)."""

    def __init__(self, who: str, retry_after: float) -> None:
        retry_after = max(retry_after, 0.0)
        super().__init__(f"too many failed requests {who}; retry in {retry_after:.0f} s",
                         reason="RATE_LIMITED", metadata={"retry_after": f"{retry_after:.0f}"},
                         retry_after=retry_after)


class IdentityVerifier(Protocol):
    def verify_signature(self, attestation: Attestation, signature: bytes) -> None:
        """ForgedAttestation unless the provider signed exactly this attestation."""

    def check(self, attestation: Attestation, election_id: str,
              blinded_msg: bytes | None = None) -> str:
        """The owner id, or IdentityRefused / UnauthorisedRequest (signature already checked)."""


@dataclass
class AttestationVerifier:
    """Accepts attestations signed by the configured identity provider's key.

    The last ``remember`` signatures that verified are remembered by the attestation's exact
    bytes and the signature: an identical retry skips the Ed25519 check (it would give the same
    answer) but never the election, expiry and blinded-message checks."""

    provider_key: Ed25519PublicKey
    clock: Clock = time.time
    remember: int = 4096
    _verified: OrderedDict[tuple[bytes, bytes], None] = field(default_factory=OrderedDict)

    def verify_signature(self, attestation: Attestation, signature: bytes) -> None:
        key = (attestation.canonical_bytes(), bytes(signature))
        if key in self._verified:
            self._verified.move_to_end(key)
            return
        try:
            verify_attestation_signature(self.provider_key, attestation, signature)
        except InvalidSignature as exc:
            raise ForgedAttestation(str(exc)) from exc
        self._verified[key] = None
        while len(self._verified) > self.remember:
            self._verified.popitem(last=False)

    def check(self, attestation: Attestation, election_id: str,
              blinded_msg: bytes | None = None) -> str:
        try:
            check_attestation(attestation, now=int(self.clock()), election_id=election_id,
                              blinded_msg=blinded_msg)
        except AttestationRefused as exc:
            if exc.check == "authorises":
                raise UnauthorisedRequest(exc.detail) from exc
            raise IdentityRefused(exc.detail, field=f"attestation.{exc.check}") from exc
        return attestation.owner_id

    def verify(self, attestation: Attestation, signature: bytes, election_id: str,
               blinded_msg: bytes | None = None) -> str:
        """Both checks, the signature first: the verified owner id."""
        self.verify_signature(attestation, signature)
        return self.check(attestation, election_id, blinded_msg)


class Nonces(Protocol):
    async def use(self, attestation: Attestation, request_hash: bytes) -> None:
        """Record the nonce's use by this owner's request (SHA-256 of its blinded message);
        NonceReplayed if another request used it."""


@dataclass
class MemoryNonces:
    """The nonces used, in this process (the single-process fallback)."""

    clock: Clock = time.time
    prune_every: float = 600.0
    _used: dict[bytes, tuple[str, bytes, int]] = field(default_factory=dict)
    _pruned: float = 0.0

    async def use(self, attestation: Attestation, request_hash: bytes) -> None:
        now = self.clock()
        if now - self._pruned >= self.prune_every:  # nonces an hour past their expiry
            self._pruned = now
            for nonce in [n for n, (_, _, exp) in self._used.items()
                          if exp + NONCE_GRACE < now]:
                del self._used[nonce]
        mine = (attestation.owner_id, bytes(request_hash), attestation.expires_at)
        if self._used.setdefault(attestation.nonce, mine)[:2] != mine[:2]:
            raise NonceReplayed()


class DatabaseNonces:
    """The nonces used, in the ``attestation_nonces`` table every process of this registrar
    shares. The use is one ``INSERT … ON CONFLICT DO NOTHING``; only on a conflict is the
    stored use read, to tell the identical retry from a replay. Nonces of attestations that
    expired more than an hour ago are pruned (a clock an hour behind would still refuse them
    as expired)."""

    def __init__(self, engine: AsyncEngine, clock: Clock = time.time,
                 prune_every: float = 600.0, *, registrar: str = "") -> None:
        self.engine = engine
        self.registrar = registrar  # each registrar accepts a nonce once, on its own
        self.reads = read_engine(engine)
        self.clock = clock
        self.prune_every = prune_every
        self._pruned = clock()
        self._insert = (insert_skipping_conflicts(engine, attestation_nonces)
                        .returning(attestation_nonces.c.nonce))

    async def use(self, attestation: Attestation, request_hash: bytes) -> None:
        t = attestation_nonces
        await self._prune()
        async with write_once(self.engine) as conn:
            stored = (await conn.execute(self._insert, {
                "registrar": self.registrar, "nonce": attestation.nonce,
                "owner_id": attestation.owner_id, "request_hash": bytes(request_hash),
                "expires_at": attestation.expires_at})).first() is not None
        if not stored:
            async with self.reads.connect() as conn:
                row = (await conn.execute(select(t.c.owner_id, t.c.request_hash).where(and_(
                    t.c.registrar == self.registrar, t.c.nonce == attestation.nonce)))).first()
            if row is None or (row.owner_id, bytes(row.request_hash)) != (
                    attestation.owner_id, bytes(request_hash)):
                raise NonceReplayed()

    async def _prune(self) -> None:
        now = self.clock()
        if now - self._pruned < self.prune_every:
            return
        self._pruned = now
        async with write_once(self.engine) as conn:
            await conn.execute(delete(attestation_nonces).where(and_(
                attestation_nonces.c.registrar == self.registrar,
                attestation_nonces.c.expires_at < int(now) - NONCE_GRACE)))


@dataclass
class GuardedVerifier:
    """An identity verifier with failure limits per owner and per client address, and the
    nonce-once rule (module docstring). Defaults: 5 failures per owner and 20 per client in
    five minutes, in memory; the server passes the database-backed ones."""

    inner: IdentityVerifier
    per_owner: FailureLimiter = field(default_factory=lambda: MemoryFailureLimiter(5, 300.0))
    per_client: FailureLimiter = field(default_factory=lambda: MemoryFailureLimiter(20, 300.0))
    nonces: Nonces = field(default_factory=MemoryNonces)

    def attempt(self, attestation: Attestation, signature: bytes, client: str) -> Attempt:
        """``async with guard.attempt(att, sig, client) as attempt:`` — the signature is
        checked on entry; every Forbidden raised inside counts against the owner and the
        client."""
        return Attempt(self, attestation, signature, client)

    async def verify(self, attestation: Attestation, signature: bytes, election_id: str,
                     client: str, blinded_msg: bytes | None = None) -> str:
        """The attestation's own checks in one attempt (no roll, no nonce): the owner id."""
        async with self.attempt(attestation, signature, client) as attempt:
            return attempt.check(election_id, blinded_msg)


class Attempt:
    """One request's identity check (GuardedVerifier.attempt)."""

    def __init__(self, guard: GuardedVerifier, attestation: Attestation, signature: bytes,
                 client: str) -> None:
        self.guard = guard
        self.attestation = attestation
        self.signature = signature
        self.client_key = f"client:{client}"
        self.owner_key = f"owner:{attestation.election_id}:{attestation.owner_id}"

    async def __aenter__(self) -> Attempt:
        try:
            self.guard.inner.verify_signature(self.attestation, self.signature)
        except ForgedAttestation as exc:  # never counted against the owner it names
            retry = await self.guard.per_client.failed(self.client_key)
            if retry is not None:
                raise RateLimited("from this client", retry) from exc
            raise
        return self

    def check(self, election_id: str, blinded_msg: bytes | None = None) -> str:
        """The checks after the signature (election, expiry, and with ``blinded_msg`` that the
        attestation authorises it): the owner id."""
        return self.guard.inner.check(self.attestation, election_id, blinded_msg)

    async def use_nonce(self, blinded_msg: bytes) -> None:
        """The attestation's nonce, used by the request for ``blinded_msg`` (NonceReplayed if
        another request used it)."""
        await self.guard.nonces.use(self.attestation, blinded_digest(blinded_msg))

    async def __aexit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, Forbidden):  # a genuine attestation that did not pass: counted
            owner = await self.guard.per_owner.failed(self.owner_key)
            client = await self.guard.per_client.failed(self.client_key)
            if owner is not None or client is not None:
                who, retry = max((("for this owner", owner), ("from this client", client)),
                                 key=lambda w: -1.0 if w[1] is None else w[1])
                raise RateLimited(who, retry) from exc
        return False
