"""The lifecycle driver: moves every scheduled election forward on the clock.

:meth:`LifecycleDriver.step` looks at every election between KEY_CEREMONY and TALLYING and does
what is due now (``run`` calls it every tick in ``python -m server``):

* KEY_CEREMONY: once all n dealings are in and the definition's ``ceremony_deadline`` (the end
  of the complaint window, written in the election) has passed and at least k registrars have
  put their signed ``issuer-keys`` on the ledger (issuance_intake.py), finish the ceremony
  (joint key, → READY). While some registrar's keys are still missing it waits for them up to
  REGISTRAR_GRACE seconds past the deadline (never closer than REGISTRAR_GRACE_MARGIN to the
  opening time): a registrar still generating its RSA keys is not left out of the election by
  a race, and one that never comes does not hold the election back once k have. With too few
  qualified dealers, or a ceremony not complete by the opening time, the election stays in
  KEY_CEREMONY for good (logged): it never opens, so a late ceremony cannot silently shorten
  the vote (the verifiers refuse a READY after ``open_time`` too).
* READY → OPEN at the opening time (lifecycle.next_state; a clock past the closing time too goes
  on at once).
* OPEN → CLOSED at the closing time (plus ``close_grace`` when several server processes take
  ballots), in this order: seal the ballot box (no new ballot; those in
  flight are appended), the ``state`` event OPEN → CLOSED; once every registrar with issuer
  keys has sent its final ``issuances`` batch, ``aggregates`` (tally.py), the ``state`` event
  CLOSED → TALLYING.
* TALLYING: publish the result once t guardians' shares are on the ledger (normally the last
  guardian's submission does; the driver covers restarts and the election nobody voted in,
  whose trivial aggregates need no guardian).

Every step reads what is already on the ledger and in the database, so a process that died
anywhere in the sequence continues where it stopped. An error in one election is logged and
does not stop the others. Only the process that holds the ledger's sequencer role drives (one
driver per ledger, even with several server processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from crypto.records import ElectionState

from .ballot_box import BallotBox
from .ceremony import CeremonyRefused, CeremonyStore
from .issuance_intake import IssuanceIntake
from .lifecycle import Facts, Schedule, next_state
from .store import ElectionStore, StoredElection
from .tally import TallyStore

log = logging.getLogger("ownervote.driver")
REGISTRAR_GRACE = 10.0  # seconds past the ceremony deadline to wait for every registrar's keys
REGISTRAR_GRACE_MARGIN = 2.0  # ... and never closer than this to the opening time
S = ElectionState


class LifecycleDriver:
    def __init__(self, elections: ElectionStore, ceremony: CeremonyStore, tally: TallyStore,
                 box: BallotBox, intake: IssuanceIntake, *,
                 clock: Callable[[], float] = time.time, close_grace: float = 0.0) -> None:
        self.elections = elections
        self.ceremony = ceremony
        self.tally = tally
        self.box = box
        self.intake = intake
        self.clock = clock
        # Several server processes each refuse ballots from the closing time on (by their
        # clocks); the close event waits this long after it, so that a ballot still being
        # appended by another process lands before the close (the witnesses refuse any after).
        self.close_grace = close_grace
        self._stuck: set[str] = set()  # elections whose ceremony cannot finish (logged once)
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    # --- running ------------------------------------------------------------------------------

    async def step(self) -> None:
        """Advance every election that has something due now."""
        if not self.elections.ledger.is_sequencer:
            return
        for election_id, _ in await self.elections.in_progress():
            try:
                await self.advance(election_id)
            except Exception:
                log.exception("lifecycle step failed", extra={"election_id": election_id})

    async def run(self, tick: float = 1.0) -> None:
        """Step every ``tick`` seconds until :meth:`stop`."""
        if tick <= 0:
            raise ValueError("the tick must be positive")
        self._stop.clear()
        while not self._stop.is_set():
            try:
                await self.step()
            except Exception:  # e.g. the database is unreachable for a moment
                log.exception("lifecycle step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), tick)

    def start(self, tick: float = 1.0) -> asyncio.Task:
        self._task = asyncio.create_task(self.run(tick), name="lifecycle-driver")
        return self._task

    async def stop(self, timeout: float = 30.0) -> None:
        """Let the current step finish (cancelled after ``timeout``) and stop."""
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    # --- one election -------------------------------------------------------------------------

    async def advance(self, election_id: str) -> ElectionState:
        """Do everything due now for one election; its state afterwards."""
        e = await self.elections.get_election(election_id)
        state = e.state
        while True:
            now = self.clock()
            if state is S.KEY_CEREMONY:
                if not await self._finish_ceremony(election_id, e, now):
                    return state
            elif state in (S.READY, S.OPEN):
                d = e.definition
                due = next_state(state, Schedule(d.open_time, d.close_time), Facts(), now)
                if due is None:
                    return state
                if due is S.CLOSED:
                    if now < d.close_time + self.close_grace:
                        return state
                    await self.box.seal(election_id)  # in-flight ballots land before the close
                await self.elections.advance_state(election_id, due, int(now))
                log.info("election %s", due.name.lower(), extra={"election_id": election_id})
            elif state is S.CLOSED:
                if await self.tally.awaiting_final_issuances(election_id):
                    return state
                await self.tally.publish_aggregates(election_id)
                await self.elections.advance_state(election_id, S.TALLYING, int(now))
                log.info("election tallying", extra={"election_id": election_id})
            elif state is S.TALLYING:
                await self.tally.recover_shares(election_id)
                if not await self.tally.publish_result(election_id):
                    return state
                log.info("election published", extra={"election_id": election_id})
            else:
                return state
            state = (await self.elections.get_election(election_id)).state

    async def _finish_ceremony(self, election_id: str, e: StoredElection, now: float) -> bool:
        if election_id in self._stuck:
            return False
        d = e.definition
        if now > d.open_time:
            self._stuck.add(election_id)
            log.error("the key ceremony was not complete by the opening time; the election will "
                      "not open", extra={"election_id": election_id})
            return False
        if now < d.ceremony_deadline:  # the complaint window is open
            return False
        if await self.ceremony.count(election_id, "dealing") < d.guardians:
            return False
        keyed = len(await self.intake.registrars_with_keys(election_id))
        if keyed < d.registrar_threshold:
            return False  # the registrars publish their issuer keys during the ceremony
        if keyed < len(d.registrars) and now < min(d.ceremony_deadline + REGISTRAR_GRACE,
                                                   d.open_time - REGISTRAR_GRACE_MARGIN):
            return False  # a registrar still generating its keys is not left out at once
        try:
            result = await self.ceremony.finish(election_id, int(now))
        except CeremonyRefused as exc:
            if exc.reason != "TOO_FEW_QUALIFIED":
                raise
            self._stuck.add(election_id)
            log.error("the key ceremony failed; the election will not open: %s", exc,
                      extra={"election_id": election_id})
            return False
        log.info("key ceremony finished", extra={"election_id": election_id,
                                                 "qualified": list(result.qualified)})
        return True
