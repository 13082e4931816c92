"""The lifecycle driver on an injected clock (SQLite and PostgreSQL): an election moves
DRAFT → … → PUBLISHED with real guardians and real ballots, the ledger holds its events in the
order the auditor enforces, a restarted driver continues where the last one stopped, a failed
ceremony keeps its election closed without holding up the others, and an election nobody voted
in still publishes. The registrars are tests/support/registrars.py's, their signed records taken
onto the ledger through the server's IssuanceIntake: the ceremony finishes once k registrars'
issuer keys are on it, and the close waits for every keyed registrar's final batch.
The other tests of the tally import the harness from here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import grpc
import pytest
from sqlalchemy import insert

from crypto.audit import LedgerVerifier
from crypto.codec import decode_cast_ballot
from crypto.credential import generate_token
from crypto.dkg import (
    DkgParameters,
    GuardianKeyPair,
    GuardianShare,
    combine_shares,
    deal,
    generate_guardian_key,
    make_complaint,
    receive_share,
)
from crypto.encoding import decode_event
from crypto.group import encode_point
from crypto.issuance import decode_issuances
from crypto.records import (
    DecryptionSharesRecord,
    ElectionState,
    ResultOutcome,
    decode_aggregates,
    decode_result,
    decode_transition,
    encode_aggregates,
    encode_decryption_shares,
)
from crypto.tally import aggregate, highest_per_token
from crypto.threshold import is_trivial, partial_decrypt
from rules.art278 import OptionTotals, Outcome, Tally, evaluate
from server.election.ballot_box import BallotBox, BallotBoxClosed, OpenElection
from server.election.ballot_points import BallotPoints, points_of
from server.election.ceremony import CeremonyStore
from server.election.driver import REGISTRAR_GRACE, LifecycleDriver
from server.election.issuance_intake import IssuanceIntake
from server.election.store import ElectionStore
from server.election.tally import TallyRefused, TallyStore, decryption_shares
from server.errors import code_of
from tests.election_support import (
    new_election,
    open_election_of,
    publish_final_issuances,
    publish_issuer_keys,
    registrars_of,
)
from tests.ledger_support import LogHarness, start_log
from tests.support.ballots import signed_ballot
from tests.support.registrars import Registrars

OPEN = 1_900_000_000
CLOSE = 1_900_086_400
S = ElectionState
OUTCOME = {Outcome.NO_QUORUM: 1, Outcome.PASSED: 2, Outcome.REJECTED: 3}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    h: LogHarness
    store: ElectionStore
    ceremony: CeremonyStore
    intake: IssuanceIntake
    tally: TallyStore
    box: BallotBox
    driver: LifecycleDriver
    clock: Clock
    points: BallotPoints | None = None
    #: election -> its registrars (what each issued, for their batches)
    registrars: dict[str, Registrars] = field(default_factory=dict)

    async def regs(self, eid: str) -> Registrars:
        if eid not in self.registrars:
            self.registrars[eid] = await registrars_of(self.store, eid)
        return self.registrars[eid]

    async def publish_keys(self, eid: str, registrars=None) -> None:
        """The registrars' (default: all) signed issuer keys, as their processes send them."""
        await publish_issuer_keys(self.store, await self.regs(eid), registrars)

    async def publish_final(self, eid: str) -> None:
        """Every keyed registrar's final batch (after the close)."""
        await publish_final_issuances(self.store, await self.regs(eid))

    def restarted_driver(self) -> LifecycleDriver:
        """A new process's driver and stores over the same database and ledger."""
        store = ElectionStore(self.h.engine, self.h.ledger)
        ceremony = CeremonyStore(self.h.engine, store)
        intake = IssuanceIntake(store)
        t = TallyStore(self.h.engine, store, ceremony, intake, clock=self.clock)
        return LifecycleDriver(store, ceremony, t, BallotBox(self.h.ledger, clock=self.clock),
                               intake, clock=self.clock)

    async def events(self, eid: str) -> list[tuple[int, object]]:
        """(ledger index, event) of the election's events, in ledger order."""
        size = (await self.h.ledger.store.head()).size
        out, start = [], 0
        while start < size:
            page = await self.h.ledger.store.entries(start, size - start)
            for i, (data, _) in enumerate(page):
                ev = decode_event(data)
                if ev.subject == eid:
                    out.append((start + i, ev))
            start += len(page)
        return out

    async def audit(self) -> LedgerVerifier:
        """Replay the whole ledger through the independent auditor."""
        v = LedgerVerifier()
        size = (await self.h.ledger.store.head()).size
        start = 0
        while start < size:
            page = await self.h.ledger.store.entries(start, size - start)
            for i, (data, _) in enumerate(page):
                v.apply(start + i, data)
            start += len(page)
        return v


