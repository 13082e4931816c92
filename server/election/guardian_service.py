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

import grpc
from ownervote.v1 import election_pb2, election_pb2_grpc

from crypto.errors import CryptoError

from ..status import RpcError, abort, invalid
from . import pbmap
from .ceremony import CeremonyRefused, CeremonyStore
from .service import check_election_id, cosigning_unavailable, receipt_pb, require_tally
from .store import Conflict, CosigningTimeout, NotFound
from .tally import BadShares, TallyRefused, TallyStore


def guardian_identity(context: grpc.aio.ServicerContext) -> str | None:
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


def require_guardian(context, election_id: str, index: int) -> None:
    cn = guardian_identity(context)
    if cn is None:
        raise RpcError(grpc.StatusCode.UNAUTHENTICATED, "a guardian's client certificate is "
                       "required (mutual TLS)", reason="UNAUTHENTICATED")
    if cn != f"{election_id}/guardian-{index}":
        raise RpcError(grpc.StatusCode.PERMISSION_DENIED,
                       f"certificate {cn!r} does not speak for guardian {index} of {election_id}",
                       reason="NOT_THIS_GUARDIAN")


class GuardianService(election_pb2_grpc.GuardianServiceServicer):
    def __init__(self, ceremony: CeremonyStore, tally: TallyStore | None = None) -> None:
        self.ceremony = ceremony
        self.tally = tally

    async def _submit(self, context, election_id: str, index: int, action):
        try:
            check_election_id(election_id)
            require_guardian(context, election_id, index)
            try:
                receipt = await action()
            except CeremonyRefused as exc:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc), reason=exc.reason,
                               precondition="CEREMONY") from exc
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
            except Conflict as exc:
                raise RpcError(grpc.StatusCode.ALREADY_EXISTS, str(exc),
                               reason="ALREADY_SUBMITTED") from exc
            except CryptoError as exc:
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(exc),
                               reason="INVALID_CEREMONY_MESSAGE") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
        except RpcError as err:
            await abort(context, err)
        return receipt

    async def RegisterGuardianKey(self, request, context):  # noqa: N802
        key = None
        try:
            key = pbmap.guardian_key(request.key)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(context, request.election_id, key.index,
                                     lambda: self.ceremony.register_key(request.election_id, key))
        return election_pb2.RegisterGuardianKeyResponse(receipt=receipt_pb(receipt))

    async def SubmitDealing(self, request, context):  # noqa: N802
        dealing = None
        try:
            dealing = pbmap.dealing(request.dealing)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(
            context, request.election_id, dealing.dealer,
            lambda: self.ceremony.submit_dealing(request.election_id, dealing))
        return election_pb2.SubmitDealingResponse(receipt=receipt_pb(receipt))

    async def SubmitComplaint(self, request, context):  # noqa: N802
        complaint = None
        try:
            complaint = pbmap.complaint(request.complaint)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(
            context, request.election_id, complaint.complainer,
            lambda: self.ceremony.submit_complaint(request.election_id, complaint))
        return election_pb2.SubmitComplaintResponse(receipt=receipt_pb(receipt))

    async def SubmitDecryptionShares(self, request, context):  # noqa: N802
        try:
            require_tally(self.tally)
            eid = request.election_id
            check_election_id(eid)
            if not 1 <= request.guardian <= 255:
                raise invalid("guardian", "a guardian index is 1..255")
            require_guardian(context, eid, request.guardian)
            record = pbmap.decryption_shares(request.guardian, request.shares)
            try:
                receipt = await self.tally.submit_shares(eid, record)
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
            except TallyRefused as exc:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc), reason=exc.reason,
                               precondition="ELECTION_STATE") from exc
            except BadShares as exc:
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(exc), reason=exc.reason,
                               field=exc.field, metadata={"label": exc.label}) from exc
            except Conflict as exc:
                raise RpcError(grpc.StatusCode.ALREADY_EXISTS, str(exc),
                               reason="ALREADY_SUBMITTED", field="guardian") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
        except RpcError as err:
            await abort(context, err)
        return election_pb2.SubmitDecryptionSharesResponse(receipt=receipt_pb(receipt))

    async def GetCeremony(self, request, context):  # noqa: N802
        try:
            check_election_id(request.election_id)
            try:
                c = await self.ceremony.ceremony(request.election_id)
                election = await self.ceremony.elections.get_election(request.election_id)
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
        except RpcError as err:
            await abort(context, err)
        out = election_pb2.GetCeremonyResponse(
            keys=[pbmap.guardian_key_pb(k) for k in c.keys],
            dealings=[pbmap.dealing_pb(d) for d in c.dealings],
            complaints=[pbmap.complaint_pb(x) for x, _ in c.complaints])
        if election.joint_public_key is not None:
            upheld = {x.dealer for x, verdict in c.complaints if verdict.value == "upheld"}
            out.joint_public_key = election.joint_public_key
            out.qualified.extend(sorted(d.dealer for d in c.dealings if d.dealer not in upheld))
        return out
