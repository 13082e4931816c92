"""Issuing blind credentials and publishing the issuance records (docs/protocol.md §8.2, §8.5).

:meth:`Issuer.issue`: one credential per owner per election from this registrar. The blind
signature (RFC 9474 §4.3, with its self-check) is computed first and offered to the pending table
in one statement (``INSERT … ON CONFLICT DO NOTHING RETURNING``); only if that row went in is the
signature released. Otherwise the stored request decides: the identical retry (same blinded
message) gets the stored signature, anything else is refused ALREADY_EXISTS. The row keeps what
the issuance record will publish: owner, class, the attestation and its signature, the blinded
message's digest and the blind signature. Blinded message and blind signature are independent of
the token key (RFC 9474 blindness), so nothing here links an owner to the ballot they cast.

:meth:`Issuer.write_batch` moves every pending row into the next signed batch, in owner-id
order, in one transaction (the rows go to ``issuance_published`` in that order and leave the
pending table), so that no store keeps the order of arrival once a batch is written. The final
batch (after the close) takes whatever is pending, possibly nothing, and from then on nothing is
issued for the election.
"""

from __future__ import annotations

import asyncio
import hashlib

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto import blind_rsa
from crypto.attestation import decode_attestation
from crypto.credential import issue_credential
from crypto.errors import BlindRsaError
from crypto.issuance import Issuance as IssuanceRecord
from crypto.issuance import batch, encode_issuances, sign_issuances

from ..db import insert_skipping_conflicts, read_engine, write_once
from ..errors import Conflict, Precondition, invalid
from ..metrics import CREDENTIALS
from .schema import (
    attestation_nonces,
    issuance_batches,
    issuance_pending,
    issuance_published,
)


class AlreadyIssued(Conflict):
    """This registrar already issued a credential to this owner for this election, for another
    request."""

    def __init__(self) -> None:
        super().__init__("a credential was already issued to this owner for this election",
                         reason="CREDENTIAL_ISSUED", field="blinded_msg")


class IssuanceClosed(Precondition):
    """The registrar's final batch for the election is written: it issues nothing more."""

    def __init__(self) -> None:
        super().__init__("the election is closed: no more credentials are issued",
                         reason="NOT_ISSUING", precondition="ELECTION_STATE")


async def _blind_sign(key: rsa.RSAPrivateKey, blinded_msg: bytes) -> bytes:
    """RFC 9474 §4.3 BlindSign (with its self-check), off the event loop when GMP releases the
    GIL; a blinded message the RFC refuses is refused naming it."""
    try:
        if blind_rsa.HAVE_GMPY2:
            return await asyncio.to_thread(issue_credential, key, blinded_msg)
        return issue_credential(key, blinded_msg)
    except BlindRsaError as exc:
        raise invalid("blinded_msg", str(exc), "BAD_BLINDED_MESSAGE") from exc