async def make_world(dsn, tmp_path, **log_kwargs) -> World:
    log_kwargs.setdefault("n_witnesses", 0)
    log_kwargs.setdefault("quorum", 0)
    h = await start_log(dsn, tmp_path, **log_kwargs)
    store = ElectionStore(h.engine, h.ledger)
    ceremony = CeremonyStore(h.engine, store)
    intake = IssuanceIntake(store)
    clock = Clock(OPEN - 1000)
    points = BallotPoints(h.engine)
    t = TallyStore(h.engine, store, ceremony, intake, clock=clock, points=points)
    box = BallotBox(h.ledger, clock=clock, points=points)
    driver = LifecycleDriver(store, ceremony, t, box, intake, clock=clock)
    return World(h, store, ceremony, intake, t, box, driver, clock, points)


@pytest.fixture
async def world(own_dsn, tmp_path):
    w = await make_world(own_dsn, tmp_path)
    yield w
    await w.h.stop()


@dataclass
class Guardians:
    """The guardians' side of an election: key pairs, dealings, and (after READY) shares."""

    params: DkgParameters
    keys: dict[int, GuardianKeyPair]
    dealings: dict = field(default_factory=dict)
    shares: dict[int, GuardianShare] = field(default_factory=dict)

    @classmethod
    def new(cls, eid: str, n: int, t: int) -> Guardians:
        params = DkgParameters(eid, n, t)
        return cls(params, {i: generate_guardian_key(params, i) for i in range(1, n + 1)})

    def deal_all(self) -> None:
        pubs = [self.keys[i].public for i in sorted(self.keys)]
        self.dealings = {i: deal(self.params, i, pubs)[0] for i in self.keys}

    def combine(self, result) -> None:
        for j, kp in self.keys.items():
            received = {d: receive_share(self.params, kp, self.dealings[d])
                        for d in result.qualified}
            self.shares[j] = combine_shares(result, j, received)

    def decrypt(self, j: int, aggregates) -> list[tuple[str, object]]:
        """Guardian j's share of every non-trivial aggregate, by label."""
        return [(label, partial_decrypt(self.params.election_id, label, self.shares[j], ct))
                for label, ct in aggregates.labelled().items() if not is_trivial(ct)]


async def run_ceremony_directly(w: World, eid: str, g: Guardians,
                                registrars=None) -> None:
    """The guardians' keys and dealings, and the registrars' (default: all) issuer keys."""
    for kp in g.keys.values():
        await w.ceremony.register_key(eid, kp.public)
    g.deal_all()
    for d in g.dealings.values():
        await w.ceremony.submit_dealing(eid, d)
    await w.publish_keys(eid, registrars)


async def issue(w: World, eid: str, owner, registrars=None):
    """A real credential for the owner from k registrars (default the first k; each keeps its
    issuance record for its next batch), and its token."""
    token = generate_token()
    regs = await w.regs(eid)
    return token, regs.credential(owner.owner_id, owner.area, token, registrars)


async def open_election(w: World, eid: str) -> OpenElection:
    return await open_election_of(w.store, eid)


def expected_outcome(definition, roll, counted_choices: dict[str, tuple[int, int]]):
    """rules.art278 on the plaintext votes: ({owner: (weight, option)}) → evaluate(...)."""
    options = definition.contest.options
    area = sum(wt for wt, _ in counted_choices.values())
    totals = tuple(OptionTotals(name, sum(wt for wt, o in counted_choices.values() if o == i),
                                sum(1 for _, o in counted_choices.values() if o == i))
                   for i, name in enumerate(options))
    return evaluate(definition.rule.rule(), Tally(roll.total_area, roll.total_owners, area,
                                                 len(counted_choices), totals))


def kinds_in_order(events) -> list[str]:
    out = []
    for _, ev in events:
        if ev.kind == "state":
            out.append("state:" + S(decode_transition(ev.body).to_state).name)
        elif ev.kind != "ballot" or not out or out[-1] != "ballot":
            out.append(ev.kind)
    return out


