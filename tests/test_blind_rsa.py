"""Tests of :mod:`crypto.blind_rsa` (RFC 9474 RSA blind signatures).

Known answers: ``tests/vectors/rfc9474.json`` holds the four test vectors of RFC 9474
Appendix A (A.1-A.4, one per variant), hex strings as printed there (no ``0x``; an empty
string for an absent ``msg_prefix`` or an empty ``salt``). Provenance: A.1-A.3 were
transcribed from the CFRG editor's copy of the draft (cfrg/draft-irtf-cfrg-blind-signatures,
``draft-irtf-cfrg-rsa-blind-signatures.txt``, Appendix A, same field names and values as the
RFC) and agree value for value with cloudflare/circl's ``test_vectors_rfc9474.json``. A.4's
``inv``/``blinded_msg``/``blind_sig`` follow circl's ``test_vectors_rfc9474.json`` and
jedisct1's RFC 9474 tests (that draft copy had another, equally consistent blind for A.4).
``test_vector_file_is_self_consistent`` re-derives every field from the key and the inputs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import blind_rsa as br
from crypto.errors import (
    BlindingError,
    BlindRsaError,
    DecodeError,
    EncodingError,
    InvalidInput,
    InvalidSignature,
    MessageRepresentativeOutOfRange,
    MessageTooLong,
    SigningFailure,
)

VECTORS: list[dict[str, str]] = json.loads(
    (Path(__file__).parent / "vectors" / "rfc9474.json").read_text()
)
VECTOR_IDS = [v["name"] for v in VECTORS]

FIELDS = [
    "name", "p", "q", "n", "e", "d", "msg", "msg_prefix", "prepared_msg", "salt",
    "encoded_msg", "inv", "blinded_msg", "blind_sig", "sig",
]  # fmt: skip


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def scripted_rng(*chunks: bytes) -> Callable[[int], bytes]:
    """An rng returning ``chunks`` in order; each request must ask for exactly that length."""
    queue = list(chunks)

    def rng(n: int) -> bytes:
        assert queue, f"unexpected rng({n}) call"
        chunk = queue.pop(0)
        assert len(chunk) == n, f"rng({n}) called, scripted {len(chunk)} bytes"
        return chunk

    rng.remaining = queue  # type: ignore[attr-defined]
    return rng


@cache
def vector_private_key(p: str, q: str, n: str, e: str, d: str) -> rsa.RSAPrivateKey:
    pi, qi, ni, ei, di = (int(x, 16) for x in (p, q, n, e, d))
    return rsa.RSAPrivateNumbers(
        p=pi,
        q=qi,
        d=di,
        dmp1=rsa.rsa_crt_dmp1(di, pi),
        dmq1=rsa.rsa_crt_dmq1(di, qi),
        iqmp=rsa.rsa_crt_iqmp(pi, qi),
        public_numbers=rsa.RSAPublicNumbers(ei, ni),
    ).private_key()


def key_of(v: dict[str, str]) -> rsa.RSAPrivateKey:
    return vector_private_key(v["p"], v["q"], v["n"], v["e"], v["d"])


def unmask_salt(encoded_msg: bytes, em_bits: int, salt_length: int) -> bytes:
    """The salt inside an EMSA-PSS encoding (RFC 8017 §9.1.2 steps 5, 7-9, 11)."""
    h_len = br.SHA384.digest_size
    em_len = len(encoded_msg)
    masked_db, hh = encoded_msg[: em_len - h_len - 1], encoded_msg[em_len - h_len - 1 : -1]
    db = bytearray(a ^ b for a, b in zip(masked_db, br.MGF1(hh, len(masked_db)), strict=True))
    db[0] &= 0xFF >> (8 * em_len - em_bits)
    ps_len = em_len - h_len - salt_length - 2
    assert not any(db[:ps_len]) and db[ps_len] == 0x01
    return bytes(db[ps_len + 1 :])


def cryptography_pss_verify(pk: rsa.RSAPublicKey, sig: bytes, msg: bytes, salt_length: int):
    """Standard RSASSA-PSS verification by ``cryptography`` (raises on failure)."""
    pk.verify(
        sig,
        msg,
        padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=salt_length),
        hashes.SHA384(),
    )


# --------------------------------------------------------------------------------------------
# Keys, generated once per module
# --------------------------------------------------------------------------------------------


# Hypothesis tests that use the module-scoped key fixtures (RSA is slow: no deadline).
WITH_KEY_FIXTURE = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}


@pytest.fixture(scope="module")
def sk() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_sk() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(variant: br.Variant, sk: rsa.RSAPrivateKey, msg: bytes) -> tuple[bytes, bytes]:
    """Run the whole protocol; returns (prepared message, signature)."""
    pk = sk.public_key()
    prepared = br.prepare(variant, msg)
    blinded_msg, inv = br.blind(variant, pk, prepared)
    blind_sig = br.blind_sign(sk, blinded_msg)
    return prepared, br.finalize(variant, pk, prepared, blind_sig, inv)


# --------------------------------------------------------------------------------------------
# RFC 9474 Appendix A
# --------------------------------------------------------------------------------------------


def test_vector_file_shape() -> None:
    assert [v["name"] for v in VECTORS] == [v.name for v in br.VARIANTS]
    for v in VECTORS:
        assert list(v) == FIELDS
        assert all(isinstance(x, str) for x in v.values())


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_vector_file_is_self_consistent(v: dict[str, str]) -> None:
    """Plain-int re-derivation of every field: catches a transcription error anywhere."""
    p, q, n, e, d = (int(v[x], 16) for x in ("p", "q", "n", "e", "d"))
    variant = br.VARIANTS_BY_NAME[v["name"]]
    k = (n.bit_length() + 7) // 8
    assert p * q == n and n.bit_length() == 4096 and e == 65537
    assert (e * d) % math.lcm(p - 1, q - 1) == 1
    assert len(h(v["msg_prefix"])) == (32 if variant.randomized else 0)
    assert h(v["prepared_msg"]) == h(v["msg_prefix"]) + h(v["msg"])
    assert len(h(v["salt"])) == variant.salt_length
    for f in ("encoded_msg", "blinded_msg", "blind_sig", "sig"):
        assert len(h(v[f])) == k, f
    m, inv = int(v["encoded_msg"], 16), int(v["inv"], 16)
    z = int(v["blinded_msg"], 16)
    r = pow(inv, -1, n)
    assert z == m * pow(r, e, n) % n
    assert int(v["blind_sig"], 16) == pow(z, d, n)
    s = int(v["blind_sig"], 16) * inv % n
    assert s == int(v["sig"], 16) and pow(s, e, n) == m


@pytest.mark.parametrize("v", VECTORS, ids=VECTOR_IDS)
def test_rfc9474_vector(v: dict[str, str]) -> None:
    variant = br.VARIANTS_BY_NAME[v["name"]]
    sk = key_of(v)
    pk = sk.public_key()
    n = int(v["n"], 16)
    k = (n.bit_length() + 7) // 8
    em_bits = n.bit_length() - 1

    # §4.1 Prepare, with the vector's msg_prefix as the randomness.
    rng = scripted_rng(h(v["msg_prefix"])) if variant.randomized else scripted_rng()
    prepared = br.prepare(variant, h(v["msg"]), rng=rng)
    assert prepared.hex() == v["prepared_msg"]
    assert rng.remaining == []  # type: ignore[attr-defined]

    # EMSA-PSS-ENCODE with the salt recovered from encoded_msg.
    salt = unmask_salt(h(v["encoded_msg"]), em_bits, variant.salt_length)
    assert salt.hex() == v["salt"]
    assert br.EMSA_PSS_ENCODE(prepared, em_bits, salt, br.SHA384).hex() == v["encoded_msg"]
    assert br.EMSA_PSS_VERIFY(prepared, h(v["encoded_msg"]), em_bits, len(salt)) is None

    # §4.2 Blind: the rng yields the salt (if any), then r = inv^-1 mod n.
    r = pow(int(v["inv"], 16), -1, n)
    rng = scripted_rng(*([salt] if salt else []), br.I2OSP(r, k))
    blinded_msg, inv = br.blind(variant, pk, prepared, rng=rng)
    assert rng.remaining == []  # type: ignore[attr-defined]
    assert blinded_msg.hex() == v["blinded_msg"]
    assert inv == int(v["inv"], 16)

    # §4.3 BlindSign, §4.4 Finalize, §4.5 verification.
    blind_sig = br.blind_sign(sk, blinded_msg)
    assert blind_sig.hex() == v["blind_sig"]
    sig = br.finalize(variant, pk, prepared, blind_sig, inv)
    assert sig.hex() == v["sig"]
    assert br.verify(variant, pk, prepared, sig) is None
    cryptography_pss_verify(pk, sig, prepared, variant.salt_length)


def test_blind_rejection_samples_r() -> None:
    """Draws >= n (after masking to bit_len(n) bits) and r = 0 are rejected and redrawn."""
    v = VECTORS[0]
    variant = br.VARIANTS_BY_NAME[v["name"]]
    n = int(v["n"], 16)
    k = (n.bit_length() + 7) // 8
    r = pow(int(v["inv"], 16), -1, n)
    rng = scripted_rng(h(v["salt"]), b"\xff" * k, br.I2OSP(n, k), bytes(k), br.I2OSP(r, k))
    blinded_msg, inv = br.blind(variant, key_of(v).public_key(), h(v["prepared_msg"]), rng=rng)
    assert rng.remaining == []  # type: ignore[attr-defined]
    assert blinded_msg.hex() == v["blinded_msg"]


# --------------------------------------------------------------------------------------------
# Round trips with a fresh 2048-bit key
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", br.VARIANTS, ids=lambda x: x.name)
def test_round_trip(variant: br.Variant, sk: rsa.RSAPrivateKey) -> None:
    pk = sk.public_key()
    msg = b"ballot eligibility token"
    prepared, sig = issue(variant, sk, msg)
    assert len(sig) == 256
    if variant.randomized:
        assert len(prepared) == 32 + len(msg) and prepared[32:] == msg
    else:
        assert prepared == msg
    assert br.verify(variant, pk, prepared, sig) is None
    cryptography_pss_verify(pk, sig, prepared, variant.salt_length)


@settings(max_examples=12, **WITH_KEY_FIXTURE)
@given(variant=st.sampled_from(br.VARIANTS), msg=st.binary(max_size=200))
def test_round_trip_property(variant: br.Variant, msg: bytes, sk: rsa.RSAPrivateKey) -> None:
    prepared, sig = issue(variant, sk, msg)
    assert br.verify(variant, sk.public_key(), prepared, sig) is None


def test_psszero_deterministic_is_deterministic(sk: rsa.RSAPrivateKey) -> None:
    variant = br.RSABSSA_SHA384_PSSZERO_DETERMINISTIC
    assert issue(variant, sk, b"m")[1] == issue(variant, sk, b"m")[1]
    # ... while the blinded messages are unlinkable (fresh r each time).
    pk = sk.public_key()
    assert br.blind(variant, pk, b"m")[0] != br.blind(variant, pk, b"m")[0]


def test_key_numbers_are_cached(sk: rsa.RSAPrivateKey) -> None:
    pk = sk.public_key()
    assert br.public_numbers(pk) is br.public_numbers(pk)
    assert br.private_numbers(sk) is br.private_numbers(sk)
    pub = br.public_numbers(pk)
    assert br.public_numbers(pub) is pub
    assert (pub.n, pub.e, pub.modulus_bits, pub.modulus_len) == (
        pk.public_numbers().n, 65537, 2048, 256,
    )  # fmt: skip
    assert "redacted" in repr(br.private_numbers(sk))
    assert str(br.private_numbers(sk).d) not in repr(br.private_numbers(sk))


# --------------------------------------------------------------------------------------------
# Negative cases: each raises its typed error
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issued(sk: rsa.RSAPrivateKey) -> dict[str, tuple[bytes, bytes]]:
    return {variant.name: issue(variant, sk, b"vote credential") for variant in br.VARIANTS}


@pytest.mark.parametrize("variant", br.VARIANTS, ids=lambda x: x.name)
def test_flipped_bit_in_signature(variant, sk, issued) -> None:
    prepared, sig = issued[variant.name]
    for bit in (0, 7, 8 * 100 + 3, 8 * len(sig) - 1):
        bad = bytearray(sig)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(InvalidSignature):
            br.verify(variant, sk.public_key(), prepared, bytes(bad))


@settings(max_examples=25, **WITH_KEY_FIXTURE)
@given(bit=st.integers(min_value=0, max_value=8 * 256 - 1))
def test_any_flipped_bit_is_rejected(bit: int, sk, issued) -> None:
    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    prepared, sig = issued[variant.name]
    bad = bytearray(sig)
    bad[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(InvalidSignature):
        br.verify(variant, sk.public_key(), prepared, bytes(bad))


@pytest.mark.parametrize("variant", br.VARIANTS, ids=lambda x: x.name)
def test_wrong_message(variant, sk, issued) -> None:
    prepared, sig = issued[variant.name]
    pk = sk.public_key()
    for other in (prepared + b"x", prepared[:-1], b"", bytes([prepared[0] ^ 1]) + prepared[1:]):
        with pytest.raises(InvalidSignature):
            br.verify(variant, pk, other, sig)


@pytest.mark.parametrize("variant", br.VARIANTS, ids=lambda x: x.name)
def test_signature_under_another_key(variant, other_sk, issued) -> None:
    prepared, sig = issued[variant.name]
    with pytest.raises(InvalidSignature):
        br.verify(variant, other_sk.public_key(), prepared, sig)


def test_wrong_length_signature(sk, issued) -> None:
    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    prepared, sig = issued[variant.name]
    pk = sk.public_key()
    for bad in (b"", sig[:-1], b"\x00" + sig, sig + b"\x00", sig[1:]):
        with pytest.raises(InvalidSignature):
            br.verify(variant, pk, prepared, bad)


def test_signature_representative_out_of_range(sk, issued) -> None:
    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    prepared, _ = issued[variant.name]
    pk = sk.public_key()
    n = pk.public_numbers().n
    for s in (n, n + 1, 2**2048 - 1):
        with pytest.raises(InvalidSignature):
            br.verify(variant, pk, prepared, br.I2OSP(s, 256))


def test_blinded_message_out_of_range(sk) -> None:
    n = sk.public_key().public_numbers().n
    for m in (n, n + 1, 2**2048 - 1):
        with pytest.raises(MessageRepresentativeOutOfRange):
            br.blind_sign(sk, br.I2OSP(m, 256))


def test_blinded_message_wrong_length(sk) -> None:
    for bad in (b"", b"\x01" * 255, b"\x00" * 257):
        with pytest.raises(DecodeError):
            br.blind_sign(sk, bad)


def test_corrupted_crt_parameters_give_signing_failure(sk) -> None:
    """A fault in the CRT computation (RFC 9474 §7.1) is caught by BlindSign's self-check."""
    good = sk.private_numbers()

    class FaultyKey:
        """A key object whose CRT exponent dP was corrupted (cryptography refuses to load it)."""

        def private_numbers(self) -> rsa.RSAPrivateNumbers:
            return rsa.RSAPrivateNumbers(
                p=good.p,
                q=good.q,
                d=good.d,
                dmp1=good.dmp1 ^ 2,
                dmq1=good.dmq1,
                iqmp=good.iqmp,
                public_numbers=good.public_numbers,
            )

    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    blinded_msg, _ = br.blind(variant, sk.public_key(), br.prepare(variant, b"m"))
    assert len(br.blind_sign(sk, blinded_msg)) == 256
    with pytest.raises(SigningFailure):
        br.blind_sign(FaultyKey(), blinded_msg)  # type: ignore[arg-type]
    corrupted_iqmp = br.PrivateNumbers(
        **{**vars(br.private_numbers(sk)), "iqmp": br.private_numbers(sk).iqmp + 1}
    )
    with pytest.raises(SigningFailure):
        br.blind_sign(corrupted_iqmp, blinded_msg)


