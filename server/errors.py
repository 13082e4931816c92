"""The server's one error vocabulary, and the one place it becomes a gRPC status.

Every refusal the server makes is a :class:`ServerError` of one of a handful of kinds, raised
where the refusal is decided (a store, the ballot box, an RPC's input check): it carries a
message, a machine-readable ``reason``, optionally the ``field`` it is about, ``metadata``,
for a state that does not allow the call the ``precondition`` type, and for a refusal that a
later retry may pass (a rate limit) ``retry_after`` seconds (answered as ``RetryInfo``). No
domain object knows a gRPC status code: :data:`STATUS` maps each kind to one, and
:func:`answers` — the decorator on every RPC handler — turns a raised error into
``google.rpc.Status`` with its details (server/status.py). A handler names how the fields of
its domain map to its request's paths (``fields``); nothing else translates errors by hand.

A field that does not map to a domain object (``ownervote.v1.wire.WireError``) is refused as
INVALID_ARGUMENT naming its path. A database error (the store unreachable, a connection lost)
is UNAVAILABLE, reason DATABASE_UNAVAILABLE: nothing was acknowledged, and the identical
request may be sent again. Anything else that escapes a handler is a bug: it is logged and
answered INTERNAL without its details. Every answer is counted (server/metrics.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

import grpc
from grpc_status import rpc_status
from ownervote.v1.wire import WireError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .metrics import DATABASE_ERRORS, RPCS
from .status import status_proto

log = logging.getLogger("ownervote.errors")


class ServerError(Exception):
    """A refusal: what a client is told, and why."""

    def __init__(self, message: str, *, reason: str, field: str | None = None,
                 metadata: Mapping[str, str] | None = None,
                 precondition: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field
        self.metadata = dict(metadata or {})
        self.precondition = precondition
        self.retry_after = retry_after


class Refused(ServerError):
    """The request itself is wrong (a field, a value, a signature): INVALID_ARGUMENT."""


class NotFound(ServerError):
    """What the request names does not exist: NOT_FOUND."""


class Conflict(ServerError):
    """It exists already, or was done already: ALREADY_EXISTS."""


class Precondition(ServerError):
    """The state of things does not allow it now (``precondition`` names what is missing):
    FAILED_PRECONDITION."""


class Unavailable(ServerError):
    """Accepted or valid, but something it waits for is not there yet; try again:
    UNAVAILABLE."""


class Aborted(ServerError):
    """A peer's data did not check out (a witness refusing a log's entries): ABORTED."""


class Unauthenticated(ServerError):
    """No credentials: UNAUTHENTICATED."""


class Forbidden(ServerError):
    """Credentials that do not allow it: PERMISSION_DENIED."""


class Exhausted(ServerError):
    """Too many attempts (retry in ``retry_after`` seconds): RESOURCE_EXHAUSTED."""


class Unsupported(ServerError):
    """This server does not offer it: UNIMPLEMENTED."""


#: every kind's gRPC status (the most derived kind of an error decides)
STATUS: Mapping[type[ServerError], grpc.StatusCode] = {
    Refused: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Conflict: grpc.StatusCode.ALREADY_EXISTS,
    Precondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Aborted: grpc.StatusCode.ABORTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    Exhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unsupported: grpc.StatusCode.UNIMPLEMENTED,
}


def invalid(field: str, message: str, reason: str = "INVALID_FIELD") -> Refused:
    """A refused field: INVALID_ARGUMENT ``"<field>: <message>"`` naming it."""
    return Refused(f"{field}: {message}", reason=reason, field=field)


def code_of(error: ServerError) -> grpc.StatusCode:
    """The gRPC status of an error (by its kind)."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    raise TypeError(f"{type(error).__name__} is not of a kind in errors.STATUS")


FieldMap = Mapping[str, str] | Callable[[str], str | None]


def _request_path(field: str | None, fields: FieldMap | None) -> str | None:
    if field is None or fields is None:
        return field
    if callable(fields):
        return fields(field)
    return fields.get(field, field)


def to_status(error: ServerError, fields: FieldMap | None = None):
    """The ``grpc.Status`` of an error, its field mapped to the request's path."""
    return rpc_status.to_status(status_proto(
        code_of(error), error.message, reason=error.reason,
        field=_request_path(error.field, fields), metadata=error.metadata,
        precondition=error.precondition, retry_after=error.retry_after))


def of_wire(exc: WireError) -> Refused:
    """A protobuf field that does not map to a domain object."""
    return invalid(exc.field, exc.message, exc.reason)


H = TypeVar("H", bound=Callable)


def answers(fields: FieldMap | None = None) -> Callable[[H], H]:
    """The decorator of an RPC handler ``async def Method(self, request, context)``: a
    ServerError it raises is answered as its status, its field mapped by ``fields`` (a dict from
    domain field to request path, or a function; a field the dict does not name is answered as
    it is); a WireError names the request's path itself."""

    def wrap(handler: H) -> H:
        method = handler.__name__

        @functools.wraps(handler)
        async def handle(self, request, context: grpc.aio.ServicerContext):
            try:
                answer = await handler(self, request, context)
                RPCS.labels(method, "OK", "").inc()
                return answer
            except ServerError as err:
                error = err
                status = to_status(err, fields)  # its field named in domain terms: mapped
            except WireError as exc:
                error = of_wire(exc)
                status = to_status(error)  # its field is the request's path already
            except grpc.aio.AbortError:
                raise
            except (OperationalError, InterfaceError, DBAPIError, ConnectionError) as exc:
                if isinstance(exc, DBAPIError) and not isinstance(
                        exc, (OperationalError, InterfaceError)) \
                        and not exc.connection_invalidated:
                    RPCS.labels(method, "INTERNAL", "").inc()  # a constraint, a bad query: a bug
                    log.exception("unexpected database error in %s", handler.__qualname__)
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                DATABASE_ERRORS.labels(method).inc()
                log.warning("%s: the database failed: %s", method, type(exc).__name__)
                error = Unavailable("the database is unreachable now; nothing was stored: "
                                    "send the identical request again shortly",
                                    reason="DATABASE_UNAVAILABLE")
                status = to_status(error)
            except Exception:
                RPCS.labels(method, "INTERNAL", "").inc()
                log.exception("unexpected error in %s", handler.__qualname__)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            RPCS.labels(method, code_of(error).name, error.reason).inc()
            await context.abort_with_status(status)
        return handle  # type: ignore[return-value]

    return wrap


MALFORMED_REQUEST = "MALFORMED_REQUEST"


async def abort_malformed(context: grpc.aio.ServicerContext, method: str) -> None:
    """A request body that does not parse as ``method``'s request message (server/
    request_parsing.py): INVALID_ARGUMENT, reason MALFORMED_REQUEST, field ``request``."""
    await context.abort_with_status(rpc_status.to_status(status_proto(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"the request is not a valid {method.rsplit('/', 1)[-1]} request message (protobuf)",
        reason=MALFORMED_REQUEST, field="request")))
