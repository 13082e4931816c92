"""Distributed key generation for t-of-n guardians (docs/protocol.md §7).

Pedersen's DKG ("Joint-Feldman"): every guardian deals a random polynomial of degree t-1 with
Feldman commitments to its coefficients and a Schnorr proof for the constant term, and sends each
guardian its share encrypted to that guardian's key (ECDH on P-256, HKDF-SHA256, AES-256-GCM).
A guardian who receives a bad share files a *publicly verifiable* complaint: it reveals the ECDH
point with a DLEQ proof, so anyone can decrypt that one share and judge. A dealer with a bad
public dealing or an upheld complaint is disqualified. The joint public key is the sum of the
qualified dealers' constant-term commitments; guardian j's secret share is the sum of the qualified
dealers' shares for j, and its verification key ``V_j = s_j·G`` is computable by anyone from the
commitments. The joint secret key is never reconstructed.

On the bias of Joint-Feldman (Gennaro, Jarecki, Krawczyk, Rabin, EUROCRYPT '99): a rushing dealer
can bias the distribution of the joint key by getting itself disqualified; Gennaro et al.,
CT-RSA 2003 ("Secure applications of Pedersen's distributed key generation protocol") prove that
threshold ElGamal encryption stays secure with this DKG, which is how it is used here.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from petlib.ec import EcPt

from .encoding import lp
from .errors import DecodeError, DkgError, InvalidProof, InvalidShare
from .group import (
    ORDER,
    base_mul,
    decode_scalar,
    encode_point,
    encode_scalar,
    msm,
    mul,
    point_sum,
    random_scalar,
)
from .proofs import (
    DleqProof,
    ScalarSource,
    SchnorrProof,
    prove_dleq,
    prove_schnorr,
    verify_dleq,
    verify_schnorr,
)
from .transcript import Context

MAX_GUARDIANS = 255


@dataclass(frozen=True)
class DkgParameters:
    election_id: str
    n: int  # guardians, indexed 1..n
    t: int  # threshold: any t can decrypt, fewer learn nothing

    def __post_init__(self) -> None:
        if not 1 <= self.t <= self.n <= MAX_GUARDIANS:
            raise ValueError("need 1 <= t <= n <= 255")
        if not self.election_id:
            raise ValueError("election id must not be empty")

    def check_index(self, i: int, what: str = "guardian") -> None:
        if not 1 <= i <= self.n:
            raise DkgError(f"{what} index {i} outside 1..{self.n}")


def _ctx(params: DkgParameters, purpose: str, *items: tuple[str, bytes]) -> Context:
    return (("election_id", params.election_id.encode()), ("purpose", purpose.encode()),
            ("n", params.n.to_bytes(4, "big")), ("t", params.t.to_bytes(4, "big")), *items)


def _u32(i: int) -> bytes:
    return i.to_bytes(4, "big")


# --- round 0: each guardian's encryption key -------------------------------------------------

@dataclass(frozen=True)
class GuardianPublicKey:
    index: int
    encryption_key: EcPt  # E_i = e_i·G, receives the DKG shares
    proof: SchnorrProof  # possession of e_i


def guardian_fingerprint(election_id: str, key: GuardianPublicKey) -> bytes:
    """What a trust bundle pins of a guardian (crypto/log/trust.py): SHA-256 of
    ``LP("ownervote/v1/guardian-fingerprint") || LP(election_id) || u8(index) || E`` — the key
    that receives its shares, not its (randomised) proof of possession."""
    return hashlib.sha256(lp(b"ownervote/v1/guardian-fingerprint") + lp(election_id.encode())
                          + bytes([key.index]) + encode_point(key.encryption_key)).digest()


@dataclass(frozen=True)
class GuardianKeyPair:
    index: int
    secret: int  # e_i
    public: GuardianPublicKey


def generate_guardian_key(params: DkgParameters, index: int,
                          rng: ScalarSource = random_scalar) -> GuardianKeyPair:
    params.check_index(index)
    e = rng()
    pub = base_mul(e)
    proof = prove_schnorr(e, pub, _ctx(params, "guardian-key", ("guardian", _u32(index))), rng)
    return GuardianKeyPair(index, e, GuardianPublicKey(index, pub, proof))


def verify_guardian_key(params: DkgParameters, key: GuardianPublicKey) -> None:
    params.check_index(key.index)
    verify_schnorr(key.proof, key.encryption_key,
                   _ctx(params, "guardian-key", ("guardian", _u32(key.index))),
                   f"guardian[{key.index}].key_proof")


def _keys_by_index(params: DkgParameters,
                   keys: Sequence[GuardianPublicKey]) -> dict[int, GuardianPublicKey]:
    by_index = {k.index: k for k in keys}
    if sorted(by_index) != list(range(1, params.n + 1)) or len(keys) != params.n:
        raise DkgError("need exactly one public key for each guardian 1..n")
    return by_index


# --- round 1: dealing --------------------------------------------------------------------------

@dataclass(frozen=True)
class EncryptedShare:
    recipient: int
    ephemeral: EcPt  # Y = y·G
    ciphertext: bytes  # AES-256-GCM(f_i(recipient)), 32 + 16 bytes


@dataclass(frozen=True)
class Dealing:
    dealer: int
    commitments: tuple[EcPt, ...]  # C_k = a_k·G, k = 0..t-1
    constant_proof: SchnorrProof  # knowledge of a_0
    shares: tuple[EncryptedShare, ...]  # one per guardian 1..n, in order


@dataclass(frozen=True)
class Polynomial:
    """A dealer's secret coefficients a_0..a_{t-1} (kept by the dealer until the DKG ends)."""

    coefficients: tuple[int, ...]

    def __call__(self, x: int) -> int:
        acc = 0
        for a in reversed(self.coefficients):
            acc = (acc * x + a) % ORDER
        return acc