def test_finalize_with_wrong_inv(sk) -> None:
    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    pk = sk.public_key()
    prepared = br.prepare(variant, b"m")
    blinded_msg, inv = br.blind(variant, pk, prepared)
    blind_sig = br.blind_sign(sk, blinded_msg)
    for bad_inv in (inv + 1, inv - 1, 1, 0):
        with pytest.raises(InvalidSignature):
            br.finalize(variant, pk, prepared, blind_sig, bad_inv)
    _, other_inv = br.blind(variant, pk, prepared)  # the inverse of another blinding
    with pytest.raises(InvalidSignature):
        br.finalize(variant, pk, prepared, blind_sig, other_inv)
    assert br.finalize(variant, pk, prepared, blind_sig, inv)


def test_finalize_blind_sig_wrong_length(sk) -> None:
    variant = br.RSABSSA_SHA384_PSS_RANDOMIZED
    pk = sk.public_key()
    prepared = br.prepare(variant, b"m")
    blinded_msg, inv = br.blind(variant, pk, prepared)
    blind_sig = br.blind_sign(sk, blinded_msg)
    for bad in (blind_sig[1:], b"\x00" + blind_sig, b""):
        with pytest.raises(DecodeError):
            br.finalize(variant, pk, prepared, bad, inv)


@pytest.mark.parametrize(
    ("signed_as", "verified_as"),
    [
        (br.RSABSSA_SHA384_PSSZERO_DETERMINISTIC, br.RSABSSA_SHA384_PSS_RANDOMIZED),
        (br.RSABSSA_SHA384_PSS_DETERMINISTIC, br.RSABSSA_SHA384_PSSZERO_RANDOMIZED),
    ],
    ids=lambda x: x.name,
)
def test_deterministic_signature_under_randomized_variant(signed_as, verified_as, sk, issued):
    """Salt lengths 0 and 48 are not interchangeable (RFC 9474 §6.2: one key per variant)."""
    prepared, sig = issued[signed_as.name]
    assert signed_as.salt_length != verified_as.salt_length
    with pytest.raises(InvalidSignature):
        br.verify(verified_as, sk.public_key(), prepared, sig)
    with pytest.raises(CryptographyInvalidSignature):
        cryptography_pss_verify(sk.public_key(), sig, prepared, verified_as.salt_length)


