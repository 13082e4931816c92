"""Canonical binary encoding of the cryptographic objects (docs/protocol.md §8 and §9).

The framing (``lp``, :class:`crypto.encoding.Reader`) and the ledger's event envelope are in
crypto/encoding.py; here are the objects. One place for the format: every object has exactly
one encoding, decoding accepts only that encoding (wrong lengths, trailing bytes, off-curve
points, unreduced scalars are :class:`DecodeError`), so ``encode(decode(b)) == b`` for every
accepted ``b``. These bytes are what
signatures cover, what ballot hashes are taken over and what the test vectors pin; the protobuf
wire format is mapped to these objects at the edges, outside :mod:`crypto`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ballot import EncryptedBallot, EncryptedSelection
from .credential import (
    MAX_COUNTER,
    MAX_REGISTRARS,
    CastBallot,
    Credential,
    CredentialSignature,
)
from .dkg import Complaint, Dealing, EncryptedShare, GuardianPublicKey
from .elgamal import Ciphertext
from .encoding import LP_LEN, Reader, decode_all, lp
from .errors import DecodeError
from .group import (
    POINT_LEN,
    SCALAR_LEN,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
)
from .proofs import DisjunctiveBranch, DisjunctiveProof, DleqProof, SchnorrProof
from .threshold import DecryptionShare

BALLOT_VERSION = 1
CAST_BALLOT_VERSION = 3  # 2: the revote counter after the version byte; 3: k registrars
MAX_BRANCHES = 65


def _point(r: Reader):
    return decode_point(r.take(POINT_LEN))


def _scalar(r: Reader) -> int:
    return decode_scalar(r.take(SCALAR_LEN))


# --- ciphertexts and proofs --------------------------------------------------------------------

def encode_ciphertext(ct: Ciphertext) -> bytes:
    return encode_point(ct.alpha) + encode_point(ct.beta)


def read_ciphertext(r: Reader) -> Ciphertext:
    return Ciphertext(_point(r), _point(r))


def decode_ciphertext(data: bytes) -> Ciphertext:
    return decode_all(data, read_ciphertext)


def encode_schnorr(p: SchnorrProof) -> bytes:
    return encode_point(p.commitment) + encode_scalar(p.response)


def read_schnorr(r: Reader) -> SchnorrProof:
    return SchnorrProof(_point(r), _scalar(r))


def decode_schnorr(data: bytes) -> SchnorrProof:
    return decode_all(data, read_schnorr)


def encode_dleq(p: DleqProof) -> bytes:
    return encode_point(p.commitment_g) + encode_point(p.commitment_h) + encode_scalar(p.response)


def read_dleq(r: Reader) -> DleqProof:
    return DleqProof(_point(r), _point(r), _scalar(r))


def decode_dleq(data: bytes) -> DleqProof:
    return decode_all(data, read_dleq)


def encode_disjunctive(p: DisjunctiveProof) -> bytes:
    out = [len(p.branches).to_bytes(1, "big")]
    for br in p.branches:
        out += [encode_point(br.a), encode_point(br.b), encode_scalar(br.challenge),
                encode_scalar(br.response)]
    return b"".join(out)


def read_disjunctive(r: Reader) -> DisjunctiveProof:
    k = r.uint(1)
    if not 1 <= k <= MAX_BRANCHES:
        raise DecodeError("disjunctive proof must have 1..65 branches")
    return DisjunctiveProof(tuple(DisjunctiveBranch(_point(r), _point(r), _scalar(r), _scalar(r))
                                  for _ in range(k)))


def decode_disjunctive(data: bytes) -> DisjunctiveProof:
    return decode_all(data, read_disjunctive)


# --- ballots -----------------------------------------------------------------------------------

def encode_ballot(b: EncryptedBallot) -> bytes:
    out = [BALLOT_VERSION.to_bytes(1, "big"), lp(b.election_id.encode()), b.election_hash,
           b.token_public_key, len(b.selections).to_bytes(1, "big")]
    for sel in b.selections:
        out += [encode_ciphertext(sel.ciphertext), encode_disjunctive(sel.proof)]
    out.append(encode_disjunctive(b.limit_proof))
    return b"".join(out)


def read_ballot(r: Reader) -> EncryptedBallot:
    if r.uint(1) != BALLOT_VERSION:
        raise DecodeError("unknown ballot version")
    election_id = r.text()
    election_hash = r.take(32)
    token = r.take(32)
    n = r.uint(1)
    if not 1 <= n <= 64:
        raise DecodeError("a ballot has 1..64 selections")
    sels = tuple(EncryptedSelection(read_ciphertext(r), read_disjunctive(r)) for _ in range(n))
    return EncryptedBallot(election_id, election_hash, token, sels, read_disjunctive(r))


def decode_ballot(data: bytes) -> EncryptedBallot:
    return decode_all(data, read_ballot)


def _skip_disjunctive(r: Reader) -> None:
    k = r.uint(1)
    if not 1 <= k <= MAX_BRANCHES:
        raise DecodeError("disjunctive proof must have 1..65 branches")
    r.take(k * (2 * POINT_LEN + 2 * SCALAR_LEN))


# --- credentials and cast ballots -----------------------------------------------------------

MAX_RSA_BYTES = 1024  # 8192-bit moduli
MAX_CREDENTIAL_BYTES = 1 << 15


def encode_credential(c: Credential) -> bytes:
    """``LP(election_id) || u64(weight) || T || u8(c) || (u8(registrar) || msg_prefix ||
    LP(signature))^c``, registrars strictly increasing (docs/protocol.md §8.2)."""
    return (lp(c.election_id.encode()) + c.weight.to_bytes(8, "big") + c.token_public_key
            + len(c.signatures).to_bytes(1, "big")
            + b"".join(s.registrar.to_bytes(1, "big") + bytes(s.msg_prefix) + lp(s.signature)
                       for s in c.signatures))


def read_credential(r: Reader) -> Credential:
    election_id = r.text()
    weight = r.uint(8)
    if weight == 0:
        raise DecodeError("weight must be positive")
    token = r.take(32)
    n = r.uint(1)
    if not 1 <= n <= MAX_REGISTRARS:
        raise DecodeError(f"a credential has 1..{MAX_REGISTRARS} signatures")
    sigs = tuple(CredentialSignature(r.uint(1), r.take(32), r.lp(MAX_RSA_BYTES))
                 for _ in range(n))
    return Credential(election_id, weight, token, sigs)


def decode_credential(data: bytes) -> Credential:
    return decode_all(data, read_credential)


def encode_counter(counter: int) -> bytes:
    """A revote counter: u32, 1..2^32-1."""
    if not isinstance(counter, int) or not 1 <= counter <= MAX_COUNTER:
        raise DecodeError("a revote counter is 1..2^32-1")
    return counter.to_bytes(4, "big")


def read_counter(r: Reader) -> int:
    counter = r.uint(4)
    if counter == 0:
        raise DecodeError("a revote counter starts at 1")
    return counter


def decode_counter(data: bytes) -> int:
    return decode_all(data, read_counter)


def encode_cast_ballot(c: CastBallot) -> bytes:
    return (CAST_BALLOT_VERSION.to_bytes(1, "big") + encode_counter(c.counter)
            + lp(encode_ballot(c.ballot)) + lp(encode_credential(c.credential)) + c.signature)


def read_cast_ballot(r: Reader) -> CastBallot:
    return _read_cast_ballot(r)[0]


def _read_cast_ballot(r: Reader) -> tuple[CastBallot, bytes]:
    if r.uint(1) != CAST_BALLOT_VERSION:
        raise DecodeError("unknown cast-ballot version")
    counter = read_counter(r)
    raw = r.lp(1 << 16)
    ballot = decode_ballot(raw)
    credential = decode_credential(r.lp(MAX_CREDENTIAL_BYTES))
    return CastBallot(ballot, credential, counter, r.take(64)), raw


def decode_cast_ballot_bytes(data: bytes) -> tuple[CastBallot, bytes]:
    """The cast ballot and its ballot's canonical bytes, as they stand inside ``data``."""
    return decode_all(data, _read_cast_ballot)


