"""Identity attestations v2: an identity provider vouches that a person is an owner, for exactly
the requests it names (docs/protocol.md §8.4).

In production the provider is a real-name / face-recognition service; the registrars trust its
Ed25519 key (the trust bundle's ``identity-provider`` line). An attestation binds the owner id,
the election, a fresh nonce, an expiry and the SHA-256 digests of the blinded messages it
authorises, so it cannot be used for another owner, another election, after it expires, or for
any blinded message but those (a stolen attestation is worth nothing to the thief: the blind
signature it buys is on the owner's own blinded message, which only the owner's phone can
unblind). Each registrar accepts a nonce once (server/registrar/identity.py).

    attestation_bytes = LP("ownervote/v1/identity-attestation-v2") || LP(owner_id)
                        || LP(election_id) || LP(nonce) || u64(expires_at)
                        || u8(d) || digest_1 || … || digest_d
    digest_i          = SHA-256(blinded_msg_i), 32 bytes, strictly increasing, 0 <= d <= 16
    signature         = Ed25519-Sign(provider key, attestation_bytes)   (RFC 8032 §5.1.6)

``d = 0`` is an eligibility-only attestation (GetEligibility): it authorises no credential.
``owner_id`` is 1..255 bytes of UTF-8, ``election_id`` 1..128, ``nonce`` 16..64 bytes,
``0 < expires_at < 2^63`` (POSIX seconds). :func:`decode_attestation` accepts exactly the
bytes :meth:`Attestation.canonical_bytes` makes and nothing else (issuance records on the ledger
carry these bytes).

Checks (:func:`verify_attestation`) run in a fixed order: the provider's signature first
(:class:`crypto.errors.InvalidSignature`), then the election, the expiry and the blinded message
(:class:`crypto.errors.AttestationRefused`, naming the field), so that a caller can tell a
forgery (which says nothing about the owner it names) from a genuine attestation that does not
allow this request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import Reader, decode_all, lp
from .errors import AttestationRefused, DecodeError, ExpiredAttestation, InvalidSignature

__all__ = ["Attestation", "AttestationRefused", "DemoIdentityProvider", "ExpiredAttestation",
           "blinded_digest", "check_attestation", "decode_attestation", "sign_attestation",
           "verify_attestation", "verify_attestation_signature"]

TAG = b"ownervote/v1/identity-attestation-v2"
NONCE_MIN, NONCE_MAX = 16, 64
DIGEST_LEN = 32  # SHA-256
MAX_AUTHORISED = 16
MAX_OWNER_ID = 255  # bytes of UTF-8
MAX_ELECTION_ID = 128


def blinded_digest(blinded_msg: bytes) -> bytes:
    """``SHA-256(blinded_msg)``: how an attestation names a blinded message it authorises."""
    return hashlib.sha256(bytes(blinded_msg)).digest()


@dataclass(frozen=True)
class Attestation:
    """The attested statement (without its signature). ``authorises`` is the strictly
    increasing tuple of the digests (:func:`blinded_digest`) of the blinded messages it
    authorises; :meth:`for_requests` builds it from the messages."""

    owner_id: str
    election_id: str
    nonce: bytes
    expires_at: int  # POSIX seconds
    authorises: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "nonce", bytes(self.nonce))
        object.__setattr__(self, "authorises", tuple(bytes(d) for d in self.authorises))
        for name, value, most in (("owner id", self.owner_id, MAX_OWNER_ID),
                                  ("election id", self.election_id, MAX_ELECTION_ID)):
            if not isinstance(value, str) or not 0 < len(value.encode("utf-8")) <= most:
                raise DecodeError(f"the {name} is 1..{most} bytes of UTF-8")
        if not NONCE_MIN <= len(self.nonce) <= NONCE_MAX:
            raise DecodeError(f"the nonce is {NONCE_MIN}..{NONCE_MAX} bytes")
        if isinstance(self.expires_at, bool) or not isinstance(self.expires_at, int) \
                or not 0 < self.expires_at < 1 << 63:
            raise DecodeError("expires_at out of range")
        if len(self.authorises) > MAX_AUTHORISED:
            raise DecodeError(f"an attestation authorises at most {MAX_AUTHORISED} requests")
        if any(len(d) != DIGEST_LEN for d in self.authorises):
            raise DecodeError("each authorised digest is 32 bytes (SHA-256)")
        if any(a >= b for a, b in zip(self.authorises, self.authorises[1:], strict=False)):
            raise DecodeError("the authorised digests are strictly increasing")

    @classmethod
    def for_requests(cls, owner_id: str, election_id: str, nonce: bytes, expires_at: int,
                     blinded_msgs: Iterable[bytes] = ()) -> Attestation:
        """The attestation authorising exactly these blinded messages (each once, sorted)."""
        digests = sorted({blinded_digest(m) for m in blinded_msgs})
        return cls(owner_id, election_id, nonce, expires_at, tuple(digests))

    def authorises_request(self, blinded_msg: bytes) -> bool:
        """Whether this attestation authorises a request carrying ``blinded_msg``."""
        return blinded_digest(blinded_msg) in self.authorises

    def canonical_bytes(self) -> bytes:
        return (lp(TAG) + lp(self.owner_id.encode("utf-8")) + lp(self.election_id.encode("utf-8"))
                + lp(self.nonce) + self.expires_at.to_bytes(8, "big")
                + bytes([len(self.authorises)]) + b"".join(self.authorises))


def decode_attestation(data: bytes) -> Attestation:
    """The attestation whose canonical bytes are exactly ``data``; DecodeError for anything
    else (another tag, a field out of range, digests out of order or repeated, trailing bytes,
    non-canonical UTF-8)."""

    def read(r: Reader) -> Attestation:
        if r.lp(len(TAG)) != TAG:
            raise DecodeError("not an identity attestation v2")
        owner_id = r.text(MAX_OWNER_ID)
        election_id = r.text(MAX_ELECTION_ID)
        nonce = r.lp(NONCE_MAX)
        expires_at = r.uint(8)
        d = r.uint(1)
        if d > MAX_AUTHORISED:
            raise DecodeError(f"an attestation authorises at most {MAX_AUTHORISED} requests")
        return Attestation(owner_id, election_id, nonce, expires_at,
                           tuple(r.take(DIGEST_LEN) for _ in range(d)))

    att = decode_all(data, read)
    if att.canonical_bytes() != bytes(data):  # e.g. UTF-8 that decodes but re-encodes otherwise
        raise DecodeError("not the canonical encoding of the attestation")
    return att


def sign_attestation(provider: Ed25519PrivateKey, att: Attestation) -> bytes:
    return provider.sign(att.canonical_bytes())


def verify_attestation_signature(provider: Ed25519PublicKey, att: Attestation,
                                 signature: bytes) -> None:
    """InvalidSignature unless ``signature`` is the provider's Ed25519 signature over exactly
    ``att``'s canonical bytes (RFC 8032 §5.1.7)."""
    try:
        provider.verify(bytes(signature), att.canonical_bytes())
    except (_CryptographyInvalidSignature, ValueError, TypeError) as exc:
        raise InvalidSignature("the identity provider's signature does not verify") from exc


