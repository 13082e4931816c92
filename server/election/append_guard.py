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

and a registrar's record whose place in the log breaks its state rule (crypto/election_audit.py):

* ``NOT_KEY_CEREMONY``: an ``issuer-keys`` event whose election is not in KEY_CEREMONY where the
  log stands (the driver may have moved it to READY after the intake checked);
* ``NOT_ISSUING``: an ``issuances`` batch outside READY, OPEN and CLOSED, or a final one before
  CLOSED.

For these the state is the election's latest ``state`` event on the log or earlier in the
batch: read, the first time an election's record is seen, from ``transitions`` (the rows whose
event has its ledger index; a row written just after its event and before a crash is read as
not there, which refuses on the safe side, and a refusal reads the table again).

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
        return self.moves_to is ElectionState.CLOSED

    @property
    def moves_to(self) -> ElectionState | None:
        if self.kind != ElectionEvent.STATE:
            return None
        try:
            return decode_transition(self.body).to_state
        except DecodeError:
            return None

    @property
    def final_batch(self) -> bool:
        """For an ``issuances`` event: its ``final`` flag (LP(registrar) || u32(seq) || u8)."""
        if len(self.body) < 4:
            return False
        n = int.from_bytes(self.body[:4], "big")
        return len(self.body) > 8 + n and self.body[8 + n] == 1


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
        self._states: dict[str, ElectionState] = {}  # where the log stands, per election seen
        self._moved: dict[str, ElectionState] = {}  # the batch's state events

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
        self._states.clear()

    async def _load_states(self, eids: set[str], *, again: bool = False) -> None:
        """The latest state on the log of elections not seen yet (or ``again``)."""
        eids = {e for e in eids if again or e not in self._states}
        if not eids:
            return
        t = transitions
        q = (select(t.c.election_id, t.c.to_state)
             .where(t.c.election_id.in_(sorted(eids)) & t.c.ledger_index.is_not(None)))
        async with self.engine.connect() as conn:
            found: dict[str, int] = {}
            for r in (await conn.execute(q)).all():
                found[r.election_id] = max(found.get(r.election_id, 0), r.to_state)
        for e in eids:  # a state only moves forward: what the log's batches taught stays
            self._states[e] = ElectionState(max(found.get(e, ElectionState.DRAFT),
                                                self._states.get(e, ElectionState.DRAFT)))

    def _registrar_verdict(self, e: _Entry, state: ElectionState) -> str | None:
        S = ElectionState
        if e.kind == ElectionEvent.ISSUER_KEYS and state is not S.KEY_CEREMONY:
            return (f"NOT_KEY_CEREMONY: issuer keys are published during the key ceremony, "
                    f"and the log has the election {state.name}")
        if e.kind == ElectionEvent.ISSUANCES:
            if state not in (S.READY, S.OPEN, S.CLOSED):
                return f"NOT_ISSUING: an issuance batch while the election is {state.name}"
            if e.final_batch and state is not S.CLOSED:
                return "NOT_ISSUING: a final issuance batch before the election's close"
        return None

    async def _registrar_verdicts(self, parsed: list[_Entry]) -> dict[int, str]:
        """The refusals of the batch's registrar records (state rules), in the batch's order."""
        kinds = (ElectionEvent.ISSUER_KEYS, ElectionEvent.ISSUANCES)
        records = {i for i, e in enumerate(parsed) if e.kind in kinds}
        if not records:
            return {}
        await self._load_states({parsed[i].subject for i in records})
        for again in (False, True):
            moved: dict[str, ElectionState] = {}
            verdicts: dict[int, str] = {}
            for i, e in enumerate(parsed):
                if e.moves_to is not None:
                    moved[e.subject] = e.moves_to
                elif i in records:
                    state = moved.get(e.subject, self._states.get(e.subject,
                                                                  ElectionState.DRAFT))
                    verdict = self._registrar_verdict(e, state)
                    if verdict:
                        verdicts[i] = verdict
            if not verdicts or again:
                return verdicts
            # a refusal: read the log's states again (a transition recorded since) and judge
            await self._load_states({parsed[i].subject for i in verdicts}, again=True)
        return verdicts

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
        registrar_refusals = await self._registrar_verdicts(parsed)
        proposed: dict[TokenKey, tuple[int, int]] = {}
        closing: set[str] = set()
        moved: dict[str, ElectionState] = {}
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
            else:
                verdict = registrar_refusals.get(i)
            if e.moves_to is not None:
                moved[e.subject] = e.moves_to
            verdicts.append(verdict)
        self._proposed, self._closing, self._moved = proposed, closing, moved
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
        self._states.update(self._moved)  # an election's last state event is where it stands
        for eid in self._closing:  # its tokens take no more ballots: forget them
            self.closed.add(eid)
            self._caps.pop(eid, None)
            for key in [k for k in self._tokens if k[0] == eid]:
                del self._tokens[key]
        self._proposed, self._closing, self._moved = {}, set(), {}

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
