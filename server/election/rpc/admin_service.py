"""AdminService over gRPC (election.proto): ImportRoll, CreateElection (DRAFT) and
ScheduleElection (DRAFT → KEY_CEREMONY; the lifecycle driver does the rest).

Administrators authenticate with a client certificate whose common name is ``admin``, which
only the mutual-TLS listener asks for and verifies (:class:`AdminAuth`, server/tls.py). A
bearer token (``authorization: Bearer <token>``, compared in constant time) is accepted only
where the server was given one, which server/config.py allows only in a development setup bound
to loopback addresses, and only from a loopback peer. No credentials are UNAUTHENTICATED,
wrong ones PERMISSION_DENIED, before anything of the request is looked at.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from ...errors import Forbidden, Unauthenticated, answers, invalid
from ...tls import peer_is_loopback, require_client
from ..store import ElectionStore
from .common import check_election_id, client_common_name

ADMIN_CN = "admin"


class AdminAuth:
    """Administrators present a verified client certificate with common name ``admin``
    (mutual-TLS listener); with a ``token`` (loopback development setups only), a loopback
    caller may present ``authorization: Bearer <token>`` instead."""

    def __init__(self, token: str | None = None) -> None:
        if token is not None and len(token) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        self.token = token.encode() if token else None

    def check(self, context) -> None:
        if client_common_name(context) is not None:  # a certificate decides, whatever else
            require_client(context, {ADMIN_CN}, role="administrators", reason="NOT_ADMIN")
            return
        header = dict(context.invocation_metadata() or ()).get("authorization", "")
        if self.token is None or not header.startswith("Bearer "):
            raise Unauthenticated("administrators authenticate with a client certificate "
                                  f"(CN {ADMIN_CN}) on the mutual-TLS port",
                                  reason="UNAUTHENTICATED")
        if not peer_is_loopback(context):
            raise Unauthenticated("a bearer token is accepted from this machine only",
                                  reason="UNAUTHENTICATED")
        if not hmac.compare_digest(header[7:].encode(), self.token):
            raise Forbidden("not an administrator", reason="NOT_ADMIN")


class AdminService(election_pb2_grpc.AdminServiceServicer):
    def __init__(self, store: ElectionStore, auth: AdminAuth, *,
                 clock: Callable[[], float] = time.time, identity_provider: bytes = b"") -> None:
        self.store = store
        self.auth = auth
        self.clock = clock
        # filled into a definition that names no identity provider of its own
        self.identity_provider = identity_provider

    @answers()
    async def ImportRoll(self, request, context):  # noqa: N802
        self.auth.check(context)
        if not wire.COMMUNITY_ID.fullmatch(request.community_id):
            raise invalid("community_id", "1..111 of [A-Za-z0-9._-]")
        if not request.csv or len(request.csv) > wire.MAX_CSV:
            raise invalid("csv", f"1..{wire.MAX_CSV} bytes")
        stored, roll, receipt = await self.store.import_roll(request.community_id, request.csv)
        return election_pb2.ImportRollResponse(
            roll_id=stored.roll_id, roll_hash=stored.roll_hash,
            units=sum(len(o.units) for o in roll.owners), owners=stored.total_owners,
            total_area=stored.total_area, receipt=wire.receipt_pb(receipt))

    @answers(fields={"roll_id": "definition.roll_id", "election_id": "definition.election_id",
                     "ceremony_deadline": "definition.ceremony_deadline"})
    async def CreateElection(self, request, context):  # noqa: N802
        self.auth.check(context)
        roll = await self.store.roll_to_define_on(request.definition.roll_id)
        definition = wire.definition(request.definition, roll.roll_hash,
                                     identity_provider=self.identity_provider)
        await self.store.create_election(definition)
        election = await self.store.public_election(definition.election_id)
        return election_pb2.CreateElectionResponse(election=wire.election_pb(election))

    @answers()
    async def ScheduleElection(self, request, context):  # noqa: N802
        self.auth.check(context)
        eid = check_election_id(request.election_id)
        receipt = await self.store.schedule(eid, int(self.clock()))
        election = await self.store.public_election(eid)
        return election_pb2.ScheduleElectionResponse(election=wire.election_pb(election),
                                                     receipt=wire.receipt_pb(receipt))