async def test_an_election_from_draft_to_published(world):
    w = world
    eid, roll = await new_election(w.store, guardians=3, threshold=2, open_time=OPEN,
                                   close_time=CLOSE, ceremony_deadline=int(w.clock()) + 10)
    g = Guardians.new(eid, 3, 2)
    await w.driver.step()  # a DRAFT election waits for ScheduleElection
    assert (await w.store.get_election(eid)).state is S.DRAFT
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, g)
    await w.driver.step()  # all dealings seen, but complaints are open until the deadline
    w.clock.now += 9
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.KEY_CEREMONY
    w.clock.now += 1
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.READY
    g.combine(await w.ceremony.result(eid))
    # credentials are issued while READY; no ballot before the opening time
    voters = roll.owners[:18]
    creds = {o.owner_id: await issue(w, eid, o) for o in voters}
    election = await open_election(w, eid)
    context = election.context
    token, cred = creds[voters[0].owner_id]
    with pytest.raises(BallotBoxClosed):  # not open yet
        await w.box.cast(election, signed_ballot(context, token, cred, [0]))
    w.clock.now = OPEN
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.OPEN
    choices = {}
    for i, o in enumerate(voters):
        token, cred = creds[o.owner_id]
        choice = 2 if i == 2 else 1 if i % 6 == 5 else 0
        if i == 0:  # votes oppose first, then changes its mind: its highest counter counts
            await w.box.cast(election, signed_ballot(context, token, cred, [1]))
        await w.box.cast(election, signed_ballot(context, token, cred, [choice],
                                                 counter=2 if i == 0 else 1))
        choices[o.owner_id] = (o.area, choice)
    w.clock.now = CLOSE
    await w.driver.step()
    # closed; the aggregates wait for every keyed registrar's final batch
    assert (await w.store.get_election(eid)).state is S.CLOSED
    regs = await w.regs(eid)
    intake = IssuanceIntake(w.store)
    for r in (0, 1):
        await intake.publish_issuances(eid, regs.issuances_body(r, final=True))
        await w.driver.step()
        assert (await w.store.get_election(eid)).state is S.CLOSED
    await intake.publish_issuances(eid, regs.issuances_body(2, final=True))  # issued nothing
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.TALLYING
    token, cred = creds[voters[1].owner_id]
    with pytest.raises(BallotBoxClosed) as exc:  # after the close: refused
        await w.box.cast(election, signed_ballot(context, token, cred, [1]))
    assert code_of(exc.value) == grpc.StatusCode.FAILED_PRECONDITION
    # the guardians recompute the aggregates from the ledger before decrypting
    events = await w.events(eid)
    ballots = [decode_cast_ballot(ev.body) for _, ev in events if ev.kind == "ballot"]
    counted = highest_per_token(ballots)
    aggregates = next(decode_aggregates(ev.body) for _, ev in events if ev.kind == "aggregates")
    assert aggregates == aggregate(counted, 3)
    # the close added the points the ballot box kept, one row per ballot, flushed by the seal
    kept = await w.points.read(eid, 0, 1 << 40)
    assert kept == {i: points_of(decode_cast_ballot(ev.body)) for i, ev in events
                    if ev.kind == "ballot"}
    batches = [decode_issuances(ev.body) for _, ev in events if ev.kind == "issuances"]
    assert [(b.registrar, b.final) for b in batches] == [(n, True) for n in regs.names]
    assert [sorted(i.owner_id for i in b.issuances) for b in batches] == \
        [sorted(o.owner_id for o in voters)] * 2 + [[]]  # k = 2: the first two signed
    for j in (3, 1):
        await w.tally.submit_shares(eid, DecryptionSharesRecord(j, tuple(g.decrypt(
            j, aggregates))))
    assert (await w.store.get_election(eid)).state is S.PUBLISHED
    published = await w.tally.result(eid)
    result = published.result
    definition = (await w.store.get_election(eid)).definition
    expected = expected_outcome(definition, await w.store.roll_commitment(definition.roll_id),
                                choices)
    assert result.guardians == (1, 3)
    assert result.participating_owners == len(voters)
    assert result.counts == tuple(o.headcount for o in expected.tally.options)
    assert result.areas == tuple(o.area for o in expected.tally.options)
    assert result.outcomes == tuple(OUTCOME[o.status] for o in expected.options)
    assert result.quorum_met and expected.options[0].status is Outcome.PASSED
    events = await w.events(eid)
    assert kinds_in_order(events) == [
        "election", "state:KEY_CEREMONY", "guardian-key", "guardian-key", "guardian-key",
        "dealing", "dealing", "dealing", "issuer-keys", "issuer-keys", "issuer-keys",
        "state:READY", "state:OPEN", "ballot", "state:CLOSED", "issuances", "issuances",
        "issuances", "aggregates", "state:TALLYING", "decryption-shares", "decryption-shares",
        "result", "state:PUBLISHED"]
    assert decode_result(events[-2][1].body) == result and events[-2][0] == published.ledger_index
    assert (await w.audit()).election(eid).result == result
    await w.driver.step()  # nothing more happens
    assert len(await w.events(eid)) == len(events)


