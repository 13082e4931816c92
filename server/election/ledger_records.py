"""Where an election's events are on the ledger: what ElectionService.GetElectionRecords serves
a client that rebuilds the election from the ledger instead of trusting this server
(docs/protocol.md §13.3).

Every event but the ballots: the roll commitment the definition names, the definition, every
state transition, the key ceremony's messages, the issuer keys, and once published the credential
counts, the aggregates, the decryption shares and the result. Each index comes from the table
that recorded the event's append, or, for the events whose row keeps no index (roll, definition,
issuer keys), from the ledger's leaf-hash index by the event's exact bytes. What the client is
then sent is each entry with its inclusion proof against one co-signed checkpoint: a server that
leaves an event out can only make the client's view fail to open (a state it cannot reach, a
joint key it cannot recompute), never make it act on another election.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from crypto.records import (
    ElectionEvent,
    IssuerKeysRecord,
    encode_definition,
    encode_issuer_keys,
    encode_roll_commitment,
)

from .schema import ceremony_messages, decryption_shares, issuer_keys, tally, transitions
from .store import ElectionStore


async def record_indexes(store: ElectionStore, election_id: str) -> list[int]:
    """The ledger indexes of the election's events (not its ballots), increasing;
    NoSuchElection if there is no such election."""
    election = await store.get_election(election_id)
    d = election.definition
    found = [await store.on_ledger(ElectionEvent.ROLL, d.roll_id, encode_roll_commitment(
        await store.roll_commitment(d.roll_id))),
        await store.on_ledger(ElectionEvent.ELECTION, election_id, encode_definition(d))]
    async with store.reads.connect() as conn:
        keys = tuple((r.weight, bytes(r.spki)) for r in (await conn.execute(
            select(issuer_keys.c.weight, issuer_keys.c.spki)
            .where(issuer_keys.c.election_id == election_id)
            .order_by(issuer_keys.c.weight))).all())
        for table in (transitions, ceremony_messages, decryption_shares):
            found += (await conn.execute(select(table.c.ledger_index).where(
                table.c.election_id == election_id))).scalars().all()
        row = (await conn.execute(select(
            tally.c.credentials_index, tally.c.aggregates_index, tally.c.result_index).where(
            and_(tally.c.election_id == election_id)))).first()
    if keys:
        found.append(await store.on_ledger(ElectionEvent.ISSUER_KEYS, election_id,
                                           encode_issuer_keys(IssuerKeysRecord(keys))))
    if row is not None:
        found += list(row)
    return sorted({i for i in found if i is not None})
