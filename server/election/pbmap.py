"""The server's edge of the protobuf mapping: ``ownervote.v1.wire`` (shared with the clients)
does the mapping; here a field that does not map is answered as INVALID_ARGUMENT naming its path
(e.g. ``cast_ballot.ballot.selections[1].proof.branches[0].a``) with the wire's reason."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from ownervote.v1 import wire

from ..status import invalid

F = TypeVar("F", bound=Callable)


def _refusing(decode: F) -> F:
    @functools.wraps(decode)
    def mapped(*args, **kwargs):
        try:
            return decode(*args, **kwargs)
        except wire.WireError as exc:
            raise invalid(exc.field, exc.message, exc.reason) from exc
    return mapped  # type: ignore[return-value]


# protobuf → domain (requests): refusals become gRPC statuses
cast_ballot = _refusing(wire.cast_ballot)
# the canonical bytes of a well-shaped cast ballot, no point decoded (None: use cast_ballot)
cast_ballot_bytes = wire.cast_ballot_bytes
guardian_key = _refusing(wire.guardian_key)
dealing = _refusing(wire.dealing)
complaint = _refusing(wire.complaint)
decryption_shares = _refusing(wire.decryption_shares)

# domain → protobuf (replies; and the clients' side, for the tests)
cast_ballot_pb = wire.cast_ballot_pb
guardian_key_pb = wire.guardian_key_pb
dealing_pb = wire.dealing_pb
complaint_pb = wire.complaint_pb
decryption_share_pb = wire.decryption_share_pb
