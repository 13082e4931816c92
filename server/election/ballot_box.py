"""The ballot box: check a cast ballot in full, append it to the ledger, answer the receipt.

A ballot is accepted only while its election is open; the credential, the token signature and
every proof are checked (crypto.cast.verify_cast_ballot). It is appended to the ledger as a
``ballot`` event (docs/protocol.md §12) and durable before the reply, which is the receipt
against a witness-co-signed checkpoint. The identical ballot again (a phone resending after a
lost reply, or anyone replaying it) adds nothing and is answered with the original entry's
receipt, found through the ledger's leaf-hash index, so that a standard retry policy is safe;
a different ballot from the same token is a revote:
accepted only with a revote counter (signed by the token) above the token's previous ballot's
(STALE_COUNTER) and within the definition's ``max_ballots_per_token`` (REVOTE_CAP), both
FAILED_PRECONDITION. Both are decided by the sequencer, in the log's order
(server/election/append_guard.py): several server processes can never put a token's ballots on
the ledger out of counter order, and a failed append spends no counter (the identical ballot
may be sent again). The highest counter of a token counts (crypto.tally.highest_per_token).
Sealing an
election stops new ballots and waits for those in flight, so that no acknowledged ballot lands
after the close event.

The full check (the costliest step of a ballot) runs off the event loop, in a pool of worker
processes (:class:`BallotVerifier`, ``verify_workers`` in server/config.py; 0 checks in-process).
A worker receives the ballot as its canonical bytes (crypto.codec) and the election's context
and issuer keys in a picklable form, which it decodes once and keeps, keyed by a digest of both.
It answers with the failed check, so the refusal is exactly the in-process one: ``InvalidBallot``
naming the check, turned into BallotRefused. A ballot whose bytes a worker cannot decode
(nothing the wire mapping lets through should be one) is checked in-process, for the same
answer. A ballot under verification is not yet in flight: after the check it takes the in-flight
count and re-reads the seal under its leaf lock before the ledger append, so a seal that came
during its check refuses it, and none lands after the close event.

The check hands back the ballot's ciphertext points, uncompressed; after the append they are
queued for the close's aggregation (ballot_points.py), off the acknowledgement's path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from crypto.ballot import Contest, ContestKind, ElectionContext
from crypto.cast import verify_cast_ballot
from crypto.codec import decode_cast_ballot_bytes, encode_cast_ballot
from crypto.credential import CastBallot, IssuerKey, IssuerSet, issuer_key_from_spki
from crypto.election_audit import BallotOrderViolation
from crypto.encoding import (
    Event,
    Reader,
    encode_event,
    lp,
)
from crypto.errors import DecodeError, InvalidBallot
from crypto.group import decode_point, encode_point
from crypto.log import merkle
from crypto.log.receipt import Receipt
from crypto.records import ElectionEvent

from ..errors import Conflict, Precondition, Refused, Unavailable
from ..ledger.guard import EntryRefused
from ..ledger.log import Ledger
from ..metrics import VERIFY_SECONDS
from .ballot_points import BallotPoints, points_of

log = logging.getLogger("ownervote.ballot_box")


def refusal_reason(check: str) -> str:
    """The reason a refused ballot is answered with: ``INVALID_`` and the check's first name
    (``selection[1].proof`` → ``INVALID_SELECTION``)."""
    return "INVALID_" + check.split("[")[0].split(".")[0].upper()


class BallotRefused(Refused):
    """The ballot failed a check; ``check`` names it (crypto.cast.verify_cast_ballot's names,
    e.g. ``credential.weight``, ``selection[1].proof``), and so does the refusal's field."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail, reason=refusal_reason(check), field=check,
                         metadata={"check": check})
        self.check = check


class BallotBoxClosed(Precondition):
    """The election is not open for ballots (not yet, or no more: sealed at the close)."""

    check = "election_state"

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="NOT_OPEN", metadata={"check": self.check})


class ReplayedBallot(Conflict):
    """This exact ballot is on the ledger already."""

    check = "replay"

    def __init__(self) -> None:
        super().__init__("this exact ballot is already on the ledger", reason="REPLAYED_BALLOT",
                         metadata={"check": self.check})


class StaleCounter(Precondition):
    """The ballot's revote counter is not above the token's previous ballot's on the ledger."""

    check = "counter"

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=BallotOrderViolation.STALE,
                         metadata={"check": self.check}, precondition="REVOTE_COUNTER")


