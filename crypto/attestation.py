"""Identity attestations: an identity provider vouches that a person is an owner (docs/protocol.md
§8.4). In production the provider is a real-name / face-recognition service; the registrar
trusts its Ed25519 key. An attestation binds the owner id, the election, a fresh nonce and an
expiry, so it cannot be used for another owner, another election, or after it expires.

    attestation_bytes = LP("ownervote/v1/identity-attestation") || LP(owner_id)
                        || LP(election_id) || LP(nonce) || u64(expires_at)
    signature         = Ed25519-Sign(provider key, attestation_bytes)   (RFC 8032 §5.1.6)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import lp
from .errors import DecodeError, InvalidSignature

NONCE_MIN, NONCE_MAX = 16, 64


class ExpiredAttestation(InvalidSignature):
    """A valid attestation whose expiry has passed."""


@dataclass(frozen=True)
class Attestation:
    owner_id: str
    election_id: str
    nonce: bytes
    expires_at: int  # POSIX seconds

    def __post_init__(self) -> None:
        if not self.owner_id or not self.election_id:
            raise DecodeError("owner id and election id must not be empty")
        if not NONCE_MIN <= len(self.nonce) <= NONCE_MAX:
            raise DecodeError(f"the nonce is {NONCE_MIN}..{NONCE_MAX} bytes")
        if not 0 < self.expires_at < 1 << 63:
            raise DecodeError("expires_at out of range")

    def canonical_bytes(self) -> bytes:
        return (lp(b"ownervote/v1/identity-attestation") + lp(self.owner_id.encode())
                + lp(self.election_id.encode()) + lp(bytes(self.nonce))
                + self.expires_at.to_bytes(8, "big"))


def sign_attestation(provider: Ed25519PrivateKey, att: Attestation) -> bytes:
    return provider.sign(att.canonical_bytes())


def verify_attestation(provider: Ed25519PublicKey, att: Attestation, signature: bytes, *,
                       now: int, election_id: str, signature_checked: bool = False) -> None:
    """Raise InvalidSignature (bad signature, other election) or ExpiredAttestation.
    ``signature_checked``: the caller verified this exact signature over these exact bytes
    before (it remembers them); the Ed25519 check is skipped, the other checks are not."""
    if att.election_id != election_id:
        raise InvalidSignature("the attestation is for another election")
    if not signature_checked:
        try:
            provider.verify(bytes(signature), att.canonical_bytes())
        except (_CryptographyInvalidSignature, ValueError) as exc:
            raise InvalidSignature("the identity provider's signature does not verify") from exc
    if now >= att.expires_at:
        raise ExpiredAttestation("the attestation has expired")



@dataclass
class DemoIdentityProvider:
    """Issues attestations for whoever it is told to: the demo's stand-in for a real-name
    service (which would check an ID card and a face before signing)."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    lifetime: int = 600
    clock: Callable[[], float] = time.time

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def attest(self, owner_id: str, election_id: str) -> tuple[Attestation, bytes]:
        att = Attestation(owner_id, election_id, secrets.token_bytes(16),
                          int(self.clock()) + self.lifetime)
        return att, sign_attestation(self.key, att)