async def test_a_ceremony_not_complete_by_the_opening_never_opens(world):
    """The complaint window ends at the definition's ceremony_deadline; a ceremony that is not
    complete by open_time does not silently shorten the vote: the election never opens."""
    w = world
    eid, _ = await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                close_time=CLOSE)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, Guardians.new(eid, 2, 2))
    w.clock.now = OPEN + 5  # the driver did not run before the opening (the server was down)
    for _ in range(2):
        await w.driver.step()
        assert (await w.store.get_election(eid)).state is S.KEY_CEREMONY
    w.clock.now = CLOSE + 5
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.KEY_CEREMONY
    assert [ev.kind for _, ev in await w.events(eid)].count("state") == 1  # to KEY_CEREMONY


async def test_the_ceremony_waits_for_k_registrars_issuer_keys(world):
    """All dealings in and the complaint window over, the election is READY only once k = 2
    registrars' signed issuer keys are on the ledger; a third registrar's keys are refused
    after the ceremony, and the ballot box takes credentials of the keyed registrars only."""
    w = world
    eid, roll = await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                   close_time=CLOSE)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, Guardians.new(eid, 2, 2), registrars=[2])
    for _ in range(2):
        await w.driver.step()
        assert (await w.store.get_election(eid)).state is S.KEY_CEREMONY
    await w.publish_keys(eid, [0])
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.READY
    regs = await w.regs(eid)
    with pytest.raises(Exception) as late:
        await w.intake.publish_issuer_keys(eid, regs.issuer_keys_body(1))
    assert code_of(late.value) == grpc.StatusCode.FAILED_PRECONDITION
    assert sorted(await w.store.issuer_keys(eid)) == [0, 2]
    w.clock.now = OPEN
    await w.driver.step()
    election = await open_election(w, eid)
    token, cred = await issue(w, eid, roll.owners[0], registrars=[0, 2])
    await w.box.cast(election, signed_ballot(election.context, token, cred, [0]))
    token, cred = await issue(w, eid, roll.owners[1], registrars=[0, 1])  # 1 has no keys
    with pytest.raises(Exception) as unkeyed:
        await w.box.cast(election, signed_ballot(election.context, token, cred, [0]))
    assert code_of(unkeyed.value) == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_ceremony_waits_its_grace_for_every_registrar_then_goes_on_with_k(world):
    """With k = 2 of 3 registrars keyed at the complaint window's end the driver waits up to
    REGISTRAR_GRACE for the third (a registrar still generating its keys is not left out by a
    race), then goes on with the two; with all three keyed it does not wait at all."""
    w = world
    now = int(w.clock())
    slow, prompt = [await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                       close_time=CLOSE, ceremony_deadline=now + 5)
                    for _ in range(2)]
    for (eid, _), keyed in ((slow, [0, 1]), (prompt, None)):
        await w.store.transition(eid, S.KEY_CEREMONY, now)
        await run_ceremony_directly(w, eid, Guardians.new(eid, 2, 2), registrars=keyed)
    w.clock.now = now + 5  # the deadline
    await w.driver.step()
    assert (await w.store.get_election(prompt[0])).state is S.READY
    w.clock.now = now + 5 + REGISTRAR_GRACE - 1
    await w.driver.step()
    assert (await w.store.get_election(slow[0])).state is S.KEY_CEREMONY
    w.clock.now = now + 5 + REGISTRAR_GRACE
    await w.driver.step()
    assert (await w.store.get_election(slow[0])).state is S.READY
    assert sorted(await w.store.issuer_keys(slow[0])) == [0, 1]


