"""RegistrationService at a registrar (election.proto): identity attestation in, this
registrar's blind signature out (docs/protocol.md §8).

Every request runs through one identity attempt (identity.py): the identity provider's signature
first (a forgery is PERMISSION_DENIED IDENTITY_REFUSED and counts against the client's address
only), then, for a genuine attestation: the election as the co-signed ledger shows it (NOT_FOUND;
one that does not name this registrar FAILED_PRECONDITION NOT_A_REGISTRAR; outside READY/OPEN, or
at or after its closing time, FAILED_PRECONDITION NOT_ISSUING; before this registrar's issuer keys
are on the ledger FAILED_PRECONDITION NO_ISSUER_KEYS); the attestation's election and expiry
(IDENTITY_REFUSED); for a credential, that it authorises this blinded message
(UNAUTHORISED_REQUEST); the registrar's own copy of the roll the definition commits to
(NOT_AN_OWNER; a roll it has not imported FAILED_PRECONDITION ROLL_NOT_IMPORTED); the class the
phone blinded for (INVALID_ARGUMENT weight); and its nonce, used once (NONCE_REPLAYED). Past a
failure limit, RESOURCE_EXHAUSTED RATE_LIMITED with RetryInfo; a request that passes every check
is answered whatever the counts. A different second request is ALREADY_EXISTS; the identical
retry gets the identical blind signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.election_audit import ElectionAudit
from crypto.records import ElectionState

from ..errors import Forbidden, NotFound, Precondition, Refused, Unavailable, answers, invalid
from .identity import Attempt, GuardedVerifier
from .limits import client_address
from .node import RegistrarNode

ISSUING = (ElectionState.READY, ElectionState.OPEN)
FIELDS = {"election_id": "attestation.election_id", "owner_id": "attestation.owner_id"}


class NotAnOwner(Forbidden):
    """The attested person is not a voting owner on the election's roll."""

    def __init__(self, owner_id: str) -> None:
        super().__init__(f"{owner_id} is not a voting owner on the election's roll",
                         reason="NOT_AN_OWNER", field="owner_id")


class WrongWeightClass(Refused):
    """The request was blinded for a weight class that is not the owner's."""

    def __init__(self, owner_weight: int) -> None:
        super().__init__(f"weight: the owner's weight class is {owner_weight}",
                         reason="WRONG_WEIGHT_CLASS", field="weight")


class RegistrationService(election_pb2_grpc.RegistrationServiceServicer):
    def __init__(self, node: RegistrarNode, identity: GuardedVerifier, *,
                 trusted_proxy_header: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.node = node
        self.identity = identity
        self.trusted_proxy_header = trusted_proxy_header
        self.clock = clock
        self._keys_checked: set[str] = set()  # elections whose ledger keys are this store's

    async def _check_keys(self, e: ElectionAudit, r: int) -> None:
        """The keys this registrar signs with are the ones its ``issuer-keys`` event put on the
        ledger (a store restored from elsewhere would sign under keys nobody verifies)."""
        eid = e.definition.election_id
        if eid in self._keys_checked:
            return
        ours = await self.node.keys.public(eid)
        if ours != {w: k.spki for w, k in e.issuers[r].items()}:
            raise Precondition("this registrar's issuer keys are not the ones on the ledger",
                               reason="ISSUER_KEYS_MISMATCH", precondition="ISSUER_KEYS")
        self._keys_checked.add(eid)

    def _attempt(self, request, context) -> Attempt:
        att, sig = wire.attestation(request.attestation)
        client = client_address(context.peer() or "", context.invocation_metadata(),
                                self.trusted_proxy_header)
        return self.identity.attempt(att, sig, client)

    async def _election(self, election_id: str) -> tuple[ElectionAudit, int]:
        follower = self.node.follower
        e = follower.election(election_id)
        if e is None or e.state not in ISSUING:
            # the ledger may have moved since the last tick (a phone asks as soon as the
            # election is READY): catch up once before answering
            try:
                await follower.poll()
            except grpc.aio.AioRpcError as exc:
                raise Unavailable("this registrar cannot read the ledger now",
                                  reason="LEDGER_UNREACHABLE") from exc
        if follower.halted is not None:
            raise Unavailable("the ledger this registrar follows broke a rule; it issues "
                              "nothing until an operator looks", reason="LEDGER_HALTED")
        e = follower.election(election_id)
        if e is None:
            raise NotFound(f"no election {election_id} on the ledger (yet)",
                           reason="NO_SUCH_ELECTION", field="election_id")
        r = self.node.index_in(e)
        if r is None:
            raise Precondition(f"{election_id} does not name this registrar",
                               reason="NOT_A_REGISTRAR", precondition="REGISTRAR")
        if e.state not in ISSUING or self.clock() >= e.definition.close_time:
            raise Precondition(f"credentials are issued while READY or OPEN, not "
                               f"{e.state.name}", reason="NOT_ISSUING",
                               precondition="ELECTION_STATE")
        if r not in e.issuers:
            raise Precondition("this registrar's issuer keys are not on the ledger yet",
                               reason="NO_ISSUER_KEYS", precondition="ISSUER_KEYS")
        return e, r

    async def _owner(self, attempt: Attempt, blinded_msg: bytes | None = None
                     ) -> tuple[str, int, ElectionAudit]:
        """Inside the attempt, its signature checked: the owner, their weight, the election."""
        e, _ = await self._election(attempt.attestation.election_id)
        owner = attempt.check(e.definition.election_id, blinded_msg)
        weights = await self.node.rolls.weights(e.definition.roll_hash)
        if not weights:
            raise Precondition("this registrar has not imported the election's roll",
                               reason="ROLL_NOT_IMPORTED", precondition="ROLL")
        weight = weights.get(owner)
        if weight is None:
            raise NotAnOwner(owner)
        return owner, weight, e

    @answers(fields=FIELDS)
    async def GetEligibility(self, request, context):  # noqa: N802
        async with self._attempt(request, context) as attempt:
            _, weight, _ = await self._owner(attempt)
        return election_pb2.GetEligibilityResponse(weight=weight)

    @answers(fields=FIELDS)
    async def RequestCredential(self, request, context):  # noqa: N802
        async with self._attempt(request, context) as attempt:
            owner, weight, e = await self._owner(attempt, request.blinded_msg)
            eid = e.definition.election_id
            await self._check_keys(e, self.node.index_in(e))
            key = (await self.node.keys.private(eid)).get(weight)
            if key is None:
                raise Precondition("this registrar has no issuer key of the owner's class",
                                   reason="NO_ISSUER_KEY", precondition="ISSUER_KEYS")
            if len(request.blinded_msg) != key.key_size // 8:
                raise invalid("blinded_msg", f"must be {key.key_size // 8} bytes")
            if request.weight != weight:  # before the nonce is used: the phone may ask again
                raise WrongWeightClass(weight)
            previous = await self.node.issuer.previous(eid, owner)
            if previous is None:
                # a first request uses the nonce; for an owner with a credential already, the
                # one credential per owner answers (the identical retry, or ALREADY_EXISTS)
                await attempt.use_nonce(request.blinded_msg)
            att = attempt.attestation
            blind_sig = await self.node.issuer.issue(eid, owner, weight, key,
                                                     bytes(request.blinded_msg),
                                                     att.canonical_bytes(), attempt.signature,
                                                     previous=previous)
        return election_pb2.RequestCredentialResponse(blind_sig=blind_sig)
