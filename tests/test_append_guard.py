"""No ballot after its election's close event, from any server process: the sequencer's guard
(server/election/append_guard.py, server/ledger/guard.py) — in one batch, across batches, after
a sequencer restart, for an entry handed over by another process, and over real processes: a
second server process whose clock is behind keeps taking ballots after the close, and every one
is refused by the sequencer (never acknowledged, never on the ledger)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import grpc
import pytest
from sqlalchemy import insert

from clients.ledger_export import fetch_export
from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names
from clients.voter_sdk import Refused, VoterClient
from crypto.audit import LedgerVerifier
from crypto.encoding import Event, decode_event, encode_event, lp
from crypto.log.checkpoint import Checkpoint, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from crypto.records import ElectionEvent, ElectionState, Transition, encode_transition
from rules.roll_csv import parse_roll_csv
from server.db import make_engine
from server.election.append_guard import CLOSED_DETAIL, CLOSED_REASON, ElectionAppendGuard
from server.election.schema import transitions
from server.ledger.guard import EntryRefused
from server.ledger.log import Ledger
from server.schema import create_schema

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()


def ballot(eid: str, token: bytes | None = None, counter: int = 1) -> bytes:
    """A ballot event as far as the guard reads it: the envelope, and in the cast ballot's bytes
    (crypto.codec) the counter and the ballot's token key (the rest is the ballot box's to
    check)."""
    token = token or secrets.token_bytes(32)
    inner = b"\x01" + lp(eid.encode()) + bytes(32) + token + secrets.token_bytes(16)
    cast = b"\x02" + counter.to_bytes(4, "big") + lp(inner) + secrets.token_bytes(16)
    return encode_event(Event(ElectionEvent.BALLOT, eid, cast))


def state(eid: str, to: ElectionState, at: int = 1_000) -> bytes:
    return encode_event(Event(ElectionEvent.STATE, eid,
                              encode_transition(Transition(to.value - 1, to.value, at))))


async def test_the_guard_refuses_a_ballot_behind_its_close_in_the_same_batch(dsn):
    engine = make_engine(dsn)
    await create_schema(engine)
    try:
        g = ElectionAppendGuard(engine, "guard.example/unit")
        await g.resume()
        a, b = f"a-{secrets.token_hex(3)}", f"b-{secrets.token_hex(3)}"
        batch = [ballot(a), state(a, ElectionState.CLOSED), ballot(a), ballot(b),
                 state(b, ElectionState.OPEN), ballot(b), b"not an event", ballot(a)]
        assert await g.admit(batch) == [None, None, CLOSED_REASON, None, None, None, None,
                                        CLOSED_REASON]
        assert g.closed == set()  # admit changes nothing committed
        await g.admit(batch[:2])
        g.committed(batch[:2])
        assert g.closed == {a}
        assert await g.admit([ballot(a), ballot(b), state(a, ElectionState.TALLYING)]) == \
            [CLOSED_REASON, None, None]
    finally:
        await engine.dispose()


async def test_the_guard_keeps_each_tokens_counters_increasing_within_the_cap(dsn):
    """In the log's order (one batch or several): a counter not above the token's previous one
    is STALE_COUNTER (an identical entry has the same counter); other tokens and elections are
    not affected."""
    engine = make_engine(dsn)
    await create_schema(engine)
    try:
        g = ElectionAppendGuard(engine, "guard.example/unit")
        await g.resume()
        eid, t1, t2 = f"c-{secrets.token_hex(3)}", secrets.token_bytes(32), secrets.token_bytes(32)
        first = ballot(eid, t1, 3)
        verdicts = await g.admit([first, ballot(eid, t1, 3), ballot(eid, t1, 2), first,
                                  ballot(eid, t2, 1), ballot(eid, t1, 4), ballot("x", t1, 1)])
        assert [v and v.split(":")[0] for v in verdicts] == [
            None, "STALE_COUNTER", "STALE_COUNTER", "STALE_COUNTER", None, None, None]
        # the batch was not committed (a failed commit): the next one is judged afresh
        assert await g.admit([ballot(eid, t1, 3)]) == [None]
    finally:
        await engine.dispose()


async def _ledger(dsn: str, origin: str, *, guard: bool = True) -> tuple[Ledger, object]:
    engine = make_engine(dsn)
    await create_schema(engine)
    signer = Ed25519Signer.generate(origin)

    def sign(size: int, root: bytes) -> bytes:
        return SignedCheckpoint.sign(Checkpoint(origin, size, root), signer).encode()

    ledger = Ledger(engine, origin, sign,
                    guard=ElectionAppendGuard(engine, origin) if guard else None)
    return ledger, engine


async def _entries(ledger: Ledger) -> list[Event]:
    return [decode_event(e) for e in await ledger.store.entry_data(0, ledger.size)]


async def test_the_sequencer_never_writes_a_ballot_after_the_close(dsn):
    origin = f"guard.example/{secrets.token_hex(4)}"
    eid = f"g-{secrets.token_hex(3)}"
    ledger, engine = await _ledger(dsn, origin)
    try:
        await ledger.start()
        assert (await ledger.append(ballot(eid))).index == 0
        # the close and a ballot in one batch: the ballot behind it is refused, not written
        close, late = ledger.append(state(eid, ElectionState.CLOSED)), ledger.append(ballot(eid))
        results = await asyncio.gather(close, late, return_exceptions=True)
        assert results[0].index == 1
        assert isinstance(results[1], EntryRefused) and results[1].reason == CLOSED_REASON
        with pytest.raises(EntryRefused, match="no ballot is appended after its close"):
            await ledger.append(ballot(eid))  # a later batch
        assert (await ledger.append(ballot("another"))).index == 2  # other elections go on
        assert [e.kind for e in await _entries(ledger)] == ["ballot", "state", "ballot"]
    finally:
        await ledger.close()
        await engine.dispose()


async def test_counters_and_the_cap_hold_across_batches_and_a_new_sequencer(dsn):
    """Committed counters are kept in ballot_tokens in the batch's own transaction: a later batch
    and a new sequencer on the same store judge by them (the cap is the default 5: no definition
    in this store)."""
    origin = f"guard.example/{secrets.token_hex(4)}"
    eid, token = f"c-{secrets.token_hex(3)}", secrets.token_bytes(32)
    ledger, engine = await _ledger(dsn, origin)
    try:
        await ledger.start()
        for counter in (1, 2, 5, 7, 8):
            await ledger.append(ballot(eid, token, counter))
        with pytest.raises(EntryRefused) as err:
            await ledger.append(ballot(eid, token, 9))
        assert err.value.code == "REVOTE_CAP"
        await ledger.close()
        await engine.dispose()  # a new process: its own engine on the same store
        sign, engine = ledger._sign, make_engine(dsn)
        ledger = Ledger(engine, origin, sign, guard=ElectionAppendGuard(engine, origin))
        await ledger.start()
        for counter, code in ((8, "STALE_COUNTER"), (9, "REVOTE_CAP")):
            with pytest.raises(EntryRefused) as err:
                await ledger.append(ballot(eid, token, counter))
            assert err.value.code == code
        assert (await ledger.append(ballot(eid, secrets.token_bytes(32), 1))).index == 5
    finally:
        await ledger.close()
        await engine.dispose()


async def test_a_new_sequencer_reads_the_closes_from_the_store(dsn):
    """The guard's state is what the store says: a sequencer that starts (or restarts) refuses
    ballots of every election with a CLOSED transition, including one only intended (its event
    may not be on the ledger yet)."""
    origin = f"guard.example/{secrets.token_hex(4)}"
    eid = f"g-{secrets.token_hex(3)}"
    ledger, engine = await _ledger(dsn, origin)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(transitions).values(
                election_id=eid, to_state=ElectionState.CLOSED.value, at=1, ledger_index=None))
        await ledger.start()
        with pytest.raises(EntryRefused):
            await ledger.append(ballot(eid))
        assert (await ledger.append(ballot("open-one"))).index == 0
    finally:
        await ledger.close()
        await engine.dispose()


async def test_an_entry_handed_over_by_another_process_is_refused_there(pg_dsn):
    """PostgreSQL, two ledgers on one log (the sequencer and a process that hands its entries
    over through log_pending): the ballot the second one hands over after the close is refused,
    the refusal reaches it, and nothing of it stays pending or enters the log."""
    origin = f"guard.example/{secrets.token_hex(4)}"
    eid = f"g-{secrets.token_hex(3)}"
    first, e1 = await _ledger(pg_dsn, origin)
    second, e2 = await _ledger(pg_dsn, origin, guard=False)
    try:
        await first.start()
        assert first.is_sequencer
        second._sign = first._sign
        await second.start(wait_for_role=False)
        assert not second.is_sequencer
        assert (await second.append(ballot(eid))).index == 0  # handed over, admitted
        await first.append(state(eid, ElectionState.CLOSED))
        with pytest.raises(EntryRefused, match="after its close"):
            await asyncio.wait_for(second.append(ballot(eid)), 20)
        assert await first.store.take_pending(10) == []
        assert [e.kind for e in await _entries(first)] == ["ballot", "state"]
    finally:
        await second.close()
        await first.close()
        await e1.dispose()
        await e2.dispose()


async def test_a_process_whose_clock_is_behind_cannot_append_after_the_close(pg_dsn, tmp_path):
    """Two server processes on one PostgreSQL database. The second one's clock is 6 s behind and
    it serves an election's state from memory for 60 s: so it keeps taking ballots after the
    close that the first process (the sequencer, which runs the lifecycle) appended. Each such
    ballot is checked, handed to the sequencer, and refused there: FAILED_PRECONDITION
    (NOT_OPEN), never acknowledged. The ledger verifies, with no ballot after its close."""
    from server.db import create_database, drop_database
    from tests.conftest import PG_BASE  # a database of its own: the driver steps all of them
    name = f"ownervote_race_{secrets.token_hex(4)}"
    dsn = await create_database(PG_BASE, name)
    eid = f"race-{secrets.token_hex(3)}"
    cluster = LocalCluster(tmp_path / "cluster", dsn=dsn, origin=f"race.example/{eid}",
                           guardian_names=guardian_names(eid, 3),
                           lifecycle_tick=0.1, close_grace=0.5, servers=2,
                           server_settings=((), ("snapshot_ttl = 60",)), clock_skews=(0, -6))
    try:
        cluster.start()
        async with ElectionScenario(cluster, eid, guardians=3, threshold=2, poll=0.05) as sc, \
                cluster.channel(cluster.addresses[1]) as channel:
            await sc.define(ROLL, f"c-{eid}", motion="Race the close", opens_in=6, open_for=10)
            election = await sc.run_ceremony(timeout=60)
            owners = [o.owner_id for o in parse_roll_csv(ROLL.decode()).owners][:5]
            wallets = await sc.issue(owners, election=election)
            late = VoterClient(channel, cluster.bundle)
            await sc.wait_for(ElectionState.OPEN, timeout=60)
            # the second process thinks the election opens 6 s later than it does
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while True:
                try:
                    first = await late.cast(election, wallets[owners[0]], [0])
                    break
                except Refused as exc:
                    assert exc.reason == "NOT_OPEN" and loop.time() < deadline, exc
                    await asyncio.sleep(0.2)
            await sc.wait_for(ElectionState.CLOSED, timeout=30)
            refusals = []
            for owner in owners[1:]:  # the second process still believes it is open
                with pytest.raises(Refused) as err:
                    await late.cast(election, wallets[owner], [1])
                refusals.append(err.value)
            assert all(r.code == grpc.StatusCode.FAILED_PRECONDITION and r.reason == "NOT_OPEN"
                       for r in refusals), refusals
            assert all(CLOSED_DETAIL in str(r) for r in refusals), refusals  # the sequencer's
            export = await fetch_export(sc.voter.channel)
        verifier = LedgerVerifier()
        for i, entry in enumerate(export.entries):
            verifier.apply(i, entry)
        kinds = [decode_event(e).kind for e in export.entries]
        close_at = verifier.election(eid).transitions[ElectionState.CLOSED]
        assert kinds.count("ballot") == 1 and kinds.index("ballot") < close_at
        assert first.receipt.index == kinds.index("ballot")
    finally:
        cluster.stop()
        await drop_database(PG_BASE, name)