def decode_cast_ballot(data: bytes) -> CastBallot:
    return decode_all(data, read_cast_ballot)


def cast_ballot_token_and_counter(data: bytes) -> tuple[bytes, int]:
    """The token key and revote counter of a cast ballot's canonical bytes, read from the
    front of the encoding (version, u32 counter, LP(ballot: version, LP(election id), K, token
    key, …)) without decoding a point: what orders a token's ballots. DecodeError if ``data``
    does not start so; the rest is not checked (verify_cast_ballot's business)."""
    r = Reader(data)
    r.uint(1)
    counter = r.uint(4)
    b = Reader(r.lp(1 << 16))
    b.uint(1)
    b.text()
    b.take(32)
    return bytes(b.take(32)), counter


@dataclass(frozen=True)
class TallyEncodings:
    """What the aggregation needs of a cast ballot already verified on the ledger, its points
    still encoded: per selection, the 33-byte SEC1 encodings of the ciphertext's alpha and
    beta."""

    weight: int
    token_public_key: bytes
    ciphertexts: tuple[tuple[bytes, bytes], ...]
    counter: int  # the revote counter: the count takes each token's highest
    registrars: bytes = b""  # the credential's registrar indices, one byte each, increasing


@dataclass(frozen=True)
class TallyView:
    """:class:`TallyEncodings` with the ciphertexts decoded."""

    weight: int
    token_public_key: bytes
    ciphertexts: tuple[Ciphertext, ...]
    counter: int


