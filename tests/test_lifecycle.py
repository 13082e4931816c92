"""The election lifecycle on an injected clock."""

from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.records import ElectionState
from server.election.lifecycle import Facts, Schedule, accepts_ballots, advance, next_state

S = ElectionState
SCHED = Schedule(open_time=1000, close_time=2000)


def test_the_whole_path():
    state, facts = S.DRAFT, Facts()
    assert advance(state, SCHED, facts, 0) == []
    facts = Facts(scheduled=True)
    assert advance(state, SCHED, facts, 0) == [S.KEY_CEREMONY]
    assert advance(S.KEY_CEREMONY, SCHED, facts, 500) == []  # ceremony not done
    facts = Facts(scheduled=True, ceremony_done=True)
    assert advance(S.KEY_CEREMONY, SCHED, facts, 500) == [S.READY]
    assert advance(S.READY, SCHED, facts, 999) == []
    assert advance(S.READY, SCHED, facts, 1000) == [S.OPEN]
    assert accepts_ballots(S.OPEN, SCHED, 1999) and not accepts_ballots(S.OPEN, SCHED, 2000)
    assert advance(S.OPEN, SCHED, facts, 1999) == []
    assert advance(S.OPEN, SCHED, facts, 2000) == [S.CLOSED]
    assert advance(S.CLOSED, SCHED, facts, 9999) == []  # waits for the aggregates
    facts = Facts(True, True, aggregates_published=True)
    assert advance(S.CLOSED, SCHED, facts, 2001) == [S.TALLYING]
    facts = Facts(True, True, True, result_published=True)
    assert advance(S.TALLYING, SCHED, facts, 2002) == [S.PUBLISHED]
    assert advance(S.PUBLISHED, SCHED, facts, 10**9) == []


def test_a_late_ceremony_opens_and_closes_at_once():
    facts = Facts(scheduled=True, ceremony_done=True)
    assert advance(S.KEY_CEREMONY, SCHED, facts, 1500) == [S.READY, S.OPEN]
    assert advance(S.KEY_CEREMONY, SCHED, facts, 2500) == [S.READY, S.OPEN, S.CLOSED]
    assert not accepts_ballots(S.KEY_CEREMONY, SCHED, 1500)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(S)), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.floats(0, 3000))
def test_transitions_only_move_forward_one_step_at_a_time(state, a, b, c, d, now):
    facts = Facts(a, b, c, d)
    steps = advance(state, SCHED, facts, now)
    seq = [state, *steps]
    assert all(y.value == x.value + 1 for x, y in zip(seq, seq[1:], strict=False))
    # the facts gate their transitions
    if S.READY in steps:
        assert facts.ceremony_done
    if S.OPEN in steps or S.CLOSED in steps:
        assert now >= SCHED.open_time
    if S.CLOSED in steps:
        assert now >= SCHED.close_time
    if S.TALLYING in steps:
        assert facts.aggregates_published
    assert next_state(seq[-1], SCHED, facts, now) is None
