"""Requests that do not parse: INVALID_ARGUMENT with a ``BadRequest`` detail, on every RPC of
every process (a server interceptor, installed by server/process.py's make_server).

gRPC deserializes a request before any handler runs; a body that is not the method's message
would otherwise end as UNKNOWN with a traceback in the log. :class:`ParseRequests` takes the
raw bytes instead (the method's handler keeps its deserializer here) and parses them itself:
a failure is answered INVALID_ARGUMENT, reason ``MALFORMED_REQUEST``, field ``request``, and
logged in one line. Unary-request methods are covered (every method of ``ownervote.v1`` and
health's Check); a streaming request (reflection) is left to gRPC.
"""

from __future__ import annotations

import inspect
import logging

import grpc

from .errors import abort_malformed

log = logging.getLogger("ownervote.requests")


async def _parse(deserialize, raw: bytes, context: grpc.aio.ServicerContext, method: str):
    try:
        return deserialize(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and its relatives
        log.warning("%s: a request that does not parse (%d bytes) from %s: %s", method,
                    len(raw), context.peer(), type(exc).__name__)
        await abort_malformed(context, method)


class ParseRequests(grpc.aio.ServerInterceptor):
    """The wrapped handler of each method is made once and kept (a process registers its
    services before it starts, so a method's handler never changes), so that a call pays one
    dictionary lookup here, not a new wrapper."""

    def __init__(self) -> None:
        self._wrapped: dict[str, object] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None  # UNIMPLEMENTED: not kept (nothing to wrap)
            wrapped = self._wrapped[method] = self._wrap(handler, method)
        return wrapped

    @staticmethod
    def _wrap(handler, method: str):
        if handler.request_deserializer is None or handler.request_streaming:
            return handler
        deserialize = handler.request_deserializer
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(raw, context):
                return await inner(await _parse(deserialize, raw, context, method), context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, response_serializer=handler.response_serializer)
        inner_stream = handler.unary_stream
        if inspect.isasyncgenfunction(inner_stream):
            async def unary_stream(raw, context):
                async for item in inner_stream(await _parse(deserialize, raw, context, method),
                                               context):
                    yield item
        else:  # a handler that writes with context.write (health's Watch)
            async def unary_stream(raw, context):
                return await inner_stream(await _parse(deserialize, raw, context, method),
                                          context)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, response_serializer=handler.response_serializer)
