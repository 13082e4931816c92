"""The tally on the server side: from the closed ballot box to the published result.

After the OPEN → CLOSED transition the lifecycle driver (driver.py) publishes, in this order:

once every registrar with issuer keys has put its final ``issuances`` batch on the ledger
(issuance_intake.py), and after checking that, per registrar and weight class, the counted
tokens carrying that registrar's signature do not exceed its issuance records (the rule every
verifier checks: crypto/election_audit.py),

1. ``aggregates``: the homomorphic sums (crypto.tally.aggregate) over the ballot with the highest
   revote counter of each token among the election's ``ballot`` events between its OPEN and
   its CLOSED event, summed page by page in worker processes from the points the ballot box
   kept uncompressed
   (ballot_points.py; each checked against the ledger's compressed point, and decompressed from
   the ledger when missing or wrong) with batched affine additions (crypto.affine);

and then moves to TALLYING. Each guardian recomputes the aggregates from the ledger and submits
one decryption share per non-trivial aggregate (:meth:`TallyStore.submit_shares`): every share
is checked against the guardian's verification key before anything is stored, and the valid set
is appended as a ``decryption-shares`` event. As soon as t guardians have shares on the ledger,
the shares of the first t (in ledger order) are combined, the totals evaluated under the
election's rule (crypto.outcome.result_of) and the ``result`` event appended, then TALLYING →
PUBLISHED. When every aggregate is trivial (nobody voted) there is nothing to decrypt: the
result is published at once, naming no guardian.

The ``tally`` table holds, per election, each body before it is appended and its ledger index
after: a body is computed once, so a process that dies between steps (or between an append and
its database write) appends the identical bytes on the next attempt, and recognises them on the
ledger by their leaf hash instead of appending twice. The ``decryption_shares`` table holds each
guardian's submission (its primary key refuses a second one). A per-election lock serialises the
appends of one process; the result's claim (``result IS NULL``) is the database guard that lets
only one process publish it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from sqlalchemy import (
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.affine import XY_LEN, decode_xy, from_point
from crypto.codec import decode_tally_encodings, decode_tally_view
from crypto.dkg import DkgResult
from crypto.encoding import decode_event
from crypto.errors import DecodeError, InvalidShare
from crypto.group import decode_point
from crypto.log.receipt import Receipt
from crypto.outcome import decrypt_totals, result_of
from crypto.records import (
    DecryptionSharesRecord,
    ElectionEvent,
    ElectionState,
    ResultRecord,
    decode_aggregates,
    decode_decryption_shares,
    decode_result,
    decode_total,
    encode_aggregates,
    encode_decryption_shares,
    encode_result,
    encode_total,
)
from crypto.tally import (
    Aggregates,
    ClassSums,
    aggregates_from_class_sums,
    class_sums,
    class_sums_affine,
    combine_class_sums,
)
from crypto.threshold import DecryptionShare, is_trivial, verify_decryption_share

from ..errors import Conflict, Precondition, Refused
from .ballot_points import BallotPoints
from .ceremony import CeremonyStore
from .issuance_intake import IssuanceIntake
from .schema import decryption_shares, tally
from .store import ElectionStore, WrongState

log = logging.getLogger("ownervote.tally")


PAGE = 1000


class TallyRefused(Precondition):
    """The election's state does not allow the call."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message, reason=reason, field=field, precondition="ELECTION_STATE")


class BadShares(Refused):
    """A submission that is not one valid share per non-trivial aggregate."""

    def __init__(self, reason: str, field: str, message: str, label: str = "") -> None:
        super().__init__(message, reason=reason, field=field, metadata={"label": label})
        self.label = label


class SharesSubmitted(Conflict):
    def __init__(self, guardian: int) -> None:
        super().__init__(f"guardian {guardian} already submitted its decryption shares",
                         reason="ALREADY_SUBMITTED", field="guardian")


@dataclass(frozen=True)
class PublishedResult:
    result: ResultRecord
    ledger_index: int


