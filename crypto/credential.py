"""Unlinkable voting credentials: RFC 9474 blind RSA over a token key (docs/protocol.md §8).

The phone generates a token key pair (Ed25519). The registrar, after checking the owner's
identity, blind-signs the credential message with the issuer key of the owner's weight class, so
the signature certifies the weight, while the registrar never sees the token key: it cannot link
the credential it issued to the ballot it later sees. One issuer key per (election, weight class);
the variant is RSABSSA-SHA384-PSS-Randomized (RFC 9474 §5, the RFC's recommended default).

No single registrar can mint a ballot: an election names its registrars and a threshold k
(crypto.records.DefinitionRecord), each registrar keeps its own issuer key per weight class, and
a credential carries the blind signatures of at least k distinct registrars on one credential
message. The phone blinds that message for each registrar separately (a fresh message prefix and
a fresh blinding factor each), so each registrar sees an unrelated blinded message.

    credential message = LP("ownervote/v1/credential") || LP(election_id) || u64(weight) || T
    prepared message   = msg_prefix (32 random bytes, RFC 9474 §4.1) || credential message
                         (one per registrar signature)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import blind_rsa
from .ballot import TOKEN_KEY_LEN, EncryptedBallot
from .encoding import lp
from .errors import DecodeError, InvalidCredential, InvalidSignature, WeakIssuerKey

VARIANT = blind_rsa.RSABSSA_SHA384_PSS_RANDOMIZED
ISSUER_KEY_BITS = 2048
PUBLIC_EXPONENT = 65537


def generate_issuer_key(bits: int = ISSUER_KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


MAX_REGISTRARS = 16


@dataclass(frozen=True)
class IssuerKey:
    """The public key with which one registrar certifies one weight class of one election.
    ``registrar``: the registrar's index in the definition's sorted list (0-based)."""

    election_id: str
    weight: int  # exclusive area in 0.01 m²
    public_key: rsa.RSAPublicKey
    registrar: int = 0

    def __post_init__(self) -> None:
        check_issuer_public_key(self.public_key)
        if not 0 <= self.registrar < MAX_REGISTRARS:
            raise DecodeError(f"a registrar index is 0..{MAX_REGISTRARS - 1}")

    @cached_property
    def spki(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)

    @cached_property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.spki).digest()


def check_issuer_public_key(key: object) -> None:
    """An issuer key is RSA with a modulus of at least ISSUER_KEY_BITS bits and e = 65537
    (docs/protocol.md §8.2); WeakIssuerKey otherwise. Every verifier and the phone check it: a
    small modulus lets its holder forge, and a tiny or huge exponent is outside RFC 9474's
    analysis."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise WeakIssuerKey("an issuer key is an RSA public key")
    if key.key_size < ISSUER_KEY_BITS:
        raise WeakIssuerKey(f"an issuer key has at least {ISSUER_KEY_BITS} bits, "
                            f"not {key.key_size}")
    if key.public_numbers().e != PUBLIC_EXPONENT:
        raise WeakIssuerKey(f"an issuer key's public exponent is {PUBLIC_EXPONENT}")


def issuer_key_from_spki(election_id: str, weight: int, spki: bytes,
                         registrar: int = 0) -> IssuerKey:
    """The issuer key whose canonical SubjectPublicKeyInfo DER is ``spki``: DecodeError for bytes
    that are not one, or not canonically encoded, WeakIssuerKey for a key below §8.2."""
    try:
        key = serialization.load_der_public_key(bytes(spki))
    except (ValueError, TypeError) as exc:
        raise DecodeError("an issuer key is a DER SubjectPublicKeyInfo") from exc
    issuer = IssuerKey(election_id, weight, key, registrar)
    if issuer.spki != bytes(spki):
        raise DecodeError("an issuer key's DER is not canonical")
    return issuer


def credential_message(election_id: str, weight: int, token_public_key: bytes) -> bytes:
    if len(token_public_key) != TOKEN_KEY_LEN:
        raise ValueError("token public key must be 32 bytes")
    if not 0 < weight < 1 << 64:
        raise ValueError("weight must be a positive 64-bit integer")
    return (lp(b"ownervote/v1/credential") + lp(election_id.encode()) + weight.to_bytes(8, "big")
            + bytes(token_public_key))