def test_vector_signature_under_other_salt_length() -> None:
    """The A.4 (PSSZERO) signature does not verify as A.1 (PSS, salt 48), and vice versa."""
    a1, a4 = VECTORS[0], VECTORS[3]
    pk = key_of(a1).public_key()
    with pytest.raises(InvalidSignature):
        br.verify(br.RSABSSA_SHA384_PSS_RANDOMIZED, pk, h(a4["prepared_msg"]), h(a4["sig"]))
    a3 = VECTORS[2]  # PSS-Deterministic: same prepared message as A.4, salt 48
    with pytest.raises(InvalidSignature):
        br.verify(br.RSABSSA_SHA384_PSSZERO_RANDOMIZED, pk, h(a3["prepared_msg"]), h(a3["sig"]))


# --- "encoding error" / "message too long" (RFC 8017 §9.1.1 steps 1 and 3) -----------------


def tiny_public_key(bits: int) -> rsa.RSAPublicKey:
    """A public key with a ``bits``-bit modulus (only its size matters here)."""
    return rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 1).public_key()


def test_encoding_error_with_tiny_modulus() -> None:
    # PSS: emLen = 64 < hLen + sLen + 2 = 98.  PSSZERO: emLen = 49 < 50.
    for variant in br.VARIANTS:
        bits = 512 if variant.salt_length else 392
        with pytest.raises(EncodingError):
            br.blind(variant, tiny_public_key(bits), b"msg", rng=lambda n: bytes(n))


