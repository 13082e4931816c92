"""Sigma-protocol proofs made non-interactive with the strong Fiat–Shamir transcript.

Every proof carries its commitments (not the compact ``(c, z)`` form) so that many proofs can be
checked at once by a random linear combination (:class:`EquationBatch`). Equations, each of the
form ``z·Base == Commit + c·Public``:

* Schnorr (knowledge of x, X = x·G)           — ``z·G == R + c·X``
* Chaum–Pedersen / DLEQ (X = x·G, Y = x·H)      — ``z·G == R1 + c·X`` and ``z·H == R2 + c·Y``
* Disjunctive (CDS) "(alpha, beta) encrypts one of v_0..v_{k-1}" under K: for every branch j
  ``z_j·G == a_j + c_j·alpha`` and ``z_j·K == b_j + c_j·(beta - v_j·G)``, and
  ``sum(c_j) == challenge``. The 0/1 proof is the case (0, 1); the contest-limit proof is the
  case (min, ..., max) on the sum of a ballot's ciphertexts.

docs/protocol.md §5 gives the exact transcripts.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from petlib.ec import EcPt

from .elgamal import Ciphertext
from .errors import InvalidProof
from .group import IDENTITY, ORDER, G, base_mul, is_identity, msm, mul, random_scalar
from .transcript import Context, Transcript

ScalarSource = Callable[[], int]

LABEL_SCHNORR = "ownervote/v1/proof/schnorr"
LABEL_DLEQ = "ownervote/v1/proof/dleq"
LABEL_DISJUNCTIVE = "ownervote/v1/proof/disjunctive"


# --- batch verification ------------------------------------------------------------------------

class EquationBatch:
    """Accumulates equations ``sum_i s_i·P_i == O`` and checks a random linear combination.

    Each equation is multiplied by an independent 128-bit random weight; a false equation slips
    through with probability at most 2^-128 (P-256 has prime order, no small subgroups). Terms on
    the same point object are merged so a ballot costs one multi-scalar multiplication.
    """

    __slots__ = ("_terms", "_count")

    def __init__(self) -> None:
        self._terms: dict[int, list] = {}
        self._count = 0

    def add(self, terms: Sequence[tuple[int, EcPt]]) -> None:
        rho = secrets.randbits(128) | 1
        for s, p in terms:
            slot = self._terms.get(id(p))
            if slot is None:
                self._terms[id(p)] = [rho * s % ORDER, p]
            else:
                slot[0] = (slot[0] + rho * s) % ORDER
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def verify(self) -> None:
        scalars = [s for s, _ in self._terms.values()]
        points = [p for _, p in self._terms.values()]
        if not is_identity(msm(scalars, points)):
            raise InvalidProof("batch", "the combined proof equations do not hold")


def _check(what: str, z: int, base: EcPt, commit: EcPt, c: int, public: EcPt,
           batch: EquationBatch | None) -> None:
    """z·base == commit + c·public, directly or deferred into a batch."""
    if batch is not None:
        batch.add(((z, base), (-1, commit), (-c, public)))
    elif msm([z, -c], [base, public]) != commit:
        raise InvalidProof(what, "verification equation fails")


# --- Schnorr -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SchnorrProof:
    commitment: EcPt  # R = k·G
    response: int  # z = k + c·x


def _schnorr_challenge(context: Context, public: EcPt, commitment: EcPt) -> int:
    t = Transcript(LABEL_SCHNORR, context)
    t.append_point("G", G).append_point("X", public).append_point("R", commitment)
    return t.challenge()


def prove_schnorr(secret: int, public: EcPt, context: Context,
                  rng: ScalarSource = random_scalar) -> SchnorrProof:
    k = rng()
    commitment = base_mul(k)
    c = _schnorr_challenge(context, public, commitment)
    return SchnorrProof(commitment, (k + c * secret) % ORDER)


def verify_schnorr(proof: SchnorrProof, public: EcPt, context: Context,
                   what: str = "schnorr", batch: EquationBatch | None = None) -> None:
    _no_identity(what, public)
    c = _schnorr_challenge(context, public, proof.commitment)
    _check(what, proof.response, G, proof.commitment, c, public, batch)


# --- Chaum–Pedersen (DLEQ) ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DleqProof:
    commitment_g: EcPt  # R1 = k·G
    commitment_h: EcPt  # R2 = k·H
    response: int  # z = k + c·x


def _dleq_challenge(context: Context, x_pub: EcPt, h: EcPt, y_pub: EcPt, r1: EcPt, r2: EcPt) -> int:
    t = Transcript(LABEL_DLEQ, context)
    t.append_point("G", G).append_point("X", x_pub).append_point("H", h).append_point("Y", y_pub)
    t.append_point("R1", r1).append_point("R2", r2)
    return t.challenge()


def prove_dleq(secret: int, h: EcPt, context: Context,
               rng: ScalarSource = random_scalar) -> tuple[EcPt, EcPt, DleqProof]:
    """Prove log_G X = log_H Y for X = secret·G, Y = secret·H; returns (X, Y, proof)."""
    x_pub = base_mul(secret)
    y_pub = mul(secret, h)
    k = rng()
    r1, r2 = base_mul(k), mul(k, h)
    c = _dleq_challenge(context, x_pub, h, y_pub, r1, r2)
    return x_pub, y_pub, DleqProof(r1, r2, (k + c * secret) % ORDER)


def verify_dleq(proof: DleqProof, x_pub: EcPt, h: EcPt, y_pub: EcPt, context: Context,
                what: str = "dleq", batch: EquationBatch | None = None) -> None:
    _no_identity(what, x_pub, h, y_pub)
    c = _dleq_challenge(context, x_pub, h, y_pub, proof.commitment_g, proof.commitment_h)
    _check(what, proof.response, G, proof.commitment_g, c, x_pub, batch)
    _check(what, proof.response, h, proof.commitment_h, c, y_pub, batch)


# --- disjunctive (CDS) proof that a ciphertext encrypts one of a list of values -----------------

@dataclass(frozen=True, slots=True)
class DisjunctiveBranch:
    a: EcPt  # commitment on G
    b: EcPt  # commitment on K
    challenge: int
    response: int


@dataclass(frozen=True, slots=True)
class DisjunctiveProof:
    branches: tuple[DisjunctiveBranch, ...]


def _disjunctive_challenge(context: Context, public_key: EcPt, ct: Ciphertext,
                           values: Sequence[int], commits: Sequence[tuple[EcPt, EcPt]]) -> int:
    t = Transcript(LABEL_DISJUNCTIVE, context)
    t.append_point("G", G).append_point("K", public_key)
    t.append_point("alpha", ct.alpha).append_point("beta", ct.beta)
    t.append_int("k", len(values))
    for j, v in enumerate(values):
        t.append_int(f"v[{j}]", v)
    for j, (a, b) in enumerate(commits):
        t.append_point(f"a[{j}]", a).append_point(f"b[{j}]", b)
    return t.challenge()


def prove_disjunctive(public_key: EcPt, ct: Ciphertext, nonce: int, values: Sequence[int],
                      actual: int, context: Context,
                      rng: ScalarSource = random_scalar) -> DisjunctiveProof:
    """Prove ``ct = Enc_K(values[actual]; nonce)`` without revealing ``actual``."""
    if not 0 <= actual < len(values):
        raise ValueError("actual index out of range")
    k = len(values)
    commits: list[tuple[EcPt, EcPt]] = [(IDENTITY, IDENTITY)] * k
    cs = [0] * k
    zs = [0] * k
    for j in range(k):
        if j == actual:
            continue
        cs[j], zs[j] = rng(), rng()
        # simulated branch: a = z·G - c·alpha, b = z·K - c·(beta - v·G)
        commits[j] = (msm([zs[j], -cs[j]], [G, ct.alpha]),
                      msm([zs[j], -cs[j], cs[j] * values[j]], [public_key, ct.beta, G]))
    u = rng()
    commits[actual] = (base_mul(u), mul(u, public_key))
    c = _disjunctive_challenge(context, public_key, ct, values, commits)
    cs[actual] = (c - sum(cs)) % ORDER
    zs[actual] = (u + cs[actual] * nonce) % ORDER
    return DisjunctiveProof(tuple(DisjunctiveBranch(commits[j][0], commits[j][1], cs[j], zs[j])
                                  for j in range(k)))


def _no_identity(what: str, *points: EcPt) -> None:
    """Statements never contain the identity (it has no encoding, §2): refuse, don't crash."""
    if any(is_identity(p) for p in points):
        raise InvalidProof(what, "the statement contains the identity point")