def commitments_hash(commitments: Sequence[EcPt]) -> bytes:
    return hashlib.sha256(b"".join(encode_point(c) for c in commitments)).digest()


def _share_key(params: DkgParameters, dealer: int, recipient: int, ephemeral: EcPt,
               recipient_key: EcPt, shared: EcPt) -> tuple[bytes, bytes]:
    """HKDF-SHA256 (RFC 5869) of the ECDH x-coordinate → AES-256 key || 96-bit nonce."""
    ikm = encode_point(shared)[1:]
    info = (lp(b"ownervote/v1/dkg-share") + lp(params.election_id.encode()) + _u32(dealer)
            + _u32(recipient) + encode_point(ephemeral) + encode_point(recipient_key))
    okm = HKDF(algorithm=hashes.SHA256(), length=44, salt=None, info=info).derive(ikm)
    return okm[:32], okm[32:]


def _share_aad(params: DkgParameters, dealer: int, recipient: int,
               commitments: Sequence[EcPt]) -> bytes:
    return (lp(params.election_id.encode()) + _u32(dealer) + _u32(recipient)
            + commitments_hash(commitments))


def deal(params: DkgParameters, dealer: int, keys: Sequence[GuardianPublicKey],
         rng: ScalarSource = random_scalar) -> tuple[Dealing, Polynomial]:
    params.check_index(dealer)
    by_index = _keys_by_index(params, keys)
    poly = Polynomial(tuple(rng() for _ in range(params.t)))
    commitments = tuple(base_mul(a) for a in poly.coefficients)
    proof = prove_schnorr(poly.coefficients[0], commitments[0],
                          _ctx(params, "dkg-constant", ("dealer", _u32(dealer))), rng)
    shares = []
    for j in range(1, params.n + 1):
        y = rng()
        ephemeral = base_mul(y)
        key, nonce = _share_key(params, dealer, j, ephemeral, by_index[j].encryption_key,
                                mul(y, by_index[j].encryption_key))
        ct = AESGCM(key).encrypt(nonce, encode_scalar(poly(j)),
                                 _share_aad(params, dealer, j, commitments))
        shares.append(EncryptedShare(j, ephemeral, ct))
    return Dealing(dealer, commitments, proof, tuple(shares)), poly


def verify_dealing(params: DkgParameters, dealing: Dealing) -> None:
    """The public checks of a dealing; any failure disqualifies the dealer."""
    params.check_index(dealing.dealer, "dealer")
    if len(dealing.commitments) != params.t:
        raise DkgError(f"dealer {dealing.dealer}: expected {params.t} commitments")
    if [s.recipient for s in dealing.shares] != list(range(1, params.n + 1)):
        raise DkgError(f"dealer {dealing.dealer}: need one share for each guardian 1..n, in order")
    if any(len(s.ciphertext) != 48 for s in dealing.shares):
        raise DkgError(f"dealer {dealing.dealer}: a share ciphertext is not 48 bytes")
    verify_schnorr(dealing.constant_proof, dealing.commitments[0],
                   _ctx(params, "dkg-constant", ("dealer", _u32(dealing.dealer))),
                   f"dealer[{dealing.dealer}].constant_proof")


def expected_share_point(commitments: Sequence[EcPt], j: int) -> EcPt:
    """Σ_k C_k·j^k = f(j)·G (Feldman)."""
    return msm([pow(j, k, ORDER) for k in range(len(commitments))], list(commitments))


def _open_share(params: DkgParameters, dealing: Dealing, recipient: int, recipient_key: EcPt,
                shared: EcPt) -> int:
    """Decrypt and check one share; raise InvalidShare naming the dealer."""
    enc = dealing.shares[recipient - 1]
    key, nonce = _share_key(params, dealing.dealer, recipient, enc.ephemeral, recipient_key,
                            shared)
    try:
        plain = AESGCM(key).decrypt(nonce, enc.ciphertext,
                                    _share_aad(params, dealing.dealer, recipient,
                                               dealing.commitments))
        value = decode_scalar(plain)
    except (InvalidTag, DecodeError) as exc:
        raise InvalidShare(dealing.dealer, "share does not decrypt") from exc
    if base_mul(value) != expected_share_point(dealing.commitments, recipient):
        raise InvalidShare(dealing.dealer, "share does not match the dealer's commitments")
    return value