@pytest.mark.parametrize("salt_length", [0, 48])
def test_emsa_pss_encode_length_boundary(salt_length: int) -> None:
    salt = bytes(range(salt_length))
    smallest = 8 * (48 + salt_length + 2)  # emLen = hLen + sLen + 2
    for em_bits in (smallest, smallest - 7):  # both give emLen = hLen + sLen + 2
        em = br.EMSA_PSS_ENCODE(b"m", em_bits, salt, br.SHA384)
        assert br.EMSA_PSS_VERIFY(b"m", em, em_bits, salt_length) is None
    with pytest.raises(EncodingError):
        br.EMSA_PSS_ENCODE(b"m", smallest - 8, salt, br.SHA384)
    with pytest.raises(InvalidSignature):  # EMSA-PSS-VERIFY step 3
        br.EMSA_PSS_VERIFY(b"m", bytes(48 + salt_length + 1), smallest - 8, salt_length)


def test_message_too_long() -> None:
    """SHA-384's 2^128-bit input limit cannot be reached; a hash with a small limit can."""
    tiny = br.HashFunction("sha384", 48, max_input_len=4)
    with pytest.raises(MessageTooLong):
        br.EMSA_PSS_ENCODE(b"12345", 4095, b"", tiny)
    assert br.EMSA_PSS_ENCODE(b"1234", 4095, b"", tiny)
    em = br.EMSA_PSS_ENCODE(b"1234", 4095, b"", br.SHA384)
    with pytest.raises(InvalidSignature):
        br.EMSA_PSS_VERIFY(b"12345", em, 4095, 0, tiny)


