"""Contests, encrypted ballots and their verification (docs/protocol.md §6).

A ballot holds one exponential-ElGamal ciphertext per option, each with a disjunctive proof that it
encrypts 0 or 1, and one contest-limit proof that the sum of the ciphertexts encrypts a value in
``[min_selections, max_selections]``. Every proof's Fiat–Shamir context binds the election id, the
election hash (contest definition and joint key), the voter's token public key and the proof's
position, so no proof can be moved to another ballot, position or election.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from petlib.ec import EcPt

from .elgamal import Ciphertext, add_all, encrypt
from .encoding import lp
from .errors import InvalidBallot, InvalidProof
from .group import encode_point, random_scalar
from .proofs import (
    DisjunctiveProof,
    EquationBatch,
    ScalarSource,
    prove_disjunctive,
    verify_disjunctive,
)
from .transcript import Context

TOKEN_KEY_LEN = 32  # raw Ed25519 public key
MAX_OPTIONS = 64
REFERENDUM_OPTIONS = ("approve", "oppose", "abstain")


class ContestKind(enum.Enum):
    REFERENDUM = "referendum"  # exactly one of approve / oppose / abstain
    COMMITTEE = "committee"  # choose between min and max of n candidates


@dataclass(frozen=True)
class Contest:
    kind: ContestKind
    options: tuple[str, ...]
    min_selections: int
    max_selections: int

    def __post_init__(self) -> None:
        n = len(self.options)
        if not 1 <= n <= MAX_OPTIONS:
            raise ValueError(f"a contest has 1..{MAX_OPTIONS} options")
        if len(set(self.options)) != n or any(not o for o in self.options):
            raise ValueError("option names must be non-empty and distinct")
        if not 0 <= self.min_selections <= self.max_selections <= n:
            raise ValueError("need 0 <= min_selections <= max_selections <= number of options")
        if self.kind is ContestKind.REFERENDUM and (
            self.options != REFERENDUM_OPTIONS or self.min_selections != 1
            or self.max_selections != 1
        ):
            raise ValueError("a referendum is exactly one of approve / oppose / abstain")

    @classmethod
    def referendum(cls) -> Contest:
        return cls(ContestKind.REFERENDUM, REFERENDUM_OPTIONS, 1, 1)

    @classmethod
    def committee(cls, candidates: Sequence[str], min_selections: int,
                  max_selections: int) -> Contest:
        return cls(ContestKind.COMMITTEE, tuple(candidates), min_selections, max_selections)

    @property
    def limit_values(self) -> tuple[int, ...]:
        return tuple(range(self.min_selections, self.max_selections + 1))

    def canonical_bytes(self) -> bytes:
        out = [lp(self.kind.value.encode()), len(self.options).to_bytes(4, "big")]
        out += [lp(o.encode()) for o in self.options]
        out += [self.min_selections.to_bytes(4, "big"), self.max_selections.to_bytes(4, "big")]
        return b"".join(out)


@dataclass(frozen=True)
class ElectionContext:
    """What a ballot is encrypted for: the election, its contest and the guardians' joint key."""

    election_id: str
    contest: Contest
    public_key: EcPt

    def __post_init__(self) -> None:
        if not self.election_id or len(self.election_id.encode()) > 128:
            raise ValueError("election id must be 1..128 bytes of UTF-8")

    @cached_property
    def hash(self) -> bytes:
        """SHA-256 of LP("ownervote/v1/election") || LP(id) || LP(contest) || LP(K)."""
        return hashlib.sha256(
            lp(b"ownervote/v1/election") + lp(self.election_id.encode())
            + lp(self.contest.canonical_bytes()) + lp(encode_point(self.public_key))
        ).digest()


@dataclass(frozen=True, slots=True)
class EncryptedSelection:
    ciphertext: Ciphertext
    proof: DisjunctiveProof  # encrypts 0 or 1