def _affine_ciphertexts(encodings: Sequence[tuple[bytes, bytes]], kept: bytes | None):
    """The ciphertexts as affine points: from the copy the ballot box kept (ballot_points.py) if
    it is there and is exactly these points, else decompressed from the ledger's encodings.
    None for the copy's part means it was missing or wrong."""
    if kept is not None and len(kept) == 2 * XY_LEN * len(encodings):
        try:
            return [(decode_xy(kept[2 * XY_LEN * i: 2 * XY_LEN * i + XY_LEN], a),
                     decode_xy(kept[2 * XY_LEN * i + XY_LEN: 2 * XY_LEN * (i + 1)], b))
                    for i, (a, b) in enumerate(encodings)], True
        except DecodeError:
            pass
    return [(from_point(decode_point(a)), from_point(decode_point(b)))
            for a, b in encodings], False


def page_sums(election_id: str, start: int, entries: Sequence[bytes], n_options: int,
              points: dict[int, bytes] | None = None
              ) -> tuple[dict[int, list[bytes]], list[tuple[bytes, int, int, int]], int]:
    """One page of the ledger (run in a worker process): the class sums of the election's
    ballots in it, encoded; (token key, weight, ledger index, revote counter) of each ballot;
    and how many ballots had no usable kept points (``points``: ledger index -> ballot_points
    row) and were decompressed from the ledger. Proofs are skipped
    (crypto.codec.decode_tally_encodings):
    every ballot on the ledger was verified in full by the ballot box before it was appended,
    and by the validating witnesses."""
    views, seen, decoded = [], [], 0
    points = points or {}
    for k, data in enumerate(entries):
        ev = decode_event(data)
        if ev.kind == ElectionEvent.BALLOT and ev.subject == election_id:
            e = decode_tally_encodings(ev.body)
            cts, kept = _affine_ciphertexts(e.ciphertexts, points.get(start + k))
            decoded += not kept
            views.append((e.weight, cts))
            seen.append((e.token_public_key, e.weight, start + k, e.counter, e.registrars))
    sums = class_sums_affine(views, n_options)
    return {w: [encode_total(c) for c in cts] for w, cts in sums.items()}, seen, decoded


def _decoded(sums: dict[int, list[bytes]]) -> ClassSums:
    return {w: [decode_total(b) for b in cts] for w, cts in sums.items()}


PageSums = tuple[dict[int, list[bytes]], list[tuple[bytes, int, int, int, bytes]], int]
# page_sums': class sums, (token, weight, index, counter, registrars) per ballot, decompressed


def replaced_ballots(results: Iterable[PageSums]) -> tuple[dict[bytes, tuple[int, int]],
                                                             list[int]]:
    """From the pages' answers in ledger order: token -> (weight, index) of each token's counted
    ballot — the one with its highest revote counter (crypto.tally.highest_per_token; every
    verifier refuses a counter not above the token's previous one, so on a valid ledger it is
    also the token's last) — and the ledger indexes of the token's other ballots."""
    best: dict[bytes, tuple[int, int, int]] = {}  # token -> (counter, weight, index)
    replaced: list[int] = []
    for _, seen, _ in results:
        for token, weight, index, counter, _ in seen:
            prev = best.get(token)
            if prev is None or counter > prev[0]:
                if prev is not None:
                    replaced.append(prev[2])
                best[token] = (counter, weight, index)
            else:
                replaced.append(index)
    return {t: (w, i) for t, (_, w, i) in best.items()}, replaced


def counted_per_registrar(results: Iterable[PageSums]) -> Counter:
    """(registrar, weight) -> the counted tokens (each token's highest-counter ballot) whose
    credential carries that registrar's signature."""
    best: dict[bytes, tuple[int, int, bytes]] = {}  # token -> (counter, weight, registrars)
    for _, seen, _ in results:
        for token, weight, _, counter, registrars in seen:
            prev = best.get(token)
            if prev is None or counter > prev[0]:
                best[token] = (counter, weight, registrars)
    out: Counter = Counter()
    for _, weight, registrars in best.values():
        for r in registrars:
            out[(r, weight)] += 1
    return out


def combine_pages(election_id: str, results: Sequence[PageSums], n_options: int,
                  replaced_entries: Iterable[bytes]) -> Aggregates:
    """The aggregates: the pages' class sums less those of the replaced ballots (a few; the
    group is abelian, so the result is exactly ``crypto.tally.aggregate(highest_per_token(...))``),
    each class sum scaled by its weight."""
    latest, _ = replaced_ballots(results)
    decoded = sum(d for _, _, d in results)
    if decoded:
        log.info("aggregation of %s: %d ballots decompressed from the ledger (no kept points)",
                 election_id, decoded)
    minus = class_sums(((v.weight, v.ciphertexts) for v in (
        decode_tally_view(decode_event(e).body) for e in replaced_entries)), n_options)
    sums = combine_class_sums([_decoded(s) for s, _, _ in results], n_options, minus=[minus])
    return aggregates_from_class_sums(sums, n_options, len(latest),
                                      sum(w for w, _ in latest.values()))


