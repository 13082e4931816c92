"""ElectionService over gRPC (election.proto): GetElection, and GetResult once the election is
PUBLISHED (before: FAILED_PRECONDITION, reason NOT_PUBLISHED): participation, quorum, per
option the decrypted totals with exact fractions and the outcome under the rule, the guardians
whose shares were combined, and the receipt of the ``result`` event."""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from ...errors import answers
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
    async def GetResult(self, request, context):  # noqa: N802
        tally = require_tally(self.tally)
        eid = check_election_id(request.election_id)
        published = await tally.result(eid)
        definition = (await self.store.get_election(eid)).definition
        receipt = await self.store.receipt_at(published.ledger_index)
        return wire.result_pb(eid, definition.contest.options, published.result, receipt)
