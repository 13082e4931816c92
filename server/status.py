"""Rich gRPC errors: ``google.rpc.Status`` with details (grpcio-status), the encoding of a
refusal (server/errors.py decides which refusal and which status code).

Every refusal names what failed: an ``ErrorInfo`` with a machine-readable reason (and metadata
such as a witness's latest size), a ``BadRequest`` field violation for bad input, a
``PreconditionFailure`` for state that does not allow the call, and a ``RetryInfo`` when the
client should wait before it asks again (a rate limit: its ``retry_delay``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from ownervote.v1.wire import details_of  # noqa: F401  (the client side, shared)

DOMAIN = "ownervote.v1"


def status_proto(code: grpc.StatusCode, message: str, *, reason: str = "",
                 field: str | None = None, metadata: Mapping[str, str] | None = None,
                 precondition: str | None = None,
                 retry_after: float | None = None) -> status_pb2.Status:
    """``retry_after``: seconds the client should wait before retrying (RetryInfo, in whole
    seconds rounded up, at least one)."""
    details = []
    if reason:
        details.append(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN,
                                                   metadata=dict(metadata or {})))
    if field is not None:
        details.append(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(
                field=field, description=message, reason=reason)]))
    if precondition is not None:
        details.append(error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type=precondition, subject=field or "", description=message)]))
    if retry_after is not None:
        details.append(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
            seconds=max(1, math.ceil(retry_after)))))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message,
                             details=packed)