async def test_nobody_voted_publishes_without_guardians(world):
    w = world
    eid, _ = await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                close_time=CLOSE)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, Guardians.new(eid, 2, 2))
    await w.driver.step()  # past its deadline (an hour before the opening): READY
    assert (await w.store.get_election(eid)).state is S.READY
    w.clock.now = CLOSE + 5  # the clock jumped past the opening and the close
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.CLOSED  # the registrars' final batches
    await w.publish_final(eid)
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.PUBLISHED
    result = (await w.tally.result(eid)).result
    assert result.guardians == () and result.participating_owners == 0
    assert result.counts == (0, 0, 0) and not result.quorum_met
    assert result.outcomes == (ResultOutcome.NO_QUORUM,) * 3
    kinds = kinds_in_order(await w.events(eid))
    assert kinds[-9:] == ["state:OPEN", "state:CLOSED", "issuances", "issuances", "issuances",
                          "aggregates", "state:TALLYING", "result", "state:PUBLISHED"]
    await w.audit()


async def test_a_restarted_driver_continues_where_the_last_one_stopped(world):
    w = world
    eid, roll = await new_election(w.store, guardians=2, threshold=1,
                                allow_weak_threshold=True, open_time=OPEN,
                                   close_time=CLOSE)
    g = Guardians.new(eid, 2, 1)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, g, registrars=[0, 1])  # k = 2 of the three keyed
    # the process died half-way through finishing the ceremony: joint key set, not READY
    result = await w.ceremony.result(eid)
    await w.store.set_joint_key(eid, encode_point(result.joint_public_key))
    w.clock.now = OPEN
    driver = w.restarted_driver()
    await driver.step()  # a new process: the complaint window starts again
    w.clock.now += 10
    await driver.step()
    assert (await w.store.get_election(eid)).state is S.OPEN
    g.combine(result)
    election = await open_election(w, eid)
    token, cred = await issue(w, eid, roll.owners[0])
    await w.box.cast(election, signed_ballot(election.context, token, cred, [0]))
    # it died again after sealing and closing, the registrars' final batches in, with the
    # aggregates claimed but not appended
    w.clock.now = CLOSE
    await w.box.seal(eid)
    await w.store.advance_state(eid, S.CLOSED, CLOSE)
    with pytest.raises(TallyRefused) as refused:  # no aggregates before the final batches
        await w.tally.publish_aggregates(eid)
    assert refused.value.reason == "ISSUANCES_PENDING"
    await w.publish_final(eid)  # the two keyed registrars only
    ballots = [decode_cast_ballot(ev.body) for _, ev in await w.events(eid)
               if ev.kind == "ballot"]
    await w.tally._row(eid)
    await w.tally._claim(eid, "aggregates", encode_aggregates(
        aggregate(highest_per_token(ballots), 3)))
    # and the CLOSED → TALLYING intent was written but not appended
    await w.store._intent(eid, S.TALLYING, CLOSE + 1)
    driver = w.restarted_driver()
    await driver.step()
    await driver.step()
    assert (await w.store.get_election(eid)).state is S.TALLYING
    aggregates = await w.tally.aggregates(eid)
    await w.tally.submit_shares(eid, DecryptionSharesRecord(2, tuple(g.decrypt(2, aggregates))))
    assert (await w.store.get_election(eid)).state is S.PUBLISHED
    kinds = kinds_in_order(await w.events(eid))
    assert kinds == ["election", "state:KEY_CEREMONY", "guardian-key", "guardian-key",
                     "dealing", "dealing", "issuer-keys", "issuer-keys", "state:READY",
                     "state:OPEN", "ballot", "state:CLOSED", "issuances", "issuances",
                     "aggregates", "state:TALLYING", "decryption-shares", "result",
                     "state:PUBLISHED"]
    tallying = [decode_transition(ev.body) for _, ev in await w.events(eid)
                if ev.kind == "state"][-2]
    assert (tallying.to_state, tallying.at) == (S.TALLYING.value, CLOSE + 1)
    assert (await w.tally.result(eid)).result.counts == (1, 0, 0)
    await w.audit()


