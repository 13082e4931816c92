"""The prime-order group: NIST P-256 through petlib (``EcGroup(415)``, OpenSSL's NID for P-256).

Points are petlib ``EcPt`` values; scalars are Python ``int`` in ``[0, ORDER)``.

Canonical encodings (docs/protocol.md §2):

* point  — SEC1 §2.3.3 compressed form, 33 bytes: ``0x02|0x03 || X`` with X big-endian < p.
  The identity has no encoding: it is never valid on the wire.
* scalar — 32 bytes big-endian, strictly below the group order q.

``hash_to_scalar`` is RFC 9380 §5.2 ``hash_to_field`` with ``expand_message_xmd`` (§5.3.1),
SHA-256, L = 48, m = 1, count = 1, over the field of integers modulo q.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence

from petlib.bindings import _C
from petlib.bn import Bn, get_ctx
from petlib.ec import EcGroup, EcPt

from .errors import DecodeError

CURVE = EcGroup(415)  # NID_X9_62_prime256v1; petlib's default curve is NOT P-256
ORDER: int = int(CURVE.order())
FIELD_PRIME: int = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
G: EcPt = CURVE.generator()
IDENTITY: EcPt = CURVE.infinite()

POINT_LEN = 33
SCALAR_LEN = 32

Point = EcPt

assert CURVE.nid() == 415 and ORDER == int(
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16
), "petlib did not give P-256"


# --- arithmetic -------------------------------------------------------------------------------

def _bn(k: int) -> Bn:
    return Bn.from_binary((k % ORDER).to_bytes(SCALAR_LEN, "big"))


def base_mul(k: int) -> EcPt:
    """k·G."""
    return G.pt_mul(_bn(k))


def mul(k: int, p: EcPt) -> EcPt:
    """k·P."""
    return p.pt_mul(_bn(k))


def msm(scalars: Sequence[int], points: Sequence[EcPt]) -> EcPt:
    """Σ scalars[i]·points[i] in one multi-scalar multiplication (OpenSSL EC_POINTs_mul)."""
    if len(scalars) != len(points):
        raise ValueError("msm: length mismatch")
    if not points:
        return IDENTITY
    return CURVE.wsum([_bn(s) for s in scalars], list(points))


def is_identity(p: EcPt) -> bool:
    """Whether p is the identity: OpenSSL's EC_POINT_is_at_infinity. (petlib's ``is_infinite``
    compares with a fresh identity through ``__eq__``, which also compares the groups: ~8 µs,
    called dozens of times per ballot.)"""
    return _C.EC_POINT_is_at_infinity(CURVE.ecg, p.pt) == 1


def point_sum(points: Iterable[EcPt]) -> EcPt:
    acc = IDENTITY
    for p in points:
        acc = acc + p
    return acc


def random_scalar() -> int:
    """A uniformly random non-zero scalar from the operating system's CSPRNG."""
    return secrets.randbelow(ORDER - 1) + 1


# --- encodings (docs/protocol.md §2) ----------------------------------------------------------

class DecodedPoint(EcPt):
    """A point decoded from its canonical encoding, which it keeps: encode_point returns it
    instead of encoding the point again (a ballot's verification hashes every point it
    decoded). Arithmetic on it returns plain points; nothing in this project changes a point in
    place (petlib's ``*_inplace`` methods are never used), so the kept bytes stay its encoding."""

    __slots__ = ("encoding",)


def encode_point(p: EcPt) -> bytes:
    if type(p) is DecodedPoint:
        return p.encoding
    if is_identity(p):
        raise DecodeError("the identity point has no encoding")
    return p.export()  # POINT_CONVERSION_COMPRESSED


def decode_point(data: bytes) -> EcPt:
    """Decode a compressed SEC1 point (SEC1 §2.3.4); reject wrong length, bad prefix, x >= p,
    x with no square root (not on the curve)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != POINT_LEN:
        raise DecodeError(f"a point is {POINT_LEN} bytes")
    if data[0] not in (2, 3):
        raise DecodeError("a point must be SEC1-compressed (prefix 0x02 or 0x03)")
    if int.from_bytes(data[1:], "big") >= FIELD_PRIME:
        raise DecodeError("point x-coordinate is not reduced modulo p")
    data = bytes(data)
    p = DecodedPoint(CURVE)
    # EC_POINT_oct2point: OpenSSL decompresses (a square root mod p) and fails off the curve
    if not _C.EC_POINT_oct2point(CURVE.ecg, p.pt, data, POINT_LEN, get_ctx().bnctx) \
            or is_identity(p) or not CURVE.check_point(p):
        raise DecodeError("not a point on P-256")
    p.encoding = data
    return p


def encode_scalar(k: int) -> bytes:
    if not 0 <= k < ORDER:
        raise DecodeError("scalar out of range")
    return k.to_bytes(SCALAR_LEN, "big")


def decode_scalar(data: bytes, *, nonzero: bool = False) -> int:
    if not isinstance(data, (bytes, bytearray)) or len(data) != SCALAR_LEN:
        raise DecodeError(f"a scalar is {SCALAR_LEN} bytes")
    k = int.from_bytes(data, "big")
    if k >= ORDER:
        raise DecodeError("scalar is not reduced modulo the group order")
    if nonzero and k == 0:
        raise DecodeError("scalar must be non-zero")
    return k


# --- RFC 9380 hashing -------------------------------------------------------------------------

_B_IN_BYTES = 32  # SHA-256 output size (b_in_bytes)
_S_IN_BYTES = 64  # SHA-256 block size (s_in_bytes)


def I2OSP(x: int, length: int) -> bytes:  # noqa: N802 — RFC 8017 §4.1 name
    return x.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 §5.3.1 expand_message_xmd with H = SHA-256."""
    ell = -(-len_in_bytes // _B_IN_BYTES)
    if ell > 255 or len_in_bytes > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: length out of range")
    if not dst:
        raise ValueError("expand_message_xmd: empty DST")  # §3.1: tags MUST be non-empty
    dst_prime = dst + I2OSP(len(dst), 1)
    z_pad = bytes(_S_IN_BYTES)
    l_i_b_str = I2OSP(len_in_bytes, 2)
    msg_prime = z_pad + msg + l_i_b_str + I2OSP(0, 1) + dst_prime
    b_0 = hashlib.sha256(msg_prime).digest()
    b_i = hashlib.sha256(b_0 + I2OSP(1, 1) + dst_prime).digest()
    uniform = [b_i]
    for i in range(2, ell + 1):
        b_i = hashlib.sha256(bytes(x ^ y for x, y in zip(b_0, b_i, strict=True))
                             + I2OSP(i, 1) + dst_prime).digest()
        uniform.append(b_i)
    return b"".join(uniform)[:len_in_bytes]


def hash_to_field(msg: bytes, count: int, modulus: int, dst: bytes, L: int = 48) -> list[int]:  # noqa: N803
    """RFC 9380 §5.2 hash_to_field for a prime field (m = 1) using expand_message_xmd."""
    uniform = expand_message_xmd(msg, dst, count * L)
    return [int.from_bytes(uniform[L * i: L * (i + 1)], "big") % modulus for i in range(count)]


def hash_to_scalar(msg: bytes, dst: bytes) -> int:
    """A scalar mod q from RFC 9380 hash_to_field (L = 48 > 32 + 128/8, so the bias is < 2^-128)."""
    return hash_to_field(msg, 1, ORDER, dst)[0]
