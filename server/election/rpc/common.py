"""What the election's RPC handlers share: the caller's certificate name, the election-id
check, and the tally a server may be built without."""

from __future__ import annotations

import grpc
from ownervote.v1 import wire

from ...errors import Unsupported
from ...tls import peer_common_name


def check_election_id(value: str, field: str = "election_id") -> str:
    """``value``, or INVALID_ARGUMENT naming ``field`` unless it is an election id."""
    return wire.election_id(field, value)


def require_tally(tally):
    """The tally store, or UNIMPLEMENTED on a server built without one."""
    if tally is None:
        raise Unsupported("this server does not tally", reason="NO_TALLY")
    return tally


def client_common_name(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's verified client certificate (server.tls.peer_common_name:
    only the mutual-TLS listener asks for one), else None."""
    return peer_common_name(context)
