"""Protobuf → domain objects for the cryptographic messages (crypto.proto). Every field is
decoded with the strict rules of crypto.group; a field that does not decode is
INVALID_ARGUMENT naming its path (e.g. ``cast_ballot.ballot.selections[1].proof.branches[0].a``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ownervote.v1 import crypto_pb2

from crypto.ballot import EncryptedBallot, EncryptedSelection
from crypto.credential import CastBallot, Credential
from crypto.elgamal import Ciphertext
from crypto.errors import DecodeError
from crypto.group import decode_point, decode_scalar
from crypto.proofs import DisjunctiveBranch, DisjunctiveProof

from ..status import invalid

T = TypeVar("T")
MAX_BRANCHES = 65


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


def cast_ballot_pb(c: CastBallot) -> crypto_pb2.CastBallot:
    """Domain → protobuf (the voter SDK's side)."""
    from crypto.group import encode_point, encode_scalar

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