def aggregate_pages(election_id: str, pages: Iterable[tuple[int, Sequence[bytes]]],
                    n_options: int, executor: Executor | None = None,
                    points: dict[int, bytes] | None = None) -> Aggregates:
    """The aggregates of the election's ballots in ``pages`` ((first index, entries), in ledger
    order), counting the highest-counter ballot of each token: the pages summed in parallel on
    ``executor`` (worker processes), then :func:`combine_pages`. ``points`` are the ballot box's
    kept points by ledger index (ballot_points.py); each is checked against the ledger before
    use. (The server's close does the same, streaming pages from the database:
    :meth:`TallyStore.aggregate_range`.)"""
    pages = list(pages)
    points = points or {}

    def kept(start: int, n: int) -> dict[int, bytes]:
        return {i: points[i] for i in range(start, start + n) if i in points}

    if executor is None:
        results = [page_sums(election_id, start, entries, n_options, kept(start, len(entries)))
                   for start, entries in pages]
    else:
        futures = [executor.submit(page_sums, election_id, start, list(entries), n_options,
                                   kept(start, len(entries)))
                   for start, entries in pages]
        results = [f.result() for f in futures]
    _, replaced = replaced_ballots(results)
    by_index = {start + k: e for start, entries in pages for k, e in enumerate(entries)}
    return combine_pages(election_id, results, n_options, [by_index[i] for i in replaced])


def _verify_all(election_id: str, labelled: dict, verification_key,
                record: DecryptionSharesRecord) -> None:
    for i, (label, share) in enumerate(record.shares):
        try:
            verify_decryption_share(election_id, label, verification_key, labelled[label], share)
        except InvalidShare as exc:
            raise BadShares("BAD_DECRYPTION_SHARE", f"shares[{i}]",
                            f"shares[{i}] ({label}): {exc}", label) from exc