@dataclass(frozen=True)
class IssuerSet:
    """Every registrar's issuer keys of one election and the threshold k of distinct registrars
    a credential needs (docs/protocol.md §8.2). ``keys``: registrar index -> weight -> key;
    a registrar that published no keys is absent."""

    election_id: str
    threshold: int
    keys: Mapping[int, Mapping[int, IssuerKey]]

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= MAX_REGISTRARS:
            raise DecodeError(f"a registrar threshold is 1..{MAX_REGISTRARS}")
        for r, by_weight in self.keys.items():
            for w, key in by_weight.items():
                if (key.election_id, key.weight, key.registrar) != (self.election_id, w, r):
                    raise DecodeError(f"registrar {r}'s key of class {w} certifies another "
                                      "class, registrar or election")

    def for_class(self, weight: int) -> dict[int, IssuerKey]:
        """Registrar index -> its issuer key of this class (registrars without one left out)."""
        return {r: ks[weight] for r, ks in sorted(self.keys.items()) if weight in ks}

    @property
    def weights(self) -> frozenset[int]:
        return frozenset(w for ks in self.keys.values() for w in ks)


@dataclass(frozen=True)
class CredentialSignature:
    """One registrar's signature in a credential: its index in the definition, the RFC 9474
    §4.1 message prefix the phone chose for it, and the RSABSSA signature over
    ``msg_prefix || credential message``."""

    registrar: int
    msg_prefix: bytes  # 32 bytes, RFC 9474 §4.1 PrepareRandomize
    signature: bytes


@dataclass(frozen=True)
class Credential:
    """A token's credential: one credential message, signed by one or more registrars (indices
    strictly increasing)."""

    election_id: str
    weight: int
    token_public_key: bytes  # T, raw Ed25519 public key
    signatures: tuple[CredentialSignature, ...]

    def __post_init__(self) -> None:
        regs = [s.registrar for s in self.signatures]
        if not 1 <= len(regs) <= MAX_REGISTRARS or regs != sorted(set(regs)):
            raise DecodeError("a credential has 1..16 signatures of distinct registrars, in "
                              "increasing order")
        if any(not 0 <= r < MAX_REGISTRARS for r in regs):
            raise DecodeError(f"a registrar index is 0..{MAX_REGISTRARS - 1}")

    @property
    def message(self) -> bytes:
        return credential_message(self.election_id, self.weight, self.token_public_key)

    @property
    def registrars(self) -> tuple[int, ...]:
        return tuple(s.registrar for s in self.signatures)


def merge_credentials(parts: Sequence[Credential]) -> Credential:
    """One credential from single-registrar ones on the same credential message (ValueError if
    they certify different messages or repeat a registrar)."""
    if not parts:
        raise ValueError("no credentials to merge")
    first = parts[0]
    if any((c.election_id, c.weight, c.token_public_key)
           != (first.election_id, first.weight, first.token_public_key) for c in parts):
        raise ValueError("the credentials certify different messages")
    sigs = sorted((s for c in parts for s in c.signatures), key=lambda s: s.registrar)
    try:
        return Credential(first.election_id, first.weight, first.token_public_key, tuple(sigs))
    except DecodeError as exc:
        raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class CredentialRequest:
    """The phone's private state between Blind and Finalize. ``blinded_msg`` goes to the
    registrar; ``inv`` and ``prepared_message`` never leave the device."""

    issuer: IssuerKey
    token_public_key: bytes
    prepared_message: bytes
    blinded_msg: bytes
    inv: int


def request_credential(issuer: IssuerKey, token_public_key: bytes,
                       rng: blind_rsa.Rng | None = None) -> CredentialRequest:
    """RFC 9474 §4.1 Prepare and §4.2 Blind, on the device."""
    msg = credential_message(issuer.election_id, issuer.weight, token_public_key)
    prepared = blind_rsa.prepare(VARIANT, msg, rng)
    blinded, inv = blind_rsa.blind(VARIANT, issuer.public_key, prepared, rng)
    return CredentialRequest(issuer, bytes(token_public_key), prepared, blinded, inv)


