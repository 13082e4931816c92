"""The registrars' records, taken onto the ledger (docs/protocol.md §8.5).

A registrar is its own process with its own keys (server/registrar/); it sends the server its
signed ``issuer-keys`` event once per election and then its signed ``issuances`` batches
(IssuanceService). The server holds no registrar's private key and cannot make or change such a
record: it only appends what a registrar signed. Before appending it checks every rule the
validating witnesses and auditors check of the record (crypto/election_audit.py), so that one
registrar's bad record is refused here, with its reason, and never stalls the ledger at the
witnesses. Each record is appended once: an identical resend (a lost reply, a registrar's
restart) answers the index it already has, from the ledger's leaf index.

The tables it keeps (``registrar_issuer_keys``, ``registrar_batches``, ``registrar_issued``)
copy what the ledger shows, in ledger order; the close reads them (tally.py): the final batch of
every registrar with keys, and the issuances per registrar and class that bound the voting
tokens.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import and_, func, insert, select

from crypto.credential import issuer_key_from_spki
from crypto.errors import DecodeError, InvalidSignature
from crypto.issuance import (
    decode_issuances,
    decode_issuer_keys,
    verify_issuance,
    verify_issuances,
    verify_issuer_keys,
)
from crypto.records import DefinitionRecord, ElectionEvent, ElectionState

from ..errors import Conflict, Forbidden, Precondition, Refused
from ..ledger.guard import EntryRefused
from .schema import issuer_keys, registrar_batches, registrar_issued, transitions
from .store import ElectionStore

S = ElectionState


class RecordRefused(Refused):
    """A registrar's record that breaks a rule of §8.5 (INVALID_ARGUMENT with its reason)."""

    def __init__(self, reason: str, message: str, field: str = "record") -> None:
        super().__init__(message, reason=reason, field=field)


def _registrar(d: DefinitionRecord, name: str, caller: str | None = None) -> int:
    if caller is not None and caller != name:
        raise Forbidden(f"registrar {caller} sent a record of {name}",
                        reason="NOT_THIS_REGISTRAR")
    try:
        return d.registrar_index(name)
    except KeyError:
        raise RecordRefused("UNKNOWN_REGISTRAR",
                            f"registrar {name!r} is not one of {d.election_id}'s") from None