class RevoteCapReached(Precondition):
    """The token has cast the most ballots its election allows."""

    check = "revote_cap"

    def __init__(self, message: str) -> None:
        super().__init__(message, reason=BallotOrderViolation.CAP,
                         metadata={"check": self.check}, precondition="REVOTE_CAP")


def refusal_of(refused: EntryRefused) -> Refused:
    """The answer to a ballot the sequencer refused (server/election/append_guard.py)."""
    if refused.code == BallotOrderViolation.STALE:
        return StaleCounter(refused.detail)
    if refused.code == BallotOrderViolation.CAP:
        return RevoteCapReached(refused.detail)
    if refused.code == BallotOrderViolation.REPLAYED:
        return ReplayedBallot()
    return BallotBoxClosed(refused.detail)


class ReceiptPending(Unavailable):
    """The ballot is accepted and on the ledger, but no co-signed checkpoint covers it yet: the
    voter fetches the receipt later (LedgerService.GetReceipt by leaf hash). Not a refusal."""

    def __init__(self, index: int, ballot_hash: bytes) -> None:
        super().__init__(f"ballot accepted at ledger index {index}; receipt pending cosigning",
                         reason="COSIGNING_PENDING",
                         metadata={"index": str(index), "ballot_hash": ballot_hash.hex()})
        self.index = index
        self.ballot_hash = ballot_hash


@dataclass(frozen=True)
class OpenElection:
    """What the ballot box needs to know of an election."""

    context: ElectionContext
    issuers: IssuerSet
    opens_at: float  # POSIX seconds
    closes_at: float


@dataclass(frozen=True)
class CastResult:
    ballot_hash: bytes  # SHA-256 of the ballot's canonical bytes
    receipt: Receipt


# --- verification in worker processes ----------------------------------------------------------

#: What a worker is told of an election: (election id, contest kind, options, min selections,
#: max selections, joint public key (SEC1 point), election hash, the registrar threshold k,
#: issuers as ((registrar, weight class, SubjectPublicKeyInfo DER), ...)).
ElectionSpec = tuple[str, str, tuple[str, ...], int, int, bytes, bytes, int,
                     tuple[tuple[int, int, bytes], ...]]

_NEED_SPEC = "need-spec"  # the worker has not decoded this election yet: send the spec along
_UNDECODABLE = "undecodable"  # the worker could not decode the ballot: check it in-process
_WORKER_ELECTIONS_MAX = 64  # decoded elections kept per worker (least recently used dropped)
_worker_elections: OrderedDict[bytes, tuple[ElectionContext, IssuerSet]] = OrderedDict()


def election_spec(election: OpenElection) -> tuple[bytes, ElectionSpec]:
    """The picklable form of an election's context and issuer keys, and its cache key (SHA-256
    over the election hash and every issuer key)."""
    ctx = election.context
    iset = election.issuers
    issuers = tuple(sorted((r, w, k.spki) for r, ks in iset.keys.items()
                           for w, k in ks.items()))
    digest = hashlib.sha256(ctx.hash + lp(iset.election_id.encode())
                            + iset.threshold.to_bytes(1, "big"))
    for r, w, spki in issuers:
        digest.update(r.to_bytes(1, "big") + w.to_bytes(8, "big") + lp(spki))
    c = ctx.contest
    spec: ElectionSpec = (ctx.election_id, c.kind.value, c.options, c.min_selections,
                          c.max_selections, encode_point(ctx.public_key), ctx.hash,
                          iset.threshold, issuers)
    return digest.digest(), spec


def decode_election_spec(spec: ElectionSpec) -> tuple[ElectionContext, IssuerSet]:
    election_id, kind, options, lo, hi, public_key, election_hash, k, issuers = spec
    ctx = ElectionContext(election_id, Contest(ContestKind(kind), tuple(options), lo, hi),
                          decode_point(public_key))
    if ctx.hash != election_hash:
        raise ValueError("the election spec does not decode to its election")
    keys: dict[int, dict[int, IssuerKey]] = {}
    for r, w, spki in issuers:
        keys.setdefault(r, {})[w] = issuer_key_from_spki(election_id, w, spki, r)
    return ctx, IssuerSet(election_id, k, keys)


