"""Accountable issuance: what each registrar of an election signs onto the ledger
(docs/protocol.md §8.5).

A registrar publishes, signed with the Ed25519 key the election's definition names for it (and
the trust bundle pins), first its issuer keys and then, in batches, one issuance record per
credential it issued. Anyone can check an issuance record without the registrar: the blind
signature is the registrar's on the blinded message whose digest the record names (RSAVP1 of the
signature, RFC 8017 §5.2.2, is that message), and the identity provider's attestation is
genuine, for this election and this owner, and authorises exactly that blinded message. The
verifier (crypto/election_audit.py) adds what needs the ledger's state: the registrar's keys,
one issuance per owner per registrar, a batch sequence without gaps, the class counts against
the roll, and at the close the number of voting tokens per registrar and class against the
issuances.

    issuer-keys = LP(registrar) || u32(c) || (u64(weight) || LP(spki))^c || signature(64)
    issuances   = LP(registrar) || u32(seq) || u8(final) || u32(m) || issuance^m
                  || signature(64)                          owner ids strictly increasing
    issuance    = LP(owner_id) || u64(weight) || LP(attestation) || attestation_signature(64)
                  || blinded_digest(32) || LP(blind_sig)
    signature   = Ed25519(registrar key, LP(label) || LP(election_id) || body without it)
                  label "ownervote/v1/issuer-keys-v2" or "ownervote/v1/issuances"

Records in a batch are ordered by owner id, never by arrival, and nothing a registrar stores
keeps the order in which it issued (server/registrar/).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import blind_rsa
from .attestation import decode_attestation, verify_attestation
from .credential import IssuerKey
from .encoding import Reader, decode_all, lp
from .errors import AttestationRefused, DecodeError, InvalidSignature

ISSUER_KEYS_LABEL = b"ownervote/v1/issuer-keys-v2"
ISSUANCES_LABEL = b"ownervote/v1/issuances"
SIGNATURE_LEN = 64
MAX_BATCH = 1 << 16
MAX_ATTESTATION = 2048
MAX_BLIND_SIG = 1024


class InvalidIssuance(InvalidSignature):
    """An issuance record or batch that does not verify; ``check`` names what
    (``issuances[3].blind_sig``)."""

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        super().__init__(f"{check}: {detail}")


# --- issuer keys ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuerKeysRecord:
    """One registrar's issuer key of every weight class, signed by the registrar."""

    registrar: str
    keys: tuple[tuple[int, bytes], ...]  # (weight, SubjectPublicKeyInfo DER), weights increasing
    signature: bytes = b""

    def __post_init__(self) -> None:
        weights = [w for w, _ in self.keys]
        if not weights or weights != sorted(set(weights)) or weights[0] <= 0:
            raise DecodeError("issuer keys: weights positive and strictly increasing")
        if self.signature and len(self.signature) != SIGNATURE_LEN:
            raise DecodeError("a registrar signature is 64 bytes")

    def body(self) -> bytes:
        return lp(self.registrar.encode()) + len(self.keys).to_bytes(4, "big") + b"".join(
            w.to_bytes(8, "big") + lp(spki) for w, spki in self.keys)


def _signed(label: bytes, election_id: str, body: bytes) -> bytes:
    return lp(label) + lp(election_id.encode()) + body


def sign_issuer_keys(key: Ed25519PrivateKey, election_id: str,
                     record: IssuerKeysRecord) -> IssuerKeysRecord:
    return IssuerKeysRecord(record.registrar, record.keys, key.sign(
        _signed(ISSUER_KEYS_LABEL, election_id, record.body())))


def encode_issuer_keys(r: IssuerKeysRecord) -> bytes:
    if len(r.signature) != SIGNATURE_LEN:
        raise DecodeError("an issuer-keys record is signed")
    return r.body() + r.signature