def issue_credential(issuer_private_key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3 BlindSign, at the registrar (which checks its output before answering)."""
    return blind_rsa.blind_sign(issuer_private_key, blinded_msg)


def finalize_credential(request: CredentialRequest, blind_sig: bytes) -> Credential:
    """RFC 9474 §4.4 Finalize, on the device; raises InvalidSignature on a bad blind signature."""
    sig = blind_rsa.finalize(VARIANT, request.issuer.public_key, request.prepared_message,
                             blind_sig, request.inv)
    return Credential(request.issuer.election_id, request.issuer.weight,
                      request.token_public_key, (CredentialSignature(
                          request.issuer.registrar,
                          request.prepared_message[:blind_rsa.PREFIX_LEN], sig),))


def verify_credential_signature(issuer: IssuerKey, credential: Credential,
                                signature: CredentialSignature) -> None:
    """RFC 9474 §4.5 Verify of one registrar's signature under its class key; InvalidSignature."""
    if credential.election_id != issuer.election_id or credential.weight != issuer.weight:
        raise InvalidSignature("credential is for another election or weight class")
    if signature.registrar != issuer.registrar:
        raise InvalidSignature("the signature is another registrar's")
    if len(signature.msg_prefix) != blind_rsa.PREFIX_LEN:
        raise InvalidSignature("credential msg_prefix must be 32 bytes")
    blind_rsa.verify(VARIANT, issuer.public_key, signature.msg_prefix + credential.message,
                     signature.signature)


def verify_credential(issuers: IssuerSet, credential: Credential) -> None:
    """A credential is valid when it carries valid signatures of at least ``threshold`` distinct
    registrars of the election, every one of them valid (docs/protocol.md §8.2). Raises
    InvalidCredential naming the check: ``credential.election_id``, ``credential.weight`` (no
    registrar has a key of the class), ``credential.signatures`` (fewer than k),
    ``credential.signatures[i].registrar`` (a registrar without a key of the class),
    ``credential.signatures[i].signature``."""
    if credential.election_id != issuers.election_id:
        raise InvalidCredential("credential.election_id", "credential is for another election")
    keys = issuers.for_class(credential.weight)
    if not keys:
        raise InvalidCredential("credential.weight", "no issuer key for this weight class")
    if len(credential.signatures) < issuers.threshold:
        raise InvalidCredential("credential.signatures",
                                f"{len(credential.signatures)} registrar signature(s), the "
                                f"election needs {issuers.threshold}")
    for i, sig in enumerate(credential.signatures):
        key = keys.get(sig.registrar)
        if key is None:
            raise InvalidCredential(f"credential.signatures[{i}].registrar",
                                    f"registrar {sig.registrar} has no issuer key of this class")
        try:
            verify_credential_signature(key, credential, sig)
        except InvalidSignature as exc:
            raise InvalidCredential(f"credential.signatures[{i}].signature", str(exc)) from exc


# --- the token key ------------------------------------------------------------------------------

def generate_token() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def token_public_bytes(token: Ed25519PrivateKey) -> bytes:
    return token.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class CastBallot:
    """What the phone sends: the encrypted ballot, its credential, its revote counter and the
    token's signature over the counter and the ballot (crypto.cast.ballot_signing_message)."""

    ballot: EncryptedBallot
    credential: Credential
    counter: int  # 1 for a token's first ballot, then strictly increasing (u32)
    signature: bytes  # Ed25519 by T over LP("ownervote/v1/ballot-signature-v2") || u32(counter)
    #                   || ballot bytes

    def __post_init__(self) -> None:
        if not isinstance(self.counter, int) or not 1 <= self.counter <= MAX_COUNTER:
            raise ValueError("a revote counter is 1..2^32-1")


MAX_COUNTER = (1 << 32) - 1
