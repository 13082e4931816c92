"""RegistrationService over gRPC: identity attestation in, blind credential out.

Refusals: an attestation that does not verify, is expired or is for another election is
PERMISSION_DENIED (IDENTITY_REFUSED); too many failures for an owner or a peer is
RESOURCE_EXHAUSTED; an attested person who is not a voting owner on the roll is
PERMISSION_DENIED (NOT_AN_OWNER); credentials outside READY/OPEN are FAILED_PRECONDITION; a
request blinded for another class is INVALID_ARGUMENT (weight); a different second request is
ALREADY_EXISTS.
"""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.records import ElectionState

from ...errors import Precondition, answers, invalid
from ...shared_load import SharedLoads
from ..identity import GuardedVerifier
from ..registrar import Registrar
from ..store import ElectionStore

ISSUING = (ElectionState.READY, ElectionState.OPEN)
FIELDS = {"election_id": "attestation.election_id", "owner_id": "attestation.owner_id"}


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
        att, sig = wire.attestation(request.attestation)
        election = await self.store.election_snapshot(att.election_id, ISSUING)
        if election.state not in ISSUING:
            raise Precondition(f"credentials are issued while READY or OPEN, not "
                               f"{election.state.name}", reason="NOT_ISSUING",
                               precondition="ELECTION_STATE")
        owner = self.identity.verify(att, sig, att.election_id, peer=context.peer() or "")
        weight = await self.store.owner_weight(election.definition.roll_id, owner)
        return owner, weight, election

    @answers(fields=FIELDS)
    async def GetEligibility(self, request, context):  # noqa: N802
        _, weight, _ = await self._owner(request, context)
        return election_pb2.GetEligibilityResponse(weight=weight)

    @answers(fields=FIELDS)
    async def RequestCredential(self, request, context):  # noqa: N802
        owner, weight, election = await self._owner(request, context)
        eid = election.definition.election_id
        private = await self._private_keys(eid)
        key = private.get(weight)
        if key is None:
            raise Precondition("no issuer key for this weight class", reason="NO_ISSUER_KEY",
                               precondition="ISSUER_KEYS")
        if len(request.blinded_msg) != key.key_size // 8:
            raise invalid("blinded_msg", f"must be {key.key_size // 8} bytes")
        blind_sig = await self.registrar.issue(eid, owner, weight, request.weight,
                                               request.blinded_msg, private)
        return election_pb2.RequestCredentialResponse(blind_sig=blind_sig)
