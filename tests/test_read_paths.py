"""The hot read paths: single-statement reads run without a transaction round trip on PostgreSQL
(server.db.read_engine), and the election snapshot of the credential and ballot paths
(ElectionStore.election_snapshot) never serves a state it must not: nothing after the close, no
non-issuing state, nothing across a transition this store made (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import event, insert, update

from crypto.ballot import Contest
from crypto.records import DefinitionRecord, ElectionState, encode_definition
from server.db import is_postgres, make_engine, read_engine
from server.election.issuance_intake import IssuanceIntake
from server.election.schema import elections
from server.election.store import ElectionStore, NotAnOwner
from server.errors import NotFound
from server.ledger.store import LogStore
from server.schema import create_schema
from tests.election_support import IDP, MAJOR
from tests.support.registrars import Registrars

OPEN_AT = 1_900_000_000
CLOSE_AT = 1_900_003_600
S = ElectionState


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(dsn):
    engine = make_engine(dsn)
    yield engine
    await engine.dispose()


async def _store(engine, clock: Clock, ttl: float = 60.0) -> ElectionStore:
    store = ElectionStore(engine, None, snapshot_ttl=ttl, wall_clock=clock)  # type: ignore[arg-type]
    await create_schema(engine)
    return store


async def _election(engine, state: ElectionState) -> str:
    eid = f"e-{secrets.token_hex(4)}"
    d = DefinitionRecord(eid, "roll-x", b"\0" * 32, "Repair the gate", Contest.referendum(),
                         MAJOR, OPEN_AT, CLOSE_AT, 3, 2, OPEN_AT - 3600,
                         Registrars(eid, ()).refs, 2, IDP.public_key.public_bytes_raw())
    async with engine.begin() as conn:
        await conn.execute(insert(elections).values(
            election_id=eid, roll_id="roll-x", definition=encode_definition(d),
            state=state.value))
    return eid


async def _set_state(engine, eid: str, state: ElectionState) -> None:
    """A transition made behind the store's back (another server process)."""
    async with engine.begin() as conn:
        await conn.execute(update(elections).where(elections.c.election_id == eid)
                           .values(state=state.value))


def _count_reads(store: ElectionStore) -> list[str]:
    calls: list[str] = []
    read = store.get_election

    async def counted(election_id: str):
        calls.append(election_id)
        return await read(election_id)

    store.get_election = counted  # type: ignore[method-assign]
    return calls


async def test_reads_run_outside_a_transaction_on_postgres(pg_dsn):
    engine = make_engine(pg_dsn)
    try:
        assert read_engine(engine) is not engine and is_postgres(engine)
        await create_schema(engine)
        store = ElectionStore(engine, None)  # type: ignore[arg-type]
        intake = IssuanceIntake(store)
        log = LogStore(engine, f"log-{secrets.token_hex(4)}")
        await log.ensure_head()
        eid = await _election(engine, S.OPEN)
        seen: list[tuple[str, bool]] = []

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany) -> None:
            # the asyncpg adapter starts a transaction (BEGIN ... ROLLBACK) unless autocommit
            seen.append((statement, conn.connection.dbapi_connection._transaction is not None))

        assert (await store.get_election(eid)).state is S.OPEN
        with pytest.raises(NotAnOwner):
            await store.owner_weight("roll-x", "nobody")
        assert not await intake.issued_per_registrar(eid)  # what the close reads
        assert await log.index_of_leaf(b"\0" * 32) is None
        assert (await log.head()).size == 0
        assert len(seen) == 5
        assert not any(in_tx for _, in_tx in seen), seen

        seen.clear()
        await _set_state(engine, eid, S.CLOSED)  # writes keep their transaction
        assert seen and all(in_tx for _, in_tx in seen)
    finally:
        await engine.dispose()


async def test_read_engine_is_the_engine_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        assert read_engine(engine) is engine
    finally:
        await engine.dispose()


async def test_open_snapshot_is_served_within_its_ttl(engine):
    clock = Clock(OPEN_AT + 10)
    store = await _store(engine, clock)
    eid = await _election(engine, S.OPEN)
    reads = _count_reads(store)
    for _ in range(3):
        assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN
    assert len(reads) == 1


async def test_open_snapshot_is_never_served_at_or_after_the_close(engine):
    clock = Clock(CLOSE_AT - 1)
    store = await _store(engine, clock)
    eid = await _election(engine, S.OPEN)
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN
    await _set_state(engine, eid, S.CLOSED)  # another process closed it
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN  # still before close
    clock.now = CLOSE_AT
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.CLOSED
    assert (await store.election_snapshot(eid, (S.READY, S.OPEN))).state is S.CLOSED


