"""Rolls and elections: their rows, and their commitments on the ledger.

A roll is stored as imported (the CSV bytes) with the owners' weights; its commitment (hash,
totals, weight classes) is a ``roll`` event on the ledger. An election's definition is stored
as its canonical record (crypto/records.py) and appended as an ``election`` event.

Every lifecycle transition is a ``state`` event; the ``transitions`` table records, per election
and target state, the time written into the event and the event's ledger index (the tally reads
the ballots between the OPEN and the CLOSED event). A transition is written as an intent row
first, then appended, then completed together with the election's row: a process that dies in
between finds the intent on restart, recognises its event on the ledger by its leaf hash
(:meth:`ElectionStore.append_once`) and completes it, so no transition is ever appended twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.ballot import ElectionContext
from crypto.credential import IssuerKey, issuer_key_from_spki
from crypto.encoding import Event, encode_event
from crypto.group import decode_point
from crypto.log import merkle
from crypto.log.receipt import Receipt
from crypto.public_election import PublicElection
from crypto.records import (
    DefinitionRecord,
    ElectionEvent,
    ElectionState,
    RollCommitment,
    Transition,
    decode_definition,
    encode_definition,
    encode_roll_commitment,
    encode_transition,
    roll_commitment,
)
from rules.roll import Roll
from rules.roll_csv import RollImportError, parse_roll_csv

from ..db import read_engine
from ..errors import Conflict, Forbidden, NotFound, Precondition, Refused, Unavailable, invalid
from ..ledger.log import AppendResult, Ledger
from ..shared_load import SharedLoads
from .schema import elections, issuer_keys, roll_owners, rolls, transitions


class NoSuchElection(NotFound):
    def __init__(self, election_id: str) -> None:
        super().__init__(f"no election {election_id}", reason="NO_SUCH_ELECTION",
                         field="election_id")


class NoSuchRoll(NotFound):
    def __init__(self, roll_id: str) -> None:
        super().__init__(f"no roll {roll_id}", reason="NO_SUCH_ROLL", field="roll_id")


class NotAnOwner(Forbidden):
    """The attested person is not a voting owner on the election's roll."""

    def __init__(self, owner_id: str, roll_id: str) -> None:
        super().__init__(f"{owner_id} is not a voting owner on roll {roll_id}",
                         reason="NOT_AN_OWNER", field="owner_id")


class WrongState(Precondition):
    """The election is not in the state the transition starts from."""

    def __init__(self, election_id: str, state: ElectionState, to: ElectionState,
                 message: str | None = None, reason: str = "WRONG_STATE") -> None:
        text = f"election {election_id} is {state.name}; it cannot move to {to.name}"
        super().__init__(message or text, reason=reason, field="election_id",
                         precondition="ELECTION_STATE")
        self.state = state
        self.to = to


class CosigningTimeout(Unavailable):
    """The entry is on the ledger but no co-signed checkpoint covers it yet."""

    def __init__(self, index: int) -> None:
        super().__init__(f"entry {index} is on the ledger; the witnesses have not co-signed it "
                         "yet (ask GetReceipt later)", reason="COSIGNING_PENDING",
                         metadata={"index": str(index)})
        self.index = index


@dataclass(frozen=True)
class StoredRoll:
    roll_id: str
    community_id: str
    roll_hash: bytes
    total_area: int
    total_owners: int


@dataclass(frozen=True)
class StoredElection:
    definition: DefinitionRecord
    state: ElectionState
    joint_public_key: bytes | None = None

    def context(self) -> ElectionContext:
        """What ballots are encrypted for (needs the ceremony's joint key)."""
        if self.joint_public_key is None:
            raise Precondition(f"election {self.definition.election_id} has no joint key yet",
                               reason="NO_JOINT_KEY", precondition="KEY_CEREMONY")
        return ElectionContext(self.definition.election_id, self.definition.contest,
                               decode_point(self.joint_public_key))


#: How long a snapshot of an issuing election (READY or OPEN) may be served without reading the
#: database again (:meth:`ElectionStore.election_snapshot`).
SNAPSHOT_TTL = 1.0
ROLL_CACHE = 64  # rolls whose owners' weights are kept in memory (owner_weight)
_SNAPSHOTS_MAX = 1024


