"""The sequencer's guard keeps the registrars' records in their states
(server/election/append_guard.py): issuer keys only while the log has the election in its key
ceremony, issuance batches while it issues (READY, OPEN, CLOSED), a final batch only after the
close — in one batch, across batches, and from the transitions a restarted sequencer reads. A
record the intake checked before the election moved on is refused here, and the validating
witnesses never see it."""

from __future__ import annotations

import secrets

from sqlalchemy import insert

from crypto.encoding import Event, encode_event, lp
from crypto.records import ElectionEvent, ElectionState, Transition, encode_transition
from server.db import make_engine
from server.election.append_guard import ElectionAppendGuard
from server.election.schema import transitions
from server.schema import create_schema

S = ElectionState


def state(eid: str, to: ElectionState) -> bytes:
    return encode_event(Event(ElectionEvent.STATE, eid,
                              encode_transition(Transition(to.value - 1, to.value, 1_000))))


def keys(eid: str) -> bytes:
    return encode_event(Event(ElectionEvent.ISSUER_KEYS, eid, lp(b"committee") + bytes(8)))


def batch(eid: str, final: bool) -> bytes:
    body = lp(b"committee") + (0).to_bytes(4, "big") + (b"\x01" if final else b"\x00")
    return encode_event(Event(ElectionEvent.ISSUANCES, eid, body + bytes(68)))


def codes(verdicts) -> list[str | None]:
    return [None if v is None else v.split(":")[0] for v in verdicts]


async def test_registrar_records_are_admitted_only_in_their_states(dsn):
    engine = make_engine(dsn)
    await create_schema(engine)
    try:
        g = ElectionAppendGuard(engine, "guard.example/registrars")
        await g.resume()
        eid = f"g-{secrets.token_hex(3)}"
        # nothing on the log yet: DRAFT, neither record belongs
        assert codes(await g.admit([keys(eid), batch(eid, False)])) == [
            "NOT_KEY_CEREMONY", "NOT_ISSUING"]
        g.committed([])
        # in one batch: keys after KEY_CEREMONY are in, after READY out; a batch once READY in
        run = [state(eid, S.KEY_CEREMONY), keys(eid), batch(eid, False), state(eid, S.READY),
               keys(eid), batch(eid, False), batch(eid, True)]
        assert codes(await g.admit(run)) == [None, None, "NOT_ISSUING", None,
                                             "NOT_KEY_CEREMONY", None, "NOT_ISSUING"]
        await g.admit([state(eid, S.KEY_CEREMONY), state(eid, S.READY)])
        g.committed([])
        # across batches: the log stands at READY; then OPEN and CLOSED
        assert codes(await g.admit([keys(eid), batch(eid, True), batch(eid, False)])) == [
            "NOT_KEY_CEREMONY", "NOT_ISSUING", None]
        g.committed([])
        await g.admit([state(eid, S.OPEN), state(eid, S.CLOSED)])
        g.committed([])
        assert codes(await g.admit([batch(eid, True), batch(eid, False)])) == [None, None]
        await g.admit([state(eid, S.TALLYING)])
        g.committed([])
        assert codes(await g.admit([batch(eid, True)])) == ["NOT_ISSUING"]

        # a restarted sequencer reads where another election stands from its transitions
        other = f"h-{secrets.token_hex(3)}"
        async with engine.begin() as conn:
            await conn.execute(insert(transitions), [
                {"election_id": other, "to_state": S.KEY_CEREMONY.value, "at": 1,
                 "ledger_index": 3},
                {"election_id": other, "to_state": S.READY.value, "at": 2,
                 "ledger_index": None}])  # an intent: its event is not on the log yet
        fresh = ElectionAppendGuard(engine, "guard.example/registrars")
        await fresh.resume()
        assert codes(await fresh.admit([keys(other), batch(other, False)])) == [
            None, "NOT_ISSUING"]
    finally:
        await engine.dispose()
