"""IssuanceService over gRPC (election.proto): a registrar's signed issuer keys and issuance
batches, checked and appended by the intake (server/election/issuance_intake.py).

Refusals: a record that does not decode, is not signed by a registrar of the election, or breaks
a rule of docs/protocol.md §8.5 is INVALID_ARGUMENT with its reason (UNDECODABLE,
UNKNOWN_REGISTRAR, BAD_REGISTRAR_SIGNATURE, WRONG_CLASSES, BAD_ISSUER_KEY, BATCH_OUT_OF_ORDER,
ALREADY_ISSUED, WRONG_WEIGHT_CLASS, TOO_MANY_ISSUANCES, INVALID_ISSUANCE); out of its state
FAILED_PRECONDITION (NOT_KEY_CEREMONY, NOT_ISSUING, NO_ISSUER_KEYS); other keys than the ones
published, or a batch after the final one, ALREADY_EXISTS (ISSUER_KEYS_EXIST,
FINAL_BATCH_PUBLISHED); an unknown election NOT_FOUND. Only a registrar calls it, over mutual TLS
with its ``registrar:<name>`` certificate (server.tls.require_registrar: UNAUTHENTICATED without
one, PERMISSION_DENIED NOT_REGISTRAR with another), and only with its own records
(PERMISSION_DENIED NOT_THIS_REGISTRAR): the records are signed anyway, so this keeps anyone
else from spending the intake's checks.
"""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc

from ...errors import answers, invalid
from ...tls import require_registrar
from ..issuance_intake import IssuanceIntake
from .common import check_election_id

MAX_RECORD = 64 << 20


def _record(request) -> bytes:
    if not request.record:
        raise invalid("record", "the registrar's signed record is required")
    if len(request.record) > MAX_RECORD:
        raise invalid("record", f"at most {MAX_RECORD} bytes")
    return bytes(request.record)


class IssuanceService(election_pb2_grpc.IssuanceServiceServicer):
    def __init__(self, intake: IssuanceIntake) -> None:
        self.intake = intake

    @answers()
    async def PublishIssuerKeys(self, request, context):  # noqa: N802
        caller = require_registrar(context)
        eid = check_election_id(request.election_id)
        index = await self.intake.publish_issuer_keys(eid, _record(request), caller)
        return election_pb2.PublishIssuerKeysResponse(index=index)

    @answers()
    async def PublishIssuances(self, request, context):  # noqa: N802
        caller = require_registrar(context)
        eid = check_election_id(request.election_id)
        index = await self.intake.publish_issuances(eid, _record(request), caller)
        return election_pb2.PublishIssuancesResponse(index=index)