def check_attestation(att: Attestation, *, now: int, election_id: str,
                      blinded_msg: bytes | None = None) -> None:
    """The checks after the signature: AttestationRefused naming ``election_id`` (another
    election), ``expires_at`` (ExpiredAttestation: ``now`` at or after the expiry) or
    ``authorises`` (``blinded_msg`` given and not one it authorises)."""
    if att.election_id != election_id:
        raise AttestationRefused("election_id", "the attestation is for another election")
    if now >= att.expires_at:
        raise ExpiredAttestation()
    if blinded_msg is not None and not att.authorises_request(blinded_msg):
        raise AttestationRefused("authorises", "the attestation does not authorise this "
                                 "blinded message" if att.authorises else
                                 "an eligibility-only attestation authorises no credential")


def verify_attestation(provider: Ed25519PublicKey, att: Attestation, signature: bytes, *,
                       now: int, election_id: str, blinded_msg: bytes | None = None,
                       signature_checked: bool = False) -> None:
    """Both: the signature first (InvalidSignature), then :func:`check_attestation`
    (AttestationRefused). ``signature_checked``: the caller verified this exact signature over
    these exact bytes before (it remembers them); the Ed25519 check is skipped, the others are
    not."""
    if not signature_checked:
        verify_attestation_signature(provider, att, signature)
    check_attestation(att, now=now, election_id=election_id, blinded_msg=blinded_msg)


def _fresh_nonce() -> bytes:
    return secrets.token_bytes(16)


@dataclass
class DemoIdentityProvider:
    """Issues attestations for whoever it is told to: the demo's stand-in for a real-name
    service (which would check an ID card and a face before signing). It signs exactly what
    the production provider must sign (docs/protocol.md §8.4): the owner id, the election, a
    fresh nonce, the expiry and the digests of the blinded messages the phone shows it.

    ``expiry_grid``: the expiry is rounded up to a multiple of this many seconds. Attestations
    go on the ledger in the registrars' issuance records, so an exact expiry (signing time plus
    the lifetime) would date each registration to the second; on a grid, every attestation of
    one grid step looks the same (docs/protocol.md §8.4; the demo uses 600 s)."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    lifetime: int = 600
    clock: Callable[[], float] = time.time
    nonce_source: Callable[[], bytes] = _fresh_nonce  # a test may make it repeat
    expiry_grid: int = 1

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def attest(self, owner_id: str, election_id: str,
               blinded_msgs: Iterable[bytes] = ()) -> tuple[Attestation, bytes]:
        """An attestation for these blinded messages (none: eligibility only) and its
        signature."""
        return self.attest_digests(owner_id, election_id,
                                   (blinded_digest(m) for m in blinded_msgs))

    def attest_digests(self, owner_id: str, election_id: str,
                       digests: Iterable[bytes] = ()) -> tuple[Attestation, bytes]:
        """The same for the blinded messages' digests (what a phone shows the provider)."""
        expires = int(self.clock()) + self.lifetime
        expires += -expires % self.expiry_grid  # rounded up to the grid
        att = Attestation(owner_id, election_id, self.nonce_source(), expires,
                          tuple(sorted(set(digests))))
        return att, sign_attestation(self.key, att)

    def attester(self, owner_id: str,
                 election_id: str) -> Callable[[Iterable[bytes]], tuple[Attestation, bytes]]:
        """``blinded_msgs -> (attestation, signature)`` for this owner and election: what the
        voter SDK calls once it has blinded (VoterClient.obtain_credential)."""
        return lambda blinded_msgs: self.attest(owner_id, election_id, blinded_msgs)