def receive_share(params: DkgParameters, me: GuardianKeyPair, dealing: Dealing) -> int:
    """Decrypt and verify the share ``f_dealer(me)``; raise InvalidShare naming the dealer."""
    verify_dealing(params, dealing)
    enc = dealing.shares[me.index - 1]
    return _open_share(params, dealing, me.index, me.public.encryption_key,
                       mul(me.secret, enc.ephemeral))


# --- round 2: complaints -----------------------------------------------------------------------

@dataclass(frozen=True)
class Complaint:
    dealer: int
    complainer: int
    shared_point: EcPt  # S = e_complainer · Y, lets anyone decrypt that one share
    proof: DleqProof  # log_G E_complainer == log_Y S


class Verdict(enum.Enum):
    UPHELD = "upheld"  # the share really is bad: the dealer is disqualified
    DISMISSED = "dismissed"  # the share is good: the complaint was false


def _complaint_ctx(params: DkgParameters, dealer: int, complainer: int) -> Context:
    return _ctx(params, "dkg-complaint", ("dealer", _u32(dealer)),
                ("complainer", _u32(complainer)))


def make_complaint(params: DkgParameters, me: GuardianKeyPair, dealing: Dealing,
                   rng: ScalarSource = random_scalar) -> Complaint:
    ephemeral = dealing.shares[me.index - 1].ephemeral
    _, shared, proof = prove_dleq(me.secret, ephemeral,
                                  _complaint_ctx(params, dealing.dealer, me.index), rng)
    return Complaint(dealing.dealer, me.index, shared, proof)


def judge_complaint(params: DkgParameters, complaint: Complaint, dealing: Dealing,
                    keys: Sequence[GuardianPublicKey]) -> Verdict:
    """Anyone can judge: check the revealed ECDH point, then open and check the share.

    Raises InvalidProof if the complaint itself is malformed (it is then ignored).
    """
    by_index = _keys_by_index(params, keys)
    params.check_index(complaint.complainer)
    if complaint.dealer != dealing.dealer:
        raise DkgError("complaint is about another dealing")
    try:
        verify_dealing(params, dealing)
    except (DkgError, InvalidProof):
        return Verdict.UPHELD  # a publicly bad dealing disqualifies by itself
    recipient_key = by_index[complaint.complainer].encryption_key
    ephemeral = dealing.shares[complaint.complainer - 1].ephemeral
    verify_dleq(complaint.proof, recipient_key, ephemeral, complaint.shared_point,
                _complaint_ctx(params, complaint.dealer, complaint.complainer),
                f"complaint[{complaint.dealer}<-{complaint.complainer}]")
    try:
        _open_share(params, dealing, complaint.complainer, recipient_key, complaint.shared_point)
    except InvalidShare:
        return Verdict.UPHELD
    return Verdict.DISMISSED


# --- result ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DkgResult:
    """The public outcome: who qualified, the joint key and every guardian's verification key."""

    params: DkgParameters
    qualified: tuple[int, ...]
    joint_public_key: EcPt
    verification_keys: Mapping[int, EcPt]  # V_j = s_j·G for every guardian j


def qualified_dealers(params: DkgParameters, dealings: Sequence[Dealing],
                      upheld: Sequence[Complaint]) -> tuple[int, ...]:
    disqualified = {c.dealer for c in upheld}
    qual = []
    seen = set()
    for d in dealings:
        if d.dealer in seen:
            raise DkgError(f"dealer {d.dealer} dealt twice")
        seen.add(d.dealer)
        try:
            verify_dealing(params, d)
        except (DkgError, InvalidProof):
            continue
        if d.dealer not in disqualified:
            qual.append(d.dealer)
    return tuple(sorted(qual))


def dkg_result(params: DkgParameters, dealings: Sequence[Dealing],
               upheld: Sequence[Complaint]) -> DkgResult:
    """Combine the qualified dealings. At least t qualified dealers are required, so that the
    qualified set always contains an honest dealer when fewer than t guardians are corrupt."""
    qual = qualified_dealers(params, dealings, upheld)
    if len(qual) < params.t:
        raise DkgError(f"only {len(qual)} qualified dealers, need at least t = {params.t}")
    by_dealer = {d.dealer: d for d in dealings}
    joint = point_sum(by_dealer[i].commitments[0] for i in qual)
    vkeys = {j: point_sum(expected_share_point(by_dealer[i].commitments, j) for i in qual)
             for j in range(1, params.n + 1)}
    return DkgResult(params, qual, joint, vkeys)


@dataclass(frozen=True)
class GuardianShare:
    """Guardian j's share s_j of the joint secret. Secret; stays with the guardian."""

    index: int
    secret: int


def combine_shares(result: DkgResult, me: int, received: Mapping[int, int]) -> GuardianShare:
    """s_j = Σ_{i ∈ QUAL} f_i(j), checked against the public verification key V_j."""
    missing = [i for i in result.qualified if i not in received]
    if missing:
        raise DkgError(f"missing shares from qualified dealers {missing}")
    s = sum(received[i] for i in result.qualified) % ORDER
    if base_mul(s) != result.verification_keys[me]:
        raise DkgError("combined share does not match the public verification key")
    return GuardianShare(me, s)