def verify_in_worker(key: bytes, spec: ElectionSpec | None,
                     cast_bytes: bytes) -> tuple[str, str] | str | bytes:
    """Runs in a worker process: the ballot's ciphertext points (ballot_points.points_of) if it
    passes every check, ``(check, detail)`` of the InvalidBallot it raised, or ``_NEED_SPEC`` /
    ``_UNDECODABLE``."""
    election = _worker_elections.get(key)
    if election is None:
        if spec is None:
            return _NEED_SPEC
        election = decode_election_spec(spec)
        _worker_elections[key] = election
        while len(_worker_elections) > _WORKER_ELECTIONS_MAX:
            _worker_elections.popitem(last=False)
    else:
        _worker_elections.move_to_end(key)
    try:
        cast, ballot_bytes = decode_cast_ballot_bytes(cast_bytes)
    except DecodeError:
        return _UNDECODABLE
    try:
        verify_cast_ballot(election[0], election[1], cast, ballot_bytes=ballot_bytes)
    except InvalidBallot as exc:
        return exc.check, exc.detail
    return points_of(cast)


def verify_batch_in_worker(items: list[tuple[bytes, ElectionSpec | None, bytes]]) -> list:
    """Runs in a worker process: :func:`verify_in_worker` for each item, in order; an unexpected
    exception is returned in the item's place (and raised to that ballot's caller only)."""
    out: list = []
    for key, spec, cast_bytes in items:
        try:
            out.append(verify_in_worker(key, spec, cast_bytes))
        except Exception as exc:  # one ballot's failure is that ballot's only
            out.append(exc)
    return out


def _worker_ready() -> int:
    return os.getpid()


