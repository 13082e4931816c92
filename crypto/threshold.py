"""Threshold decryption with proofs (docs/protocol.md §7.4).

Guardian j publishes ``D_j = s_j·alpha`` for a ciphertext ``(alpha, beta)`` with a Chaum–Pedersen
proof that ``log_G V_j = log_alpha D_j`` (V_j its public verification key from the DKG). Any t
valid shares give ``m·G = beta - Σ_j λ_j·D_j`` with the Lagrange coefficients at 0 of the set of
guardians used. No secret key is ever assembled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from petlib.ec import EcPt

from .dkg import GuardianShare
from .elgamal import Ciphertext
from .errors import InsufficientShares, InvalidProof, InvalidShare
from .group import ORDER, encode_point, is_identity, msm
from .proofs import DleqProof, EquationBatch, ScalarSource, prove_dleq, random_scalar, verify_dleq
from .transcript import Context


@dataclass(frozen=True)
class DecryptionShare:
    guardian: int
    share: EcPt  # D_j = s_j·alpha
    proof: DleqProof


def _context(election_id: str, label: str, ct: Ciphertext, guardian: int) -> Context:
    return (("election_id", election_id.encode()), ("purpose", b"decryption-share"),
            ("label", label.encode()), ("alpha", encode_point(ct.alpha)),
            ("beta", encode_point(ct.beta)), ("guardian", guardian.to_bytes(4, "big")))


def is_trivial(ct: Ciphertext) -> bool:
    """alpha = O: the ciphertext is the public encryption ``(O, m·G)`` of ``m`` (e.g. the sum of
    no ballots); its plaintext point is ``beta`` and it needs no guardian."""
    return is_identity(ct.alpha)


def partial_decrypt(election_id: str, label: str, share: GuardianShare, ct: Ciphertext,
                    rng: ScalarSource = random_scalar) -> DecryptionShare:
    """``label`` names the ciphertext (e.g. ``option[0].area``) and is bound into the proof."""
    if is_trivial(ct):
        raise ValueError(f"{label}: a trivial ciphertext needs no decryption share")
    _, d, proof = prove_dleq(share.secret, ct.alpha,
                             _context(election_id, label, ct, share.index), rng)
    return DecryptionShare(share.index, d, proof)


def verify_decryption_share(election_id: str, label: str, verification_key: EcPt,
                            ct: Ciphertext, share: DecryptionShare,
                            batch: EquationBatch | None = None) -> None:
    if is_trivial(ct):
        raise InvalidShare(share.guardian, f"{label}: a trivial ciphertext takes no shares")
    try:
        verify_dleq(share.proof, verification_key, ct.alpha, share.share,
                    _context(election_id, label, ct, share.guardian),
                    f"decryption_share[{share.guardian}]", batch)
    except InvalidProof as exc:
        raise InvalidShare(share.guardian, f"{label}: bad decryption proof") from exc


def lagrange_at_zero(indexes: Sequence[int]) -> dict[int, int]:
    """λ_j = Π_{m ≠ j} m / (m - j) mod q for the interpolation set ``indexes``."""
    out = {}
    for j in indexes:
        num, den = 1, 1
        for m in indexes:
            if m != j:
                num = num * m % ORDER
                den = den * (m - j) % ORDER
        out[j] = num * pow(den, -1, ORDER) % ORDER
    return out


def combine_decryption_shares(ct: Ciphertext, shares: Sequence[DecryptionShare], t: int) -> EcPt:
    """m·G from at least t *already verified* shares of distinct guardians (uses the first t)."""
    distinct: dict[int, DecryptionShare] = {}
    for s in shares:
        distinct.setdefault(s.guardian, s)
    if len(distinct) < t:
        raise InsufficientShares(f"{len(distinct)} valid shares, need {t}")
    used = sorted(distinct)[:t]
    lam = lagrange_at_zero(used)
    combined = msm([lam[j] for j in used], [distinct[j].share for j in used])
    return ct.beta - combined


def threshold_decrypt(election_id: str, label: str, ct: Ciphertext,
                      shares: Sequence[DecryptionShare], verification_keys: Mapping[int, EcPt],
                      t: int) -> EcPt:
    """Verify every share (InvalidShare names a bad guardian), then combine any t of them.

    A trivial ciphertext (:func:`is_trivial`) decrypts to ``beta`` with no shares at all.
    """
    if is_trivial(ct):
        return ct.beta
    for s in shares:
        if s.guardian not in verification_keys:
            raise InvalidShare(s.guardian, "not a guardian of this election")
        verify_decryption_share(election_id, label, verification_keys[s.guardian], ct, s)
    return combine_decryption_shares(ct, shares, t)
