"""The election family's word at the sequencer: no ballot after its election's close event, and
each token's ballots in strictly increasing revote-counter order within its election's cap.

The ballot box checks a ballot before it appends it, but between that check and the ballot's
place in the log another process may have appended something that makes it wrong: the
election's close (its clock may be behind), or another ballot of the same token (sent to another
process at the same moment). The sequencer is the one point every append passes in the log's
order, so the rules that depend on that order are kept here, exactly as every verifier applies
them to the ledger (crypto/election_audit.py: the validating witnesses, the auditor, the
guardians). Without this, one late or reordered ballot would make the witnesses refuse every
later checkpoint.

:class:`ElectionAppendGuard` refuses a ``ballot`` event

* ``NOT_OPEN``: whose election has a ``state`` event to CLOSED earlier in the log or in the batch;
* ``STALE_COUNTER`` / ``REVOTE_CAP``: whose token's previous ballot on the log (or earlier in the
  batch) has a counter not below its own, or whose token has the definition's
  ``max_ballots_per_token`` ballots already (crypto.election_audit.check_ballot_order). An entry
  byte-identical to an earlier one has the same counter, so it is refused too.

Its state: the closed elections, read when a sequencer starts from ``transitions`` (every
election with a CLOSED row, including a recorded intent whose event may not be on the log yet:
refusing then is safe, its closing time and the seal have passed); and each token's highest
counter and ballot count, in ``ballot_tokens``, which the guard writes in each batch's own
transaction (so the table is exactly what the committed log says) and reads whole, for the
elections not closed, when a sequencer starts: from then on a token it does not know has no
ballot yet, and a batch costs the guard no query but one upsert (and one read of a definition's
cap the first time its election is seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crypto.codec import cast_ballot_token_and_counter
from crypto.election_audit import BallotOrderViolation, check_ballot_order
from crypto.encoding import decode_event
from crypto.errors import DecodeError
from crypto.records import (
    DEFAULT_MAX_BALLOTS_PER_TOKEN,
    ElectionEvent,
    ElectionState,
    decode_definition,
    decode_transition,
)

from ..db import is_postgres
from .schema import ballot_tokens, elections, transitions

NOT_OPEN = "NOT_OPEN"
CLOSED_DETAIL = "the election is closed: no ballot is appended after its close event"
CLOSED_REASON = f"{NOT_OPEN}: {CLOSED_DETAIL}"

TokenKey = tuple[str, bytes]  # (election id, token public key)


@dataclass(frozen=True)
class _Entry:
    kind: str | None
    subject: str
    body: bytes

    @property
    def closes(self) -> bool:
        if self.kind != ElectionEvent.STATE:
            return False
        try:
            return decode_transition(self.body).to_state is ElectionState.CLOSED
        except DecodeError:
            return False


def _entry(data: bytes) -> _Entry:
    """An event's kind, subject and body; kind None for bytes that are not one (another family's
    business, or a test's raw entry)."""
    try:
        event = decode_event(data)
    except DecodeError:
        return _Entry(None, "", b"")
    return _Entry(event.kind, event.subject, event.body)


class ElectionAppendGuard:
    def __init__(self, engine: AsyncEngine, log_id: str) -> None:
        self.engine = engine
        self.log_id = log_id  # the log it guards (several logs may share a database)
        self.closed: set[str] = set()
        self._tokens: dict[TokenKey, tuple[int, int]] = {}  # (highest counter, ballots)
        self._caps: dict[str, int] = {}  # election -> max_ballots_per_token
        self._proposed: dict[TokenKey, tuple[int, int]] = {}  # the batch admit() judged last
        self._closing: set[str] = set()

    async def resume(self) -> None:
        closed = select(transitions.c.election_id).where(
            transitions.c.to_state >= ElectionState.CLOSED.value)
        t = ballot_tokens
        tokens = select(t.c.election_id, t.c.token_public_key, t.c.counter, t.c.ballots).where(
            (t.c.log_id == self.log_id) & t.c.election_id.not_in(closed))
        async with self.engine.connect() as conn:
            self.closed = {r.election_id for r in (await conn.execute(closed.distinct())).all()}
            self._tokens = {(r.election_id, bytes(r.token_public_key)): (r.counter, r.ballots)
                            for r in (await conn.execute(tokens)).all()}
        self._caps.clear()

    async def admit(self, entries: Sequence[bytes]) -> list[str | None]:
        parsed = [_entry(d) for d in entries]
        ballots: dict[int, TokenKey | None] = {}
        counters: dict[int, int] = {}
        for i, e in enumerate(parsed):
            if e.kind == ElectionEvent.BALLOT:
                try:
                    token, counters[i] = cast_ballot_token_and_counter(e.body)
                    ballots[i] = (e.subject, token)
                except DecodeError:
                    ballots[i] = None
        await self._load_caps({e for e, _ in (k for k in ballots.values() if k is not None)})
        proposed: dict[TokenKey, tuple[int, int]] = {}
        closing: set[str] = set()
        verdicts: list[str | None] = []
        for i, e in enumerate(parsed):
            verdict = None
            if i in ballots:
                key = ballots[i]
                if e.subject in self.closed or e.subject in closing:
                    verdict = CLOSED_REASON
                elif key is None:
                    verdict = "INVALID_BALLOT: not a cast ballot's canonical bytes"
                else:
                    previous = proposed.get(key, self._tokens.get(key))
                    try:
                        check_ballot_order(previous, counters[i], self._caps.get(
                            e.subject, DEFAULT_MAX_BALLOTS_PER_TOKEN))
                    except BallotOrderViolation as exc:
                        verdict = f"{exc.reason}: {exc}"
                    else:
                        proposed[key] = (counters[i], 1 if previous is None else previous[1] + 1)
            elif e.closes:
                closing.add(e.subject)
            verdicts.append(verdict)
        self._proposed, self._closing = proposed, closing
        return verdicts

    async def record(self, conn: AsyncConnection, entries: Sequence[bytes]) -> None:
        if not self._proposed:
            return
        dialect = postgresql if is_postgres(conn.engine) else sqlite
        stmt = dialect.insert(ballot_tokens)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ballot_tokens.c.log_id, ballot_tokens.c.election_id,
                            ballot_tokens.c.token_public_key],
            set_={"counter": stmt.excluded.counter, "ballots": stmt.excluded.ballots})
        await conn.execute(stmt, [
            {"log_id": self.log_id, "election_id": eid, "token_public_key": token,
             "counter": c, "ballots": n}
            for (eid, token), (c, n) in self._proposed.items()])

    def committed(self, entries: Sequence[bytes]) -> None:
        self._tokens.update(self._proposed)
        for eid in self._closing:  # its tokens take no more ballots: forget them
            self.closed.add(eid)
            self._caps.pop(eid, None)
            for key in [k for k in self._tokens if k[0] == eid]:
                del self._tokens[key]
        self._proposed, self._closing = {}, set()

    async def _load_caps(self, eids: set[str]) -> None:
        """The revote caps of elections not seen since the start (one query, the first time)."""
        eids = {e for e in eids if e not in self._caps}
        if not eids:
            return
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(elections.c.election_id, elections.c.definition)
                                      .where(elections.c.election_id.in_(sorted(eids))))
            for r in rows.all():
                self._caps[r.election_id] = decode_definition(
                    bytes(r.definition)).max_ballots_per_token
