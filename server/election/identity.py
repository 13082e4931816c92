"""Identity checks before a credential is issued (docs/protocol.md §8.4).

The registrar trusts an identity provider's Ed25519 key; :class:`AttestationVerifier` is the
default, pluggable verifier. Failed attempts are rate-limited per owner and per peer so that
nobody can probe the roll or grind attestations. :class:`crypto.attestation.DemoIdentityProvider`
stands in for the real-name / face-recognition service in the demo and the tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crypto.attestation import Attestation, verify_attestation
from crypto.errors import InvalidSignature

from ..errors import Exhausted, Forbidden

Clock = Callable[[], float]


class IdentityRefused(Forbidden):
    """The attestation was refused (bad signature, other election, expired)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="IDENTITY_REFUSED", field="attestation")


class RateLimited(Exhausted):
    """Too many failed attempts for this owner or peer; ``retry_after`` seconds."""

    def __init__(self, who: str, retry_after: float) -> None:
        super().__init__(f"too many failed attempts for {who}; retry in {retry_after:.0f} s",
                         reason="RATE_LIMITED", metadata={"retry_after": f"{retry_after:.0f}"})
        self.retry_after = retry_after


class IdentityVerifier(Protocol):
    def verify(self, attestation: Attestation, signature: bytes, election_id: str) -> str:
        """Return the verified owner id or raise IdentityRefused."""


@dataclass
class AttestationVerifier:
    """Accepts attestations signed by the configured identity provider's key.

    A phone presents the same attestation twice in a row (eligibility, then the credential
    request), so the last ``remember`` attestations whose signature verified are remembered
    by their exact bytes and signature: the second presentation skips the Ed25519 check (it
    would give the same answer) but not the election and expiry checks."""

    provider_key: Ed25519PublicKey
    clock: Clock = time.time
    remember: int = 4096
    _verified: OrderedDict[tuple[bytes, bytes], None] = field(default_factory=OrderedDict)

    def verify(self, attestation: Attestation, signature: bytes, election_id: str) -> str:
        key = (attestation.canonical_bytes(), bytes(signature))
        remembered = key in self._verified
        try:
            verify_attestation(self.provider_key, attestation, signature, now=int(self.clock()),
                               election_id=election_id, signature_checked=remembered)
        except InvalidSignature as exc:
            raise IdentityRefused(str(exc)) from exc
        self._verified[key] = None
        self._verified.move_to_end(key)
        while len(self._verified) > self.remember:
            self._verified.popitem(last=False)
        return attestation.owner_id


@dataclass
class FailureLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds (in memory)."""

    limit: int
    window: float
    clock: Clock = time.monotonic
    _failures: dict[str, deque] = field(default_factory=dict)

    def check(self, key: str) -> None:
        q = self._failures.get(key)
        if not q:
            return
        now = self.clock()
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            raise RateLimited(key, q[0] + self.window - now)

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self.clock())


@dataclass
class GuardedVerifier:
    """An identity verifier with failure limits per owner id and per network peer."""

    inner: IdentityVerifier
    per_owner: FailureLimiter = field(default_factory=lambda: FailureLimiter(5, 300.0))
    per_peer: FailureLimiter = field(default_factory=lambda: FailureLimiter(20, 300.0))

    def verify(self, attestation: Attestation, signature: bytes, election_id: str,
               peer: str) -> str:
        owner_key = f"owner:{election_id}:{attestation.owner_id}"
        self.per_owner.check(owner_key)
        self.per_peer.check(f"peer:{peer}")
        try:
            return self.inner.verify(attestation, signature, election_id)
        except IdentityRefused:
            self.per_owner.failed(owner_key)
            self.per_peer.failed(f"peer:{peer}")
            raise

