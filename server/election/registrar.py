"""Issuing blind credentials: one per owner per election (docs/protocol.md §8.2).

The registrar stores, per (election, owner), only the weight class, a hash of the blinded
message and the blind signature it answered. Blinded message and blind signature are
independent of the token key (RFC 9474 blindness), so nothing stored here links an owner to the
ballot they cast. An identical retry (same blinded message) gets the identical blind signature
back; any different second request is refused (AlreadyIssued). Concurrent
requests for one owner are serialised by the primary key: at most one signature is ever released.

The signature is computed first and then offered to the table in one statement (``INSERT … ON
CONFLICT DO NOTHING RETURNING``, autocommit on PostgreSQL: one round trip). Only if that row
went in is the signature released; otherwise the stored request decides (the identical retry
gets the stored signature, anything else ALREADY_EXISTS) and the new signature is discarded.
A retry thus costs a signature instead of a read for every first request: first requests are
nearly all of them, and the identity guard limits how often one owner can ask.

The blind signature (RFC 9474 §4.3) runs in a worker thread: GMP's exponentiation releases the
GIL (crypto.blind_rsa), so the event loop keeps serving other requests meanwhile (the gain is in
docs/performance.md). Without gmpy2 the signature would hold the GIL, so it stays on the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import (
    and_,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto import blind_rsa
from crypto.credential import issue_credential
from crypto.errors import BlindRsaError

from ..db import insert_skipping_conflicts, read_engine, write_once
from ..errors import Conflict, Refused, invalid
from .schema import credentials_issued


class AlreadyIssued(Conflict):
    """This owner already received a credential for this election, for another request."""

    def __init__(self) -> None:
        super().__init__("a credential was already issued to this owner for this election",
                         reason="CREDENTIAL_ISSUED", field="blinded_msg")


class WrongWeightClass(Refused):
    """The request was blinded for a weight class that is not the owner's."""

    def __init__(self, owner_weight: int) -> None:
        super().__init__(f"weight: the owner's weight class is {owner_weight}",
                         reason="WRONG_WEIGHT_CLASS", field="weight")


async def _blind_sign(key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3 BlindSign (with its self-check), off the event loop when that helps; a
    blinded message the RFC refuses is refused naming it."""
    try:
        if blind_rsa.HAVE_GMPY2:
            return await asyncio.to_thread(issue_credential, key, blinded_msg)
        return issue_credential(key, blinded_msg)
    except BlindRsaError as exc:
        raise invalid("blinded_msg", str(exc), "BAD_BLINDED_MESSAGE") from exc


class Registrar:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.reads = read_engine(engine)  # single-statement reads: no BEGIN/ROLLBACK
        self._insert = (insert_skipping_conflicts(engine, credentials_issued)  # built once
                        .returning(credentials_issued.c.owner_id))

    async def issue(self, election_id: str, owner_id: str, owner_weight: int,
                    requested_weight: int, blinded_msg: bytes,
                    issuer_keys: Mapping[int, rsa.RSAPrivateKey]) -> bytes:
        """The blind signature for this owner's request (idempotent for an identical retry)."""
        if requested_weight != owner_weight:
            raise WrongWeightClass(owner_weight)
        request_hash = hashlib.sha256(blinded_msg).digest()
        blind_sig = await _blind_sign(issuer_keys[owner_weight], blinded_msg)
        async with write_once(self.engine) as conn:
            stored = (await conn.execute(self._insert, {
                "election_id": election_id, "owner_id": owner_id, "weight": owner_weight,
                "request_hash": request_hash, "blind_sig": blind_sig})).first() is not None
        if stored:
            return blind_sig
        # this owner's credential was issued before (or concurrently): answer as a retry of it
        previous = await self._previous(election_id, owner_id)
        if previous is None:
            raise RuntimeError("the credential row conflicted but cannot be read")
        return self._retry(previous, request_hash)

    @staticmethod
    def _retry(previous: tuple[bytes, bytes], request_hash: bytes) -> bytes:
        stored_hash, stored_sig = previous
        if stored_hash != request_hash:
            raise AlreadyIssued()
        return stored_sig

    async def _previous(self, election_id: str, owner_id: str) -> tuple[bytes, bytes] | None:
        q = select(credentials_issued.c.request_hash, credentials_issued.c.blind_sig).where(
            and_(credentials_issued.c.election_id == election_id,
                 credentials_issued.c.owner_id == owner_id))
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else (bytes(row.request_hash), bytes(row.blind_sig))

    async def counts_per_class(self, election_id: str) -> dict[int, int]:
        """How many credentials were issued per weight class (published on the ledger)."""
        q = (select(credentials_issued.c.weight, func.count())
             .where(credentials_issued.c.election_id == election_id)
             .group_by(credentials_issued.c.weight))
        async with self.reads.connect() as conn:
            return {w: n for w, n in (await conn.execute(q)).all()}