def verify_disjunctive(proof: DisjunctiveProof, public_key: EcPt, ct: Ciphertext,
                       values: Sequence[int], context: Context, what: str = "disjunctive",
                       batch: EquationBatch | None = None) -> None:
    _no_identity(what, public_key, ct.alpha, ct.beta)
    if len(proof.branches) != len(values):
        raise InvalidProof(what, f"expected {len(values)} branches, got {len(proof.branches)}")
    c = _disjunctive_challenge(context, public_key, ct, values,
                               [(br.a, br.b) for br in proof.branches])
    if sum(br.challenge for br in proof.branches) % ORDER != c:
        raise InvalidProof(what, "branch challenges do not sum to the Fiat-Shamir challenge")
    for v, br in zip(values, proof.branches, strict=True):
        # z·G == a + c·alpha
        # z·K == b + c·(beta - v·G)   i.e.   z·K - b - c·beta + (c·v)·G == O
        if batch is not None:
            batch.add(((br.response, G), (-1, br.a), (-br.challenge, ct.alpha)))
            batch.add(((br.response, public_key), (-1, br.b), (-br.challenge, ct.beta),
                       (br.challenge * v, G)))
        else:
            if msm([br.response, -br.challenge], [G, ct.alpha]) != br.a:
                raise InvalidProof(what, "verification equation on G fails")
            if msm([br.response, -br.challenge, br.challenge * v],
                   [public_key, ct.beta, G]) != br.b:
                raise InvalidProof(what, "verification equation on K fails")
