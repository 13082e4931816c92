"""RSA blind signatures: RFC 9474 (RSABSSA) over the RFC 8017 (PKCS #1 v2.2) primitives.

Pure functions, no I/O. The RSA arithmetic works on Python ints; the modular exponentiations and
inversions go through GMP (``gmpy2``) when it is installed (a pinned dependency of the project),
else through Python's ``pow``, with identical results. ``cryptography`` supplies only the key
objects (``rsa.RSAPublicKey`` / ``rsa.RSAPrivateKey``, read through ``public_numbers()`` /
``private_numbers()``). Hashing is ``hashlib``.

The private operation (RSASP1, RFC 8017 §5.2.1) uses the Chinese Remainder Theorem (step 2b,
two half-size exponentiations with dP and dQ) and GMP's side-channel-resistant ``powmod_sec``,
releasing the GIL while it runs. Its output is checked before it leaves BlindSign (RFC 9474
§4.3 steps 3-4: RSAVP1(pk, s) == m), which catches a faulty CRT half before it can leak a
factor of n (RFC 9474 §7.1, fault attacks); the client-chosen message is RSA-blinded (RFC 9474
§7.1, timing side channels) before the exponentiation.

Protocol (RFC 9474 §4)::

    client: input_msg = prepare(variant, msg)                      # §4.1
            blinded_msg, inv = blind(variant, pk, input_msg)       # §4.2
    server: blind_sig = blind_sign(sk, blinded_msg)                # §4.3
    client: sig = finalize(variant, pk, input_msg, blind_sig, inv) # §4.4
    anyone: verify(variant, pk, input_msg, sig)                    # §4.5

``msg`` in blind/finalize/verify is always the *prepared* message. The output is a standard
RSASSA-PSS signature (SHA-384, MGF1-SHA-384, salt 48 or 0 bytes) over the prepared message.

Errors are the typed errors of :mod:`crypto.errors`, one per RFC 9474 error condition.
Verification never answers ``False``: it returns ``None`` or raises :class:`InvalidSignature`.
A byte string of the wrong length where the RFC fixes it ("unexpected input size") raises
:class:`DecodeError`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

try:  # GMP: ~8x faster modular exponentiation than Python ints for 1024-bit CRT halves
    import gmpy2
except ImportError:  # pragma: no cover - gmpy2 is a pinned dependency; pow() gives equal results
    gmpy2 = None

from crypto.errors import (
    BlindingError,
    DecodeError,
    EncodingError,
    InvalidInput,
    InvalidSignature,
    MessageRepresentativeOutOfRange,
    MessageTooLong,
    SigningFailure,
)

__all__ = [
    "Rng",
    "PREFIX_LEN",
    "HashFunction",
    "SHA384",
    "Variant",
    "RSABSSA_SHA384_PSS_RANDOMIZED",
    "RSABSSA_SHA384_PSSZERO_RANDOMIZED",
    "RSABSSA_SHA384_PSS_DETERMINISTIC",
    "RSABSSA_SHA384_PSSZERO_DETERMINISTIC",
    "VARIANTS",
    "VARIANTS_BY_NAME",
    "PublicNumbers",
    "PrivateNumbers",
    "public_numbers",
    "private_numbers",
    "I2OSP",
    "OS2IP",
    "RSAVP1",
    "RSASP1",
    "MGF1",
    "EMSA_PSS_ENCODE",
    "EMSA_PSS_VERIFY",
    "RSASSA_PSS_VERIFY",
    "prepare",
    "blind",
    "blind_sign",
    "finalize",
    "verify",
]

#: A source of random bytes: ``rng(n)`` returns exactly ``n`` bytes. Defaults to
#: :func:`secrets.token_bytes`; tests inject a deterministic one.
Rng = Callable[[int], bytes]

# RFC 9474 §4.1: the randomized preparation prefixes 32 random bytes.
PREFIX_LEN = 32

#: Whether the modular arithmetic runs on GMP (gmpy2) rather than Python ints.
HAVE_GMPY2 = gmpy2 is not None

# Give up sampling the blind r after this many out-of-range draws (each draw is accepted with
# probability > 1/2, so an honest rng never gets here; a broken one does not loop forever).
_MAX_BLIND_DRAWS = 128


# --------------------------------------------------------------------------------------------
# Hash and variants (RFC 9474 §5)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashFunction:
    """A hash function as used by EMSA-PSS (RFC 8017 §9.1): ``Hash`` with output ``hLen``."""

    name: str  # hashlib name
    digest_size: int  # hLen, in bytes
    max_input_len: int  # input limitation of the hash, in bytes (RFC 8017 §9.1.1 step 1)

    def __call__(self, data: bytes) -> bytes:
        return hashlib.new(self.name, data).digest()


#: SHA-384: hLen = 48; input limited to 2^128 - 1 bits (FIPS 180-4).
SHA384 = HashFunction("sha384", 48, (2**128 - 1) // 8)


@dataclass(frozen=True)
class Variant:
    """A named RSABSSA variant (RFC 9474 §5).

    All four use SHA-384 as the hash and MGF1 with SHA-384 as the mask generation function.
    """

    name: str
    hash: HashFunction
    salt_length: int  # sLen in bytes: 48 (PSS) or 0 (PSSZERO)
    randomized: bool  # True: PrepareRandomize (§4.1); False: PrepareIdentity


RSABSSA_SHA384_PSS_RANDOMIZED = Variant("RSABSSA-SHA384-PSS-Randomized", SHA384, 48, True)
RSABSSA_SHA384_PSSZERO_RANDOMIZED = Variant("RSABSSA-SHA384-PSSZERO-Randomized", SHA384, 0, True)
RSABSSA_SHA384_PSS_DETERMINISTIC = Variant("RSABSSA-SHA384-PSS-Deterministic", SHA384, 48, False)
RSABSSA_SHA384_PSSZERO_DETERMINISTIC = Variant(
    "RSABSSA-SHA384-PSSZERO-Deterministic", SHA384, 0, False
)

VARIANTS: tuple[Variant, ...] = (
    RSABSSA_SHA384_PSS_RANDOMIZED,
    RSABSSA_SHA384_PSSZERO_RANDOMIZED,
    RSABSSA_SHA384_PSS_DETERMINISTIC,
    RSABSSA_SHA384_PSSZERO_DETERMINISTIC,
)
VARIANTS_BY_NAME: dict[str, Variant] = {v.name: v for v in VARIANTS}


# --------------------------------------------------------------------------------------------
# Key numbers, extracted once per key object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicNumbers:
    """An RSA public key (n, e) as Python ints (RFC 8017 §3.1)."""

    n: int
    e: int

    @property
    def modulus_bits(self) -> int:
        """modBits: the bit length of n."""
        return self.n.bit_length()

    @property
    def modulus_len(self) -> int:
        """k (RFC 8017) / modulus_len (RFC 9474): the length of n in bytes."""
        return (self.n.bit_length() + 7) // 8

    @classmethod
    def from_key(cls, pk: rsa.RSAPublicKey) -> PublicNumbers:
        nums = pk.public_numbers()
        return cls(n=nums.n, e=nums.e)


@dataclass(frozen=True, repr=False)
class PrivateNumbers:
    """An RSA private key in CRT form (RFC 8017 §3.2, second representation, u = 2).

    ``iqmp`` is qInv = q^-1 mod p. The repr never shows the secret values.
    """

    public: PublicNumbers
    d: int
    p: int
    q: int
    dmp1: int  # dP = d mod (p - 1)
    dmq1: int  # dQ = d mod (q - 1)
    iqmp: int  # qInv = q^-1 mod p

    def __repr__(self) -> str:
        return f"PrivateNumbers(<{self.public.modulus_bits}-bit key, secret values redacted>)"

    @classmethod
    def from_key(cls, sk: Any) -> PrivateNumbers:
        """From any object with ``private_numbers()`` (an ``rsa.RSAPrivateKey``)."""
        nums = sk.private_numbers()
        pub = nums.public_numbers
        return cls(
            public=PublicNumbers(n=pub.n, e=pub.e),
            d=nums.d,
            p=nums.p,
            q=nums.q,
            dmp1=nums.dmp1,
            dmq1=nums.dmq1,
            iqmp=nums.iqmp,
        )


class _IdentityLru:
    """A small LRU cache keyed on object identity.

    ``cryptography``'s RSAPublicKey is neither hashable nor weak-referenceable, so
    ``functools.lru_cache`` cannot key on it. Each entry keeps a strong reference to its key
    object, so an ``id`` cannot be reused by another object while its entry is cached.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[int, tuple[object, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, obj: object, build: Callable[[Any], Any]) -> Any:
        key = id(obj)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] is obj:
                self._entries.move_to_end(key)
                return hit[1]
        value = build(obj)
        with self._lock:
            self._entries[key] = (obj, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return value


_PUBLIC_CACHE = _IdentityLru(maxsize=64)
_PRIVATE_CACHE = _IdentityLru(maxsize=16)


def public_numbers(pk: rsa.RSAPublicKey | PublicNumbers) -> PublicNumbers:
    """The (cached) :class:`PublicNumbers` of ``pk``; a ``PublicNumbers`` is returned as is."""
    if isinstance(pk, PublicNumbers):
        return pk
    return _PUBLIC_CACHE.get(pk, PublicNumbers.from_key)


def private_numbers(sk: rsa.RSAPrivateKey | PrivateNumbers) -> PrivateNumbers:
    """The (cached) :class:`PrivateNumbers` of ``sk``; a ``PrivateNumbers`` is returned as is."""
    if isinstance(sk, PrivateNumbers):
        return sk
    return _PRIVATE_CACHE.get(sk, PrivateNumbers.from_key)


# --------------------------------------------------------------------------------------------
# Modular arithmetic: GMP when available, Python ints otherwise (same values, always int out)
# --------------------------------------------------------------------------------------------


def _py_powmod(x: int, y: int, m: int) -> int:
    return pow(x, y, m)


def _py_invert(x: int, m: int) -> int:
    try:
        return pow(x, -1, m)
    except ValueError:
        raise ZeroDivisionError("not invertible") from None


def _gmp_powmod(x: int, y: int, m: int) -> int:
    """x^y mod m for a public exponent y >= 0 (variable time)."""
    return int(gmpy2.powmod(x, y, m))


def _gmp_powmod_secret(x: int, y: int, m: int) -> int:
    """x^y mod m for a secret exponent: GMP's mpz_powm_sec (time and memory accesses independent
    of y; it needs y > 0 and an odd m, which an RSA key's dP, dQ, p, q are). The GIL is released
    while it runs (gmpy2 >= 2.1, per-thread context), so a signature computed in a worker thread
    does not stall the event loop's thread."""
    if y <= 0 or not m & 1:  # not an RSA key's numbers: the generic routine, same value
        return int(gmpy2.powmod(x, y, m))
    with gmpy2.context(allow_release_gil=True):
        return int(gmpy2.powmod_sec(x, y, m))


def _gmp_invert(x: int, m: int) -> int:
    """x^-1 mod m; raises ZeroDivisionError if gcd(x, m) != 1."""
    return int(gmpy2.invert(x, m))


if gmpy2 is not None:
    _powmod, _powmod_secret, _invert = _gmp_powmod, _gmp_powmod_secret, _gmp_invert
else:  # pragma: no cover - exercised only without gmpy2
    _powmod, _powmod_secret, _invert = _py_powmod, _py_powmod, _py_invert


# --------------------------------------------------------------------------------------------
# RFC 8017 primitives
# --------------------------------------------------------------------------------------------


def I2OSP(x: int, x_len: int) -> bytes:
    """RFC 8017 §4.1: integer to octet string of length ``x_len`` (big-endian).

    Raises ``ValueError("integer too large")`` if x >= 256^x_len (or x is negative).
    """
    if x < 0 or x >= 1 << (8 * x_len):
        raise ValueError("integer too large")
    return x.to_bytes(x_len, "big")


def OS2IP(x: bytes) -> int:
    """RFC 8017 §4.2: octet string to non-negative integer (big-endian)."""
    return int.from_bytes(x, "big")


def RSAVP1(pk: rsa.RSAPublicKey | PublicNumbers, s: int) -> int:
    """RFC 8017 §5.2.2: m = s^e mod n.

    Raises :class:`InvalidSignature` ("signature representative out of range") unless
    0 <= s < n; RSASSA-PSS-VERIFY (§8.1.2 step 2b) turns that into "invalid signature".
    """
    pub = public_numbers(pk)
    if not 0 <= s < pub.n:
        raise InvalidSignature("signature representative out of range")
    return _powmod(s, pub.e, pub.n)  # 2.


def RSASP1(sk: rsa.RSAPrivateKey | PrivateNumbers, m: int) -> int:
    """RFC 8017 §5.2.1: s = m^d mod n, computed with the CRT (step 2b, u = 2).

    Raises :class:`MessageRepresentativeOutOfRange` unless 0 <= m < n (step 1). The two
    half-size exponentiations use the secret-exponent (constant-time) GMP routine. The result
    is not checked here: a fault in one CRT half gives an s that leaks a factor of n, so every
    caller that releases s must verify it first (RFC 9474 §7.1; BlindSign does, §4.3 steps 3-4).
    """
    priv = private_numbers(sk)
    if not 0 <= m < priv.public.n:
        raise MessageRepresentativeOutOfRange("message representative out of range")
    s1 = _powmod_secret(m % priv.p, priv.dmp1, priv.p)  # 2b.i   s_1 = m^dP mod p
    s2 = _powmod_secret(m % priv.q, priv.dmq1, priv.q)  #        s_2 = m^dQ mod q
    h = ((s1 - s2) * priv.iqmp) % priv.p  # 2b.iii h = (s_1 - s_2) * qInv mod p
    return s2 + priv.q * h  # 2b.iv  s = s_2 + q * h


def MGF1(seed: bytes, mask_len: int, hash: HashFunction = SHA384) -> bytes:
    """RFC 8017 Appendix B.2.1: MGF1 with the given hash."""
    h_len = hash.digest_size
    if mask_len > (1 << 32) * h_len:  # step 1
        raise ValueError("mask too long")
    t = bytearray()  # steps 2-3: T = T || Hash(mgfSeed || C), C = I2OSP(counter, 4)
    for counter in range(-(-mask_len // h_len)):
        t += hash(seed + I2OSP(counter, 4))
    return bytes(t[:mask_len])  # step 4


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def EMSA_PSS_ENCODE(msg: bytes, em_bits: int, salt: bytes, hash: HashFunction = SHA384) -> bytes:
    """RFC 8017 §9.1.1: EM = EMSA-PSS-ENCODE(M, emBits), MGF1 with ``hash``, sLen = len(salt).

    The salt is an input (step 4's "random octet string"), so the encoding is deterministic
    given it; the caller draws it. Raises :class:`MessageTooLong` (step 1) and
    :class:`EncodingError` (step 3).
    """
    h_len, s_len = hash.digest_size, len(salt)
    if len(msg) > hash.max_input_len:  # 1. input limitation of the hash
        raise MessageTooLong("message too long")
    m_hash = hash(msg)  # 2. mHash = Hash(M)
    em_len = -(-em_bits // 8)  # emLen = ceil(emBits / 8)
    if em_len < h_len + s_len + 2:  # 3.
        raise EncodingError("encoding error")
    m_prime = b"\x00" * 8 + m_hash + salt  # 5. M' = (0x)00 00 00 00 00 00 00 00 || mHash || salt
    h = hash(m_prime)  # 6. H = Hash(M')
    ps = b"\x00" * (em_len - s_len - h_len - 2)  # 7. PS
    db = ps + b"\x01" + salt  # 8. DB = PS || 0x01 || salt
    db_mask = MGF1(h, em_len - h_len - 1, hash)  # 9.
    masked_db = bytearray(_xor(db, db_mask))  # 10.
    masked_db[0] &= 0xFF >> (8 * em_len - em_bits)  # 11. clear the leftmost 8emLen - emBits bits
    return bytes(masked_db) + h + b"\xbc"  # 12. EM = maskedDB || H || 0xbc


def EMSA_PSS_VERIFY(
    msg: bytes, em: bytes, em_bits: int, salt_length: int, hash: HashFunction = SHA384
) -> None:
    """RFC 8017 §9.1.2: returns ``None`` for "consistent", raises :class:`InvalidSignature`
    ("inconsistent: ...") otherwise."""
    h_len, s_len = hash.digest_size, salt_length
    em_len = -(-em_bits // 8)
    if len(msg) > hash.max_input_len:  # 1.
        raise InvalidSignature("inconsistent: message too long")
    m_hash = hash(msg)  # 2.
    if em_len < h_len + s_len + 2 or len(em) != em_len:  # 3.
        raise InvalidSignature("inconsistent: encoded message length")
    if em[-1] != 0xBC:  # 4.
        raise InvalidSignature("inconsistent: trailer is not 0xbc")
    masked_db, h = em[: em_len - h_len - 1], em[em_len - h_len - 1 : -1]  # 5.
    top_mask = (0xFF << (8 - (8 * em_len - em_bits))) & 0xFF
    if masked_db[0] & top_mask:  # 6. leftmost 8emLen - emBits bits must be zero
        raise InvalidSignature("inconsistent: leftmost bits not zero")
    db_mask = MGF1(h, em_len - h_len - 1, hash)  # 7.
    db = bytearray(_xor(masked_db, db_mask))  # 8.
    db[0] &= 0xFF >> (8 * em_len - em_bits)  # 9.
    ps_len = em_len - h_len - s_len - 2
    if any(db[:ps_len]) or db[ps_len] != 0x01:  # 10. PS all zero, then 0x01
        raise InvalidSignature("inconsistent: bad padding")
    salt = bytes(db[len(db) - s_len :]) if s_len else b""  # 11.
    h_prime = hash(b"\x00" * 8 + m_hash + salt)  # 12.-13. H' = Hash(M')
    if not hmac.compare_digest(h, h_prime):  # 14.
        raise InvalidSignature("inconsistent: hash mismatch")


def RSASSA_PSS_VERIFY(
    pk: rsa.RSAPublicKey | PublicNumbers,
    msg: bytes,
    sig: bytes,
    salt_length: int,
    hash: HashFunction = SHA384,
) -> None:
    """RFC 8017 §8.1.2: returns ``None`` for "valid signature", raises :class:`InvalidSignature`."""
    pub = public_numbers(pk)
    mod_bits, k = pub.modulus_bits, pub.modulus_len
    if len(sig) != k:  # 1. length check
        raise InvalidSignature("invalid signature: length is not the modulus length")
    m = RSAVP1(pub, OS2IP(sig))  # 2a-2b (raises InvalidSignature if s >= n)
    em_len = -(-(mod_bits - 1) // 8)  # 2c. emLen = ceil((modBits - 1) / 8)
    try:
        em = I2OSP(m, em_len)
    except ValueError:
        raise InvalidSignature("invalid signature: integer too large") from None
    EMSA_PSS_VERIFY(msg, em, mod_bits - 1, salt_length, hash)  # 3.-4.


# --------------------------------------------------------------------------------------------
# RFC 9474 §4
# --------------------------------------------------------------------------------------------


def _random_bytes(rng: Rng | None, n: int) -> bytes:
    out = (rng or secrets.token_bytes)(n)
    if not isinstance(out, bytes | bytearray) or len(out) != n:
        raise ValueError(f"rng must return exactly {n} bytes")
    return bytes(out)


def _random_blind(rng: Rng | None, n: int) -> int:
    """random_integer_uniform(1, n) (RFC 9474 §3) by rejection sampling.

    Each draw is ``modulus_len`` bytes read big-endian, masked to bit_len(n) bits, and
    accepted iff 1 <= r < n. So an rng that returns ``I2OSP(r, modulus_len)`` yields that r.
    """
    k = (n.bit_length() + 7) // 8
    mask = (1 << n.bit_length()) - 1
    for _ in range(_MAX_BLIND_DRAWS):
        r = OS2IP(_random_bytes(rng, k)) & mask
        if 1 <= r < n:
            return r
    raise BlindingError("blinding error: no blind in [1, n) drawn; the rng is broken")


def prepare(variant: Variant, msg: bytes, rng: Rng | None = None) -> bytes:
    """RFC 9474 §4.1: Prepare.

    Randomized variants (PrepareRandomize): ``random(32) || msg``.
    Deterministic variants (PrepareIdentity): ``msg``.
    """
    if not variant.randomized:
        return bytes(msg)
    msg_prefix = _random_bytes(rng, PREFIX_LEN)  # 1. msg_prefix = random(32)
    return msg_prefix + bytes(msg)  # 2. input_msg = concat(msg_prefix, msg)


def blind(
    variant: Variant,
    pk: rsa.RSAPublicKey | PublicNumbers,
    msg: bytes,
    rng: Rng | None = None,
) -> tuple[bytes, int]:
    """RFC 9474 §4.2: Blind(pk, msg) -> (blinded_msg, inv).

    ``msg`` is the prepared message. ``rng`` is drawn first for the PSS salt (``salt_length``
    bytes, not drawn when 0) and then for r (``modulus_len`` bytes per draw).

    Raises :class:`MessageTooLong`, :class:`EncodingError` (from EMSA-PSS-ENCODE),
    :class:`InvalidInput` (encoded message not coprime with n: the key is invalid) and
    :class:`BlindingError` (r not invertible mod n: r shares a factor with n).
    """
    pub = public_numbers(pk)
    n, k = pub.n, pub.modulus_len
    salt = _random_bytes(rng, variant.salt_length) if variant.salt_length else b""
    # 1.-2. encoded_msg = EMSA-PSS-ENCODE(msg, bit_len(n) - 1) with Hash, MGF1, salt_len
    encoded_msg = EMSA_PSS_ENCODE(msg, pub.modulus_bits - 1, salt, variant.hash)
    m = OS2IP(encoded_msg)  # 3.
    if math.gcd(m, n) != 1:  # 4.-5. is_coprime(m, n)
        raise InvalidInput("invalid input: message representative not coprime with n")
    r = _random_blind(rng, n)  # 6. r = random_integer_uniform(1, n)
    if math.gcd(r, n) != 1:  # 7.-8. inverse_mod(r, n) fails
        raise BlindingError("blinding error: r is not invertible mod n")
    inv = _invert(r, n)
    x = RSAVP1(pub, r)  # 9.
    z = (m * x) % n  # 10.
    return I2OSP(z, k), inv  # 11.-12.


def _rsasp1_blinded(priv: PrivateNumbers, m: int) -> int:
    """RSASP1(sk, m) computed on m * u^e for a fresh random u, then unblinded by u^-1.

    RFC 9474 §7.1 (SHOULD): "RSA blinding" against timing side channels, since the blinded
    message is chosen by the client. The result equals RSASP1(sk, m).
    """
    n, e = priv.public.n, priv.public.e
    if not 0 <= m < n:  # RFC 8017 §5.2.1 step 1
        raise MessageRepresentativeOutOfRange("message representative out of range")
    while True:
        u = _random_blind(None, n)
        if math.gcd(u, n) == 1:
            break
    s_blinded = RSASP1(priv, (m * _powmod(u, e, n)) % n)  # (m * u^e)^d = m^d * u
    return (s_blinded * _invert(u, n)) % n


def blind_sign(sk: rsa.RSAPrivateKey | PrivateNumbers, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3: BlindSign(sk, blinded_msg) -> blind_sig.

    Raises :class:`DecodeError` if ``len(blinded_msg) != modulus_len``,
    :class:`MessageRepresentativeOutOfRange` if it encodes an integer >= n, and
    :class:`SigningFailure` if the signature does not verify (RFC 9474 §7.1: fault attacks).
    """
    priv = private_numbers(sk)
    pub = priv.public
    k = pub.modulus_len
    if len(blinded_msg) != k:
        raise DecodeError(f"unexpected input size: blinded_msg is {len(blinded_msg)} bytes")
    m = OS2IP(blinded_msg)  # 1.
    s = _rsasp1_blinded(priv, m)  # 2. s = RSASP1(sk, m)
    if RSAVP1(pub, s) != m:  # 3.-4. m' = RSAVP1(pk, s); m != m' -> "signing failure"
        raise SigningFailure("signing failure")
    return I2OSP(s, k)  # 5.-6.


def finalize(
    variant: Variant,
    pk: rsa.RSAPublicKey | PublicNumbers,
    msg: bytes,
    blind_sig: bytes,
    inv: int,
) -> bytes:
    """RFC 9474 §4.4: Finalize(pk, msg, blind_sig, inv) -> sig, verified before it is returned.

    ``msg`` is the prepared message. Raises :class:`DecodeError` ("unexpected input size") if
    ``len(blind_sig) != modulus_len`` and :class:`InvalidSignature` if the result does not
    verify.
    """
    pub = public_numbers(pk)
    k = pub.modulus_len
    if len(blind_sig) != k:  # 1.
        raise DecodeError(f"unexpected input size: blind_sig is {len(blind_sig)} bytes")
    z = OS2IP(blind_sig)  # 2.
    s = (z * inv) % pub.n  # 3.
    sig = I2OSP(s, k)  # 4.
    verify(variant, pub, msg, sig)  # 5.-6. RSASSA-PSS-VERIFY, raises "invalid signature"
    return sig


def verify(
    variant: Variant,
    pk: rsa.RSAPublicKey | PublicNumbers,
    msg: bytes,
    sig: bytes,
) -> None:
    """RFC 9474 §4.5: RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) of ``sig`` over the prepared ``msg``.

    Returns ``None`` if valid; raises :class:`InvalidSignature` otherwise (including a
    signature whose length is not the modulus length).
    """
    RSASSA_PSS_VERIFY(pk, msg, sig, variant.salt_length, variant.hash)