class TallyStore:
    def __init__(self, engine: AsyncEngine, elections: ElectionStore, ceremony: CeremonyStore,
                 intake: IssuanceIntake, *, clock: Callable[[], float] = time.time,
                 stale_after: float = 60.0, executor: Executor | None = None,
                 points: BallotPoints | None = None) -> None:
        self.executor = executor  # worker processes for the aggregation (None: in-process)
        self.points = points  # the ballot box's kept points (None: decompress every ballot)
        self.engine = engine
        self.elections = elections
        self.ceremony = ceremony
        self.intake = intake
        self.clock = clock
        self.stale_after = stale_after  # an unfinished claim older than this is taken over
        self._dkg: dict[str, DkgResult] = {}

    async def _row(self, election_id: str):
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tally).where(
                tally.c.election_id == election_id))).first()
        if row is not None:
            return row
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(tally).values(election_id=election_id))
        except IntegrityError:
            pass  # created concurrently
        async with self.engine.connect() as conn:
            return (await conn.execute(select(tally).where(
                tally.c.election_id == election_id))).one()

    async def _claim(self, election_id: str, column: str, body: bytes, **extra) -> bytes:
        """Store ``body`` in ``column`` unless a body is there already; the stored body."""
        col = tally.c[column]
        async with self.engine.begin() as conn:
            await conn.execute(update(tally).where(and_(
                tally.c.election_id == election_id, col.is_(None))).values(
                    {column: body, **extra}))
            return bytes((await conn.execute(select(col).where(
                tally.c.election_id == election_id))).scalar_one())

    async def _set(self, election_id: str, **values) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(tally).where(tally.c.election_id == election_id)
                               .values(**values))

    async def _require(self, election_id: str, *states: ElectionState,
                       field: str | None = None):
        e = await self.elections.get_election(election_id)  # NoSuchElection
        if e.state not in states:
            raise TallyRefused("NOT_" + states[0].name,
                               f"the election is {e.state.name}, not "
                               + " or ".join(s.name for s in states), field)
        return e

    # --- at close -------------------------------------------------------------------------------

    async def awaiting_final_issuances(self, election_id: str) -> list[int]:
        """The registrars with issuer keys whose final ``issuances`` batch is not on the ledger
        yet (the aggregates wait for them all)."""
        keyed = await self.intake.registrars_with_keys(election_id)
        return sorted(keyed - await self.intake.final_registrars(election_id))

    async def publish_aggregates(self, election_id: str) -> Aggregates:
        """Aggregate the counted ballots and append the ``aggregates`` event once (CLOSED, after
        every registrar's final issuances); the aggregates. TallyRefused ISSUANCES_PENDING
        before that, TOKENS_EXCEED_ISSUANCES when some registrar's signature is on more counted
        tokens of a class than it has issuance records there (a registrar minted: the election
        cannot be tallied, and every verifier would refuse its aggregates)."""
        e = await self._require(election_id, ElectionState.CLOSED)
        pending = await self.awaiting_final_issuances(election_id)
        if pending:
            names = ", ".join(e.definition.registrars[r].name for r in pending)
            raise TallyRefused("ISSUANCES_PENDING",
                               f"the final issuances of {names} are not on the ledger yet")
        row = await self._row(election_id)
        body = row.aggregates
        if body is None:
            opened = await self.elections.transition_index(election_id, ElectionState.OPEN)
            closed = await self.elections.transition_index(election_id, ElectionState.CLOSED)
            if opened is None or closed is None:
                raise TallyRefused("NO_VOTING_PERIOD",
                                   "the OPEN or CLOSED transition is not recorded")
            counted: Counter = Counter()
            aggregates = await self.aggregate_range(election_id, opened + 1, closed,
                                                    len(e.definition.contest.options), counted)
            issued = await self.intake.issued_per_registrar(election_id)
            for (r, w), n in sorted(counted.items()):
                if n > issued[(r, w)]:
                    raise TallyRefused(
                        "TOKENS_EXCEED_ISSUANCES",
                        f"{n} voting tokens of class {w} carry registrar "
                        f"{e.definition.registrars[r].name}'s signature, which issued "
                        f"{issued[(r, w)]} credentials there")
            body = await self._claim(election_id, "aggregates", encode_aggregates(aggregates))
        if row.aggregates_index is None:
            index, _ = await self.elections.append_once(ElectionEvent.AGGREGATES, election_id,
                                                        bytes(body))
            await self._set(election_id, aggregates_index=index)
        return decode_aggregates(bytes(body))

    async def aggregate_range(self, election_id: str, start: int, end: int,
                              n_options: int, counted: Counter | None = None) -> Aggregates:
        """The aggregates of the highest-counter ballot of each token among entries [start, end):
        pages of the ledger and of the kept points are read one after the other while worker
        processes sum the pages already read (at most ``2 × workers`` pages in flight, so memory
        stays bounded whatever the election's size); then the replaced ballots are read back
        and subtracted (:func:`combine_pages`). ``counted``, when given, receives
        :func:`counted_per_registrar` of the range."""
        store = self.elections.ledger.store
        loop = asyncio.get_running_loop()
        workers = getattr(self.executor, "_max_workers", 1) or 1
        slots = asyncio.Semaphore(2 * workers)

        async def summed(first: int, entries: list[bytes], kept: dict[int, bytes]) -> PageSums:
            try:
                if self.executor is None:
                    return await asyncio.to_thread(page_sums, election_id, first, entries,
                                                   n_options, kept)
                return await loop.run_in_executor(self.executor, page_sums, election_id,
                                                  first, entries, n_options, kept)
            finally:
                slots.release()

        tasks: list[asyncio.Task] = []
        try:
            while start < end:
                await slots.acquire()
                page = await store.entry_data(start, min(PAGE, end - start))
                if not page:
                    slots.release()
                    raise RuntimeError(f"ledger entries {start}..{end} are missing")
                kept = await self.points.read(election_id, start, start + len(page)) \
                    if self.points else {}
                tasks.append(asyncio.create_task(summed(start, page, kept)))
                start += len(page)
            results = await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            raise
        _, replaced = replaced_ballots(results)
        if counted is not None:
            counted.update(counted_per_registrar(results))
        replaced_entries = [(await store.entries(i, 1))[0][0] for i in replaced]
        return await asyncio.to_thread(combine_pages, election_id, results, n_options,
                                       replaced_entries)

    async def aggregates(self, election_id: str) -> Aggregates | None:
        row = await self._row(election_id)
        if row.aggregates is None or row.aggregates_index is None:
            return None
        return decode_aggregates(bytes(row.aggregates))

    # --- decryption shares and the result ---------------------------------------------------

    async def dkg(self, election_id: str) -> DkgResult:
        """The ceremony's outcome (verification keys), computed once per election."""
        result = self._dkg.get(election_id)
        if result is None:
            result = self._dkg[election_id] = await self.ceremony.result(election_id)
        return result

    async def submit_shares(self, election_id: str, record: DecryptionSharesRecord) -> Receipt:
        """Check a guardian's shares, store and append them (``decryption-shares``), publish the
        result if they make t; the receipt of the shares. TallyRefused (not TALLYING), BadShares
        (nothing stored), SharesSubmitted (this guardian submitted already), NoSuchElection."""
        e = await self._require(election_id, ElectionState.TALLYING)
        g = record.guardian
        if g > e.definition.guardians:
            raise BadShares("NO_SUCH_GUARDIAN", "guardian",
                            f"the election has guardians 1..{e.definition.guardians}")
        if await self._submitted(election_id, g):
            raise SharesSubmitted(g)
        aggregates = await self.aggregates(election_id)
        if aggregates is None:
            raise TallyRefused("NO_AGGREGATES", "the aggregates are not on the ledger")
        labelled = aggregates.labelled()
        wanted = [label for label, ct in labelled.items() if not is_trivial(ct)]
        for i, (label, _) in enumerate(record.shares):
            if label not in wanted:
                raise BadShares("UNKNOWN_LABEL", f"shares[{i}].label",
                                f"shares[{i}].label: {label!r} is not a non-trivial aggregate "
                                f"(expected {', '.join(wanted) or 'none'})", label)
        got = {label for label, _ in record.shares}
        missing = [label for label in wanted if label not in got]
        if missing:
            raise BadShares("MISSING_SHARE", "shares",
                            f"shares: no share for {', '.join(missing)}", missing[0])
        vk = (await self.dkg(election_id)).verification_keys[g]
        await asyncio.to_thread(_verify_all, election_id, labelled, vk, record)
        body = encode_decryption_shares(record)
        async with self.elections.lock(election_id):
            await self._require(election_id, ElectionState.TALLYING)  # not published meanwhile
            if (await self._row(election_id)).result is not None:
                raise TallyRefused("NOT_TALLYING", "the result is decided already")
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(decryption_shares).values(
                        election_id=election_id, guardian=g, body=body,
                        submitted_at=self.clock(), ledger_index=None))
            except IntegrityError as exc:
                raise SharesSubmitted(g) from exc
            try:
                index, appended = await self.elections.append_once(ElectionEvent.DECRYPTION_SHARES,
                                                                   election_id, body)
            except BaseException:
                if await self.elections.on_ledger(ElectionEvent.DECRYPTION_SHARES, election_id,
                                                  body) is None:
                    async with self.engine.begin() as conn:  # not appended: release the claim
                        await conn.execute(delete(decryption_shares).where(and_(
                            decryption_shares.c.election_id == election_id,
                            decryption_shares.c.guardian == g)))
                raise
            await self._share_index(election_id, g, index)
        try:
            await self.publish_result(election_id)
        except Exception:  # the shares are in; the driver retries the result
            log.exception("publishing the result failed", extra={"election_id": election_id})
        return await self.elections.receipt_at(index, appended)

    async def _submitted(self, election_id: str, guardian: int) -> bool:
        q = select(decryption_shares.c.guardian).where(and_(
            decryption_shares.c.election_id == election_id,
            decryption_shares.c.guardian == guardian))
        async with self.engine.connect() as conn:
            return (await conn.execute(q)).first() is not None

    async def _share_index(self, election_id: str, guardian: int, index: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(decryption_shares).where(and_(
                decryption_shares.c.election_id == election_id,
                decryption_shares.c.guardian == guardian)).values(ledger_index=index))

    async def recover_shares(self, election_id: str) -> None:
        """Finish submissions interrupted between their claim and their ledger index (a crash):
        append those not on the ledger (TALLYING only), record the index of those that are."""
        now = self.clock()
        q = select(decryption_shares).where(and_(
            decryption_shares.c.election_id == election_id,
            decryption_shares.c.ledger_index.is_(None),
            decryption_shares.c.submitted_at < now - self.stale_after))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        for r in rows:
            async with self.elections.lock(election_id):
                index = await self.elections.on_ledger(ElectionEvent.DECRYPTION_SHARES, election_id,
                                                       bytes(r.body))
                state = (await self.elections.get_election(election_id)).state
                if index is None and state is ElectionState.TALLYING:
                    index = (await self.elections.append_once(
                        "decryption-shares", election_id, bytes(r.body)))[0]
                if index is not None:
                    await self._share_index(election_id, r.guardian, index)
                else:  # too late for the tally: forget it
                    async with self.engine.begin() as conn:
                        await conn.execute(delete(decryption_shares).where(and_(
                            decryption_shares.c.election_id == election_id,
                            decryption_shares.c.guardian == r.guardian)))

    async def publish_result(self, election_id: str) -> bool:
        """Publish the result once it can be (t guardians' shares on the ledger, or nothing to
        decrypt): the ``result`` event, then TALLYING → PUBLISHED. Idempotent and restartable;
        True once the election is PUBLISHED."""
        async with self.elections.lock(election_id):
            e = await self.elections.get_election(election_id)
            if e.state is ElectionState.PUBLISHED:
                return True
            if e.state is not ElectionState.TALLYING:
                return False
            row = await self._row(election_id)
            body = row.result
            if body is None:
                record = await self._compute_result(election_id, e, row)
                if record is None:
                    return False
                body = await self._claim(election_id, "result", encode_result(record),
                                         result_claimed_at=self.clock())
            elif row.result_index is None and \
                    (row.result_claimed_at or 0) > self.clock() - self.stale_after:
                return False  # another process claimed it just now and is appending it
            if row.result_index is None:
                try:
                    index, _ = await self.elections.append_once(ElectionEvent.RESULT, election_id,
                                                                bytes(body))
                except BaseException:
                    if await self.elections.on_ledger(ElectionEvent.RESULT, election_id,
                                                      bytes(body)) is None:
                        await self._set(election_id, result=None, result_claimed_at=None)
                    raise
                await self._set(election_id, result_index=index)
        try:
            await self.elections.advance_state(election_id, ElectionState.PUBLISHED,
                                               int(self.clock()))
        except WrongState as exc:  # a concurrent call published it
            if exc.state is not ElectionState.PUBLISHED:
                raise
        return True

    async def _compute_result(self, election_id: str, e, row) -> ResultRecord | None:
        aggregates = decode_aggregates(bytes(row.aggregates))
        t = e.definition.threshold
        needed = any(not is_trivial(ct) for ct in aggregates.labelled().values())
        chosen: list = []
        if needed:
            q = (select(decryption_shares.c.guardian, decryption_shares.c.body)
                 .where(and_(decryption_shares.c.election_id == election_id,
                             decryption_shares.c.ledger_index.is_not(None)))
                 .order_by(decryption_shares.c.ledger_index).limit(t))
            async with self.engine.connect() as conn:
                chosen = (await conn.execute(q)).all()
            if len(chosen) < t:
                return None
        by_label: dict[str, list[DecryptionShare]] = {}
        for r in chosen:
            for label, share in decode_decryption_shares(bytes(r.body)).shares:
                by_label.setdefault(label, []).append(share)
        vkeys = (await self.dkg(election_id)).verification_keys
        roll = await self.elections.roll_commitment(e.definition.roll_id)
        totals = await asyncio.to_thread(decrypt_totals, election_id, roll, aggregates, by_label,
                                         vkeys, t)
        return result_of(e.definition, roll, aggregates, totals,
                         tuple(sorted(r.guardian for r in chosen)))

    async def result(self, election_id: str) -> PublishedResult:
        """The published result and its ledger index (TallyRefused NOT_PUBLISHED before)."""
        await self._require(election_id, ElectionState.PUBLISHED, field="election_id")
        row = await self._row(election_id)
        if row.result is None or row.result_index is None:
            raise TallyRefused("NOT_PUBLISHED", "the result is not recorded", "election_id")
        return PublishedResult(decode_result(bytes(row.result)), row.result_index)
