"""Protobuf ↔ domain objects for the cryptographic messages (crypto.proto, and the ceremony and
tally messages of election.proto): the one place this mapping lives, used by the server (which
answers a :class:`WireError` as INVALID_ARGUMENT) and by the clients. Every field is decoded with
the strict rules of crypto.group; a field that does not decode is a :class:`WireError` naming its
path (e.g. ``cast_ballot.ballot.selections[1].proof.branches[0].a``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crypto.ballot import EncryptedBallot, EncryptedSelection
from crypto.codec import BALLOT_VERSION
from crypto.credential import CastBallot, Credential
from crypto.dkg import Complaint, Dealing, EncryptedShare, GuardianPublicKey
from crypto.elgamal import Ciphertext
from crypto.encoding import lp
from crypto.errors import DecodeError
from crypto.group import (
    POINT_LEN,
    SCALAR_LEN,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
)
from crypto.proofs import DisjunctiveBranch, DisjunctiveProof, DleqProof, SchnorrProof
from crypto.records import DecryptionSharesRecord
from crypto.threshold import DecryptionShare
from ownervote.v1 import crypto_pb2, election_pb2

T = TypeVar("T")
MAX_BRANCHES = 65
MAX_SHARES = 1024  # the decryption-shares record's limit
MAX_LABEL = 64  # bytes


class WireError(ValueError):
    """A protobuf field that does not map to a domain object."""

    def __init__(self, field: str, message: str, reason: str = "INVALID_FIELD") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason


def invalid(field: str, message: str, reason: str = "INVALID_FIELD") -> WireError:
    return WireError(field, message, reason)


def _field(path: str, decode: Callable[[bytes], T], data: bytes) -> T:
    try:
        return decode(data)
    except DecodeError as exc:
        raise invalid(path, str(exc), "UNDECODABLE") from exc


def ciphertext(path: str, c: crypto_pb2.Ciphertext) -> Ciphertext:
    return Ciphertext(_field(f"{path}.alpha", decode_point, c.alpha),
                      _field(f"{path}.beta", decode_point, c.beta))


def disjunctive(path: str, p: crypto_pb2.DisjunctiveProof) -> DisjunctiveProof:
    if not 1 <= len(p.branches) <= MAX_BRANCHES:
        raise invalid(f"{path}.branches", f"1..{MAX_BRANCHES} branches")
    out = []
    for i, b in enumerate(p.branches):
        q = f"{path}.branches[{i}]"
        out.append(DisjunctiveBranch(_field(f"{q}.a", decode_point, b.a),
                                     _field(f"{q}.b", decode_point, b.b),
                                     _field(f"{q}.challenge", decode_scalar, b.challenge),
                                     _field(f"{q}.response", decode_scalar, b.response)))
    return DisjunctiveProof(tuple(out))


def ballot(path: str, b: crypto_pb2.EncryptedBallot) -> EncryptedBallot:
    if len(b.election_hash) != 32:
        raise invalid(f"{path}.election_hash", "32 bytes")
    if len(b.token_public_key) != 32:
        raise invalid(f"{path}.token_public_key", "32 bytes")
    if not 1 <= len(b.selections) <= 64:
        raise invalid(f"{path}.selections", "1..64 selections")
    sels = tuple(EncryptedSelection(ciphertext(f"{path}.selections[{i}].ciphertext", s.ciphertext),
                                    disjunctive(f"{path}.selections[{i}].proof", s.proof))
                 for i, s in enumerate(b.selections))
    return EncryptedBallot(b.election_id, bytes(b.election_hash), bytes(b.token_public_key), sels,
                           disjunctive(f"{path}.limit_proof", b.limit_proof))


def credential(path: str, c: crypto_pb2.Credential) -> Credential:
    if c.weight == 0 or c.weight >= 1 << 63:
        raise invalid(f"{path}.weight", "a positive 63-bit integer")
    if len(c.token_public_key) != 32 or len(c.msg_prefix) != 32:
        raise invalid(f"{path}.token_public_key", "token key and msg_prefix are 32 bytes")
    if not 1 <= len(c.signature) <= 1024:
        raise invalid(f"{path}.signature", "1..1024 bytes")
    return Credential(c.election_id, c.weight, bytes(c.token_public_key), bytes(c.msg_prefix),
                      bytes(c.signature))


def cast_ballot(path: str, c: crypto_pb2.CastBallot) -> CastBallot:
    if not c.HasField("ballot") or not c.HasField("credential"):
        raise invalid(path, "ballot and credential are required")
    if len(c.signature) != 64:
        raise invalid(f"{path}.signature", "an Ed25519 signature is 64 bytes")
    return CastBallot(ballot(f"{path}.ballot", c.ballot),
                      credential(f"{path}.credential", c.credential), bytes(c.signature))


def _disjunctive_bytes(p: crypto_pb2.DisjunctiveProof, out: list) -> bool:
    if not 1 <= len(p.branches) <= MAX_BRANCHES:
        return False
    out.append(len(p.branches).to_bytes(1, "big"))
    for b in p.branches:
        if (len(b.a) != POINT_LEN or len(b.b) != POINT_LEN or len(b.challenge) != SCALAR_LEN
                or len(b.response) != SCALAR_LEN):
            return False
        out += [b.a, b.b, b.challenge, b.response]
    return True


def cast_ballot_bytes(c: crypto_pb2.CastBallot) -> bytes | None:
    """The canonical bytes (crypto.codec.encode_cast_ballot) of the cast ballot that
    :func:`cast_ballot` maps ``c`` to, concatenated from the fields without decoding a point (a
    point or scalar field is copied as it is; the strict decoding accepts exactly one encoding
    of each). ``None`` unless every length and count :func:`cast_ballot` checks is right and
    every point and scalar field has its exact length; then the bytes decode
    (crypto.codec.decode_cast_ballot) exactly when every point and scalar does, i.e. when
    :func:`cast_ballot` maps ``c`` (or an election id is over the codec's 128 bytes)."""
    if not c.HasField("ballot") or not c.HasField("credential") or len(c.signature) != 64:
        return None
    b, cr = c.ballot, c.credential
    if (len(b.election_hash) != 32 or len(b.token_public_key) != 32
            or not 1 <= len(b.selections) <= 64):
        return None
    out = [BALLOT_VERSION.to_bytes(1, "big"), lp(b.election_id.encode()), b.election_hash,
           b.token_public_key, len(b.selections).to_bytes(1, "big")]
    for s in b.selections:
        ct = s.ciphertext
        if len(ct.alpha) != POINT_LEN or len(ct.beta) != POINT_LEN:
            return None
        out += [ct.alpha, ct.beta]
        if not _disjunctive_bytes(s.proof, out):
            return None
    if not _disjunctive_bytes(b.limit_proof, out):
        return None
    if (cr.weight == 0 or cr.weight >= 1 << 63 or len(cr.token_public_key) != 32
            or len(cr.msg_prefix) != 32 or not 1 <= len(cr.signature) <= 1024):
        return None
    credential = (lp(cr.election_id.encode()) + cr.weight.to_bytes(8, "big")
                  + cr.token_public_key + cr.msg_prefix + lp(cr.signature))
    return (BALLOT_VERSION.to_bytes(1, "big") + lp(b"".join(out)) + lp(credential)
            + c.signature)


def cast_ballot_pb(c: CastBallot) -> crypto_pb2.CastBallot:
    """Domain → protobuf (the voter SDK's side)."""

    def proof(p: DisjunctiveProof) -> crypto_pb2.DisjunctiveProof:
        return crypto_pb2.DisjunctiveProof(branches=[crypto_pb2.DisjunctiveBranch(
            a=encode_point(br.a), b=encode_point(br.b), challenge=encode_scalar(br.challenge),
            response=encode_scalar(br.response)) for br in p.branches])

    b = c.ballot
    return crypto_pb2.CastBallot(
        ballot=crypto_pb2.EncryptedBallot(
            election_id=b.election_id, election_hash=b.election_hash,
            token_public_key=b.token_public_key,
            selections=[crypto_pb2.EncryptedSelection(
                ciphertext=crypto_pb2.Ciphertext(alpha=encode_point(s.ciphertext.alpha),
                                                 beta=encode_point(s.ciphertext.beta)),
                proof=proof(s.proof)) for s in b.selections],
            limit_proof=proof(b.limit_proof)),
        credential=crypto_pb2.Credential(
            election_id=c.credential.election_id, weight=c.credential.weight,
            token_public_key=c.credential.token_public_key, msg_prefix=c.credential.msg_prefix,
            signature=c.credential.signature),
        signature=c.signature)


# --- the key ceremony -------------------------------------------------------------------------

def _schnorr(path: str, p: crypto_pb2.SchnorrProof) -> SchnorrProof:
    return SchnorrProof(_field(f"{path}.commitment", decode_point, p.commitment),
                        _field(f"{path}.response", decode_scalar, p.response))


def _index(path: str, i: int) -> int:
    if not 1 <= i <= 255:
        raise invalid(path, "a guardian index is 1..255")
    return i


def guardian_key(k: election_pb2.GuardianKey) -> GuardianPublicKey:
    return GuardianPublicKey(_index("key.index", k.index),
                             _field("key.encryption_key", decode_point, k.encryption_key),
                             _schnorr("key.proof", k.proof))


def dealing(d: election_pb2.Dealing) -> Dealing:
    if not 1 <= len(d.commitments) <= 255 or not 1 <= len(d.shares) <= 255:
        raise invalid("dealing", "1..255 commitments and shares")
    shares = tuple(EncryptedShare(_index(f"dealing.shares[{i}].recipient", s.recipient),
                                  _field(f"dealing.shares[{i}].ephemeral", decode_point,
                                         s.ephemeral), bytes(s.ciphertext))
                   for i, s in enumerate(d.shares))
    return Dealing(_index("dealing.dealer", d.dealer),
                   tuple(_field(f"dealing.commitments[{i}]", decode_point, c)
                         for i, c in enumerate(d.commitments)),
                   _schnorr("dealing.constant_proof", d.constant_proof), shares)


def complaint(c: election_pb2.Complaint) -> Complaint:
    p = c.proof
    return Complaint(_index("complaint.dealer", c.dealer),
                     _index("complaint.complainer", c.complainer),
                     _field("complaint.shared_point", decode_point, c.shared_point),
                     DleqProof(_field("complaint.proof.commitment_g", decode_point,
                                      p.commitment_g),
                               _field("complaint.proof.commitment_h", decode_point,
                                      p.commitment_h),
                               _field("complaint.proof.response", decode_scalar, p.response)))


def schnorr_pb(p: SchnorrProof) -> crypto_pb2.SchnorrProof:
    return crypto_pb2.SchnorrProof(commitment=encode_point(p.commitment),
                                   response=encode_scalar(p.response))


def guardian_key_pb(k: GuardianPublicKey) -> election_pb2.GuardianKey:
    return election_pb2.GuardianKey(index=k.index, encryption_key=encode_point(k.encryption_key),
                                    proof=schnorr_pb(k.proof))


def dealing_pb(d: Dealing) -> election_pb2.Dealing:
    return election_pb2.Dealing(
        dealer=d.dealer, commitments=[encode_point(x) for x in d.commitments],
        constant_proof=schnorr_pb(d.constant_proof),
        shares=[election_pb2.EncryptedShare(recipient=s.recipient,
                                            ephemeral=encode_point(s.ephemeral),
                                            ciphertext=s.ciphertext) for s in d.shares])


def complaint_pb(x: Complaint) -> election_pb2.Complaint:
    return election_pb2.Complaint(
        dealer=x.dealer, complainer=x.complainer, shared_point=encode_point(x.shared_point),
        proof=crypto_pb2.DleqProof(commitment_g=encode_point(x.proof.commitment_g),
                                   commitment_h=encode_point(x.proof.commitment_h),
                                   response=encode_scalar(x.proof.response)))


# --- the tally ----------------------------------------------------------------------------------

def _dleq(path: str, p: crypto_pb2.DleqProof) -> DleqProof:
    return DleqProof(_field(f"{path}.commitment_g", decode_point, p.commitment_g),
                     _field(f"{path}.commitment_h", decode_point, p.commitment_h),
                     _field(f"{path}.response", decode_scalar, p.response))


def decryption_shares(guardian: int, shares) -> DecryptionSharesRecord:
    """A SubmitDecryptionShares request's guardian and shares → the ledger record (labels
    distinct, 1..1024 shares; which labels are wanted is the tally's check)."""
    g = _index("guardian", guardian)
    if not 1 <= len(shares) <= MAX_SHARES:
        raise invalid("shares", f"1..{MAX_SHARES} shares, one per non-trivial aggregate")
    seen: set[str] = set()
    out = []
    for i, s in enumerate(shares):
        path = f"shares[{i}]"
        if not 1 <= len(s.label.encode()) <= MAX_LABEL:
            raise invalid(f"{path}.label", f"1..{MAX_LABEL} bytes, e.g. option[0].count")
        if s.label in seen:
            raise invalid(f"{path}.label", f"{s.label!r} appears twice", "DUPLICATE_LABEL")
        seen.add(s.label)
        out.append((s.label, DecryptionShare(g, _field(f"{path}.share", decode_point, s.share),
                                             _dleq(f"{path}.proof", s.proof))))
    return DecryptionSharesRecord(g, tuple(out))


def decryption_share_pb(label: str, s: DecryptionShare) -> election_pb2.DecryptionShare:
    return election_pb2.DecryptionShare(
        label=label, share=encode_point(s.share),
        proof=crypto_pb2.DleqProof(commitment_g=encode_point(s.proof.commitment_g),
                                   commitment_h=encode_point(s.proof.commitment_h),
                                   response=encode_scalar(s.proof.response)))


# --- rich status details (google.rpc.Status), the client side -------------------------------

def details_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> dict:
    """Client side: decode the rich status of a failed call into a plain dict (for tests/CLIs)."""
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
    out: dict = {"code": error.code(), "message": error.details(), "reason": None,
                 "field": None, "metadata": {}}
    if status is None:
        return out
    for any_ in status.details:
        if any_.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            any_.Unpack(info)
            out["reason"] = info.reason
            out["metadata"] = dict(info.metadata)
        elif any_.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            any_.Unpack(br)
            if br.field_violations:
                out["field"] = br.field_violations[0].field
    return out