def decode_tally_encodings(data: bytes) -> TallyEncodings:
    """The weight, token key and ciphertext encodings of a cast ballot's canonical bytes, with
    the same framing checks as :func:`decode_cast_ballot` but no point decoded and the proofs
    skipped (not decoded, not checked): only for ballots whose every proof was verified before
    they went on the ledger (the ballot box and the witnesses did), e.g. the server's tally.
    Auditors decode and verify in full."""
    # The same reads as Reader's, by position: this runs once per ballot at the close, and a
    # Reader call per field is about half of the close's cost per ballot.
    if not isinstance(data, (bytes, bytearray)):
        raise DecodeError("expected bytes")
    end = len(data)

    def at(pos: int, n: int) -> int:  # the position after n bytes at pos
        if pos + n > end:
            raise DecodeError("truncated input")
        return pos + n

    def lp(pos: int, max_len: int) -> tuple[int, int]:  # (start, stop) of an LP field
        n = int.from_bytes(data[pos:at(pos, LP_LEN)], "big")
        if n > max_len:
            raise DecodeError("length prefix too large")
        return pos + LP_LEN, at(pos + LP_LEN, n)

    def text(pos: int, max_len: int = 128) -> int:
        a, b = lp(pos, max_len)
        try:
            data[a:b].decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise DecodeError("invalid UTF-8") from exc
        return b

    def skip_disjunctive(pos: int) -> int:
        k = data[pos] if pos < end else -1
        if not 1 <= k <= MAX_BRANCHES:
            raise DecodeError("truncated input" if k < 0 else
                              "disjunctive proof must have 1..65 branches")
        return at(pos + 1, k * (2 * POINT_LEN + 2 * SCALAR_LEN))

    if end < 1 or data[0] != CAST_BALLOT_VERSION:
        raise DecodeError("unknown cast-ballot version" if end else "truncated input")
    counter = int.from_bytes(data[1:at(1, 4)], "big")
    if counter == 0:
        raise DecodeError("a revote counter starts at 1")
    ballot_start, ballot_stop = lp(5, 1 << 16)
    end, outer_end = ballot_stop, end  # the ballot's fields must end exactly at its LP
    if ballot_start >= end or data[ballot_start] != BALLOT_VERSION:
        raise DecodeError("unknown ballot version" if ballot_start < end else "truncated input")
    pos = at(text(ballot_start + 1), 32)
    token = data[pos:at(pos, 32)]
    pos += 32
    n = data[pos] if pos < end else -1
    if not 1 <= n <= 64:
        raise DecodeError("a ballot has 1..64 selections" if n >= 0 else "truncated input")
    pos += 1
    cts = []
    for _ in range(n):
        mid = at(pos, POINT_LEN)
        stop = at(mid, POINT_LEN)
        cts.append((data[pos:mid], data[mid:stop]))
        pos = skip_disjunctive(stop)
    if skip_disjunctive(pos) != end:
        raise DecodeError("trailing bytes")
    end = outer_end
    cred_start, cred_stop = lp(ballot_stop, MAX_CREDENTIAL_BYTES)
    end, outer_end = cred_stop, end
    pos = text(cred_start)
    weight = int.from_bytes(data[pos:at(pos, 8)], "big")
    if weight == 0:
        raise DecodeError("weight must be positive")
    pos = at(pos + 8, 32)
    n = data[pos] if pos < end else -1
    if not 1 <= n <= MAX_REGISTRARS:
        raise DecodeError(f"a credential has 1..{MAX_REGISTRARS} signatures" if n >= 0
                          else "truncated input")
    pos += 1
    last = -1
    registrars = bytearray()
    for _ in range(n):
        registrar = data[pos] if pos < end else -1
        if registrar <= last or registrar >= MAX_REGISTRARS:
            raise DecodeError("truncated input" if registrar < 0 else
                              "credential registrars must be distinct, increasing, below 16")
        last = registrar
        registrars.append(registrar)
        pos = lp(at(pos + 1, 32), MAX_RSA_BYTES)[1]
    if pos != end:
        raise DecodeError("trailing bytes")
    end = outer_end
    if at(cred_stop, 64) != end:
        raise DecodeError("trailing bytes")
    return TallyEncodings(weight, bytes(token), tuple(cts), counter, bytes(registrars))


