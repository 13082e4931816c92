"""GuardianService over gRPC: the key ceremony (election.proto). Guardians authenticate with
mutual TLS: the client certificate's common name must be ``<election_id>/guardian-<index>`` for
the guardian index the message speaks for (no certificate: UNAUTHENTICATED; another guardian:
PERMISSION_DENIED). The ceremony itself is public: GetCeremony needs no certificate."""

from __future__ import annotations

import grpc
from ownervote.v1 import crypto_pb2, election_pb2, election_pb2_grpc

from crypto.dkg import Complaint, Dealing, EncryptedShare, GuardianPublicKey
from crypto.errors import CryptoError, DecodeError
from crypto.group import decode_point, decode_scalar, encode_point, encode_scalar
from crypto.proofs import DleqProof, SchnorrProof

from ..status import RpcError, abort, invalid
from .ceremony import CeremonyRefused, CeremonyStore
from .service import ELECTION_ID, receipt_pb
from .store import Conflict, NotFound


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


def _dec(path: str, fn, data: bytes):
    try:
        return fn(data)
    except DecodeError as exc:
        raise invalid(path, str(exc), "UNDECODABLE") from exc


def _schnorr(path: str, p: crypto_pb2.SchnorrProof) -> SchnorrProof:
    return SchnorrProof(_dec(f"{path}.commitment", decode_point, p.commitment),
                        _dec(f"{path}.response", decode_scalar, p.response))


def _index(path: str, i: int) -> int:
    if not 1 <= i <= 255:
        raise invalid(path, "a guardian index is 1..255")
    return i


def key_from_pb(k: election_pb2.GuardianKey) -> GuardianPublicKey:
    return GuardianPublicKey(_index("key.index", k.index),
                             _dec("key.encryption_key", decode_point, k.encryption_key),
                             _schnorr("key.proof", k.proof))


def dealing_from_pb(d: election_pb2.Dealing) -> Dealing:
    if not 1 <= len(d.commitments) <= 255 or not 1 <= len(d.shares) <= 255:
        raise invalid("dealing", "1..255 commitments and shares")
    shares = tuple(EncryptedShare(_index(f"dealing.shares[{i}].recipient", s.recipient),
                                  _dec(f"dealing.shares[{i}].ephemeral", decode_point,
                                       s.ephemeral), bytes(s.ciphertext))
                   for i, s in enumerate(d.shares))
    return Dealing(_index("dealing.dealer", d.dealer),
                   tuple(_dec(f"dealing.commitments[{i}]", decode_point, c)
                         for i, c in enumerate(d.commitments)),
                   _schnorr("dealing.constant_proof", d.constant_proof), shares)


def complaint_from_pb(c: election_pb2.Complaint) -> Complaint:
    p = c.proof
    return Complaint(_index("complaint.dealer", c.dealer),
                     _index("complaint.complainer", c.complainer),
                     _dec("complaint.shared_point", decode_point, c.shared_point),
                     DleqProof(_dec("complaint.proof.commitment_g", decode_point, p.commitment_g),
                               _dec("complaint.proof.commitment_h", decode_point, p.commitment_h),
                               _dec("complaint.proof.response", decode_scalar, p.response)))


def _schnorr_pb(p: SchnorrProof) -> crypto_pb2.SchnorrProof:
    return crypto_pb2.SchnorrProof(commitment=encode_point(p.commitment),
                                   response=encode_scalar(p.response))


class GuardianService(election_pb2_grpc.GuardianServiceServicer):
    def __init__(self, ceremony: CeremonyStore) -> None:
        self.ceremony = ceremony

    async def _submit(self, context, election_id: str, index: int, action):
        try:
            if not ELECTION_ID.fullmatch(election_id):
                raise invalid("election_id", "1..128 of [a-z0-9-]")
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
        except RpcError as err:
            await abort(context, err)
        return receipt

    async def RegisterGuardianKey(self, request, context):  # noqa: N802
        key = None
        try:
            key = key_from_pb(request.key)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(context, request.election_id, key.index,
                                     lambda: self.ceremony.register_key(request.election_id, key))
        return election_pb2.RegisterGuardianKeyResponse(receipt=receipt_pb(receipt))

    async def SubmitDealing(self, request, context):  # noqa: N802
        dealing = None
        try:
            dealing = dealing_from_pb(request.dealing)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(
            context, request.election_id, dealing.dealer,
            lambda: self.ceremony.submit_dealing(request.election_id, dealing))
        return election_pb2.SubmitDealingResponse(receipt=receipt_pb(receipt))

    async def SubmitComplaint(self, request, context):  # noqa: N802
        complaint = None
        try:
            complaint = complaint_from_pb(request.complaint)
        except RpcError as err:
            await abort(context, err)
        receipt = await self._submit(
            context, request.election_id, complaint.complainer,
            lambda: self.ceremony.submit_complaint(request.election_id, complaint))
        return election_pb2.SubmitComplaintResponse(receipt=receipt_pb(receipt))

    async def GetCeremony(self, request, context):  # noqa: N802
        try:
            if not ELECTION_ID.fullmatch(request.election_id):
                raise invalid("election_id", "1..128 of [a-z0-9-]")
            try:
                c = await self.ceremony.ceremony(request.election_id)
                election = await self.ceremony.elections.get_election(request.election_id)
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
        except RpcError as err:
            await abort(context, err)
        out = election_pb2.GetCeremonyResponse(
            keys=[election_pb2.GuardianKey(index=k.index,
                                           encryption_key=encode_point(k.encryption_key),
                                           proof=_schnorr_pb(k.proof)) for k in c.keys],
            dealings=[election_pb2.Dealing(
                dealer=d.dealer, commitments=[encode_point(x) for x in d.commitments],
                constant_proof=_schnorr_pb(d.constant_proof),
                shares=[election_pb2.EncryptedShare(recipient=s.recipient,
                                                    ephemeral=encode_point(s.ephemeral),
                                                    ciphertext=s.ciphertext) for s in d.shares])
                for d in c.dealings],
            complaints=[election_pb2.Complaint(
                dealer=x.dealer, complainer=x.complainer,
                shared_point=encode_point(x.shared_point),
                proof=crypto_pb2.DleqProof(commitment_g=encode_point(x.proof.commitment_g),
                                           commitment_h=encode_point(x.proof.commitment_h),
                                           response=encode_scalar(x.proof.response)))
                for x, _ in c.complaints])
        if election.joint_public_key is not None:
            upheld = {x.dealer for x, verdict in c.complaints if verdict.value == "upheld"}
            out.joint_public_key = election.joint_public_key
            out.qualified.extend(sorted(d.dealer for d in c.dealings if d.dealer not in upheld))
        return out
