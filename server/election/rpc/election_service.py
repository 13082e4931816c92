"""ElectionService over gRPC (election.proto): GetElection; GetElectionRecords, every event of an
election but its ballots with inclusion proofs against one co-signed checkpoint (what a client
rebuilds the election from, trusting no server); and GetResult once the election is PUBLISHED
(before: FAILED_PRECONDITION, reason NOT_PUBLISHED): participation, quorum, per option the
decrypted totals with exact fractions and the outcome under the rule, the guardians whose shares
were combined, the ``result`` event itself and its receipt."""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.log.receipt import ProvenEntry

from ...errors import Precondition, answers, invalid
from ..ledger_records import record_indexes
from ..store import ElectionStore
from ..tally import TallyStore
from .common import check_election_id, require_tally


class ElectionService(election_pb2_grpc.ElectionServiceServicer):
    def __init__(self, store: ElectionStore, tally: TallyStore | None = None) -> None:
        self.store = store
        self.tally = tally

    @answers()
    async def GetElection(self, request, context):  # noqa: N802
        eid = check_election_id(request.election_id)
        election = await self.store.public_election(eid)
        return election_pb2.GetElectionResponse(election=wire.election_pb(election))

    @answers()
    async def GetElectionRecords(self, request, context):  # noqa: N802
        eid = check_election_id(request.election_id)
        indexes = await record_indexes(self.store, eid, issuances=request.include_issuances)
        log = self.store.ledger.store
        cp = await log.latest_checkpoint(cosigned=True)
        if cp is None:
            raise Precondition("no co-signed checkpoint yet", reason="NO_CHECKPOINT",
                               precondition="COSIGNED_CHECKPOINT")
        head = (await log.head()).size
        if request.known_tree_size > head:
            raise invalid("known_tree_size", f"larger than the log's size {head}",
                          "BEYOND_TREE_SIZE")
        low, high = sorted((request.known_tree_size, cp.size))
        consistency = await log.consistency_proof(low, high) if 0 < low < high else []
        entries = [ProvenEntry(i, data, tuple(proof))
                   for i, data, proof in await log.proven_entries(indexes, cp.size)]
        return wire.election_records_pb(cp.cosigned_note, consistency, entries)

    @answers()
    async def GetResult(self, request, context):  # noqa: N802
        tally = require_tally(self.tally)
        eid = check_election_id(request.election_id)
        published = await tally.result(eid)
        definition = (await self.store.get_election(eid)).definition
        receipt = await self.store.receipt_at(published.ledger_index)
        entry = (await self.store.ledger.store.entries_at([published.ledger_index]))[
            published.ledger_index]
        return wire.result_pb(eid, definition.contest.options, published.result, receipt,
                              entry)