def decode_tally_view(data: bytes) -> TallyView:
    """:func:`decode_tally_encodings` with the ciphertexts' points decoded (and checked)."""
    e = decode_tally_encodings(data)
    return TallyView(e.weight, e.token_public_key,
                     tuple(Ciphertext(decode_point(a), decode_point(b)) for a, b in e.ciphertexts),
                     e.counter)


# --- key ceremony and tally -------------------------------------------------------------------

def encode_guardian_key(k: GuardianPublicKey) -> bytes:
    return k.index.to_bytes(1, "big") + encode_point(k.encryption_key) + encode_schnorr(k.proof)


def decode_guardian_key(data: bytes) -> GuardianPublicKey:
    def read(r: Reader) -> GuardianPublicKey:
        return GuardianPublicKey(_index(r), _point(r), read_schnorr(r))
    return decode_all(data, read)


def encode_dealing(d: Dealing) -> bytes:
    out = [d.dealer.to_bytes(1, "big"), len(d.commitments).to_bytes(1, "big")]
    out += [encode_point(c) for c in d.commitments]
    out.append(encode_schnorr(d.constant_proof))
    out.append(len(d.shares).to_bytes(1, "big"))
    for s in d.shares:
        if len(s.ciphertext) != SHARE_CIPHERTEXT_LEN:
            raise DecodeError("a share ciphertext is 48 bytes")
        out += [s.recipient.to_bytes(1, "big"), encode_point(s.ephemeral), s.ciphertext]
    return b"".join(out)


def decode_dealing(data: bytes) -> Dealing:
    def read(r: Reader) -> Dealing:
        dealer = _index(r)
        commitments = tuple(_point(r) for _ in range(_count(r)))
        proof = read_schnorr(r)
        shares = tuple(EncryptedShare(_index(r), _point(r), r.take(SHARE_CIPHERTEXT_LEN))
                       for _ in range(_count(r)))
        return Dealing(dealer, commitments, proof, shares)
    return decode_all(data, read)


def encode_complaint(c: Complaint) -> bytes:
    return (c.dealer.to_bytes(1, "big") + c.complainer.to_bytes(1, "big")
            + encode_point(c.shared_point) + encode_dleq(c.proof))


def decode_complaint(data: bytes) -> Complaint:
    def read(r: Reader) -> Complaint:
        return Complaint(_index(r), _index(r), _point(r), read_dleq(r))
    return decode_all(data, read)


def encode_decryption_share(s: DecryptionShare) -> bytes:
    return s.guardian.to_bytes(1, "big") + encode_point(s.share) + encode_dleq(s.proof)


def decode_decryption_share(data: bytes) -> DecryptionShare:
    def read(r: Reader) -> DecryptionShare:
        return DecryptionShare(_index(r), _point(r), read_dleq(r))
    return decode_all(data, read)


SHARE_CIPHERTEXT_LEN = 48


def _index(r: Reader) -> int:
    i = r.uint(1)
    if i == 0:
        raise DecodeError("guardian indexes start at 1")
    return i


def _count(r: Reader) -> int:
    n = r.uint(1)
    if n == 0:
        raise DecodeError("an empty list")
    return n