class ElectionStore:
    def __init__(self, engine: AsyncEngine, ledger: Ledger, *,
                 receipt_timeout: float = 10.0, snapshot_ttl: float = SNAPSHOT_TTL,
                 wall_clock=time.time) -> None:
        self.engine = engine
        self.reads = read_engine(engine)  # single-statement reads: no BEGIN/ROLLBACK
        self.ledger = ledger
        self.receipt_timeout = receipt_timeout
        self._locks: dict[str, asyncio.Lock] = {}
        self.snapshot_ttl = snapshot_ttl
        self._wall_clock = wall_clock
        self._snapshots: dict[str, tuple[float, StoredElection]] = {}
        self._generations: dict[str, int] = {}  # bumped by every change this store makes
        self._roll_weights: SharedLoads[str, dict[str, int]] = SharedLoads(
            self._read_weights, keep=ROLL_CACHE)

    def lock(self, election_id: str) -> asyncio.Lock:
        """The in-process lock that serialises one election's lifecycle and tally appends."""
        return self._locks.setdefault(election_id, asyncio.Lock())

    async def _append_event(self, kind: str, subject: str, body: bytes) -> AppendResult:
        return await self.ledger.append(encode_event(Event(kind, subject, body)))

    async def on_ledger(self, kind: str, subject: str, body: bytes) -> int | None:
        """The ledger index of this exact event, if it is on the ledger."""
        leaf = merkle.leaf_hash(encode_event(Event(kind, subject, body)))
        return await self.ledger.store.index_of_leaf(leaf)

    async def append_once(self, kind: str, subject: str, body: bytes
                          ) -> tuple[int, AppendResult | None]:
        """Append the event unless this exact event is on the ledger already (a retry after a
        crash between the append and the database write); its index, and the append result
        when this call appended it."""
        index = await self.on_ledger(kind, subject, body)
        if index is not None:
            return index, None
        appended = await self._append_event(kind, subject, body)
        return appended.index, appended

    async def receipt(self, appended: AppendResult) -> Receipt:
        """The receipt once the witnesses co-signed; CosigningTimeout (the entry stays on the
        ledger; GetReceipt serves it later) if they do not in time."""
        return await self.receipt_at(appended.index, appended)

    async def receipt_at(self, index: int, appended: AppendResult | None = None) -> Receipt:
        try:
            return await self.ledger.receipt(index, appended, timeout=self.receipt_timeout)
        except TimeoutError as exc:
            raise CosigningTimeout(index) from exc

    async def import_roll(self, community_id: str, csv: bytes
                          ) -> tuple[StoredRoll, Roll, Receipt]:
        """Parse (every bad row refused with its line), store, and commit on the ledger."""
        try:
            text = csv.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid("csv", f"the roll is not UTF-8: {exc}", "BAD_ROLL") from exc
        try:
            roll = parse_roll_csv(text)
        except RollImportError as exc:
            first = exc.errors[0]
            raise Refused(f"{exc.error_count} bad row(s); " + "; ".join(
                f"line {e.line}: {e.reason}" for e in exc.errors[:20]), reason="BAD_ROLL_ROW",
                field="csv", metadata={"line": str(first.line), "column": first.column or "",
                                       "errors": str(exc.error_count)}) from exc
        except ValueError as exc:
            raise invalid("csv", str(exc), "BAD_ROLL") from exc
        commitment = roll_commitment(roll)
        roll_id = f"{community_id}/{commitment.roll_hash[:8].hex()}"
        stored = StoredRoll(roll_id, community_id, commitment.roll_hash, roll.total_area,
                            roll.total_owners)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(rolls).values(
                    roll_id=roll_id, community_id=community_id, roll_hash=commitment.roll_hash,
                    total_area=roll.total_area, total_owners=roll.total_owners, csv=csv))
                await conn.execute(insert(roll_owners), [
                    {"roll_id": roll_id, "owner_id": o.owner_id, "weight": o.area}
                    for o in roll.owners])
        except IntegrityError as exc:
            raise Conflict(f"roll {roll_id} was already imported", reason="ROLL_EXISTS",
                           field="csv") from exc
        try:
            appended = await self._append_event(ElectionEvent.ROLL, roll_id,
                                                encode_roll_commitment(commitment))
        except Exception:
            async with self.engine.begin() as conn:  # no roll without its commitment
                await conn.execute(delete(roll_owners).where(roll_owners.c.roll_id == roll_id))
                await conn.execute(delete(rolls).where(rolls.c.roll_id == roll_id))
            raise
        return stored, roll, await self.receipt(appended)

    async def get_roll(self, roll_id: str) -> StoredRoll:
        async with self.reads.connect() as conn:
            row = (await conn.execute(select(rolls).where(rolls.c.roll_id == roll_id))).first()
        if row is None:
            raise NoSuchRoll(roll_id)
        return StoredRoll(row.roll_id, row.community_id, bytes(row.roll_hash), row.total_area,
                          row.total_owners)

    async def roll_to_define_on(self, roll_id: str) -> StoredRoll:
        """The roll an election is being defined on; Precondition ROLL_IMPORTED unless it was
        imported."""
        try:
            return await self.get_roll(roll_id)
        except NoSuchRoll as exc:
            raise Precondition(str(exc), reason="NO_SUCH_ROLL", field="roll_id",
                               precondition="ROLL_IMPORTED") from exc

    async def owner_weight(self, roll_id: str, owner_id: str) -> int:
        """The owner's weight (area) on the roll; NotAnOwner if not a voting owner on it.

        Every credential request asks this twice (eligibility, then the request), so the
        owners of a roll are read once, in one query, and kept (the last ROLL_CACHE rolls). A
        roll never changes once imported: its id names its hash (import_roll), and a second
        import of the same id is refused. Requests arriving together share one read."""
        weight = (await self._roll_weights.get(roll_id)).get(owner_id)
        if weight is None:
            raise NotAnOwner(owner_id, roll_id)
        return weight

    async def _read_weights(self, roll_id: str) -> dict[str, int]:
        q = select(roll_owners.c.owner_id, roll_owners.c.weight).where(
            roll_owners.c.roll_id == roll_id)
        async with self.reads.connect() as conn:
            return {r.owner_id: r.weight for r in (await conn.execute(q)).all()}

    async def weight_classes(self, roll_id: str) -> dict[int, int]:
        """Weight → number of owners holding it."""
        q = (select(roll_owners.c.weight, func.count()).where(roll_owners.c.roll_id == roll_id)
             .group_by(roll_owners.c.weight))
        async with self.reads.connect() as conn:
            return {w: n for w, n in (await conn.execute(q)).all()}

    async def create_election(self, definition: DefinitionRecord) -> Receipt:
        if definition.ceremony_deadline <= self._wall_clock():
            raise Refused("the ceremony deadline has passed (it must be after the creation, at "
                          "or before the opening time)", reason="CEREMONY_DEADLINE_PASSED",
                          field="ceremony_deadline")
        roll = await self.get_roll(definition.roll_id)
        if roll.roll_hash != definition.roll_hash:
            raise ValueError("the definition names another roll hash")
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(elections).values(
                    election_id=definition.election_id, roll_id=definition.roll_id,
                    definition=encode_definition(definition),
                    state=ElectionState.DRAFT.value))
        except IntegrityError as exc:
            raise Conflict(f"election {definition.election_id} already exists",
                           reason="ELECTION_EXISTS", field="election_id") from exc
        try:
            appended = await self._append_event(ElectionEvent.ELECTION, definition.election_id,
                                                encode_definition(definition))
        except Exception:
            async with self.engine.begin() as conn:  # no election without its commitment
                await conn.execute(delete(elections).where(
                    elections.c.election_id == definition.election_id))
            raise
        return await self.receipt(appended)

    async def schedule(self, election_id: str, at: int) -> Receipt:
        """DRAFT → KEY_CEREMONY (from then on the lifecycle driver moves it on the clock);
        WrongState NOT_DRAFT from any other state."""
        try:
            return await self.transition(election_id, ElectionState.KEY_CEREMONY, at)
        except WrongState as exc:
            raise WrongState(election_id, exc.state, exc.to,
                             f"only a DRAFT election can be scheduled; {exc}",
                             reason="NOT_DRAFT") from exc

    async def transition(self, election_id: str, to: ElectionState, at: int) -> Receipt:
        """Move one state forward (:meth:`advance_state`) and wait for the event's receipt."""
        index, appended = await self._advance(election_id, to, at)
        return await self.receipt_at(index, appended)

    async def advance_state(self, election_id: str, to: ElectionState, at: int) -> int:
        """Move one state forward: the ``state`` event goes on the ledger, then the row; the
        event's ledger index (no receipt wait). WrongState unless the election is in the state
        before ``to``; ``at`` is raised to the previous transition's time if the clock went back
        (the times on the ledger never decrease)."""
        return (await self._advance(election_id, to, at))[0]

    async def _advance(self, election_id: str, to: ElectionState, at: int
                       ) -> tuple[int, AppendResult | None]:
        if to is ElectionState.DRAFT:
            raise ValueError("no transition leads to DRAFT")
        frm = ElectionState(to.value - 1)
        async with self.lock(election_id):
            self._forget(election_id)
            current = (await self.get_election(election_id)).state
            if current is not frm:
                raise WrongState(election_id, current, to)
            at = await self._intent(election_id, to, at)
            body = encode_transition(Transition(frm.value, to.value, at))
            index, appended = await self.append_once(ElectionEvent.STATE, election_id, body)
            async with self.engine.begin() as conn:
                await conn.execute(update(transitions).where(and_(
                    transitions.c.election_id == election_id,
                    transitions.c.to_state == to.value)).values(ledger_index=index))
                await conn.execute(update(elections).where(and_(
                    elections.c.election_id == election_id, elections.c.state == frm.value))
                    .values(state=to.value))
            self._forget(election_id)
        return index, appended

    async def _intent(self, election_id: str, to: ElectionState, at: int) -> int:
        """Record the transition's time before its event is appended (or find the time of an
        interrupted earlier attempt): the retried event is then byte-identical."""
        where = and_(transitions.c.election_id == election_id,
                     transitions.c.to_state == to.value)
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(transitions.c.at).where(where))).first()
            if row is not None:
                return row.at
            last = (await conn.execute(select(func.max(transitions.c.at)).where(
                transitions.c.election_id == election_id))).scalar()
            at = max(int(at), last or 0)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(transitions).values(
                    election_id=election_id, to_state=to.value, at=at, ledger_index=None))
        except IntegrityError:  # another process wrote the intent first: use its time
            async with self.reads.connect() as conn:
                return (await conn.execute(select(transitions.c.at).where(where))).scalar_one()
        return at

    async def transition_index(self, election_id: str, to: ElectionState) -> int | None:
        """The ledger index of the election's transition into ``to`` (None: not made)."""
        q = select(transitions.c.ledger_index).where(and_(
            transitions.c.election_id == election_id, transitions.c.to_state == to.value))
        async with self.reads.connect() as conn:
            return (await conn.execute(q)).scalar()

    async def in_progress(self) -> list[tuple[str, ElectionState]]:
        """Every scheduled election not yet PUBLISHED, with its state."""
        q = (select(elections.c.election_id, elections.c.state)
             .where(elections.c.state.between(ElectionState.KEY_CEREMONY.value,
                                              ElectionState.TALLYING.value))
             .order_by(elections.c.election_id))
        async with self.reads.connect() as conn:
            return [(r.election_id, ElectionState(r.state)) for r in (await conn.execute(q)).all()]

    async def roll_commitment(self, roll_id: str) -> RollCommitment:
        """The roll's commitment as on the ledger (hash, totals, weight classes)."""
        roll = await self.get_roll(roll_id)
        classes = await self.weight_classes(roll_id)
        return RollCommitment(roll.roll_hash, roll.total_area, roll.total_owners,
                              tuple(sorted(classes.items())))

    async def issuer_keys(self, election_id: str) -> dict[int, dict[int, IssuerKey]]:
        """Registrar index -> weight -> the issuer key its signed ``issuer-keys`` event put on
        the ledger (issuance_intake.py)."""
        q = select(issuer_keys.c.registrar, issuer_keys.c.weight, issuer_keys.c.spki).where(
            issuer_keys.c.election_id == election_id)
        out: dict[int, dict[int, IssuerKey]] = {}
        async with self.reads.connect() as conn:
            for r in (await conn.execute(q)).all():
                out.setdefault(r.registrar, {})[r.weight] = issuer_key_from_spki(
                    election_id, r.weight, bytes(r.spki), r.registrar)
        return out

    async def get_election(self, election_id: str) -> StoredElection:
        q = select(elections).where(elections.c.election_id == election_id)
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None:
            raise NoSuchElection(election_id)
        return StoredElection(decode_definition(bytes(row.definition)), ElectionState(row.state),
                              None if row.joint_public_key is None
                              else bytes(row.joint_public_key))

    async def public_election(self, election_id: str) -> PublicElection:
        """The election as anyone may read it (ElectionService.GetElection)."""
        stored = await self.get_election(election_id)
        roll = await self.get_roll(stored.definition.roll_id)
        classes = await self.weight_classes(stored.definition.roll_id)
        issuers = await self.issuer_keys(election_id)
        joint = (None if stored.joint_public_key is None
                 else decode_point(stored.joint_public_key))
        return PublicElection(stored.definition, stored.state, roll.total_area,
                              roll.total_owners, joint, issuers,
                              {w: classes.get(w, 0) for ks in issuers.values() for w in ks})

    async def set_joint_key(self, election_id: str, joint_public_key: bytes) -> None:
        """Record the key ceremony's joint key (its messages are on the ledger already)."""
        decode_point(joint_public_key)
        self._forget(election_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(update(elections).where(and_(
                elections.c.election_id == election_id,
                elections.c.joint_public_key.is_(None))).values(joint_public_key=joint_public_key))
        self._forget(election_id)
        if result.rowcount != 1:
            raise Conflict(f"election {election_id} already has a joint key, or does not exist",
                           reason="JOINT_KEY_SET")

    # --- a short-lived snapshot for the hot request paths ---------------------------------------

    def _forget(self, election_id: str) -> None:
        """Drop the election's snapshot; a read under way when this is called stores none."""
        self._snapshots.pop(election_id, None)
        self._generations[election_id] = self._generations.get(election_id, 0) + 1

    async def election_snapshot(self, election_id: str,
                                states: Collection[ElectionState]) -> StoredElection:
        """:meth:`get_election`, served from memory when a snapshot of it in one of ``states``
        was read less than ``snapshot_ttl`` seconds ago (the credential and ballot paths read
        the election on every request; its definition, context and issuer keys do not change
        once READY). Only READY and OPEN are ever kept, the two states an election leaves only
        forward: READY → OPEN happens at the opening time (both issue credentials; the ballot
        path asks for OPEN only, so a READY snapshot never refuses a ballot), OPEN → CLOSED at
        the closing time, and an OPEN snapshot is not served at or after its closing time (wall
        clock): a snapshot never lets anything through after the close. Every transition this
        store makes drops the snapshot at once; one made by another server process is seen
        within ``snapshot_ttl`` seconds. The ballot box still checks the time window and its
        seal on every ballot."""
        hit = self._snapshots.get(election_id)
        now = time.monotonic()
        if (hit is not None and now - hit[0] < self.snapshot_ttl and hit[1].state in states
                and (hit[1].state is not ElectionState.OPEN
                     or self._wall_clock() < hit[1].definition.close_time)):
            return hit[1]
        generation = self._generations.get(election_id, 0)
        stored = await self.get_election(election_id)
        if (stored.state in (ElectionState.READY, ElectionState.OPEN)
                and self._generations.get(election_id, 0) == generation):
            if len(self._snapshots) >= _SNAPSHOTS_MAX:
                self._snapshots.clear()
            self._snapshots[election_id] = (now, stored)  # aged from before the read
        else:
            self._snapshots.pop(election_id, None)
        return stored
