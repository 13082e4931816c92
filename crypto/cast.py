"""Signing and checking a cast ballot: credential, token signature, proofs (docs/protocol.md §8)."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .ballot import ElectionContext, EncryptedBallot, verify_ballot
from .codec import encode_ballot
from .credential import CastBallot, Credential, IssuerKey, verify_credential
from .encoding import lp
from .errors import InvalidBallot, InvalidSignature


def ballot_signing_message(ballot: EncryptedBallot, ballot_bytes: bytes | None = None) -> bytes:
    """``ballot_bytes``: the ballot's canonical encoding when the caller has it already (decoding
    accepts only the canonical encoding, so these are exactly ``encode_ballot(ballot)``)."""
    return lp(b"ownervote/v1/ballot-signature") + (
        encode_ballot(ballot) if ballot_bytes is None else ballot_bytes)


def sign_ballot(token: Ed25519PrivateKey, ballot: EncryptedBallot,
                credential: Credential) -> CastBallot:
    return CastBallot(ballot, credential, token.sign(ballot_signing_message(ballot)))


def verify_token_signature(cast: CastBallot, ballot_bytes: bytes | None = None) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(cast.ballot.token_public_key).verify(
            cast.signature, ballot_signing_message(cast.ballot, ballot_bytes))
    except (_CryptographyInvalidSignature, ValueError) as exc:
        raise InvalidSignature("token signature over the ballot does not verify") from exc


def verify_cast_ballot(election: ElectionContext, issuers: Mapping[int, IssuerKey],
                       cast: CastBallot, *, ballot_bytes: bytes | None = None) -> None:
    """Everything a ballot box or auditor checks of one ballot; InvalidBallot names the check.

    ``issuers`` maps each weight class of the election to its issuer key; ``ballot_bytes`` the
    ballot's canonical bytes when they are at hand (crypto.codec.decode_cast_ballot_bytes),
    saving their re-encoding for the token signature.
    """
    cred = cast.credential
    if cred.election_id != election.election_id:
        raise InvalidBallot("credential.election_id", "credential is for another election")
    if cred.token_public_key != cast.ballot.token_public_key:
        raise InvalidBallot("credential.token_public_key", "credential certifies another token")
    issuer = issuers.get(cred.weight)
    if issuer is None:
        raise InvalidBallot("credential.weight", "no issuer key for this weight class")
    try:
        verify_credential(issuer, cred)
    except InvalidSignature as exc:
        raise InvalidBallot("credential.signature", str(exc)) from exc
    try:
        verify_token_signature(cast, ballot_bytes)
    except InvalidSignature as exc:
        raise InvalidBallot("signature", str(exc)) from exc
    verify_ballot(election, cast.ballot)