# --- "invalid input" and "blinding error" (RFC 9474 §4.2, §6.1) ----------------------------


def test_invalid_input_when_message_not_coprime_with_n() -> None:
    """A (bogus) public key n = 3pq: about one encoded message in three is divisible by 3."""
    v = VECTORS[0]
    n3 = 3 * int(v["n"], 16)
    pk3 = rsa.RSAPublicNumbers(65537, n3).public_key()
    variant = br.RSABSSA_SHA384_PSSZERO_DETERMINISTIC  # no salt: the encoding is a function
    em_bits = n3.bit_length() - 1
    msgs = (f"message {i}".encode() for i in range(200))
    msg = next(m for m in msgs if br.OS2IP(br.EMSA_PSS_ENCODE(m, em_bits, b"")) % 3 == 0)
    with pytest.raises(InvalidInput):
        br.blind(variant, pk3, msg, rng=lambda n: bytes(n))


def test_blinding_error_when_r_shares_a_factor_with_n() -> None:
    """The client drew r = p, a prime factor of n (RFC 9474 §6.1)."""
    v = VECTORS[2]  # PSS-Deterministic
    variant = br.VARIANTS_BY_NAME[v["name"]]
    n, p = int(v["n"], 16), int(v["p"], 16)
    k = (n.bit_length() + 7) // 8
    for r in (p, int(v["q"], 16), 2 * p):
        rng = scripted_rng(h(v["salt"]), br.I2OSP(r, k))
        with pytest.raises(BlindingError):
            br.blind(variant, key_of(v).public_key(), h(v["prepared_msg"]), rng=rng)


