"""Rolls and elections: their rows, and their commitments on the ledger.

A roll is stored as imported (the CSV bytes) with the owners' weights; its commitment (hash,
totals, weight classes) is a ``roll`` event on the ledger. An election's definition is stored
as its canonical record (crypto/records.py) and appended as an ``election`` event.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
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
from crypto.codec import Event, encode_event
from crypto.credential import IssuerKey, generate_issuer_key
from crypto.group import decode_point
from crypto.receipt import Receipt
from crypto.records import (
    DefinitionRecord,
    IssuerKeysRecord,
    RollCommitment,
    Transition,
    decode_definition,
    encode_definition,
    encode_issuer_keys,
    encode_roll_commitment,
    encode_transition,
)
from rules.roll import Roll, roll_hash
from rules.roll_csv import parse_roll_csv

from ..ledger.log import AppendResult, Ledger
from .lifecycle import ElectionState

metadata = MetaData()

rolls = Table(
    "rolls", metadata,
    Column("roll_id", String(255), primary_key=True),
    Column("community_id", String(128), nullable=False),
    Column("roll_hash", LargeBinary, nullable=False),
    Column("total_area", BigInteger, nullable=False),
    Column("total_owners", Integer, nullable=False),
    Column("csv", LargeBinary, nullable=False),
)

roll_owners = Table(
    "roll_owners", metadata,
    Column("roll_id", String(255), primary_key=True),
    Column("owner_id", String(255), primary_key=True),
    Column("weight", BigInteger, nullable=False),
)

elections = Table(
    "elections", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("roll_id", String(255), nullable=False),
    Column("definition", LargeBinary, nullable=False),
    Column("state", Integer, nullable=False),
    Column("joint_public_key", LargeBinary, nullable=True),  # set when the ceremony ends
)


issuer_keys = Table(
    "issuer_keys", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("weight", BigInteger, primary_key=True),
    Column("spki", LargeBinary, nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # PKCS#8, encrypted with the server KEK
)


class Conflict(Exception):
    """The roll or election already exists."""


class NotFound(Exception):
    pass


class CosigningTimeout(Exception):
    """The entry is on the ledger but no co-signed checkpoint covers it yet."""

    def __init__(self, index: int) -> None:
        super().__init__(f"entry {index} is on the ledger; the witnesses have not co-signed it "
                         "yet (ask GetReceipt later)")
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
            raise NotFound(f"election {self.definition.election_id} has no joint key yet")
        return ElectionContext(self.definition.election_id, self.definition.contest,
                               decode_point(self.joint_public_key))


def commitment_of(roll: Roll) -> RollCommitment:
    return RollCommitment(roll_hash(roll), roll.total_area, roll.total_owners,
                          tuple((c.area, c.owners) for c in roll.weight_classes()))


class ElectionStore:
    def __init__(self, engine: AsyncEngine, ledger: Ledger, *,
                 receipt_timeout: float = 10.0) -> None:
        self.engine = engine
        self.ledger = ledger
        self.receipt_timeout = receipt_timeout

    async def create(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def _append_event(self, kind: str, subject: str, body: bytes) -> AppendResult:
        return await self.ledger.append(encode_event(Event(kind, subject, body)))

    async def receipt(self, appended: AppendResult) -> Receipt:
        """The receipt once the witnesses co-signed; CosigningTimeout (the entry stays on the
        ledger; GetReceipt serves it later) if they do not in time."""
        try:
            return await self.ledger.receipt(appended.index, appended,
                                             timeout=self.receipt_timeout)
        except TimeoutError as exc:
            raise CosigningTimeout(appended.index) from exc

    async def import_roll(self, community_id: str, csv: bytes
                          ) -> tuple[StoredRoll, Roll, Receipt]:
        """Parse (RollImportError lists every bad row), store, and commit on the ledger."""
        try:
            text = csv.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the roll is not UTF-8: {exc}") from exc
        roll = parse_roll_csv(text)
        commitment = commitment_of(roll)
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
            raise Conflict(f"roll {roll_id} was already imported") from exc
        try:
            appended = await self._append_event("roll", roll_id,
                                                encode_roll_commitment(commitment))
        except Exception:
            async with self.engine.begin() as conn:  # no roll without its commitment
                await conn.execute(delete(roll_owners).where(roll_owners.c.roll_id == roll_id))
                await conn.execute(delete(rolls).where(rolls.c.roll_id == roll_id))
            raise
        return stored, roll, await self.receipt(appended)

    async def get_roll(self, roll_id: str) -> StoredRoll:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(rolls).where(rolls.c.roll_id == roll_id))).first()
        if row is None:
            raise NotFound(f"no roll {roll_id}")
        return StoredRoll(row.roll_id, row.community_id, bytes(row.roll_hash), row.total_area,
                          row.total_owners)

    async def owner_weight(self, roll_id: str, owner_id: str) -> int:
        q = select(roll_owners.c.weight).where(and_(roll_owners.c.roll_id == roll_id,
                                                     roll_owners.c.owner_id == owner_id))
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None:
            raise NotFound(f"{owner_id} is not a voting owner on roll {roll_id}")
        return row.weight

    async def weight_classes(self, roll_id: str) -> dict[int, int]:
        """Weight → number of owners holding it."""
        q = (select(roll_owners.c.weight, func.count()).where(roll_owners.c.roll_id == roll_id)
             .group_by(roll_owners.c.weight))
        async with self.engine.connect() as conn:
            return {w: n for w, n in (await conn.execute(q)).all()}

    async def create_election(self, definition: DefinitionRecord) -> Receipt:
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
            raise Conflict(f"election {definition.election_id} already exists") from exc
        try:
            appended = await self._append_event("election", definition.election_id,
                                                encode_definition(definition))
        except Exception:
            async with self.engine.begin() as conn:  # no election without its commitment
                await conn.execute(delete(elections).where(
                    elections.c.election_id == definition.election_id))
            raise
        return await self.receipt(appended)

    async def transition(self, election_id: str, to: ElectionState, at: int) -> Receipt:
        """Move one state forward: the ``state`` event goes on the ledger, then the row."""
        current = (await self.get_election(election_id)).state
        record = Transition(current.value, to.value, at)  # refuses anything but one step
        appended = await self._append_event("state", election_id, encode_transition(record))
        async with self.engine.begin() as conn:
            await conn.execute(update(elections).where(and_(
                elections.c.election_id == election_id, elections.c.state == current.value))
                .values(state=to.value))
        return await self.receipt(appended)

    async def create_issuer_keys(self, election_id: str, kek: bytes) -> Receipt:
        """One RSA issuer key per weight class of the election's roll (at READY); the public
        keys go on the ledger, the private keys are stored encrypted under ``kek``."""
        election = await self.get_election(election_id)
        q = select(roll_owners.c.weight).where(
            roll_owners.c.roll_id == election.definition.roll_id).distinct()
        async with self.engine.connect() as conn:
            weights = sorted(r.weight for r in (await conn.execute(q)).all())
        rows, published = [], []
        for w in weights:
            sk = generate_issuer_key()
            spki = IssuerKey(election_id, w, sk.public_key()).spki
            rows.append({"election_id": election_id, "weight": w, "spki": spki,
                         "private_key": sk.private_bytes(
                             serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(kek))})
            published.append((w, spki))
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(issuer_keys), rows)
        except IntegrityError as exc:
            raise Conflict(f"election {election_id} already has issuer keys") from exc
        appended = await self._append_event("issuer-keys", election_id,
                                            encode_issuer_keys(IssuerKeysRecord(tuple(published))))
        return await self.receipt(appended)

    async def issuer_keys(self, election_id: str) -> dict[int, IssuerKey]:
        q = select(issuer_keys.c.weight, issuer_keys.c.spki).where(
            issuer_keys.c.election_id == election_id)
        async with self.engine.connect() as conn:
            return {r.weight: IssuerKey(election_id, r.weight,
                                        serialization.load_der_public_key(bytes(r.spki)))
                    for r in (await conn.execute(q)).all()}

    async def issuer_private_keys(self, election_id: str, kek: bytes) -> dict:
        q = select(issuer_keys.c.weight, issuer_keys.c.private_key).where(
            issuer_keys.c.election_id == election_id)
        async with self.engine.connect() as conn:
            return {r.weight: serialization.load_der_private_key(bytes(r.private_key), kek)
                    for r in (await conn.execute(q)).all()}

    async def get_election(self, election_id: str) -> StoredElection:
        q = select(elections).where(elections.c.election_id == election_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None:
            raise NotFound(f"no election {election_id}")
        return StoredElection(decode_definition(bytes(row.definition)), ElectionState(row.state),
                              None if row.joint_public_key is None
                              else bytes(row.joint_public_key))

    async def set_joint_key(self, election_id: str, joint_public_key: bytes) -> None:
        """Record the key ceremony's joint key (its messages are on the ledger already)."""
        decode_point(joint_public_key)
        async with self.engine.begin() as conn:
            result = await conn.execute(update(elections).where(and_(
                elections.c.election_id == election_id,
                elections.c.joint_public_key.is_(None))).values(joint_public_key=joint_public_key))
        if result.rowcount != 1:
            raise Conflict(f"election {election_id} already has a joint key, or does not exist")