@dataclass(frozen=True)
class EncryptedBallot:
    election_id: str
    election_hash: bytes
    token_public_key: bytes
    selections: tuple[EncryptedSelection, ...]
    limit_proof: DisjunctiveProof  # sum of selections in [min, max]

    def total(self) -> Ciphertext:
        return add_all(s.ciphertext for s in self.selections)


def proof_context(election: ElectionContext, token_public_key: bytes, position: str) -> Context:
    return (
        ("election_id", election.election_id.encode()),
        ("election_hash", election.hash),
        ("token_public_key", bytes(token_public_key)),
        ("position", position.encode()),
    )


def encrypt_ballot(election: ElectionContext, token_public_key: bytes, choices: Sequence[int],
                   rng: ScalarSource = random_scalar) -> EncryptedBallot:
    """Encrypt the chosen option indexes with their proofs, bound to the token key."""
    contest = election.contest
    chosen = set(choices)
    if len(chosen) != len(choices) or any(not 0 <= c < len(contest.options) for c in chosen):
        raise ValueError("choices must be distinct option indexes")
    if not contest.min_selections <= len(chosen) <= contest.max_selections:
        raise ValueError(
            f"choose between {contest.min_selections} and {contest.max_selections} options")
    if len(token_public_key) != TOKEN_KEY_LEN:
        raise ValueError("token public key must be 32 bytes")
    selections = []
    nonce_sum = 0
    for i in range(len(contest.options)):
        m = 1 if i in chosen else 0
        ct, r = encrypt(election.public_key, m, rng())
        nonce_sum += r
        proof = prove_disjunctive(election.public_key, ct, r, (0, 1), m,
                                  proof_context(election, token_public_key, f"selection[{i}]"),
                                  rng)
        selections.append(EncryptedSelection(ct, proof))
    total = add_all(s.ciphertext for s in selections)
    limit_proof = prove_disjunctive(
        election.public_key, total, nonce_sum, contest.limit_values,
        len(chosen) - contest.min_selections,
        proof_context(election, token_public_key, "contest-limit"), rng)
    return EncryptedBallot(election.election_id, election.hash, bytes(token_public_key),
                           tuple(selections), limit_proof)


def verify_ballot(election: ElectionContext, ballot: EncryptedBallot) -> None:
    """Check a ballot's binding and every proof; raise :class:`InvalidBallot` naming the check.

    All proof equations are first checked together as one random linear combination; only if that
    fails are they re-checked one by one to name the failing proof.
    """
    _verify_ballot(election, ballot, batched=True)


def _verify_ballot(election: ElectionContext, ballot: EncryptedBallot, batched: bool) -> None:
    contest = election.contest
    if ballot.election_id != election.election_id:
        raise InvalidBallot("election_id", "ballot is for another election")
    if ballot.election_hash != election.hash:
        raise InvalidBallot("election_hash", "ballot was made for another contest or key")
    if len(ballot.token_public_key) != TOKEN_KEY_LEN:
        raise InvalidBallot("token_public_key", "must be 32 bytes")
    if len(ballot.selections) != len(contest.options):
        raise InvalidBallot("selections", f"expected {len(contest.options)} ciphertexts, "
                            f"got {len(ballot.selections)}")
    batch = EquationBatch() if batched else None
    key = election.public_key
    for i, sel in enumerate(ballot.selections):
        check = f"selection[{i}].proof"
        try:
            verify_disjunctive(sel.proof, key, sel.ciphertext, (0, 1),
                               proof_context(election, ballot.token_public_key, f"selection[{i}]"),
                               check, batch)
        except InvalidProof as exc:
            raise InvalidBallot(check, exc.detail) from exc
    try:
        verify_disjunctive(ballot.limit_proof, key, ballot.total(), contest.limit_values,
                           proof_context(election, ballot.token_public_key, "contest-limit"),
                           "limit_proof", batch)
    except InvalidProof as exc:
        raise InvalidBallot("limit_proof", exc.detail) from exc
    if batch is not None:
        try:
            batch.verify()
        except InvalidProof:
            _verify_ballot(election, ballot, batched=False)  # names the failing proof
            raise InvalidBallot("proofs", "batch check failed") from None
