"""BallotBoxService over gRPC: protobuf → domain (ownervote.v1.wire), then the ballot box.

A refusal names the protobuf path of what failed: the ballot box names its checks in domain
terms (crypto.cast: ``credential.weight``, ``selection[1].proof``, ``signature``), and
:func:`field_of_check` turns them into the request's paths.
"""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.credential import IssuerSet
from crypto.records import ElectionState

from ...errors import Precondition, ServerError, answers
from ..ballot_box import BallotBox, BallotBoxClosed, OpenElection
from ..store import ElectionStore
from .common import check_election_id


def field_of_check(check: str) -> str | None:
    """The protobuf path of a failed ballot check (crypto names it in domain terms)."""
    if check in ("replay", "election_state", "revote_cap"):
        return None
    if check == "counter":
        return "cast_ballot.counter"
    if check.startswith("credential.") or check == "signature":
        return f"cast_ballot.{check}"
    if check.startswith("selection["):
        return "cast_ballot.ballot.selections" + check[len("selection"):]
    return f"cast_ballot.ballot.{check}"


class BallotBoxService(election_pb2_grpc.BallotBoxServiceServicer):
    def __init__(self, store: ElectionStore, box: BallotBox) -> None:
        self.store = store
        self.box = box
        # an open election's context and issuer keys never change: decode them once, not per
        # ballot (the state comes from the store's short-lived snapshot, ElectionStore.
        # election_snapshot; the ballot box checks the time window and its seal on every ballot)
        self._open_elections: dict[str, OpenElection] = {}

    async def _open(self, election_id: str) -> OpenElection:
        check_election_id(election_id, "cast_ballot.ballot.election_id")
        stored = await self.store.election_snapshot(election_id, (ElectionState.OPEN,))
        if stored.state is not ElectionState.OPEN:
            raise Precondition(f"the election is {stored.state.name}, not OPEN",
                               reason="NOT_OPEN", precondition="ELECTION_STATE")
        cached = self._open_elections.get(election_id)
        if cached is None:
            d = stored.definition
            cached = OpenElection(stored.context(), IssuerSet(
                d.election_id, d.registrar_threshold, await self.store.issuer_keys(d.election_id)),
                d.open_time, d.close_time)
            self._open_elections[election_id] = cached
        return cached

    @answers(fields=field_of_check)
    async def CastBallot(self, request, context):  # noqa: N802
        pb = request.cast_ballot

        def decode():  # protobuf → domain; a field that does not map is refused, named
            return wire.cast_ballot("cast_ballot", pb)

        # With worker processes, a well-shaped ballot goes to them as its canonical bytes,
        # concatenated from the fields: its points are decoded once, in the worker, not on the
        # event loop (then encoded again). A refusal that decoding would come after is preceded
        # by decoding here, so a field that does not decode is refused first, as on the
        # decoding path.
        cast_bytes = wire.cast_ballot_bytes(pb) if self.box.verifier.workers else None
        cast = decode() if cast_bytes is None else None
        try:
            election = await self._open(pb.ballot.election_id)
        except (ServerError, wire.WireError):
            if cast is None:
                decode()
            raise
        try:
            if cast is None:
                result = await self.box.cast_encoded(election, cast_bytes, decode)
            else:
                result = await self.box.cast(election, cast)
        except BallotBoxClosed:
            if cast is None:
                decode()
            raise
        return election_pb2.CastBallotResponse(ballot_hash=result.ballot_hash,
                                               receipt=wire.receipt_pb(result.receipt))
