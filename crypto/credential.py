"""Unlinkable voting credentials: RFC 9474 blind RSA over a token key (docs/protocol.md §8).

The phone generates a token key pair (Ed25519). The registrar, after checking the owner's
identity, blind-signs the credential message with the issuer key of the owner's weight class, so
the signature certifies the weight, while the registrar never sees the token key: it cannot link
the credential it issued to the ballot it later sees. One issuer key per (election, weight class);
the variant is RSABSSA-SHA384-PSS-Randomized (RFC 9474 §5, the RFC's recommended default).

    credential message = LP("ownervote/v1/credential") || LP(election_id) || u64(weight) || T
    prepared message   = msg_prefix (32 random bytes, RFC 9474 §4.1) || credential message
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import blind_rsa
from .ballot import TOKEN_KEY_LEN, EncryptedBallot
from .encoding import lp
from .errors import DecodeError, InvalidSignature, WeakIssuerKey

VARIANT = blind_rsa.RSABSSA_SHA384_PSS_RANDOMIZED
ISSUER_KEY_BITS = 2048
PUBLIC_EXPONENT = 65537


def generate_issuer_key(bits: int = ISSUER_KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


@dataclass(frozen=True)
class IssuerKey:
    """The public key that certifies one weight class of one election."""

    election_id: str
    weight: int  # exclusive area in 0.01 m²
    public_key: rsa.RSAPublicKey

    def __post_init__(self) -> None:
        check_issuer_public_key(self.public_key)

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


def issuer_key_from_spki(election_id: str, weight: int, spki: bytes) -> IssuerKey:
    """The issuer key whose canonical SubjectPublicKeyInfo DER is ``spki``: DecodeError for bytes
    that are not one, or not canonically encoded, WeakIssuerKey for a key below §8.2."""
    try:
        key = serialization.load_der_public_key(bytes(spki))
    except (ValueError, TypeError) as exc:
        raise DecodeError("an issuer key is a DER SubjectPublicKeyInfo") from exc
    issuer = IssuerKey(election_id, weight, key)
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
class Credential:
    election_id: str
    weight: int
    token_public_key: bytes  # T, raw Ed25519 public key
    msg_prefix: bytes  # 32 bytes, RFC 9474 §4.1 PrepareRandomize
    signature: bytes  # RSABSSA signature over msg_prefix || credential message

    @property
    def prepared_message(self) -> bytes:
        return self.msg_prefix + credential_message(self.election_id, self.weight,
                                                    self.token_public_key)


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
                      request.token_public_key, request.prepared_message[:blind_rsa.PREFIX_LEN],
                      sig)


def verify_credential(issuer: IssuerKey, credential: Credential) -> None:
    """RFC 9474 §4.5 Verify under the class key; raises InvalidSignature."""
    if credential.election_id != issuer.election_id or credential.weight != issuer.weight:
        raise InvalidSignature("credential is for another election or weight class")
    if len(credential.msg_prefix) != blind_rsa.PREFIX_LEN:
        raise InvalidSignature("credential msg_prefix must be 32 bytes")
    blind_rsa.verify(VARIANT, issuer.public_key, credential.prepared_message, credential.signature)


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