async def test_snapshot_expires_after_its_ttl(engine):
    store = await _store(engine, Clock(OPEN_AT), ttl=0.0)
    eid = await _election(engine, S.OPEN)
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN
    await _set_state(engine, eid, S.CLOSED)
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.CLOSED


async def test_default_ttl_is_at_most_a_second(engine):
    store = ElectionStore(engine, None)  # type: ignore[arg-type]
    assert 0 < store.snapshot_ttl <= 1.0


async def test_non_issuing_states_are_never_cached(engine):
    store = await _store(engine, Clock(OPEN_AT))
    eid = await _election(engine, S.KEY_CEREMONY)
    reads = _count_reads(store)
    assert (await store.election_snapshot(eid, (S.READY, S.OPEN))).state is S.KEY_CEREMONY
    await _set_state(engine, eid, S.READY)
    assert (await store.election_snapshot(eid, (S.READY, S.OPEN))).state is S.READY
    assert len(reads) == 2
    with pytest.raises(NotFound):
        await store.election_snapshot("no-such-election", (S.OPEN,))


async def test_a_ready_snapshot_is_not_served_to_the_ballot_path(engine):
    store = await _store(engine, Clock(OPEN_AT))
    eid = await _election(engine, S.READY)
    assert (await store.election_snapshot(eid, (S.READY, S.OPEN))).state is S.READY
    await _set_state(engine, eid, S.OPEN)  # opened by another process
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN


async def test_a_change_by_this_store_drops_the_snapshot(engine):
    store = await _store(engine, Clock(OPEN_AT))
    eid = await _election(engine, S.OPEN)
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN
    await _set_state(engine, eid, S.CLOSED)
    store._forget(eid)  # what _advance and set_joint_key do around their writes
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.CLOSED


async def test_a_read_overtaken_by_a_change_is_not_kept(engine):
    store = await _store(engine, Clock(OPEN_AT))
    eid = await _election(engine, S.OPEN)
    read = store.get_election

    async def overtaken(election_id: str):
        stored = await read(election_id)
        await _set_state(engine, eid, S.CLOSED)
        store._forget(eid)  # a transition landed while the read was under way
        return stored

    store.get_election = overtaken  # type: ignore[method-assign]
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.OPEN
    store.get_election = read  # type: ignore[method-assign]
    assert (await store.election_snapshot(eid, (S.OPEN,))).state is S.CLOSED


async def test_owner_weights_are_read_once_per_roll(engine):
    """Both credential RPCs ask the owner's weight: the roll's owners are read in one query and
    kept (a roll never changes once imported); an unknown owner is NotAnOwner, and an unknown
    roll is not kept (it may be imported later)."""
    from server.election.schema import roll_owners

    store = await _store(engine, Clock(OPEN_AT))
    roll_id = f"roll-{secrets.token_hex(4)}"
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_):
        if "roll_owners" in statement:
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(NotAnOwner):
            await store.owner_weight(roll_id, "a")
        async with engine.begin() as conn:
            await conn.execute(insert(roll_owners), [
                {"roll_id": roll_id, "owner_id": o, "weight": w}
                for o, w in (("a", 8950), ("b", 12025))])
        assert len(statements) == 2  # the unknown roll was read, not kept; then the insert
        assert await store.owner_weight(roll_id, "a") == 8950
        assert await store.owner_weight(roll_id, "b") == 12025
        with pytest.raises(NotAnOwner):
            await store.owner_weight(roll_id, "c")
        assert len(statements) == 3  # one read for the whole roll
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def test_entry_data_reads_the_entries_as_entries_does(dsn, tmp_path):
    """LogStore.entry_data (the close's fast page read: asyncpg directly on PostgreSQL) gives
    the same bytes as LogStore.entries, for a full page, a partial page and past the end."""
    from tests.ledger_support import start_log

    h = await start_log(dsn, tmp_path, n_witnesses=0, quorum=0)
    try:
        for i in range(7):
            await h.ledger.append(b"entry-%d" % i + bytes([i]) * i)
        store = h.ledger.store
        for start, count in ((0, 7), (2, 3), (5, 10), (7, 4)):
            assert await store.entry_data(start, count) == \
                [d for d, _ in await store.entries(start, count)]
        assert await store.entry_data(3, 1) == [b"entry-3\x03\x03\x03"]
    finally:
        await h.stop()