class Issuer:
    def __init__(self, engine: AsyncEngine, registrar: str,
                 signing_key: Ed25519PrivateKey) -> None:
        self.engine = engine
        self.reads = read_engine(engine)
        self.registrar = registrar
        self.signing_key = signing_key
        self._insert = (insert_skipping_conflicts(engine, issuance_pending)
                        .returning(issuance_pending.c.owner_id))
        self._locks: dict[str, asyncio.Lock] = {}
        self._final: set[str] = set()  # elections whose final batch this store holds

    def lock(self, election_id: str) -> asyncio.Lock:
        """Serialises the batch writing and the pending rows' insertion for one election (a
        registrar is one process: its duties and its service share this)."""
        return self._locks.setdefault(election_id, asyncio.Lock())

    def _key(self, table, election_id: str, owner_id: str | None = None):
        c = table.c
        where = and_(c.registrar == self.registrar, c.election_id == election_id)
        return where if owner_id is None else and_(where, c.owner_id == owner_id)

    # --- issuing ----------------------------------------------------------------------------

    async def issue(self, election_id: str, owner_id: str, weight: int,
                    key: rsa.RSAPrivateKey, blinded_msg: bytes, attestation: bytes,
                    attestation_signature: bytes, *,
                    previous: tuple[bytes, bytes] | None | object = ...) -> bytes:
        """The blind signature for this owner's request (idempotent for an identical retry);
        ``previous``: what :meth:`previous` answered just before, if the caller asked."""
        request_hash = hashlib.sha256(blinded_msg).digest()
        if previous is ...:
            previous = await self.previous(election_id, owner_id)
        if previous is not None:
            return self._retry(previous, request_hash)
        if await self.final_written(election_id):
            raise IssuanceClosed()
        blind_sig = await _blind_sign(key, blinded_msg)
        # the batch writer holds the same lock: a row is either in a batch, or pending with no
        # final batch written (and then in the final one), never released and left out
        async with self.lock(election_id):
            if await self.final_written(election_id):
                raise IssuanceClosed()
            async with write_once(self.engine) as conn:
                stored = (await conn.execute(self._insert, {
                    "registrar": self.registrar, "election_id": election_id,
                    "owner_id": owner_id, "weight": weight, "request_hash": request_hash,
                    "blind_sig": blind_sig, "attestation": attestation,
                    "attestation_signature": attestation_signature})).first() is not None
        if stored:
            CREDENTIALS.labels(self.registrar).inc()
            return blind_sig
        previous = await self.previous(election_id, owner_id)
        if previous is None:
            raise Conflict("the credential row conflicted but cannot be read",
                           reason="CREDENTIAL_ISSUED")
        return self._retry(previous, request_hash)

    @staticmethod
    def _retry(previous: tuple[bytes, bytes], request_hash: bytes) -> bytes:
        stored_hash, stored_sig = previous
        if stored_hash != request_hash:
            raise AlreadyIssued()
        return stored_sig

    async def issued(self, election_id: str, owner_id: str) -> bool:
        """Whether this registrar issued the owner a credential for the election already."""
        return await self.previous(election_id, owner_id) is not None

    async def previous(self, election_id: str, owner_id: str) -> tuple[bytes, bytes] | None:
        """The owner's stored request: (SHA-256 of its blinded message, blind signature)."""
        async with self.reads.connect() as conn:
            for table in (issuance_pending, issuance_published):
                row = (await conn.execute(select(table.c.request_hash, table.c.blind_sig)
                                          .where(self._key(table, election_id, owner_id)))
                       ).first()
                if row is not None:
                    return bytes(row.request_hash), bytes(row.blind_sig)
        return None

    # --- batches ----------------------------------------------------------------------------

    async def final_written(self, election_id: str) -> bool:
        if election_id in self._final:  # never unwritten (a batch row is never deleted)
            return True
        q = select(issuance_batches.c.seq).where(and_(
            self._key(issuance_batches, election_id), issuance_batches.c.final == 1)).limit(1)
        async with self.reads.connect() as conn:
            written = (await conn.execute(q)).first() is not None
        if written:
            self._final.add(election_id)
        return written

    async def pending_count(self, election_id: str) -> int:
        q = select(func.count()).select_from(issuance_pending).where(
            self._key(issuance_pending, election_id))
        async with self.reads.connect() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def write_batch(self, election_id: str, *, final: bool) -> int | None:
        """Write the next batch of the pending issuances (a final one even if none are
        pending; otherwise None when nothing is pending); its sequence number."""
        async with self.lock(election_id):
            if await self.final_written(election_id):
                return None
            async with self.engine.begin() as conn:
                rows = (await conn.execute(select(issuance_pending).where(
                    self._key(issuance_pending, election_id)))).all()
                if not rows and not final:
                    return None
                seq = int((await conn.execute(select(func.count()).select_from(
                    issuance_batches).where(self._key(issuance_batches, election_id)))
                ).scalar_one())
                items = [IssuanceRecord(r.owner_id, r.weight, bytes(r.attestation),
                                        bytes(r.attestation_signature), bytes(r.request_hash),
                                        bytes(r.blind_sig)) for r in rows]
                record = sign_issuances(self.signing_key, election_id,
                                        batch(self.registrar, seq, final, items))
                await conn.execute(insert(issuance_batches).values(
                    registrar=self.registrar, election_id=election_id, seq=seq,
                    final=int(final), body=encode_issuances(record)))
                by_owner = {r.owner_id: r for r in rows}
                if rows:  # in the batch's order (owner id), never the order of arrival
                    await conn.execute(insert(issuance_published), [
                        {**by_owner[i.owner_id]._asdict(), "seq": seq}
                        for i in record.issuances])
                    # exactly the rows this batch took (one issued meanwhile is not yet pending:
                    # the lock), and the nonces their attestations used: from now on the one
                    # credential per owner refuses any second request of theirs, and a nonce
                    # row, written on arrival, would keep the order of arrival
                    owners = [r.owner_id for r in rows]
                    nonces = [decode_attestation(bytes(r.attestation)).nonce for r in rows]
                    for i in range(0, len(owners), 500):
                        await conn.execute(delete(issuance_pending).where(and_(
                            self._key(issuance_pending, election_id),
                            issuance_pending.c.owner_id.in_(owners[i:i + 500]))))
                        await conn.execute(delete(attestation_nonces).where(and_(
                            attestation_nonces.c.registrar == self.registrar,
                            attestation_nonces.c.nonce.in_(nonces[i:i + 500]))))
        if rows:  # outside the lock: issuing goes on meanwhile
            await self._erase_history(final=final)
        return seq

    async def _erase_history(self, *, final: bool = False) -> None:
        """Leave no trace of the deleted rows, which held the order of arrival: PostgreSQL keeps
        them until VACUUM; SQLite overwrites them (``secure_delete``, server/db.py) but its
        write-ahead log still holds the pages as they were written, so it is checkpointed and
        truncated. The checkpoint waits for readers only briefly (a busy one is tried again at
        the next batch, a final batch's a few times)."""
        async with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM issuance_pending"))
                await conn.execute(text("VACUUM attestation_nonces"))
                return
            await conn.execute(text("PRAGMA busy_timeout=50"))
            try:
                for attempt in range(20 if final else 1):
                    busy = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
                    if busy is None or not busy[0]:
                        return
                    await asyncio.sleep(0.05 * (attempt + 1))
            finally:
                await conn.execute(text("PRAGMA busy_timeout=30000"))

    async def unsent(self, election_id: str) -> list[tuple[int, bytes]]:
        """The written batches not yet on the ledger, in order: (seq, body)."""
        q = (select(issuance_batches.c.seq, issuance_batches.c.body)
             .where(and_(self._key(issuance_batches, election_id),
                         issuance_batches.c.ledger_index.is_(None)))
             .order_by(issuance_batches.c.seq))
        async with self.reads.connect() as conn:
            return [(r.seq, bytes(r.body)) for r in (await conn.execute(q)).all()]

    async def mark_sent(self, election_id: str, seq: int, index: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(issuance_batches).where(and_(
                self._key(issuance_batches, election_id), issuance_batches.c.seq == seq))
                .values(ledger_index=index))

    async def all_sent(self, election_id: str) -> bool:
        """Whether the final batch is written and every batch is on the ledger."""
        return await self.final_written(election_id) and not await self.unsent(election_id)