def decode_issuer_keys(data: bytes) -> IssuerKeysRecord:
    def read(rd: Reader) -> IssuerKeysRecord:
        name, k = rd.text(64), rd.uint(4)
        if k > 1 << 20:
            raise DecodeError("too many issuer keys")
        keys = tuple((rd.uint(8), rd.lp(4096)) for _ in range(k))
        return IssuerKeysRecord(name, keys, rd.take(SIGNATURE_LEN))
    return decode_all(data, read)


def verify_registrar_signature(registrar_key: bytes, label: bytes, election_id: str,
                               body: bytes, signature: bytes) -> None:
    """Ed25519 (RFC 8032 §5.1.7) of the registrar over its record; InvalidSignature."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes(registrar_key)).verify(
            bytes(signature), _signed(label, election_id, body))
    except (_CryptographyInvalidSignature, ValueError) as exc:
        raise InvalidSignature("the registrar's signature does not verify") from exc


def verify_issuer_keys(registrar_key: bytes, election_id: str, record: IssuerKeysRecord) -> None:
    verify_registrar_signature(registrar_key, ISSUER_KEYS_LABEL, election_id, record.body(),
                               record.signature)


# --- issuance records ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Issuance:
    """One credential a registrar issued: to whom, in which class, on whose word (the identity
    provider's attestation and its signature), for which blinded message (its SHA-256), and the
    blind signature it answered."""

    owner_id: str
    weight: int
    attestation: bytes  # the attestation's canonical bytes (crypto.attestation)
    attestation_signature: bytes
    blinded_digest: bytes
    blind_sig: bytes

    def __post_init__(self) -> None:
        if not self.owner_id or self.weight <= 0:
            raise DecodeError("an issuance names an owner and a positive weight")
        if len(self.attestation_signature) != SIGNATURE_LEN or len(self.blinded_digest) != 32:
            raise DecodeError("an attestation signature is 64 bytes, a digest 32")
        if not 0 < len(self.blind_sig) <= MAX_BLIND_SIG:
            raise DecodeError("a blind signature is 1..1024 bytes")

    def encode(self) -> bytes:
        return (lp(self.owner_id.encode()) + self.weight.to_bytes(8, "big")
                + lp(self.attestation) + self.attestation_signature + self.blinded_digest
                + lp(self.blind_sig))


@dataclass(frozen=True)
class IssuancesRecord:
    """A batch of one registrar's issuance records, ``seq`` 0, 1, 2, … per registrar and
    election; ``final`` marks its last batch (published after the close)."""

    registrar: str
    seq: int
    final: bool
    issuances: tuple[Issuance, ...]
    signature: bytes = b""

    def __post_init__(self) -> None:
        owners = [i.owner_id.encode() for i in self.issuances]
        if owners != sorted(set(owners)):
            raise DecodeError("a batch's issuances are ordered by owner id, each owner once")
        if len(owners) > MAX_BATCH or not 0 <= self.seq < 1 << 32:
            raise DecodeError("batch too large or sequence out of range")
        if self.signature and len(self.signature) != SIGNATURE_LEN:
            raise DecodeError("a registrar signature is 64 bytes")

    def body(self) -> bytes:
        return (lp(self.registrar.encode()) + self.seq.to_bytes(4, "big")
                + (b"\x01" if self.final else b"\x00") + len(self.issuances).to_bytes(4, "big")
                + b"".join(i.encode() for i in self.issuances))


def sign_issuances(key: Ed25519PrivateKey, election_id: str,
                   record: IssuancesRecord) -> IssuancesRecord:
    return IssuancesRecord(record.registrar, record.seq, record.final, record.issuances,
                           key.sign(_signed(ISSUANCES_LABEL, election_id, record.body())))


def encode_issuances(r: IssuancesRecord) -> bytes:
    if len(r.signature) != SIGNATURE_LEN:
        raise DecodeError("an issuances record is signed")
    return r.body() + r.signature


def decode_issuances(data: bytes) -> IssuancesRecord:
    def read(rd: Reader) -> IssuancesRecord:
        name, seq, final, m = rd.text(64), rd.uint(4), rd.uint(1), rd.uint(4)
        if final not in (0, 1):
            raise DecodeError("final is 0 or 1")
        if m > MAX_BATCH:
            raise DecodeError("batch too large")
        items = tuple(Issuance(rd.text(255), rd.uint(8), rd.lp(MAX_ATTESTATION),
                               rd.take(SIGNATURE_LEN), rd.take(32), rd.lp(MAX_BLIND_SIG))
                      for _ in range(m))
        return IssuancesRecord(name, seq, bool(final), items, rd.take(SIGNATURE_LEN))
    return decode_all(data, read)


def blinded_message_of(issuer: IssuerKey, blind_sig: bytes) -> bytes:
    """RSAVP1 (RFC 8017 §5.2.2) of a blind signature under the issuer key, as the modulus-length
    octet string (I2OSP): the blinded message that the signature answers. DecodeError for a
    signature of the wrong length or not below the modulus."""
    pk = blind_rsa.public_numbers(issuer.public_key)
    if len(blind_sig) != pk.modulus_len:
        raise DecodeError(f"a blind signature is {pk.modulus_len} bytes")
    s = blind_rsa.OS2IP(blind_sig)
    if not 0 < s < pk.n:
        raise DecodeError("a blind signature is a representative below the modulus")
    return blind_rsa.I2OSP(blind_rsa.RSAVP1(pk, s), pk.modulus_len)


def verify_issuance(election_id: str, identity_provider: bytes, issuer: IssuerKey,
                    item: Issuance, *, check: str = "issuance", not_expired_at: int = 0) -> None:
    """What one issuance record proves on its own (InvalidIssuance naming the check): the
    attestation is the identity provider's, for this election and this owner, authorising the
    record's blinded message (and not expired before ``not_expired_at``, when the election began
    issuing); the blind signature is the registrar's class key's on that blinded message."""
    try:
        att = decode_attestation(item.attestation)
    except DecodeError as exc:
        raise InvalidIssuance(f"{check}.attestation", str(exc)) from exc
    try:
        verify_attestation(Ed25519PublicKey.from_public_bytes(bytes(identity_provider)), att,
                           item.attestation_signature, now=not_expired_at,
                           election_id=election_id)
    except (InvalidSignature, AttestationRefused, ValueError) as exc:
        raise InvalidIssuance(f"{check}.attestation", str(exc)) from exc
    if att.owner_id != item.owner_id:
        raise InvalidIssuance(f"{check}.attestation", "the attestation is for another owner")
    if item.blinded_digest not in att.authorises:
        raise InvalidIssuance(f"{check}.blinded_digest",
                              "the attestation does not authorise this blinded message")
    try:
        blinded = blinded_message_of(issuer, item.blind_sig)
    except DecodeError as exc:
        raise InvalidIssuance(f"{check}.blind_sig", str(exc)) from exc
    if not hmac.compare_digest(hashlib.sha256(blinded).digest(), item.blinded_digest):
        raise InvalidIssuance(f"{check}.blind_sig",
                              "the blind signature is not the registrar's on this blinded message")


def verify_issuances(registrar_key: bytes, election_id: str, record: IssuancesRecord) -> None:
    """The registrar's signature over the batch (InvalidSignature)."""
    verify_registrar_signature(registrar_key, ISSUANCES_LABEL, election_id, record.body(),
                               record.signature)


def batch(registrar: str, seq: int, final: bool,
          issuances: Sequence[Issuance]) -> IssuancesRecord:
    """An unsigned batch of ``issuances`` in owner-id order (the only order it may have)."""
    return IssuancesRecord(registrar, seq, final,
                           tuple(sorted(issuances, key=lambda i: i.owner_id.encode())))
