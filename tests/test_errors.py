"""The server's one error vocabulary (server/errors.py): one table from kinds to gRPC statuses,
one decorator answering them with their details, and nothing else in the server that knows a
status code or aborts a call by hand."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from ownervote.v1 import wire

from server import errors
from server.election.ballot_box import (
    BallotBoxClosed,
    BallotRefused,
    ReceiptPending,
    ReplayedBallot,
)
from server.election.ceremony import AlreadySent, CeremonyRefused
from server.election.issuance_intake import RecordRefused
from server.election.store import CosigningTimeout, NoSuchElection, NotAnOwner, WrongState
from server.election.tally import BadShares, SharesSubmitted, TallyRefused
from server.errors import (
    STATUS,
    Conflict,
    Precondition,
    Refused,
    ServerError,
    Unavailable,
    answers,
    code_of,
)
from server.registrar.identity import (
    IdentityRefused,
    NonceReplayed,
    RateLimited,
    UnauthorisedRequest,
)
from server.registrar.issuance import AlreadyIssued, IssuanceClosed
from server.registrar.service import NotAnOwner as NotOnTheRoll
from server.registrar.service import WrongWeightClass

ROOT = Path(__file__).resolve().parent.parent
S = grpc.StatusCode


def test_every_refusal_of_the_domain_has_the_status_clients_have_always_seen():
    from crypto.records import ElectionState as E
    cases = {
        NoSuchElection("e"): (S.NOT_FOUND, "NO_SUCH_ELECTION", "election_id"),
        NotAnOwner("o", "r"): (S.PERMISSION_DENIED, "NOT_AN_OWNER", "owner_id"),
        WrongState("e", E.OPEN, E.KEY_CEREMONY): (S.FAILED_PRECONDITION, "WRONG_STATE",
                                                  "election_id"),
        CosigningTimeout(7): (S.UNAVAILABLE, "COSIGNING_PENDING", None),
        AlreadyIssued(): (S.ALREADY_EXISTS, "CREDENTIAL_ISSUED", "blinded_msg"),
        WrongWeightClass(8950): (S.INVALID_ARGUMENT, "WRONG_WEIGHT_CLASS", "weight"),
        IssuanceClosed(): (S.FAILED_PRECONDITION, "NOT_ISSUING", None),
        NotOnTheRoll("o"): (S.PERMISSION_DENIED, "NOT_AN_OWNER", "owner_id"),
        RecordRefused("TOO_MANY_ISSUANCES", "no", "issuances[3]"): (
            S.INVALID_ARGUMENT, "TOO_MANY_ISSUANCES", "issuances[3]"),
        IdentityRefused("bad"): (S.PERMISSION_DENIED, "IDENTITY_REFUSED", "attestation"),
        RateLimited("for this owner", 12.2): (S.RESOURCE_EXHAUSTED, "RATE_LIMITED", None),
        UnauthorisedRequest("no"): (S.PERMISSION_DENIED, "UNAUTHORISED_REQUEST",
                                    "attestation.authorises"),
        NonceReplayed(): (S.PERMISSION_DENIED, "NONCE_REPLAYED", "attestation.nonce"),
        CeremonyRefused("KEYS_MISSING", "2 of 3"): (S.FAILED_PRECONDITION, "KEYS_MISSING", None),
        AlreadySent(2, "key"): (S.ALREADY_EXISTS, "ALREADY_SUBMITTED", None),
        TallyRefused("NOT_TALLYING", "no"): (S.FAILED_PRECONDITION, "NOT_TALLYING", None),
        BadShares("MISSING_SHARE", "shares", "no"): (S.INVALID_ARGUMENT, "MISSING_SHARE",
                                                     "shares"),
        SharesSubmitted(3): (S.ALREADY_EXISTS, "ALREADY_SUBMITTED", "guardian"),
        BallotRefused("selection[1].proof", "bad"): (S.INVALID_ARGUMENT, "INVALID_SELECTION",
                                                     "selection[1].proof"),
        BallotBoxClosed("closed"): (S.FAILED_PRECONDITION, "NOT_OPEN", None),
        ReplayedBallot(): (S.ALREADY_EXISTS, "REPLAYED_BALLOT", None),
        ReceiptPending(5, bytes(32)): (S.UNAVAILABLE, "COSIGNING_PENDING", None),
    }
    for error, (code, reason, field) in cases.items():
        assert (code_of(error), error.reason, error.field) == (code, reason, field), error
    assert RateLimited("for this owner", 12.2).metadata == {"retry_after": "12"}
    assert RateLimited("for this owner", 12.2).retry_after == 12.2
    assert ReceiptPending(5, b"\x01" * 32).metadata == {"index": "5", "ballot_hash": "01" * 32}
    assert CosigningTimeout(7).metadata == {"index": "7"}
    assert BallotRefused("credential.weight", "x").metadata == {"check": "credential.weight"}
    assert WrongState("e", E.OPEN, E.KEY_CEREMONY).precondition == "ELECTION_STATE"


def test_every_kind_has_one_status_and_an_error_of_no_kind_has_none():
    kinds = [k for k in vars(errors).values()
             if isinstance(k, type) and issubclass(k, ServerError) and k is not ServerError]
    assert set(kinds) == set(STATUS)
    assert len(set(STATUS.values())) == len(STATUS)
    with pytest.raises(TypeError):
        code_of(ServerError("no kind", reason="X"))


class Aborted(Exception):
    def __init__(self, status) -> None:
        self.status = status


class FakeContext:
    """What the decorator uses of a servicer context: the two ways to abort."""

    async def abort_with_status(self, status):
        raise Aborted(status)

    async def abort(self, code, details):
        raise Aborted((code, details))


def details(status: grpc.Status) -> tuple[grpc.StatusCode, str, dict, str | None]:
    """(code, message, ErrorInfo, BadRequest field) of a status built by server/errors.py."""
    rich = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    info, field = {}, None
    for d in rich.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            e = error_details_pb2.ErrorInfo()
            d.Unpack(e)
            info = {"reason": e.reason, **e.metadata}
        elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            b = error_details_pb2.BadRequest()
            d.Unpack(b)
            field = b.field_violations[0].field
    return status.code, status.details, info, field


async def call(handler, error: BaseException | None = None):
    class Servicer:
        @handler
        async def Method(self, request, context):  # noqa: N802
            if error is not None:
                raise error
            return "reply"

    return await Servicer().Method(None, FakeContext())


async def test_the_decorator_answers_each_kind_with_its_status_and_maps_domain_fields():
    assert await call(answers()) == "reply"
    with pytest.raises(Aborted) as exc:
        await call(answers(), Conflict("twice", reason="TWICE", field="x", metadata={"k": "v"}))
    assert details(exc.value.status) == (S.ALREADY_EXISTS, "twice", {"reason": "TWICE", "k": "v"},
                                         "x")
    fields = {"election_id": "definition.election_id"}
    with pytest.raises(Aborted) as exc:
        await call(answers(fields), NoSuchElection("e"))
    assert details(exc.value.status)[3] == "definition.election_id"
    with pytest.raises(Aborted) as exc:  # a field the map does not name is answered as it is
        await call(answers(fields), Refused("r", reason="R", field="motion"))
    assert details(exc.value.status)[3] == "motion"
    with pytest.raises(Aborted) as exc:  # a function maps every field
        await call(answers(lambda f: f"cast_ballot.{f}"), BallotRefused("signature", "bad"))
    assert details(exc.value.status)[:2] == (S.INVALID_ARGUMENT, "bad")
    assert details(exc.value.status)[3] == "cast_ballot.signature"


async def test_a_rate_limit_carries_retry_info():
    """A refusal with ``retry_after`` carries google.rpc.RetryInfo, in whole seconds rounded
    up; one without carries none."""
    with pytest.raises(Aborted) as exc:
        await call(answers(), errors.Exhausted("slow down", reason="R", retry_after=12.2))
    rich = status_pb2.Status.FromString(
        dict(exc.value.status.trailing_metadata)["grpc-status-details-bin"])
    retries = [d for d in rich.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(retries) == 1
    info = error_details_pb2.RetryInfo()
    retries[0].Unpack(info)
    assert info.retry_delay.seconds == 13 and exc.value.status.code == S.RESOURCE_EXHAUSTED
    with pytest.raises(Aborted) as exc:
        await call(answers(), Conflict("twice", reason="TWICE"))
    rich = status_pb2.Status.FromString(
        dict(exc.value.status.trailing_metadata)["grpc-status-details-bin"])
    assert not any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in rich.details)


async def test_a_wire_error_names_the_request_path_itself():
    with pytest.raises(Aborted) as exc:
        await call(answers(lambda f: "not this"),
                   wire.WireError("cast_ballot.ballot.election_hash", "32 bytes"))
    assert details(exc.value.status) == (S.INVALID_ARGUMENT,
                                         "cast_ballot.ballot.election_hash: 32 bytes",
                                         {"reason": "INVALID_FIELD"},
                                         "cast_ballot.ballot.election_hash")


async def test_a_bug_is_logged_and_answered_internal_without_its_details(caplog):
    with caplog.at_level(logging.ERROR, logger="ownervote.errors"), \
            pytest.raises(Aborted) as exc:
        await call(answers(), KeyError("secret detail"))
    assert exc.value.status == (S.INTERNAL, "internal error")
    assert "unexpected error" in caplog.text and "secret detail" in caplog.text


def _server_sources():
    for path in sorted((ROOT / "server").rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def test_no_domain_object_knows_a_grpc_status_and_no_handler_aborts_by_hand():
    """Only server/errors.py (the table) and server/status.py (the encoding) name a status
    code; only the decorator aborts a call. A process that is a client of another (the
    registrar reading the server's ledger) may compare the status of a reply it received
    (``exc.code() == grpc.StatusCode.X``), and nothing else."""
    names, aborts = set(), set()
    for path, tree in _server_sources():
        read = set()  # StatusCode nodes in a comparison with a reply's .code()
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) \
                    and getattr(node.left.func, "attr", "") == "code":
                read |= {id(n) for c in node.comparators for n in ast.walk(c)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "StatusCode" \
                    and id(node) not in read:
                names.add(path)
            if isinstance(node, ast.Attribute) and node.attr in ("abort", "abort_with_status"):
                aborts.add(path)
    assert names <= {"server/errors.py", "server/status.py"}, names
    assert aborts == {"server/errors.py"}, aborts


def test_every_rpc_handler_answers_through_the_decorator():
    """Every method of a gRPC servicer in the server (a CamelCase coroutine taking request and
    context) is decorated with errors.answers."""
    undecorated, handlers = [], 0
    for path, tree in _server_sources():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if not any(isinstance(b, ast.Attribute) and b.attr.endswith("Servicer")
                       for b in cls.bases):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.AsyncFunctionDef) and fn.name[0].isupper():
                    handlers += 1
                    if not any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "answers"
                               for d in fn.decorator_list):
                        undecorated.append(f"{path}:{cls.name}.{fn.name}")
    assert undecorated == [] and handlers >= 20  # every service's every method was seen


def test_kinds_are_exceptions_of_the_domain_not_of_grpc():
    for kind in STATUS:
        assert not issubclass(kind, grpc.RpcError)
    assert issubclass(Precondition, ServerError) and issubclass(Unavailable, ServerError)


async def test_a_lost_database_is_unavailable_and_a_bad_query_is_a_bug(caplog):
    """A database that cannot be reached (OperationalError, InterfaceError, a connection
    invalidated) is UNAVAILABLE DATABASE_UNAVAILABLE, retryable, counted; any other database
    error (a constraint, a bad query) is a bug: INTERNAL, logged."""
    from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

    from server.metrics import DATABASE_ERRORS

    before = DATABASE_ERRORS.labels("Method")._value.get()
    for lost in (OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")),
                 InterfaceError("SELECT 1", {}, Exception("the connection is closed"))):
        with pytest.raises(Aborted) as exc:
            await call(answers(), lost)
        code, _, meta, _ = details(exc.value.status)
        assert (code, meta["reason"]) == (S.UNAVAILABLE, "DATABASE_UNAVAILABLE")
    assert DATABASE_ERRORS.labels("Method")._value.get() == before + 2
    with caplog.at_level(logging.ERROR, logger="ownervote.errors"), \
            pytest.raises(Aborted) as exc:
        await call(answers(), IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert exc.value.status == (S.INTERNAL, "internal error")
