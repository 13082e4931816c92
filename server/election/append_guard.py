"""The election family's word at the sequencer: no ballot after its election's close event.

The ballot box refuses a ballot from the closing time on, and the close is appended only after
the box of the process that closes has drained (BallotBox.seal) and a grace for the others. Still,
a ballot checked by another server process (whose clock may be behind) can reach the sequencer
after the close event is in the log, or behind it in the same batch. The sequencer is the one
point all appends pass in the log's order, so the rule is kept there: :class:`ElectionAppendGuard`
refuses a ``ballot`` event whose election has a ``state`` event to CLOSED earlier in the log or
earlier in the batch. The validating witnesses, the auditor and the guardians refuse such a
ledger (crypto/election_audit.py): without this, one late ballot would stop every co-signature.

Its state is the set of elections closed. A sequencer that starts reads it from ``transitions``:
every election with a CLOSED row, including a recorded intent whose event may or may not have
reached the log (refusing a ballot then is safe: its closing time and the seal have passed).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.encoding import decode_event
from crypto.errors import DecodeError
from crypto.records import ElectionEvent, ElectionState, decode_transition

from .schema import transitions

CLOSED_REASON = "the election is closed: no ballot is appended after its close event"


class ElectionAppendGuard:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.closed: set[str] = set()

    async def resume(self) -> None:
        q = select(transitions.c.election_id).where(
            transitions.c.to_state >= ElectionState.CLOSED.value).distinct()
        async with self.engine.connect() as conn:
            self.closed = {r.election_id for r in (await conn.execute(q)).all()}

    def admit(self, entries: Sequence[bytes]) -> list[str | None]:
        closing: set[str] = set()  # closed by an entry earlier in this batch
        verdicts: list[str | None] = []
        for data in entries:
            kind, subject, body = _header(data)
            if kind == ElectionEvent.BALLOT and (subject in self.closed or subject in closing):
                verdicts.append(CLOSED_REASON)
                continue
            if kind == ElectionEvent.STATE and _closes(body):
                closing.add(subject)
            verdicts.append(None)
        return verdicts

    def committed(self, entries: Sequence[bytes]) -> None:
        for data in entries:
            kind, subject, body = _header(data)
            if kind == ElectionEvent.STATE and _closes(body):
                self.closed.add(subject)


def _header(data: bytes) -> tuple[str | None, str, bytes]:
    """(kind, subject, body) of an event; (None, "", b"") for bytes that are not one (another
    family's business, or a test's raw entry)."""
    try:
        event = decode_event(data)
    except DecodeError:
        return None, "", b""
    return event.kind, event.subject, event.body


def _closes(body: bytes) -> bool:
    try:
        return decode_transition(body).to_state is ElectionState.CLOSED
    except DecodeError:
        return False