async def test_a_failed_ceremony_never_opens_and_does_not_stop_the_others(world):
    w = world
    bad, _ = await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                close_time=CLOSE)
    good, _ = await new_election(w.store, guardians=1, threshold=1,
                                allow_weak_threshold=True, open_time=OPEN,
                                 close_time=CLOSE)
    for eid in (bad, good):
        await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    # guardian 2 of the bad election sends guardian 1 a share that does not verify: upheld
    gb = Guardians.new(bad, 2, 2)
    for kp in gb.keys.values():
        await w.ceremony.register_key(bad, kp.public)
    gb.deal_all()
    d2 = gb.dealings[2]
    gb.dealings[2] = replace(d2, shares=(replace(d2.shares[0], ciphertext=bytes(48)),
                                         d2.shares[1]))
    for d in gb.dealings.values():
        await w.ceremony.submit_dealing(bad, d)
    await w.ceremony.submit_complaint(bad, make_complaint(gb.params, gb.keys[1],
                                                          gb.dealings[2]))
    await run_ceremony_directly(w, good, Guardians.new(good, 1, 1))
    await w.driver.step()
    w.clock.now = OPEN
    await w.driver.step()
    await w.driver.step()
    assert (await w.store.get_election(bad)).state is S.KEY_CEREMONY
    assert (await w.store.get_election(good)).state is S.OPEN
    assert "state:READY" not in kinds_in_order(await w.events(bad))
    # its registrars can never issue: a batch is refused outside READY..CLOSED
    regs = await w.regs(bad)
    with pytest.raises(Exception) as refused:
        await w.intake.publish_issuances(bad, regs.issuances_body(0, items=[]))
    assert code_of(refused.value) == grpc.StatusCode.FAILED_PRECONDITION


async def test_run_steps_on_its_tick_and_stops_cleanly(world):
    w = world
    eid, _ = await new_election(w.store, guardians=1, threshold=1,
                                allow_weak_threshold=True, open_time=OPEN,
                                close_time=CLOSE)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, Guardians.new(eid, 1, 1))
    task = w.driver.start(0.01)
    for _ in range(500):
        if (await w.store.get_election(eid)).state is S.READY:
            break
        await asyncio.sleep(0.01)
    await w.driver.stop()
    assert task.done() and (await w.store.get_election(eid)).state is S.READY


async def test_a_submission_interrupted_before_its_append_is_completed_by_the_driver(world):
    w = world
    eid, roll = await new_election(w.store, guardians=1, threshold=1,
                                allow_weak_threshold=True, open_time=OPEN,
                                   close_time=CLOSE)
    g = Guardians.new(eid, 1, 1)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, g)
    w.clock.now = OPEN
    await w.driver.step()
    g.combine(await w.ceremony.result(eid))
    election = await open_election(w, eid)
    for owner, choice in ((roll.owners[0], 1), (roll.owners[1], 1)):
        token, cred = await issue(w, eid, owner)
        await w.box.cast(election, signed_ballot(election.context, token, cred, [choice]))
    w.clock.now = CLOSE
    await w.driver.step()
    await w.publish_final(eid)
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.TALLYING
    # the guardian's submission was claimed, then the process died before the append
    record = DecryptionSharesRecord(1, tuple(g.decrypt(1, await w.tally.aggregates(eid))))
    async with w.h.engine.begin() as conn:
        await conn.execute(insert(decryption_shares).values(
            election_id=eid, guardian=1, body=encode_decryption_shares(record),
            submitted_at=w.clock(), ledger_index=None))
    await w.driver.step()  # too recent: it may still be in flight in another process
    assert (await w.store.get_election(eid)).state is S.TALLYING
    w.clock.now += 61
    await w.restarted_driver().step()
    assert (await w.store.get_election(eid)).state is S.PUBLISHED
    assert (await w.tally.result(eid)).result.counts == (0, 2, 0)
    kinds = kinds_in_order(await w.events(eid))
    assert kinds[-4:] == ["state:TALLYING", "decryption-shares", "result", "state:PUBLISHED"]
    await w.audit()


async def test_the_close_waits_its_grace_for_ballots_of_other_processes(world):
    w = world
    w.driver.close_grace = 3.0
    eid, _ = await new_election(w.store, guardians=2, threshold=2, open_time=OPEN,
                                close_time=CLOSE)
    await w.store.transition(eid, S.KEY_CEREMONY, int(w.clock()))
    await run_ceremony_directly(w, eid, Guardians.new(eid, 2, 2))
    w.clock.now += 10
    await w.driver.step()
    w.clock.now = OPEN
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.OPEN
    w.clock.now = CLOSE + 2  # ballots are refused (by every process's clock), not yet closed
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.OPEN
    w.clock.now = CLOSE + 3
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.CLOSED
    await w.publish_final(eid)
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.PUBLISHED  # nobody voted
    await w.audit()
