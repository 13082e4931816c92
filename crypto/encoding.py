"""The framing every canonical encoding shares, and the ledger's event envelope (docs/protocol.md
§9 and §12).

* ``lp(x) = u32(len(x)) || x``: the one length prefix, 4 bytes big-endian. Integers are unsigned
  big-endian of a fixed width.
* :class:`Reader`: a cursor that fails with :class:`DecodeError` instead of reading short, and
  :func:`decode_all`, which also refuses trailing bytes. Every decoder of the project reads
  through these, so that each object has exactly one accepted encoding.
* :class:`Event`: one ledger entry, ``LP(magic) || LP(kind) || LP(subject) || LP(body)``. The
  subject names what the event is about (an election, a roll, a registrar, a fund account);
  the body is the canonical encoding of the kind's record.

Event kinds belong to record families. Each family (the election records today) registers its
kinds here (:func:`register_event_kinds`), and :func:`event_family` answers which family owns a
kind. The envelope itself is the same for every family: :func:`decode_event` checks the framing
and the syntax of the kind, not which family owns it, so a reader interested in one family (the
tally reads only ballots) passes over the others' events. A ledger verifier refuses a kind no
family owns (:class:`crypto.errors.UnknownEventKind`); :func:`encode_event` refuses to write one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from .errors import DecodeError, UnknownEventKind

T = TypeVar("T")

LP_LEN = 4  # the length prefix: u32, big-endian
MAX_LP = (1 << 32) - 1


def lp(data: bytes) -> bytes:
    """``u32(len(data)) || data``: the length prefix of every encoding and transcript."""
    if len(data) > MAX_LP:
        raise DecodeError("too long for a 4-byte length prefix")
    return len(data).to_bytes(LP_LEN, "big") + bytes(data)


class Reader:
    """A cursor over bytes that fails with DecodeError instead of reading short."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("expected bytes")
        self._data = bytes(data)
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise DecodeError("truncated input")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")

    def lp(self, max_len: int = 1 << 20) -> bytes:
        n = self.uint(LP_LEN)
        if n > max_len:
            raise DecodeError("length prefix too large")
        return self.take(n)

    def text(self, max_len: int = 128) -> str:
        raw = self.lp(max_len)
        try:
            return raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise DecodeError("invalid UTF-8") from exc

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError("trailing bytes")


def decode_all(data: bytes, read: Callable[[Reader], T]) -> T:
    """``read`` over the whole of ``data``: DecodeError if it reads short or leaves bytes."""
    r = Reader(data)
    out = read(r)
    r.end()
    return out


# --- the ledger's event envelope ---------------------------------------------------------------

EVENT_MAGIC = b"ownervote/v1/event"
MAX_KIND = 64  # bytes
MAX_SUBJECT = 128  # bytes
MAX_BODY = 1 << 24
KIND_SYNTAX = re.compile(r"[a-z][a-z0-9-]{0,63}")

_families: dict[str, str] = {}  # kind -> the family that registered it


def register_event_kinds(family: str, kinds: Iterable[str]) -> frozenset[str]:
    """Make ``kinds`` the event kinds of record family ``family`` (at the import of the family's
    records module). A kind belongs to one family; registering it again for the same family is
    a no-op. Returns the family's kinds."""
    if not KIND_SYNTAX.fullmatch(family):
        raise ValueError(f"a family name is {KIND_SYNTAX.pattern}")
    kinds = frozenset(kinds)
    for kind in kinds:
        if not KIND_SYNTAX.fullmatch(kind):
            raise ValueError(f"event kind {kind!r} is not {KIND_SYNTAX.pattern}")
        owner = _families.get(kind)
        if owner is not None and owner != family:
            raise ValueError(f"event kind {kind!r} belongs to the {owner} family already")
    for kind in kinds:
        _families[kind] = family
    return kinds


def event_family(kind: str) -> str:
    """The record family that owns ``kind``; UnknownEventKind if none does."""
    family = _families.get(kind)
    if family is None:
        raise UnknownEventKind(kind)
    return family


def registered_kinds() -> dict[str, str]:
    """Every registered kind and its family."""
    return dict(_families)


@dataclass(frozen=True)
class Event:
    """One ledger entry: ``LP(magic) || LP(kind) || LP(subject) || LP(body)``; the body is the
    canonical encoding of the kind's record, the subject what it is about."""

    kind: str
    subject: str
    body: bytes


def _check_subject(subject: str) -> None:
    if not subject or len(subject.encode()) > MAX_SUBJECT:
        raise DecodeError(f"an event's subject is 1..{MAX_SUBJECT} bytes")


def encode_event(e: Event) -> bytes:
    """The entry's bytes; UnknownEventKind unless a family registered the kind."""
    event_family(e.kind)
    _check_subject(e.subject)
    if len(e.body) > MAX_BODY:
        raise DecodeError("an event's body is at most 16 MiB")
    return lp(EVENT_MAGIC) + lp(e.kind.encode()) + lp(e.subject.encode()) + lp(bytes(e.body))


def decode_event(data: bytes) -> Event:
    """The envelope of an entry: magic, a kind of the right syntax, a subject, the body (not
    decoded). Which family owns the kind is :func:`event_family`'s question."""
    def read(r: Reader) -> Event:
        if r.lp(MAX_KIND) != EVENT_MAGIC:
            raise DecodeError("not an ownervote event")
        kind = r.text(MAX_KIND)
        if not KIND_SYNTAX.fullmatch(kind):
            raise DecodeError(f"malformed event kind {kind!r}")
        subject = r.text(MAX_SUBJECT)
        _check_subject(subject)
        return Event(kind, subject, r.lp(MAX_BODY))
    return decode_all(data, read)