class IssuanceIntake:
    def __init__(self, elections: ElectionStore) -> None:
        self.elections = elections
        self.engine = elections.engine
        self.reads = elections.reads
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    def _lock(self, election_id: str, registrar: int) -> asyncio.Lock:
        return self._locks.setdefault((election_id, registrar), asyncio.Lock())

    # --- issuer keys ----------------------------------------------------------------------------

    async def publish_issuer_keys(self, election_id: str, body: bytes,
                                  caller: str | None = None) -> int:
        """Append a registrar's signed issuer keys once (KEY_CEREMONY); the ledger index.
        ``caller``: the registrar whose certificate sent it (its own records only)."""
        index = await self.elections.on_ledger(ElectionEvent.ISSUER_KEYS, election_id, body)
        if index is not None:
            return index
        e = await self.elections.get_election(election_id)
        d = e.definition
        try:
            record = decode_issuer_keys(body)
        except DecodeError as exc:
            raise RecordRefused("UNDECODABLE", f"not an issuer-keys record: {exc}") from exc
        r = _registrar(d, record.registrar, caller)
        try:
            verify_issuer_keys(d.registrars[r].key, election_id, record)
        except InvalidSignature as exc:
            raise RecordRefused("BAD_REGISTRAR_SIGNATURE", str(exc)) from exc
        classes = sorted(await self.elections.weight_classes(d.roll_id))
        if [w for w, _ in record.keys] != classes:
            raise RecordRefused("WRONG_CLASSES", "the issuer keys are not one per weight class "
                                                 "of the roll")
        try:
            keys = [issuer_key_from_spki(election_id, w, spki, r) for w, spki in record.keys]
        except DecodeError as exc:
            raise RecordRefused("BAD_ISSUER_KEY", str(exc)) from exc
        async with self._lock(election_id, r):
            if e.state is not S.KEY_CEREMONY:
                raise Precondition(f"issuer keys are published during the key ceremony, not "
                                   f"{e.state.name}", reason="NOT_KEY_CEREMONY",
                                   precondition="ELECTION_STATE")
            if await self._has_keys(election_id, r):
                raise Conflict(f"registrar {record.registrar} published other issuer keys",
                               reason="ISSUER_KEYS_EXIST")
            index = await self._append(ElectionEvent.ISSUER_KEYS, election_id, body)
            async with self.engine.begin() as conn:
                await conn.execute(insert(issuer_keys), [
                    {"election_id": election_id, "registrar": r, "weight": k.weight,
                     "spki": k.spki, "ledger_index": index} for k in keys])
        return index

    async def _append(self, kind: str, election_id: str, body: bytes) -> int:
        """Append once; the sequencer's guard refuses a record whose place in the log breaks
        its state rule (the election moved on since the check above): FAILED_PRECONDITION with
        the guard's reason (server/election/append_guard.py), and the registrar tries again."""
        try:
            index, _ = await self.elections.append_once(kind, election_id, body)
        except EntryRefused as exc:
            raise Precondition(exc.detail or exc.reason, reason=exc.code or "REFUSED",
                               precondition="ELECTION_STATE") from exc
        return index

    async def _has_keys(self, election_id: str, registrar: int) -> bool:
        q = select(issuer_keys.c.weight).where(and_(
            issuer_keys.c.election_id == election_id,
            issuer_keys.c.registrar == registrar)).limit(1)
        async with self.reads.connect() as conn:
            return (await conn.execute(q)).first() is not None

    async def registrars_with_keys(self, election_id: str) -> set[int]:
        q = select(issuer_keys.c.registrar).where(
            issuer_keys.c.election_id == election_id).distinct()
        async with self.reads.connect() as conn:
            return {r for (r,) in (await conn.execute(q)).all()}

    # --- issuance batches -----------------------------------------------------------------------

    async def publish_issuances(self, election_id: str, body: bytes,
                                caller: str | None = None) -> int:
        """Append a registrar's signed batch once (READY, OPEN, CLOSED; the final one CLOSED);
        the ledger index. ``caller`` as for :meth:`publish_issuer_keys`."""
        index = await self.elections.on_ledger(ElectionEvent.ISSUANCES, election_id, body)
        if index is not None:
            return index
        e = await self.elections.get_election(election_id)
        d = e.definition
        try:
            record = decode_issuances(body)
        except DecodeError as exc:
            raise RecordRefused("UNDECODABLE", f"not an issuances record: {exc}") from exc
        r = _registrar(d, record.registrar, caller)
        try:
            verify_issuances(d.registrars[r].key, election_id, record)
        except InvalidSignature as exc:
            raise RecordRefused("BAD_REGISTRAR_SIGNATURE", str(exc)) from exc
        keys = (await self.elections.issuer_keys(election_id)).get(r)
        if not keys:
            raise Precondition(f"registrar {record.registrar} has no issuer keys on the ledger",
                               reason="NO_ISSUER_KEYS", precondition="ISSUER_KEYS")
        roll = await self.elections.weight_classes(d.roll_id)
        ready_at = await self._ready_at(election_id)
        async with self._lock(election_id, r):
            e = await self.elections.get_election(election_id)
            if e.state not in (S.READY, S.OPEN, S.CLOSED) or (record.final
                                                              and e.state is not S.CLOSED):
                raise Precondition(f"{'a final batch' if record.final else 'a batch'} while "
                                   f"the election is {e.state.name}", reason="NOT_ISSUING",
                                   precondition="ELECTION_STATE")
            next_seq, final = await self._batches(election_id, r)
            if final:
                raise Conflict(f"registrar {record.registrar} published its final batch",
                               reason="FINAL_BATCH_PUBLISHED")
            if record.seq != next_seq:
                raise RecordRefused("BATCH_OUT_OF_ORDER", f"batch {record.seq}, expected "
                                                          f"{next_seq}", "record.seq")
            counts, owners = await self._issued(election_id, r,
                                                [i.owner_id for i in record.issuances])
            for n, item in enumerate(record.issuances):
                where = f"issuances[{n}]"
                if item.owner_id in owners:
                    raise RecordRefused("ALREADY_ISSUED", f"{where}: {record.registrar} issued "
                                                          f"to {item.owner_id} before", where)
                if item.weight not in roll:
                    raise RecordRefused("WRONG_WEIGHT_CLASS", f"{where}: class {item.weight} "
                                                              "is not on the roll", where)
                counts[item.weight] += 1
                if counts[item.weight] > roll[item.weight]:
                    raise RecordRefused("TOO_MANY_ISSUANCES", f"{where}: more issuances in "
                                        f"class {item.weight} than the roll has owners", where)
                try:
                    verify_issuance(election_id, d.identity_provider, keys[item.weight], item,
                                    check=where, not_expired_at=ready_at)
                except InvalidSignature as exc:
                    raise RecordRefused("INVALID_ISSUANCE", str(exc),
                                        getattr(exc, "check", where)) from exc
            index = await self._append(ElectionEvent.ISSUANCES, election_id, body)
            async with self.engine.begin() as conn:
                await conn.execute(insert(registrar_batches).values(
                    election_id=election_id, registrar=r, seq=record.seq,
                    final=int(record.final), ledger_index=index))
                if record.issuances:
                    await conn.execute(insert(registrar_issued), [
                        {"election_id": election_id, "registrar": r, "owner_id": i.owner_id,
                         "weight": i.weight} for i in record.issuances])
        return index

    async def _ready_at(self, election_id: str) -> int:
        q = select(transitions.c.at).where(and_(transitions.c.election_id == election_id,
                                                transitions.c.to_state == int(S.READY)))
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return 0 if row is None else int(row.at)

    async def _batches(self, election_id: str, registrar: int) -> tuple[int, bool]:
        q = select(func.count(), func.max(registrar_batches.c.final)).where(and_(
            registrar_batches.c.election_id == election_id,
            registrar_batches.c.registrar == registrar))
        async with self.reads.connect() as conn:
            n, final = (await conn.execute(q)).one()
        return int(n), bool(final)

    async def _issued(self, election_id: str, registrar: int, owner_ids: list[str]
                      ) -> tuple[Counter, set[str]]:
        """This registrar's issuances per class so far, and which of ``owner_ids`` it issued
        to before."""
        t = registrar_issued.c
        where = and_(t.election_id == election_id, t.registrar == registrar)
        async with self.reads.connect() as conn:
            counts = Counter({w: n for w, n in (await conn.execute(
                select(t.weight, func.count()).where(where).group_by(t.weight))).all()})
            seen: set[str] = set()
            for i in range(0, len(owner_ids), 500):
                chunk = owner_ids[i:i + 500]
                seen |= {o for (o,) in (await conn.execute(
                    select(t.owner_id).where(and_(where, t.owner_id.in_(chunk))))).all()}
        return counts, seen

    async def final_registrars(self, election_id: str) -> set[int]:
        q = select(registrar_batches.c.registrar).where(and_(
            registrar_batches.c.election_id == election_id, registrar_batches.c.final == 1))
        async with self.reads.connect() as conn:
            return {r for (r,) in (await conn.execute(q)).all()}

    async def issued_per_registrar(self, election_id: str) -> Counter:
        """(registrar, weight) -> issuance records on the ledger."""
        t = registrar_issued.c
        q = (select(t.registrar, t.weight, func.count()).where(t.election_id == election_id)
             .group_by(t.registrar, t.weight))
        async with self.reads.connect() as conn:
            return Counter({(r, w): n for r, w, n in (await conn.execute(q)).all()})


__all__ = ["IssuanceIntake", "RecordRefused"]
