"""The lifecycle of an election, advancing by itself on an injectable clock.

    DRAFT → KEY_CEREMONY → READY → OPEN → CLOSED → TALLYING → PUBLISHED

``DRAFT`` ends when the administrator schedules the election; ``KEY_CEREMONY`` ends when the
joint key and the issuer keys are published; ``READY`` becomes ``OPEN`` at the opening time and
``OPEN`` becomes ``CLOSED`` at the closing time; ``CLOSED`` becomes ``TALLYING`` once the
aggregates are on the ledger, and ``TALLYING`` becomes ``PUBLISHED`` once the result is. A
ceremony not finished by the opening time keeps the election in ``KEY_CEREMONY`` (no ballot is
accepted) until it finishes; it then opens at once if the opening time has passed, and closes at
once if the closing time has passed too. Every transition is a ledger entry (the caller appends
each state that :func:`advance` returns, in order).
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.records import ElectionState


@dataclass(frozen=True)
class Schedule:
    open_time: float  # POSIX seconds
    close_time: float

    def __post_init__(self) -> None:
        if not self.open_time < self.close_time:
            raise ValueError("the election must open before it closes")


@dataclass(frozen=True)
class Facts:
    """What has happened, as recorded by the server (each fact is a ledger entry)."""

    scheduled: bool = False
    ceremony_done: bool = False
    aggregates_published: bool = False
    result_published: bool = False


def next_state(state: ElectionState, schedule: Schedule, facts: Facts,
               now: float) -> ElectionState | None:
    """The one transition due now, or None."""
    S = ElectionState
    if state is S.DRAFT and facts.scheduled:
        return S.KEY_CEREMONY
    if state is S.KEY_CEREMONY and facts.ceremony_done:
        return S.READY
    if state is S.READY and now >= schedule.open_time:
        return S.OPEN
    if state is S.OPEN and now >= schedule.close_time:
        return S.CLOSED
    if state is S.CLOSED and facts.aggregates_published:
        return S.TALLYING
    if state is S.TALLYING and facts.result_published:
        return S.PUBLISHED
    return None


def advance(state: ElectionState, schedule: Schedule, facts: Facts,
            now: float) -> list[ElectionState]:
    """Every transition due now, in order (several when the clock jumped)."""
    out = []
    while (nxt := next_state(state, schedule, facts, now)) is not None:
        out.append(nxt)
        state = nxt
    return out


def accepts_ballots(state: ElectionState, schedule: Schedule, now: float) -> bool:
    return state is ElectionState.OPEN and schedule.open_time <= now < schedule.close_time
