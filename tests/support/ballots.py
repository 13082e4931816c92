"""An honest voter made by the crypto library alone: token key → blinded credential request →
blind signature → credential → encrypted ballot → signed cast ballot (docs/protocol.md §8).

Invariants: the steps run in exactly this order, and each random source is drawn only by its
steps — the blind-RSA byte source by the request (prefix, salt, blind), the scalar source by the
ballot's encryption — so seeded sources give the same bytes every time (the test vectors depend
on it); a ballot is bound to the key of the token that signs it. Every intermediate is kept, for
the callers that print or tamper with one.
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
    request_credential,
    token_public_bytes,
)
from crypto.group import random_scalar
from crypto.proofs import ScalarSource


@dataclass(frozen=True)
class Voter:
    """Everything one voter made on the way to a cast ballot, in the order made."""

    token: Ed25519PrivateKey
    request: CredentialRequest  # the phone's Blind state; ``blinded_msg`` went to the registrar
    blind_signature: bytes  # the registrar's answer
    credential: Credential
    cast: CastBallot

    @property
    def ballot(self) -> EncryptedBallot:
        return self.cast.ballot


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


def new_voter(election: ElectionContext, issuer: IssuerKey,
              issuer_private_key: rsa.RSAPrivateKey, choices: Sequence[int], *,
              token: Ed25519PrivateKey | None = None, blind_rng: blind_rsa.Rng | None = None,
              rng: ScalarSource | None = None) -> Voter:
    """The whole honest sequence: request (:func:`blinded_request`), issue under
    ``issuer_private_key``, finalize, then :func:`signed_ballot` for ``choices``."""
    token, request = blinded_request(issuer, token, blind_rng)
    blind_signature = issue_credential(issuer_private_key, request.blinded_msg)
    credential = finalize_credential(request, blind_signature)
    return Voter(token, request, blind_signature, credential,
                 signed_ballot(election, token, credential, choices, rng))
