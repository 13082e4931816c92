"""The one Fiat–Shamir construction every proof uses (docs/protocol.md §3).

Strong Fiat–Shamir: the challenge hashes the protocol label, the context (election, token key,
position: everything the verifier knows), the full statement and every commitment. Omitting the
statement is the "weak" form that let Helios tallies be corrupted (Bernhard–Pereira–Warinschi,
ASIACRYPT 2012).

Byte layout, every item length-prefixed with a 4-byte big-endian length::

    LP("ownervote/v1/transcript") || LP(label) || ( LP(name) || LP(value) )*

and the challenge is ``hash_to_scalar(transcript, DST_CHALLENGE)`` (RFC 9380 §5.2, mod q).
"""

from __future__ import annotations

from collections.abc import Iterable

from .encoding import lp
from .group import encode_point, encode_scalar, hash_to_scalar

DST_CHALLENGE = b"ownervote-v1-fiat-shamir-challenge"
_PREFIX = b"ownervote/v1/transcript"

Context = tuple[tuple[str, bytes], ...]


class Transcript:
    """An append-only Fiat–Shamir transcript (not thread-safe; one per proof)."""

    __slots__ = ("_parts",)

    def __init__(self, label: str, context: Iterable[tuple[str, bytes]] = ()) -> None:
        self._parts: list[bytes] = [lp(_PREFIX), lp(label.encode())]
        for name, value in context:
            self.append(name, value)

    def append(self, name: str, value: bytes) -> Transcript:
        self._parts.append(lp(name.encode()))
        self._parts.append(lp(bytes(value)))
        return self

    def append_point(self, name: str, p) -> Transcript:
        return self.append(name, encode_point(p))

    def append_scalar(self, name: str, k: int) -> Transcript:
        return self.append(name, encode_scalar(k))

    def append_int(self, name: str, n: int) -> Transcript:
        """A non-negative integer as 8 bytes big-endian (counts, indexes, plaintext values)."""
        return self.append(name, n.to_bytes(8, "big"))

    def to_bytes(self) -> bytes:
        return b"".join(self._parts)

    def challenge(self) -> int:
        return hash_to_scalar(self.to_bytes(), DST_CHALLENGE)
