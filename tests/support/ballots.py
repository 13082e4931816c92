"""An honest voter made by the crypto library alone: token key → one blinded credential request
per registrar → each registrar's blind signature → one credential carrying every registrar's
signature → encrypted ballot → signed cast ballot (docs/protocol.md §8).

Invariants: the steps run in exactly this order — every request (in the order the issuers are
given), then every blind signature, every finalization, the merge, the ballot — and each random
source is drawn only by its steps: the blind-RSA byte source by the requests (prefix, salt,
blind; the first issuer's request first), the scalar source by the ballot's encryption. Blind
signing and finalizing draw nothing, so seeded sources give the same bytes every time (the test
vectors depend on it); a ballot is bound to the key of the token that signs it. Every
intermediate is kept, for the callers that print or tamper with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto import blind_rsa
from crypto.ballot import ElectionContext, EncryptedBallot, encrypt_ballot
from crypto.cast import sign_ballot
from crypto.credential import (
    CastBallot,
    Credential,
    CredentialRequest,
    IssuerKey,
    finalize_credential,
    generate_token,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.group import random_scalar
from crypto.proofs import ScalarSource


@dataclass(frozen=True)
class Voter:
    """Everything one voter made on the way to a cast ballot, in the order made."""

    token: Ed25519PrivateKey
    #: the phone's Blind state per registrar, in the order the issuers were given; each
    #: ``blinded_msg`` went to its registrar
    requests: tuple[CredentialRequest, ...]
    blind_signatures: tuple[bytes, ...]  # each registrar's answer, in the same order
    credential: Credential  # every registrar's signature, merged
    cast: CastBallot

    @property
    def ballot(self) -> EncryptedBallot:
        return self.cast.ballot

    @property
    def request(self) -> CredentialRequest:
        """The one request of a voter of one registrar."""
        (request,) = self.requests
        return request

    @property
    def blind_signature(self) -> bytes:
        """The one blind signature of a voter of one registrar."""
        (blind_signature,) = self.blind_signatures
        return blind_signature


def blinded_request(issuer: IssuerKey, token: Ed25519PrivateKey | None = None,
                    rng: blind_rsa.Rng | None = None
                    ) -> tuple[Ed25519PrivateKey, CredentialRequest]:
    """The phone's first step: a token key (a fresh one unless given) and the blinded request
    of a credential for it under ``issuer`` (``rng``: the blind-RSA byte source)."""
    token = generate_token() if token is None else token
    return token, request_credential(issuer, token_public_bytes(token), rng)


def signed_ballot(election: ElectionContext, token: Ed25519PrivateKey, credential: Credential,
                  choices: Sequence[int], rng: ScalarSource | None = None,
                  counter: int = 1) -> CastBallot:
    """``choices`` encrypted (bound to the token's key) and signed by the token with revote
    counter ``counter``; with the voter's own token and credential and a higher counter, a
    revote."""
    ballot = encrypt_ballot(election, token_public_bytes(token), choices,
                            random_scalar if rng is None else rng)
    return sign_ballot(token, ballot, credential, counter)


def new_voter(election: ElectionContext, issuers: IssuerKey | Sequence[IssuerKey],
              issuer_private_keys: rsa.RSAPrivateKey | Sequence[rsa.RSAPrivateKey],
              choices: Sequence[int], *, token: Ed25519PrivateKey | None = None,
              blind_rng: blind_rsa.Rng | None = None,
              rng: ScalarSource | None = None) -> Voter:
    """The whole honest sequence with one registrar (``issuers`` one key, its private key) or
    several (a key per registrar, all of one class, and their private keys in the same order):
    a request for each (:func:`blinded_request`, one token), each issued under its private key,
    each finalized, the parts merged into one credential, then :func:`signed_ballot` for
    ``choices``."""
    keys = (issuers,) if isinstance(issuers, IssuerKey) else tuple(issuers)
    privates = ((issuer_private_keys,) if isinstance(issuer_private_keys, rsa.RSAPrivateKey)
                else tuple(issuer_private_keys))
    if not keys or len(keys) != len(privates):
        raise ValueError("one private key per issuer key, at least one")
    token = generate_token() if token is None else token
    requests = tuple(blinded_request(k, token, blind_rng)[1] for k in keys)
    blind_signatures = tuple(issue_credential(sk, q.blinded_msg)
                             for sk, q in zip(privates, requests, strict=True))
    credential = merge_credentials([finalize_credential(q, s) for q, s
                                    in zip(requests, blind_signatures, strict=True)])
    return Voter(token, requests, blind_signatures, credential,
                 signed_ballot(election, token, credential, choices, rng))
