"""RegistrationService over gRPC: identity attestation in, blind credential out.

Refusals: an attestation that does not verify, is expired or is for another election is
PERMISSION_DENIED (IDENTITY_REFUSED); too many failures for an owner or a peer is
RESOURCE_EXHAUSTED; an attested person who is not a voting owner on the roll is
PERMISSION_DENIED (NOT_AN_OWNER); credentials outside READY/OPEN are FAILED_PRECONDITION; a
request blinded for another class is INVALID_ARGUMENT (weight); a different second request is
ALREADY_EXISTS.
"""

from __future__ import annotations

import grpc
from ownervote.v1 import election_pb2, election_pb2_grpc

from crypto.attestation import Attestation
from crypto.errors import BlindRsaError, DecodeError
from crypto.records import ElectionState

from ..shared_load import SharedLoads
from ..status import RpcError, abort, invalid
from .identity import GuardedVerifier, IdentityRefused, RateLimited
from .registrar import AlreadyIssued, Registrar, WrongWeightClass
from .service import check_election_id
from .store import ElectionStore, NotFound

ISSUING = (ElectionState.READY, ElectionState.OPEN)


def attestation_from_pb(a: election_pb2.IdentityAttestation) -> tuple[Attestation, bytes]:
    check_election_id(a.election_id, "attestation.election_id")
    if not a.HasField("expires_at"):
        raise invalid("attestation.expires_at", "required")
    try:
        att = Attestation(a.owner_id, a.election_id, bytes(a.nonce), a.expires_at.seconds)
    except DecodeError as exc:
        raise invalid("attestation", str(exc)) from exc
    if len(a.signature) != 64:
        raise invalid("attestation.signature", "an Ed25519 signature is 64 bytes")
    return att, bytes(a.signature)


class RegistrationService(election_pb2_grpc.RegistrationServiceServicer):
    def __init__(self, store: ElectionStore, registrar: Registrar, identity: GuardedVerifier,
                 kek: bytes) -> None:
        self.store = store
        self.registrar = registrar
        self.identity = identity
        self.kek = kek
        # decrypted issuer keys, per election: decrypted once, shared by concurrent requests
        self._keys: SharedLoads[str, dict] = SharedLoads(
            lambda eid: self.store.issuer_private_keys(eid, self.kek))

    async def _private_keys(self, election_id: str) -> dict:
        """The election's decrypted issuer keys. Decrypting them (PKCS #8 under the key
        encryption key, plus RSA key validation) is slow, so the requests that arrive together
        when an election starts issuing share one decryption instead of each running its own
        (a request that goes away does not cancel it for the others)."""
        return await self._keys.get(election_id)

    async def _owner(self, request, context) -> tuple[str, int, object]:
        att, sig = attestation_from_pb(request.attestation)
        try:
            election = await self.store.election_snapshot(att.election_id, ISSUING)
        except NotFound as exc:
            raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                           field="attestation.election_id") from exc
        if election.state not in ISSUING:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION,
                           f"credentials are issued while READY or OPEN, not "
                           f"{election.state.name}", reason="NOT_ISSUING",
                           precondition="ELECTION_STATE")
        try:
            owner = self.identity.verify(att, sig, att.election_id, peer=context.peer() or "")
        except RateLimited as exc:
            raise RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), reason="RATE_LIMITED",
                           metadata={"retry_after": f"{exc.retry_after:.0f}"}) from exc
        except IdentityRefused as exc:
            raise RpcError(grpc.StatusCode.PERMISSION_DENIED, str(exc),
                           reason="IDENTITY_REFUSED", field="attestation") from exc
        try:
            weight = await self.store.owner_weight(election.definition.roll_id, owner)
        except NotFound as exc:
            raise RpcError(grpc.StatusCode.PERMISSION_DENIED, str(exc), reason="NOT_AN_OWNER",
                           field="attestation.owner_id") from exc
        return owner, weight, election

    async def GetEligibility(self, request, context):  # noqa: N802
        try:
            _, weight, _ = await self._owner(request, context)
        except RpcError as err:
            await abort(context, err)
        return election_pb2.GetEligibilityResponse(weight=weight)

    async def RequestCredential(self, request, context):  # noqa: N802
        try:
            owner, weight, election = await self._owner(request, context)
            eid = election.definition.election_id
            private = await self._private_keys(eid)
            key = private.get(weight)
            if key is None:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION,
                               "no issuer key for this weight class", reason="NO_ISSUER_KEY",
                               precondition="ISSUER_KEYS")
            if len(request.blinded_msg) != key.key_size // 8:
                raise invalid("blinded_msg", f"must be {key.key_size // 8} bytes")
            try:
                blind_sig = await self.registrar.issue(eid, owner, weight, request.weight,
                                                       request.blinded_msg, private)
            except WrongWeightClass as exc:
                raise invalid("weight", str(exc), "WRONG_WEIGHT_CLASS") from exc
            except AlreadyIssued as exc:
                raise RpcError(grpc.StatusCode.ALREADY_EXISTS, str(exc),
                               reason="CREDENTIAL_ISSUED", field="blinded_msg") from exc
            except BlindRsaError as exc:
                raise invalid("blinded_msg", str(exc), "BAD_BLINDED_MESSAGE") from exc
        except RpcError as err:
            await abort(context, err)
        return election_pb2.RequestCredentialResponse(blind_sig=blind_sig)
