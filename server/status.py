"""Rich gRPC errors: ``google.rpc.Status`` with details (grpcio-status).

Every refusal names what failed: a ``BadRequest`` field violation for bad input, an
``ErrorInfo`` with a machine-readable reason (and metadata such as a witness's latest size), a
``PreconditionFailure`` for state that does not allow the call. Handlers raise :class:`RpcError`;
:func:`abort` turns it into the status on the wire.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from ownervote.v1.wire import details_of  # noqa: F401  (the client side, shared)

DOMAIN = "ownervote.v1"


class RpcError(Exception):
    """A refusal with its gRPC code and details; raised by handlers, sent by :func:`abort`."""

    def __init__(self, code: grpc.StatusCode, message: str, *, reason: str = "",
                 field: str | None = None, metadata: dict[str, str] | None = None,
                 precondition: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.field = field
        self.metadata = metadata or {}
        self.precondition = precondition

    def to_status(self) -> status_pb2.Status:
        details = []
        if self.reason:
            details.append(error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN,
                                                       metadata=self.metadata))
        if self.field is not None:
            details.append(error_details_pb2.BadRequest(field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=self.field, description=self.message, reason=self.reason)]))
        if self.precondition is not None:
            details.append(error_details_pb2.PreconditionFailure(violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type=self.precondition, subject=self.field or "", description=self.message)]))
        packed = []
        for d in details:
            a = any_pb2.Any()
            a.Pack(d)
            packed.append(a)
        return status_pb2.Status(code=getattr(code_pb2, self.code.name), message=self.message,
                                 details=packed)


def invalid(field: str, message: str, reason: str = "INVALID_FIELD") -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {message}", reason=reason,
                    field=field)


async def abort(context: grpc.aio.ServicerContext, err: RpcError) -> None:
    await context.abort_with_status(rpc_status.to_status(err.to_status()))
