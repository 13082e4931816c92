"""Signing and checking a cast ballot: credential, token signature, proofs (docs/protocol.md §8)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .ballot import ElectionContext, EncryptedBallot, verify_ballot
from .codec import encode_ballot
from .credential import MAX_COUNTER, CastBallot, Credential, IssuerSet, verify_credential
from .encoding import lp
from .errors import InvalidBallot, InvalidSignature

SIGNATURE_LABEL = b"ownervote/v1/ballot-signature-v2"


def ballot_signing_message(ballot: EncryptedBallot, counter: int,
                           ballot_bytes: bytes | None = None) -> bytes:
    """``LP("ownervote/v1/ballot-signature-v2") || u32(counter) || ballot``: the token signs its
    revote counter with the ballot, so nobody but the token can order its ballots.
    ``ballot_bytes``: the ballot's canonical encoding when the caller has it already (decoding
    accepts only the canonical encoding, so these are exactly ``encode_ballot(ballot)``)."""
    if not 1 <= counter <= MAX_COUNTER:
        raise ValueError("a revote counter is 1..2^32-1")
    return lp(SIGNATURE_LABEL) + counter.to_bytes(4, "big") + (
        encode_ballot(ballot) if ballot_bytes is None else ballot_bytes)


def sign_ballot(token: Ed25519PrivateKey, ballot: EncryptedBallot,
                credential: Credential, counter: int = 1) -> CastBallot:
    """The cast ballot of ``ballot`` with revote counter ``counter`` (1 for the token's first
    ballot; every later one of the same token needs a higher counter to be accepted)."""
    return CastBallot(ballot, credential, counter,
                      token.sign(ballot_signing_message(ballot, counter)))


def verify_token_signature(cast: CastBallot, ballot_bytes: bytes | None = None) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(cast.ballot.token_public_key).verify(
            cast.signature, ballot_signing_message(cast.ballot, cast.counter, ballot_bytes))
    except (_CryptographyInvalidSignature, ValueError) as exc:
        raise InvalidSignature("token signature over the ballot does not verify") from exc


def verify_cast_ballot(election: ElectionContext, issuers: IssuerSet,
                       cast: CastBallot, *, ballot_bytes: bytes | None = None) -> None:
    """Everything a ballot box or auditor checks of one ballot; InvalidBallot names the check.

    ``issuers``: every registrar's issuer keys and the threshold k (a credential needs valid
    signatures of k distinct registrars); ``ballot_bytes`` the ballot's canonical bytes when
    they are at hand (crypto.codec.decode_cast_ballot_bytes), saving their re-encoding for the
    token signature.
    """
    cred = cast.credential
    if cred.election_id != election.election_id:
        raise InvalidBallot("credential.election_id", "credential is for another election")
    if cred.token_public_key != cast.ballot.token_public_key:
        raise InvalidBallot("credential.token_public_key", "credential certifies another token")
    verify_credential(issuers, cred)
    try:
        verify_token_signature(cast, ballot_bytes)
    except InvalidSignature as exc:
        raise InvalidBallot("signature", str(exc)) from exc
    verify_ballot(election, cast.ballot)