def _init_worker(parent: int) -> None:
    """A worker ignores ^C (the server shuts the pool down) and exits if its server dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass
class _Pending:
    key: bytes
    spec: ElectionSpec | None
    cast_bytes: bytes
    future: asyncio.Future


class BallotVerifier:
    """``crypto.cast.verify_cast_ballot`` for the ballot box: in ``workers`` worker processes,
    or in-process (on the event loop) with ``workers=0``. Raises InvalidBallot either way.

    Ballots that arrive in the same turn of the event loop go to the workers together, a batch
    per worker (at most ``max_batch`` ballots each), which spreads the cost of the process round
    trip (docs/performance.md) over the batch. The workers are spawned, not
    forked (the server runs gRPC threads), so a program that uses them must guard its entry
    point with ``if __name__ == "__main__"``.
    """

    def __init__(self, workers: int = 0, *, max_batch: int = 16) -> None:
        if workers < 0:
            raise ValueError("workers cannot be negative")
        self.workers = workers
        self.max_batch = max(1, max_batch)
        self._pool: ProcessPoolExecutor | None = None
        self._specs: dict[int, tuple[OpenElection, bytes, ElectionSpec]] = {}
        self._queue: list[_Pending] = []
        self._batches: set[asyncio.Task] = set()  # running batches (kept referenced)

    async def start(self) -> None:
        """Start the worker processes and wait until each has imported the crypto modules."""
        if self.workers and self._pool is None:
            self._pool = self._new_pool()
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(self._pool, _worker_ready)
                                   for _ in range(self.workers)))

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(os.getpid(),))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _spec(self, election: OpenElection) -> tuple[bytes, ElectionSpec]:
        hit = self._specs.get(id(election))
        if hit is None or hit[0] is not election:
            key, spec = election_spec(election)
            if len(self._specs) >= 256:
                self._specs.clear()
            hit = self._specs[id(election)] = (election, key, spec)  # keeps election alive
        return hit[1], hit[2]

    async def verify(self, election: OpenElection, cast: CastBallot,
                     cast_bytes: bytes | None = None) -> bytes:
        """Every check of the ballot; ``cast_bytes`` is its canonical encoding if known. Returns
        its ciphertext points (ballot_points.points_of)."""
        if not self.workers:
            verify_cast_ballot(election.context, election.issuers, cast)
            return points_of(cast)
        if self._pool is None:
            await self.start()
        try:
            if cast_bytes is None:
                cast_bytes = encode_cast_ballot(cast)
        except Exception:  # not encodable: the in-process check names what is wrong with it
            verify_cast_ballot(election.context, election.issuers, cast)
            return points_of(cast)
        points = await self.verify_encoded(election, cast_bytes)
        if points is None:
            verify_cast_ballot(election.context, election.issuers, cast)
            points = points_of(cast)
        return points

    async def verify_encoded(self, election: OpenElection, cast_bytes: bytes) -> bytes | None:
        """Every check of the ballot of these canonical bytes, in a worker (``workers`` > 0):
        its ciphertext points if it passes; InvalidBallot naming the failed check; None, nothing
        checked, if the worker cannot decode the bytes (the caller decodes and checks
        in-process)."""
        if not self.workers:
            raise RuntimeError("no worker processes")
        if self._pool is None:
            await self.start()
        try:
            key, spec = self._spec(election)
        except Exception:  # never expected: the caller's in-process check says what it is
            return None
        answer = await self._enqueue(key, None, cast_bytes)
        if answer == _NEED_SPEC:  # this worker has not seen the election yet
            answer = await self._enqueue(key, spec, cast_bytes)
        if answer == _UNDECODABLE:
            return None
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, tuple):
            check, detail = answer
            raise InvalidBallot(check, detail)
        return answer

    def _enqueue(self, key: bytes, spec: ElectionSpec | None,
                 cast_bytes: bytes) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if not self._queue:
            loop.call_soon(self._flush)  # after the other ballots of this turn of the loop
        future = loop.create_future()
        self._queue.append(_Pending(key, spec, cast_bytes, future))
        return future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        queue = [p for p in queue if not p.future.done()]  # a cancelled call needs no check
        if not queue:
            return
        n_batches = max(self.workers, -(-len(queue) // self.max_batch))
        for i in range(min(n_batches, len(queue))):
            task = asyncio.ensure_future(self._run_batch(queue[i::n_batches]))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _run_batch(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        items = [(p.key, p.spec, p.cast_bytes) for p in batch]
        try:
            for attempt in (1, 2):
                pool = self._pool
                if pool is None:
                    raise RuntimeError("the ballot verifier is closed")
                try:
                    answers = await loop.run_in_executor(pool, verify_batch_in_worker, items)
                    break
                except BrokenProcessPool:
                    if attempt == 2:
                        raise
                    log.error("a ballot verification worker died; restarting the pool")
                    if self._pool is pool:  # the first batch to notice replaces it
                        self._pool = self._new_pool()
                        pool.shutdown(wait=False, cancel_futures=True)
        except asyncio.CancelledError:
            for p in batch:
                p.future.cancel()
            raise
        except Exception as exc:  # every ballot of the batch gets the error
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        for p, answer in zip(batch, answers, strict=True):
            if not p.future.done():
                p.future.set_result(answer)


def _ballot_bytes(cast_bytes: bytes) -> bytes:
    """The ballot's canonical bytes inside a cast ballot's canonical bytes (crypto.codec:
    version, counter, LP(ballot), LP(credential), signature), without encoding the ballot
    again."""
    r = Reader(cast_bytes)
    r.uint(1)
    r.uint(4)
    return r.lp(1 << 16)


class LeafLookups:
    """Replay checks, coalesced: the leaf hashes asked for in one turn of the event loop are
    looked up in one query (LogStore.indexes_of_leaves) instead of one query each. Under load
    the workers answer batches of ballots, whose checks then arrive in the same turn."""

    def __init__(self, store) -> None:
        self.store = store
        self._pending: dict[bytes, list[asyncio.Future]] = {}
        self._running: set[asyncio.Task] = set()

    def index_of(self, leaf_hash: bytes) -> asyncio.Future:
        """A future of the leaf's ledger index, or None if it is not on the ledger."""
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._flush)
        future = loop.create_future()
        self._pending.setdefault(leaf_hash, []).append(future)
        return future

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        task = asyncio.ensure_future(self._lookup(pending))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _lookup(self, pending: dict[bytes, list[asyncio.Future]]) -> None:
        try:
            found = await self.store.indexes_of_leaves(list(pending))
        except BaseException as exc:
            for futures in pending.values():
                for f in futures:
                    if not f.done():
                        f.set_exception(exc if isinstance(exc, Exception)
                                        else RuntimeError("lookup cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for leaf, futures in pending.items():
            for f in futures:
                if not f.done():
                    f.set_result(found.get(leaf))


class BallotBox:
    def __init__(self, ledger: Ledger, *, clock: Callable[[], float] = time.time,
                 receipt_timeout: float = 10.0, verifier: BallotVerifier | None = None,
                 points: BallotPoints | None = None) -> None:
        self.ledger = ledger
        self.points = points  # where the accepted ballots' points are kept for the tally
        self.clock = clock
        self.receipt_timeout = receipt_timeout
        self.verifier = verifier or BallotVerifier(0)
        self._sealed: set[str] = set()
        self._inflight: dict[str, int] = {}
        self._drained: dict[str, asyncio.Event] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}
        self._replays = LeafLookups(ledger.store)

    def _check_open(self, election: OpenElection) -> None:
        now = self.clock()
        if (election.context.election_id in self._sealed
                or not election.opens_at <= now < election.closes_at):
            raise BallotBoxClosed("the election is not open for ballots")

    async def cast(self, election: OpenElection, cast: CastBallot) -> CastResult:
        self._check_open(election)
        try:
            cast_bytes = encode_cast_ballot(cast)
        except Exception:  # cannot be a valid ballot: the check below says why
            cast_bytes = None
        started = time.perf_counter()
        try:
            points = await self.verifier.verify(election, cast, cast_bytes)
        except InvalidBallot as exc:
            raise BallotRefused(exc.check, exc.detail or str(exc)) from exc
        finally:
            VERIFY_SECONDS.observe(time.perf_counter() - started)
        if cast_bytes is None:  # verified but not encodable: never expected, as before
            cast_bytes = encode_cast_ballot(cast)
        return await self._accept(election, cast_bytes, points)

    async def cast_encoded(self, election: OpenElection, cast_bytes: bytes,
                           decode: Callable[[], CastBallot]) -> CastResult:
        """:meth:`cast` for a ballot given as its canonical bytes (crypto.codec), built by the
        ballot service from the protobuf fields without decoding a point, so that only a worker
        decodes it: the same checks in the same order. ``decode()`` returns the decoded ballot,
        or raises the refusal naming the field that does not decode; it is called only if a
        worker cannot decode the bytes (then the ballot is checked in-process, as in
        :meth:`BallotVerifier.verify`), or with no worker processes."""
        if not self.verifier.workers:
            return await self.cast(election, decode())
        self._check_open(election)
        started = time.perf_counter()
        try:
            points = await self.verifier.verify_encoded(election, cast_bytes)
            if points is None:
                cast = decode()
                verify_cast_ballot(election.context, election.issuers, cast)
                cast_bytes = encode_cast_ballot(cast)
                points = points_of(cast)
        except InvalidBallot as exc:
            raise BallotRefused(exc.check, exc.detail or str(exc)) from exc
        finally:
            VERIFY_SECONDS.observe(time.perf_counter() - started)
        return await self._accept(election, cast_bytes, points)

    async def _accept(self, election: OpenElection, cast_bytes: bytes,
                      points: bytes) -> CastResult:
        """Append a verified ballot unless sealed or closed meanwhile, or a replay; its
        receipt. The close is checked again under the leaf lock (the check took time); the
        sequencer has the last word (server/election/append_guard.py): it refuses a ballot
        behind its election's close (another process's close event may have reached it first),
        one whose revote counter is not above its token's previous ballot's, and one over the
        election's revote cap, in the log's own order."""
        eid = election.context.election_id
        entry = encode_event(Event(ElectionEvent.BALLOT, eid, cast_bytes))
        leaf = merkle.leaf_hash(entry)
        # In flight from here, with no await before the count: a seal that came while the ballot
        # was being verified either is seen below (under the leaf lock) or waits for it.
        self._inflight[eid] = self._inflight.get(eid, 0) + 1
        try:
            lock = self._locks.setdefault(leaf, asyncio.Lock())
            async with lock:
                if eid in self._sealed or self.clock() >= election.closes_at:
                    raise BallotBoxClosed("the election closed")
                earlier = await self._replays.index_of(leaf)
                if earlier is None:
                    try:
                        appended = await self.ledger.append(entry)
                    except EntryRefused as exc:  # the sequencer's word: the close, the order
                        if exc.code != BallotOrderViolation.REPLAYED:
                            raise refusal_of(exc) from exc
                        # another process appended the identical ballot first
                        earlier = await self._replays.index_of(leaf)
                        if earlier is None:
                            raise refusal_of(exc) from exc
            self._locks.pop(leaf, None)
        finally:
            self._inflight[eid] -= 1
            if self._inflight[eid] == 0 and eid in self._drained:
                self._drained[eid].set()
        ballot_hash = hashlib.sha256(_ballot_bytes(cast_bytes)).digest()
        if earlier is not None:  # on the ledger already: its receipt, nothing appended
            index, appended = earlier, None
        else:
            index = appended.index
            if self.points is not None:
                self.points.add(eid, index, points)
        try:
            receipt = await self.ledger.receipt(index, appended, timeout=self.receipt_timeout)
        except TimeoutError as exc:
            raise ReceiptPending(index, ballot_hash) from exc
        return CastResult(ballot_hash, receipt)

    async def seal(self, election_id: str) -> None:
        """Refuse new ballots for the election and wait until those in flight are appended."""
        self._sealed.add(election_id)
        if self._inflight.get(election_id, 0):
            ev = self._drained.setdefault(election_id, asyncio.Event())
            await ev.wait()
        if self.points is not None:  # so that the close finds this process's rows
            await self.points.flush()