def test_broken_rng() -> None:
    v = VECTORS[3]  # PSSZERO: the rng is used only for r
    pk = key_of(v).public_key()
    variant = br.VARIANTS_BY_NAME[v["name"]]
    with pytest.raises(BlindingError):  # only zeros: r = 0 is never in [1, n)
        br.blind(variant, pk, b"m", rng=lambda n: bytes(n))
    with pytest.raises(ValueError):  # the rng must return exactly the requested length
        br.blind(variant, pk, b"m", rng=lambda n: bytes(n + 1))
    with pytest.raises(ValueError):
        br.prepare(br.RSABSSA_SHA384_PSS_RANDOMIZED, b"m", rng=lambda n: b"short")


def test_all_errors_are_blind_rsa_errors() -> None:
    for err in (
        MessageTooLong, EncodingError, InvalidInput, BlindingError,
        MessageRepresentativeOutOfRange, SigningFailure,
    ):  # fmt: skip
        assert issubclass(err, BlindRsaError)


# --------------------------------------------------------------------------------------------
# RFC 8017 primitives
# --------------------------------------------------------------------------------------------


@given(x=st.integers(min_value=0, max_value=2**520), extra=st.integers(0, 3))
def test_i2osp_os2ip_round_trip(x: int, extra: int) -> None:
    length = (x.bit_length() + 7) // 8 + extra
    assert br.OS2IP(br.I2OSP(x, length)) == x
    assert len(br.I2OSP(x, length)) == length
    if x:
        with pytest.raises(ValueError):
            br.I2OSP(x, (x.bit_length() + 7) // 8 - 1)


def test_i2osp_rejects_negative() -> None:
    with pytest.raises(ValueError):
        br.I2OSP(-1, 4)


def test_mgf1_prefix_property() -> None:
    long = br.MGF1(b"seed", 200)
    assert len(long) == 200
    assert br.MGF1(b"seed", 48) == long[:48] == br.SHA384(b"seed" + bytes(4))
    assert br.MGF1(b"seed", 0) == b""


@settings(max_examples=40, deadline=None)
@given(
    msg=st.binary(max_size=100),
    salt_length=st.sampled_from([0, 48]),
    em_bits=st.integers(min_value=8 * 98, max_value=4095),
    data=st.data(),
)
def test_emsa_pss_round_trip_and_tamper(msg, salt_length, em_bits, data) -> None:
    salt = data.draw(st.binary(min_size=salt_length, max_size=salt_length))
    em = br.EMSA_PSS_ENCODE(msg, em_bits, salt, br.SHA384)
    assert len(em) == (em_bits + 7) // 8
    assert br.EMSA_PSS_VERIFY(msg, em, em_bits, salt_length) is None
    bit = data.draw(st.integers(min_value=0, max_value=8 * len(em) - 1))
    bad = bytearray(em)
    bad[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(InvalidSignature):
        br.EMSA_PSS_VERIFY(msg, bytes(bad), em_bits, salt_length)


def test_rsasp1_rsavp1(sk) -> None:
    pub = br.public_numbers(sk.public_key())
    for m in (0, 1, 2, pub.n - 1, 0xDEADBEEF):
        s = br.RSASP1(sk, m)
        assert s == pow(m, sk.private_numbers().d, pub.n)
        assert br.RSAVP1(pub, s) == m
    with pytest.raises(MessageRepresentativeOutOfRange):
        br.RSASP1(sk, pub.n)
    with pytest.raises(MessageRepresentativeOutOfRange):
        br.RSASP1(sk, -1)
    with pytest.raises(InvalidSignature):
        br.RSAVP1(pub, pub.n)


def _names(variants: Iterable[br.Variant]) -> set[str]:
    return {v.name for v in variants}


def test_variants() -> None:
    assert (
        _names(br.VARIANTS)
        == set(br.VARIANTS_BY_NAME)
        == {
            "RSABSSA-SHA384-PSS-Randomized",
            "RSABSSA-SHA384-PSSZERO-Randomized",
            "RSABSSA-SHA384-PSS-Deterministic",
            "RSABSSA-SHA384-PSSZERO-Deterministic",
        }
    )
    for v in br.VARIANTS:
        assert v.hash is br.SHA384
        assert v.salt_length == (0 if "PSSZERO" in v.name else 48)
        assert v.randomized == v.name.endswith("Randomized")
    with pytest.raises(AttributeError):
        br.RSABSSA_SHA384_PSS_RANDOMIZED.salt_length = 0  # type: ignore[misc]
