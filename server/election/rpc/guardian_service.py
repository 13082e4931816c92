"""GuardianService over gRPC: the key ceremony and the tally's decryption shares
(election.proto). Guardians authenticate with mutual TLS: the client certificate's common name
must be ``<election_id>/guardian-<index>`` for the guardian index the message speaks for (no
certificate: UNAUTHENTICATED; another guardian: PERMISSION_DENIED). The ceremony itself is
public: GetCeremony needs no certificate.

SubmitDecryptionShares (TALLYING only, else FAILED_PRECONDITION): one share per non-trivial
aggregate, each checked against the guardian's verification key before anything is stored (a
missing, unknown, duplicate or invalid share is INVALID_ARGUMENT naming ``shares[i]`` and, in the
ErrorInfo metadata, the label); a second submission is ALREADY_EXISTS. The t-th valid submission
publishes the result (tally.py)."""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.dkg import Verdict

from ...errors import Forbidden, Unauthenticated, answers
from ..ceremony import CeremonyStore
from ..tally import TallyStore
from .common import check_election_id, client_common_name, require_tally


def require_guardian(context, election_id: str, index: int) -> None:
    cn = client_common_name(context)
    if cn is None:
        raise Unauthenticated("a guardian's client certificate is required (mutual TLS)",
                              reason="UNAUTHENTICATED")
    if cn != f"{election_id}/guardian-{index}":
        raise Forbidden(f"certificate {cn!r} does not speak for guardian {index} of "
                        f"{election_id}", reason="NOT_THIS_GUARDIAN")


class GuardianService(election_pb2_grpc.GuardianServiceServicer):
    def __init__(self, ceremony: CeremonyStore, tally: TallyStore | None = None) -> None:
        self.ceremony = ceremony
        self.tally = tally

    def _speaks_for(self, context, election_id: str, index: int) -> None:
        check_election_id(election_id)
        require_guardian(context, election_id, index)

    @answers()
    async def RegisterGuardianKey(self, request, context):  # noqa: N802
        key = wire.guardian_key(request.key)
        self._speaks_for(context, request.election_id, key.index)
        receipt = await self.ceremony.register_key(request.election_id, key)
        return election_pb2.RegisterGuardianKeyResponse(receipt=wire.receipt_pb(receipt))

    @answers()
    async def SubmitDealing(self, request, context):  # noqa: N802
        dealing = wire.dealing(request.dealing)
        self._speaks_for(context, request.election_id, dealing.dealer)
        receipt = await self.ceremony.submit_dealing(request.election_id, dealing)
        return election_pb2.SubmitDealingResponse(receipt=wire.receipt_pb(receipt))

    @answers()
    async def SubmitComplaint(self, request, context):  # noqa: N802
        complaint = wire.complaint(request.complaint)
        self._speaks_for(context, request.election_id, complaint.complainer)
        receipt = await self.ceremony.submit_complaint(request.election_id, complaint)
        return election_pb2.SubmitComplaintResponse(receipt=wire.receipt_pb(receipt))

    @answers()
    async def SubmitDecryptionShares(self, request, context):  # noqa: N802
        tally = require_tally(self.tally)
        eid = check_election_id(request.election_id)
        wire.guardian_index("guardian", request.guardian)
        require_guardian(context, eid, request.guardian)
        record = wire.decryption_shares(request.guardian, request.shares)
        receipt = await tally.submit_shares(eid, record)
        return election_pb2.SubmitDecryptionSharesResponse(receipt=wire.receipt_pb(receipt))

    @answers()
    async def GetCeremony(self, request, context):  # noqa: N802
        eid = check_election_id(request.election_id)
        c = await self.ceremony.ceremony(eid)
        election = await self.ceremony.elections.get_election(eid)
        qualified: list[int] = []
        if election.joint_public_key is not None:
            upheld = {x.dealer for x, verdict in c.complaints if verdict is Verdict.UPHELD}
            qualified = [d.dealer for d in c.dealings if d.dealer not in upheld]
        return wire.ceremony_pb(c.keys, c.dealings, [x for x, _ in c.complaints],
                                election.joint_public_key, qualified)
