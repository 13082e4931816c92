"""AdminService and ElectionService over gRPC (election.proto): protobuf is mapped to the
domain records here and nowhere else.

Administrators authenticate with ``authorization: Bearer <token>`` or, on the mutual-TLS
listener, with a client certificate whose common name is ``admin`` (:class:`AdminAuth`).
AdminService: ImportRoll, CreateElection (DRAFT) and ScheduleElection (DRAFT → KEY_CEREMONY; the
lifecycle driver does the rest). ElectionService: GetElection, and GetResult once the election
is PUBLISHED (before: FAILED_PRECONDITION, reason NOT_PUBLISHED): participation, quorum, per
option the decrypted totals with exact fractions and the outcome under the rule, the guardians
whose shares were combined, and the receipt of the ``result`` event.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from fractions import Fraction

import grpc
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2

from crypto.ballot import Contest, ContestKind
from crypto.errors import DecodeError
from crypto.log.receipt import Receipt
from crypto.records import DefinitionRecord, ElectionState, RuleRecord
from rules.roll_csv import RollImportError

from ..status import RpcError, abort, invalid
from .store import Conflict, CosigningTimeout, ElectionStore, NotFound, WrongState
from .tally import TallyRefused, TallyStore

ELECTION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
COMMUNITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_CSV = 64 << 20
PRESETS = {
    election_pb2.RULE_PRESET_ORDINARY: ((2, 3), (2, 3), (1, 2), (1, 2), True),
    election_pb2.RULE_PRESET_MAJOR: ((2, 3), (2, 3), (3, 4), (3, 4), False),
}


def check_election_id(value: str, field: str = "election_id") -> None:
    """INVALID_ARGUMENT naming ``field`` unless ``value`` is an election id."""
    if not ELECTION_ID.fullmatch(value):
        raise invalid(field, "1..128 of [a-z0-9-]")


def require_tally(tally):
    """The tally store, or UNIMPLEMENTED on a server built without one."""
    if tally is None:
        raise RpcError(grpc.StatusCode.UNIMPLEMENTED, "this server does not tally",
                       reason="NO_TALLY")
    return tally


def cosigning_unavailable(exc: CosigningTimeout) -> RpcError:
    return RpcError(grpc.StatusCode.UNAVAILABLE, str(exc), reason="COSIGNING_PENDING",
                    metadata={"index": str(exc.index)})


def receipt_pb(r: Receipt) -> ledger_pb2.Receipt:
    return ledger_pb2.Receipt(index=r.index, leaf_hash=r.leaf_hash,
                              inclusion_proof=list(r.inclusion_proof), signed_note=r.signed_note)


ADMIN_CN = "admin"


def client_common_name(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's client certificate; only the mutual-TLS listener asks
    for one and verifies it against the client CA, so elsewhere there is none."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


class AdminAuth:
    """Administrators present ``authorization: Bearer <token>`` (compared in constant time), or
    a verified client certificate with common name ``admin`` (mutual-TLS listener)."""

    def __init__(self, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        self.token = token.encode()

    def check(self, context: grpc.aio.ServicerContext) -> None:
        cn = client_common_name(context)
        if cn == ADMIN_CN:
            return
        header = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not header.startswith("Bearer "):
            if cn is not None:
                raise RpcError(grpc.StatusCode.PERMISSION_DENIED,
                               f"certificate {cn!r} is not an administrator's",
                               reason="NOT_ADMIN")
            raise RpcError(grpc.StatusCode.UNAUTHENTICATED, "administrator credentials required",
                           reason="UNAUTHENTICATED")
        if not hmac.compare_digest(header[7:].encode(), self.token):
            raise RpcError(grpc.StatusCode.PERMISSION_DENIED, "not an administrator",
                           reason="NOT_ADMIN")


def _fraction(f: election_pb2.Fraction, field: str) -> tuple[int, int]:
    if f.denominator == 0 or f.numerator > f.denominator:
        raise invalid(field, "a fraction in [0, 1] with a positive denominator")
    return f.numerator, f.denominator


def definition_from_pb(d: election_pb2.ElectionDefinition, roll_hash: bytes) -> DefinitionRecord:
    """Validate and map; every refusal names its field."""
    if not ELECTION_ID.fullmatch(d.election_id):
        raise invalid("definition.election_id", "1..128 of [a-z0-9-], starting alphanumeric")
    if not d.motion or len(d.motion) > 4096:
        raise invalid("definition.motion", "1..4096 characters")
    if d.contest.kind == election_pb2.CONTEST_KIND_REFERENDUM:
        contest_factory = lambda: Contest.referendum()  # noqa: E731
        if list(d.contest.options) not in ([], list(Contest.referendum().options)):
            raise invalid("definition.contest.options", "a referendum's options are fixed")
    elif d.contest.kind == election_pb2.CONTEST_KIND_COMMITTEE:
        def contest_factory() -> Contest:
            return Contest.committee(list(d.contest.options), d.contest.min_selections,
                                     d.contest.max_selections)
    else:
        raise invalid("definition.contest.kind", "REFERENDUM or COMMITTEE")
    try:
        contest = contest_factory()
    except ValueError as exc:
        raise invalid("definition.contest", str(exc)) from exc
    if d.rule.preset in PRESETS:
        *fractions, strict = PRESETS[d.rule.preset]
        preset = 1 if d.rule.preset == election_pb2.RULE_PRESET_ORDINARY else 2
    elif d.rule.preset == election_pb2.RULE_PRESET_EXPLICIT:
        fractions = [_fraction(getattr(d.rule, f), f"definition.rule.{f}")
                     for f in ("quorum_area", "quorum_headcount", "approval_area",
                               "approval_headcount")]
        strict, preset = d.rule.strict, 3
    else:
        raise invalid("definition.rule.preset", "ORDINARY, MAJOR or EXPLICIT")
    if not d.HasField("open_time") or not d.HasField("close_time") or \
            d.open_time.seconds >= d.close_time.seconds or d.open_time.seconds <= 0:
        raise invalid("definition.open_time", "open_time must be set and before close_time")
    if not 1 <= d.threshold <= d.guardians <= 255:
        raise invalid("definition.threshold", "need 1 <= threshold <= guardians <= 255")
    try:
        return DefinitionRecord(d.election_id, d.roll_id, roll_hash, d.motion, contest,
                                RuleRecord(preset, tuple(fractions), strict),
                                d.open_time.seconds, d.close_time.seconds, d.guardians,
                                d.threshold)
    except DecodeError as exc:
        raise invalid("definition", str(exc)) from exc


def definition_pb(rec: DefinitionRecord) -> election_pb2.ElectionDefinition:
    kind = (election_pb2.CONTEST_KIND_REFERENDUM if rec.contest.kind is ContestKind.REFERENDUM
            else election_pb2.CONTEST_KIND_COMMITTEE)
    fr = [election_pb2.Fraction(numerator=n, denominator=d) for n, d in rec.rule.fractions]
    d = election_pb2.ElectionDefinition(
        election_id=rec.election_id, roll_id=rec.roll_id, motion=rec.motion,
        contest=election_pb2.Contest(kind=kind, options=list(rec.contest.options),
                                     min_selections=rec.contest.min_selections,
                                     max_selections=rec.contest.max_selections),
        rule=election_pb2.Rule(preset=rec.rule.preset, quorum_area=fr[0],
                               quorum_headcount=fr[1], approval_area=fr[2],
                               approval_headcount=fr[3], strict=rec.rule.strict),
        guardians=rec.guardians, threshold=rec.threshold)
    d.open_time.seconds = rec.open_time
    d.close_time.seconds = rec.close_time
    return d


class AdminService(election_pb2_grpc.AdminServiceServicer):
    def __init__(self, store: ElectionStore, auth: AdminAuth, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.auth = auth
        self.clock = clock

    async def ImportRoll(self, request, context):  # noqa: N802
        try:
            self.auth.check(context)
            if not COMMUNITY_ID.fullmatch(request.community_id):
                raise invalid("community_id", "1..128 of [A-Za-z0-9._-]")
            if not request.csv or len(request.csv) > MAX_CSV:
                raise invalid("csv", f"1..{MAX_CSV} bytes")
            try:
                stored, roll, receipt = await self.store.import_roll(request.community_id,
                                                                     request.csv)
            except RollImportError as exc:
                first = exc.errors[0]
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"{exc.error_count} bad row(s); " + "; ".join(
                                   f"line {e.line}: {e.reason}" for e in exc.errors[:20]),
                               reason="BAD_ROLL_ROW", field="csv",
                               metadata={"line": str(first.line),
                                         "column": first.column or "",
                                         "errors": str(exc.error_count)}) from exc
            except ValueError as exc:
                raise invalid("csv", str(exc), "BAD_ROLL") from exc
            except Conflict as exc:
                raise RpcError(grpc.StatusCode.ALREADY_EXISTS, str(exc),
                               reason="ROLL_EXISTS", field="csv") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
        except RpcError as err:
            await abort(context, err)
        return election_pb2.ImportRollResponse(
            roll_id=stored.roll_id, roll_hash=stored.roll_hash,
            units=sum(len(o.units) for o in roll.owners), owners=stored.total_owners,
            total_area=stored.total_area, receipt=receipt_pb(receipt))

    async def CreateElection(self, request, context):  # noqa: N802
        try:
            self.auth.check(context)
            try:
                roll = await self.store.get_roll(request.definition.roll_id)
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc),
                               reason="NO_SUCH_ROLL", field="definition.roll_id",
                               precondition="ROLL_IMPORTED") from exc
            definition = definition_from_pb(request.definition, roll.roll_hash)
            try:
                await self.store.create_election(definition)
            except Conflict as exc:
                raise RpcError(grpc.StatusCode.ALREADY_EXISTS, str(exc),
                               reason="ELECTION_EXISTS",
                               field="definition.election_id") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
            election = await election_pb(self.store, definition.election_id)
        except RpcError as err:
            await abort(context, err)
        return election_pb2.CreateElectionResponse(election=election)

    async def ScheduleElection(self, request, context):  # noqa: N802
        try:
            self.auth.check(context)
            eid = request.election_id
            check_election_id(eid)
            try:
                receipt = await self.store.transition(eid, ElectionState.KEY_CEREMONY,
                                                      int(self.clock()))
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
            except WrongState as exc:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION,
                               f"only a DRAFT election can be scheduled; {exc}",
                               reason="NOT_DRAFT", field="election_id",
                               precondition="ELECTION_STATE") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
            election = await election_pb(self.store, eid)
        except RpcError as err:
            await abort(context, err)
        return election_pb2.ScheduleElectionResponse(election=election,
                                                     receipt=receipt_pb(receipt))


async def election_pb(store: ElectionStore, election_id: str) -> election_pb2.Election:
    try:
        stored = await store.get_election(election_id)
    except NotFound as exc:
        raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                       field="election_id") from exc
    roll = await store.get_roll(stored.definition.roll_id)
    out = election_pb2.Election(definition=definition_pb(stored.definition),
                                state=stored.state.value, roll_hash=roll.roll_hash,
                                total_area=roll.total_area, total_owners=roll.total_owners)
    if stored.joint_public_key is not None:
        out.joint_public_key = stored.joint_public_key
        out.election_hash = stored.context().hash
    classes = await store.weight_classes(stored.definition.roll_id)
    for weight, key in sorted((await store.issuer_keys(election_id)).items()):
        out.issuer_keys.add(weight=weight, spki=key.spki, owners=classes.get(weight, 0))
    return out


def fraction_pb(part: int, whole: int) -> election_pb2.Fraction:
    """part / whole in lowest terms; 0/1 when whole is 0 (nobody took part)."""
    f = Fraction(part, whole) if whole else Fraction(0)
    return election_pb2.Fraction(numerator=f.numerator, denominator=f.denominator)


class ElectionService(election_pb2_grpc.ElectionServiceServicer):
    def __init__(self, store: ElectionStore, tally: TallyStore | None = None) -> None:
        self.store = store
        self.tally = tally

    async def GetElection(self, request, context):  # noqa: N802
        try:
            check_election_id(request.election_id)
            election = await election_pb(self.store, request.election_id)
        except RpcError as err:
            await abort(context, err)
        return election_pb2.GetElectionResponse(election=election)

    async def GetResult(self, request, context):  # noqa: N802
        try:
            require_tally(self.tally)
            eid = request.election_id
            check_election_id(eid)
            try:
                published = await self.tally.result(eid)
                definition = (await self.store.get_election(eid)).definition
                receipt = await self.store.receipt_at(published.ledger_index)
            except NotFound as exc:
                raise RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NO_SUCH_ELECTION",
                               field="election_id") from exc
            except TallyRefused as exc:
                raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc),
                               reason="NOT_PUBLISHED", field="election_id",
                               precondition="ELECTION_STATE") from exc
            except CosigningTimeout as exc:
                raise cosigning_unavailable(exc) from exc
        except RpcError as err:
            await abort(context, err)
        r = published.result
        return election_pb2.GetResultResponse(
            election_id=eid, participating_area=r.participating_area,
            participating_owners=r.participating_owners, quorum_met=r.quorum_met,
            options=[election_pb2.OptionResult(
                name=name, area=r.areas[i], headcount=r.counts[i],
                area_fraction=fraction_pb(r.areas[i], r.participating_area),
                headcount_fraction=fraction_pb(r.counts[i], r.participating_owners),
                outcome=r.outcomes[i]) for i, name in enumerate(definition.contest.options)],
            receipt=receipt_pb(receipt), guardians=list(r.guardians))
