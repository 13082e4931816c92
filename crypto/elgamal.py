"""Exponential ElGamal on P-256 (docs/protocol.md §4).

``Enc_K(m; r) = (alpha, beta) = (r·G, m·G + r·K)``. Ciphertexts add component-wise, which adds the
plaintexts; multiplying both components by a public integer multiplies the plaintext. Decryption
yields ``m·G``; the bounded discrete log in :mod:`crypto.dlog` recovers ``m``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from petlib.ec import EcPt

from .group import IDENTITY, G, base_mul, msm, mul, random_scalar


@dataclass(frozen=True, slots=True)
class Ciphertext:
    alpha: EcPt  # r·G
    beta: EcPt  # m·G + r·K

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)

    def __neg__(self) -> Ciphertext:
        return Ciphertext(-self.alpha, -self.beta)

    def __sub__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.alpha - other.alpha, self.beta - other.beta)

    def scale(self, w: int) -> Ciphertext:
        """The encryption of w·m (w a public integer, e.g. a weight class's area)."""
        return Ciphertext(mul(w, self.alpha), mul(w, self.beta))


ZERO = Ciphertext(IDENTITY, IDENTITY)  # the trivial encryption of 0; never sent on the wire


def encrypt(public_key: EcPt, m: int, r: int | None = None) -> tuple[Ciphertext, int]:
    """Encrypt the integer m; returns the ciphertext and the nonce r (kept secret for proofs)."""
    if r is None:
        r = random_scalar()
    return Ciphertext(base_mul(r), msm([m, r], [G, public_key])), r


def add_all(cts: Iterable[Ciphertext]) -> Ciphertext:
    """Homomorphic sum of any number of ciphertexts (the encryption of the plaintexts' sum)."""
    a = IDENTITY
    b = IDENTITY
    for ct in cts:
        a = a + ct.alpha
        b = b + ct.beta
    return Ciphertext(a, b)


def decrypt_to_point(secret_key: int, ct: Ciphertext) -> EcPt:
    """beta - s·alpha = m·G. For tests and single-key use; elections use threshold decryption."""
    return ct.beta - mul(secret_key, ct.alpha)

