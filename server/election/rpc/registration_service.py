"""RegistrationService over gRPC: identity attestation in, blind credential out.

Every request runs through one identity attempt (server/registrar/identity.py): the identity
provider's signature first (a forgery is PERMISSION_DENIED IDENTITY_REFUSED and counts against
the client's address only), then, for a genuine attestation, the election (NOT_FOUND; outside
READY/OPEN FAILED_PRECONDITION), the attestation's election and expiry (IDENTITY_REFUSED), for
a credential that it authorises this blinded message (UNAUTHORISED_REQUEST), the roll
(NOT_AN_OWNER), the class the phone blinded for (INVALID_ARGUMENT weight), and its nonce, used
once (NONCE_REPLAYED). A refusal of a genuine attestation counts against the owner and the
client; past either limit it is RESOURCE_EXHAUSTED RATE_LIMITED with RetryInfo, and a request
that passes every check is answered whatever the counts. A different second request is
ALREADY_EXISTS. The client is keyed by its IP address, or by the trusted proxy header the
deployment names (server/registrar/limits.py).
"""

from __future__ import annotations

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.records import ElectionState

from ...errors import Precondition, answers, invalid
from ...registrar.identity import Attempt, GuardedVerifier
from ...registrar.limits import client_address
from ...shared_load import SharedLoads
from ..registrar import Registrar, WrongWeightClass
from ..store import ElectionStore

ISSUING = (ElectionState.READY, ElectionState.OPEN)
FIELDS = {"election_id": "attestation.election_id", "owner_id": "attestation.owner_id"}


class RegistrationService(election_pb2_grpc.RegistrationServiceServicer):
    def __init__(self, store: ElectionStore, registrar: Registrar, identity: GuardedVerifier,
                 kek: bytes, *, trusted_proxy_header: str = "") -> None:
        self.store = store
        self.registrar = registrar
        self.identity = identity
        self.kek = kek
        self.trusted_proxy_header = trusted_proxy_header
        # decrypted issuer keys, per election: decrypted once, shared by concurrent requests
        self._keys: SharedLoads[str, dict] = SharedLoads(
            lambda eid: self.store.issuer_private_keys(eid, self.kek))

    async def _private_keys(self, election_id: str) -> dict:
        """The election's decrypted issuer keys. Decrypting them (PKCS #8 under the key
        encryption key, plus RSA key validation) is slow, so the requests that arrive together
        when an election starts issuing share one decryption instead of each running its own
        (a request that goes away does not cancel it for the others)."""
        return await self._keys.get(election_id)

    def _attempt(self, request, context) -> Attempt:
        att, sig = wire.attestation(request.attestation)
        client = client_address(context.peer() or "", context.invocation_metadata(),
                                self.trusted_proxy_header)
        return self.identity.attempt(att, sig, client)

    async def _owner(self, attempt: Attempt,
                     blinded_msg: bytes | None = None) -> tuple[str, int, object]:
        """Inside the attempt, its signature checked: the owner, their weight and the
        election."""
        att = attempt.attestation
        election = await self.store.election_snapshot(att.election_id, ISSUING)
        if election.state not in ISSUING:
            raise Precondition(f"credentials are issued while READY or OPEN, not "
                               f"{election.state.name}", reason="NOT_ISSUING",
                               precondition="ELECTION_STATE")
        owner = attempt.check(election.definition.election_id, blinded_msg)
        weight = await self.store.owner_weight(election.definition.roll_id, owner)
        return owner, weight, election

    @answers(fields=FIELDS)
    async def GetEligibility(self, request, context):  # noqa: N802
        async with self._attempt(request, context) as attempt:
            _, weight, _ = await self._owner(attempt)
        return election_pb2.GetEligibilityResponse(weight=weight)

    @answers(fields=FIELDS)
    async def RequestCredential(self, request, context):  # noqa: N802
        async with self._attempt(request, context) as attempt:
            owner, weight, election = await self._owner(attempt, request.blinded_msg)
            eid = election.definition.election_id
            private = await self._private_keys(eid)
            key = private.get(weight)
            if key is None:
                raise Precondition("no issuer key for this weight class", reason="NO_ISSUER_KEY",
                                   precondition="ISSUER_KEYS")
            if len(request.blinded_msg) != key.key_size // 8:
                raise invalid("blinded_msg", f"must be {key.key_size // 8} bytes")
            if request.weight != weight:  # before the nonce is used: the phone may ask again
                raise WrongWeightClass(weight)
            await attempt.use_nonce(request.blinded_msg)
            blind_sig = await self.registrar.issue(eid, owner, weight, request.weight,
                                                   request.blinded_msg, private)
        return election_pb2.RequestCredentialResponse(blind_sig=blind_sig)
