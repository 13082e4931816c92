"""Where an election's events are on the ledger: what ElectionService.GetElectionRecords serves
a client that rebuilds the election from the ledger instead of trusting this server
(docs/protocol.md §13.3).

Every event but the ballots: the roll commitment the definition names, the definition, every
state transition, the key ceremony's messages, every registrar's issuer keys, and once published
the aggregates, the decryption shares and the result. The registrars' issuance batches are left
out like the ballots (an owner's phone has no use for them; the validating witnesses and the
auditors check them). Each index comes from the table
that recorded the event's append, or, for the events whose row keeps no index (roll, definition,
issuer keys), from the ledger's leaf-hash index by the event's exact bytes. What the client is
then sent is each entry with its inclusion proof against one co-signed checkpoint: a server that
leaves an event out can only make the client's view fail to open (a state it cannot reach, a
joint key it cannot recompute), never make it act on another election.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from crypto.records import ElectionEvent, encode_definition, encode_roll_commitment

from .schema import (
    ceremony_messages,
    decryption_shares,
    issuer_keys,
    registrar_batches,
    tally,
    transitions,
)
from .store import ElectionStore


async def record_indexes(store: ElectionStore, election_id: str, *,
                         issuances: bool = False) -> list[int]:
    """The ledger indexes of the election's events (not its ballots; the issuance batches only
    with ``issuances``), increasing; NoSuchElection if there is no such election."""
    election = await store.get_election(election_id)
    d = election.definition
    found = [await store.on_ledger(ElectionEvent.ROLL, d.roll_id, encode_roll_commitment(
        await store.roll_commitment(d.roll_id))),
        await store.on_ledger(ElectionEvent.ELECTION, election_id, encode_definition(d))]
    async with store.reads.connect() as conn:
        tables = (transitions, ceremony_messages, decryption_shares, issuer_keys,
                  *((registrar_batches,) if issuances else ()))
        for table in tables:
            found += (await conn.execute(select(table.c.ledger_index).where(
                table.c.election_id == election_id))).scalars().all()
        row = (await conn.execute(select(tally.c.aggregates_index, tally.c.result_index).where(
            and_(tally.c.election_id == election_id)))).first()
    if row is not None:
        found += list(row)
    return sorted({i for i in found if i is not None})
