"""Tests of crypto.group: P-256 arithmetic, canonical encodings and RFC 9380 hashing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError
from crypto.group import (
    FIELD_PRIME,
    IDENTITY,
    ORDER,
    POINT_LEN,
    SCALAR_LEN,
    G,
    base_mul,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
    expand_message_xmd,
    hash_to_field,
    hash_to_scalar,
    msm,
    mul,
    point_sum,
    random_scalar,
)
from tests.support.curve import curve_rhs, is_square, non_residue_xs

FAST = settings(max_examples=25, deadline=None)
scalars = st.integers(min_value=0, max_value=ORDER - 1)
nonzero_scalars = st.integers(min_value=1, max_value=ORDER - 1)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc9380.json").read_text())

P256_GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
P256_GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# --- constants --------------------------------------------------------------------------------

def test_curve_constants_are_p256():
    assert ORDER == P256_N
    assert FIELD_PRIME == 2**256 - 2**224 + 2**192 + 2**96 - 1
    assert encode_point(G) == bytes([2 + (P256_GY & 1)]) + P256_GX.to_bytes(32, "big")
    assert curve_rhs(P256_GX) == P256_GY * P256_GY % FIELD_PRIME
    assert POINT_LEN == 33 and SCALAR_LEN == 32


def test_order_times_generator_is_identity():
    assert base_mul(ORDER).is_infinite()
    assert base_mul(0).is_infinite()
    assert not base_mul(ORDER - 1).is_infinite()
    assert base_mul(ORDER - 1) == -G


# --- scalar encoding --------------------------------------------------------------------------

@FAST
@given(scalars)
def test_scalar_round_trip(k):
    data = encode_scalar(k)
    assert len(data) == SCALAR_LEN
    assert data == k.to_bytes(32, "big")
    assert decode_scalar(data) == k
    assert decode_scalar(bytearray(data)) == k


@pytest.mark.parametrize("value", [ORDER, ORDER + 1, 2**256 - 1])
def test_decode_scalar_rejects_unreduced(value):
    with pytest.raises(DecodeError):
        decode_scalar(value.to_bytes(32, "big"))


def test_decode_scalar_accepts_largest_reduced():
    assert decode_scalar((ORDER - 1).to_bytes(32, "big")) == ORDER - 1
    assert decode_scalar((ORDER - 1).to_bytes(32, "big"), nonzero=True) == ORDER - 1


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_decode_scalar_rejects_wrong_length(length):
    with pytest.raises(DecodeError):
        decode_scalar(b"\x01" * length)


def test_decode_scalar_zero():
    assert decode_scalar(bytes(32)) == 0
    with pytest.raises(DecodeError):
        decode_scalar(bytes(32), nonzero=True)
    assert decode_scalar((1).to_bytes(32, "big"), nonzero=True) == 1


def test_decode_scalar_rejects_non_bytes():
    with pytest.raises(DecodeError):
        decode_scalar("0" * 32)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, ORDER, ORDER + 5])
def test_encode_scalar_rejects_out_of_range(value):
    with pytest.raises(DecodeError):
        encode_scalar(value)


# --- point encoding ---------------------------------------------------------------------------

@FAST
@given(nonzero_scalars)
def test_point_round_trip(k):
    p = base_mul(k)
    data = encode_point(p)
    assert len(data) == POINT_LEN
    assert data[0] in (2, 3)
    q = decode_point(data)
    assert q == p
    assert encode_point(q) == data
    assert decode_point(bytearray(data)) == p


@FAST
@given(nonzero_scalars)
def test_prefix_selects_the_y_parity(k):
    """0x02/0x03 with the same x are P and -P: the prefix is not ignored."""
    p = base_mul(k)
    data = encode_point(p)
    flipped = bytes([data[0] ^ 1]) + data[1:]
    assert decode_point(flipped) == -p
    assert decode_point(flipped) != p


def test_encode_point_matches_cryptography_compressed_form():
    for k in (1, 2, 3, 12345, ORDER - 1):
        pub = ec.derive_private_key(k, ec.SECP256R1()).public_key()
        assert encode_point(base_mul(k)) == pub.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


@pytest.mark.parametrize("length", [0, 1, 32, 34, 65])
def test_decode_point_rejects_wrong_length(length):
    data = (encode_point(G) + bytes(64))[:length] if length else b""
    with pytest.raises(DecodeError):
        decode_point(data)


def test_decode_point_rejects_uncompressed_sec1():
    pub = ec.derive_private_key(7, ec.SECP256R1()).public_key()
    uncompressed = pub.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    assert len(uncompressed) == 65
    with pytest.raises(DecodeError):
        decode_point(uncompressed)


@pytest.mark.parametrize("prefix", [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0xFF])
def test_decode_point_rejects_bad_prefix(prefix):
    data = bytes([prefix]) + encode_point(G)[1:]
    with pytest.raises(DecodeError):
        decode_point(data)


@pytest.mark.parametrize("x", [FIELD_PRIME, FIELD_PRIME + 1, FIELD_PRIME + 3, 2**256 - 1])
@pytest.mark.parametrize("prefix", [2, 3])
def test_decode_point_rejects_unreduced_x(prefix, x):
    with pytest.raises(DecodeError):
        decode_point(bytes([prefix]) + x.to_bytes(32, "big"))


def test_decode_point_rejects_x_plus_p_alias():
    """x + p would reduce to the valid x of a real point: it must still be refused."""
    x = next(x for x in range(1, 100) if is_square(curve_rhs(x)))
    decode_point(bytes([2]) + x.to_bytes(32, "big"))  # x itself is a point
    alias = x + FIELD_PRIME
    assert alias < 2**256
    for prefix in (2, 3):
        with pytest.raises(DecodeError):
            decode_point(bytes([prefix]) + alias.to_bytes(32, "big"))


def test_x_equal_1_has_no_point():
    assert not is_square(curve_rhs(1))  # so "x = 1 with prefix 02" is an off-curve input


@pytest.mark.parametrize("x", non_residue_xs(4))
@pytest.mark.parametrize("prefix", [2, 3])
def test_decode_point_rejects_x_without_square_root(prefix, x):
    assert not is_square(curve_rhs(x))
    with pytest.raises(DecodeError):
        decode_point(bytes([prefix]) + x.to_bytes(32, "big"))


def test_decode_point_accepts_small_x_on_curve():
    """Positive control for the off-curve test: a small x that *is* on the curve decodes."""
    x = next(x for x in range(1, 100) if is_square(curve_rhs(x)))
    p = decode_point(bytes([2]) + x.to_bytes(32, "big"))
    assert encode_point(p)[1:] == x.to_bytes(32, "big")


def test_identity_has_no_encoding():
    with pytest.raises(DecodeError):
        encode_point(IDENTITY)
    with pytest.raises(DecodeError):
        encode_point(G + (-G))
    with pytest.raises(DecodeError):
        decode_point(b"\x00")  # the SEC1 encoding of the point at infinity
    with pytest.raises(DecodeError):
        decode_point(bytes(33))


def test_decode_point_rejects_non_bytes():
    with pytest.raises(DecodeError):
        decode_point(encode_point(G).hex())  # type: ignore[arg-type]


# --- arithmetic cross-checked against the `cryptography` package ------------------------------

@FAST
@given(nonzero_scalars, nonzero_scalars)
def test_mul_matches_cryptography_ecdh(k, d):
    p = base_mul(d)
    priv = ec.derive_private_key(k, ec.SECP256R1())
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encode_point(p))
    assert priv.exchange(ec.ECDH(), peer) == encode_point(mul(k, p))[1:]


@FAST
@given(nonzero_scalars)
def test_base_mul_matches_cryptography_public_key(k):
    pub = ec.derive_private_key(k, ec.SECP256R1()).public_key()
    expected = pub.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.CompressedPoint)
    assert encode_point(base_mul(k)) == expected
    assert encode_point(mul(k, G)) == expected


@FAST
@given(scalars, nonzero_scalars)
def test_mul_reduces_modulo_order(k, d):
    p = base_mul(d)
    assert mul(k + ORDER, p) == mul(k, p)
    assert mul(k - ORDER, p) == mul(k, p)
    assert mul(-k, p) == -mul(k, p)


@FAST
@given(nonzero_scalars, nonzero_scalars)
def test_scalar_mul_is_a_homomorphism(a, b):
    assert base_mul(a) + base_mul(b) == base_mul((a + b) % ORDER)
    assert mul(a, base_mul(b)) == base_mul(a * b % ORDER)


@FAST
@given(st.lists(st.tuples(st.integers(-ORDER, 2 * ORDER), nonzero_scalars), max_size=6))
def test_msm_equals_sum_of_muls(pairs):
    scalars_ = [s for s, _ in pairs]
    points = [base_mul(d) for _, d in pairs]
    expected = point_sum(mul(s, p) for s, p in zip(scalars_, points, strict=True))
    assert msm(scalars_, points) == expected
    expected_log = sum(s * d for s, d in pairs) % ORDER
    assert msm(scalars_, points) == base_mul(expected_log)


def test_msm_edge_cases():
    assert msm([], []).is_infinite()
    with pytest.raises(ValueError):
        msm([1, 2], [G])
    assert msm([3, -3], [G, G]).is_infinite()
    assert point_sum([]).is_infinite()


def test_random_scalar_range():
    seen = {random_scalar() for _ in range(200)}
    assert len(seen) == 200
    assert all(1 <= k < ORDER for k in seen)


# --- RFC 9380 hashing -------------------------------------------------------------------------

XMD = VECTORS["expand_message_xmd_sha256"]
H2F = VECTORS["hash_to_field_p256"]


def test_vector_file_is_not_empty():
    assert len(XMD["vectors"]) == 10
    assert len(H2F["vectors"]) >= 2
    assert H2F["modulus"] == "p" and H2F["count"] == 2 and H2F["L"] == 48


@pytest.mark.parametrize("vec", XMD["vectors"],
                         ids=lambda v: f"{v['msg'][:8]!r}-{v['len_in_bytes']}")
def test_expand_message_xmd_rfc9380_vectors(vec):
    out = expand_message_xmd(vec["msg"].encode(), XMD["DST"].encode(), vec["len_in_bytes"])
    assert out.hex() == vec["uniform_bytes"]


@pytest.mark.parametrize("vec", H2F["vectors"], ids=lambda v: repr(v["msg"][:8]))
def test_hash_to_field_p256_rfc9380_vectors(vec):
    u = hash_to_field(vec["msg"].encode(), H2F["count"], FIELD_PRIME, H2F["DST"].encode(),
                      H2F["L"])
    assert [x.to_bytes(32, "big").hex() for x in u] == vec["u"]


def test_expand_message_xmd_rejects_bad_parameters():
    with pytest.raises(ValueError):
        expand_message_xmd(b"m", b"", 32)  # empty DST
    with pytest.raises(ValueError):
        expand_message_xmd(b"m", b"x" * 256, 32)  # DST longer than 255
    with pytest.raises(ValueError):
        expand_message_xmd(b"m", b"dst", 255 * 32 + 1)  # ell > 255
    assert len(expand_message_xmd(b"m", b"x" * 255, 255 * 32)) == 255 * 32


def test_hash_to_scalar_definition():
    """hash_to_scalar = OS2IP(expand_message_xmd(msg, dst, 48)) mod q."""
    msg, dst = b"hello", b"ownervote-test-dst"
    uniform = expand_message_xmd(msg, dst, 48)
    assert hash_to_scalar(msg, dst) == int.from_bytes(uniform, "big") % ORDER
    # and expand_message_xmd itself agrees with a literal transcription of RFC 9380 §5.3.1
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(bytes(64) + msg + (48).to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    b1 = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    b2 = hashlib.sha256(bytes(x ^ y for x, y in zip(b0, b1, strict=True)) + b"\x02"
                        + dst_prime).digest()
    assert uniform == (b1 + b2)[:48]


@FAST
@given(st.binary(max_size=200))
def test_hash_to_scalar_deterministic_and_in_range(msg):
    a = hash_to_scalar(msg, b"dst-one")
    assert a == hash_to_scalar(msg, b"dst-one")
    assert 0 <= a < ORDER


@FAST
@given(st.binary(max_size=100), st.binary(min_size=1, max_size=60),
       st.binary(min_size=1, max_size=60))
def test_hash_to_scalar_domain_separated(msg, dst1, dst2):
    if dst1 == dst2:
        return
    assert hash_to_scalar(msg, dst1) != hash_to_scalar(msg, dst2)


@FAST
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_hash_to_scalar_message_sensitive(m1, m2):
    if m1 == m2:
        return
    assert hash_to_scalar(m1, b"dst") != hash_to_scalar(m2, b"dst")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=ORDER - 1))
def test_a_decoded_point_keeps_its_encoding_and_arithmetic_gives_plain_points(k):
    from petlib.ec import EcPt

    from crypto.group import DecodedPoint, is_identity

    p = base_mul(k)
    data = encode_point(p)
    q = decode_point(data)
    assert type(q) is DecodedPoint and q == p and q.encoding == data
    assert encode_point(q) == data == q.export()  # the kept bytes are its encoding
    for r in (q + q, -q, mul(3, q), q - q):
        assert type(r) is EcPt
    assert encode_point(q + q) == encode_point(p + p)
    assert is_identity(q - q) and not is_identity(q) and is_identity(IDENTITY)
    with pytest.raises(DecodeError):
        encode_point(q - q)
