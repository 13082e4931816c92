"""The ballot box: check a cast ballot in full, append it to the ledger, answer the receipt.

A ballot is accepted only while its election is open; the credential, the token signature and
every proof are checked (crypto.cast.verify_cast_ballot). It is appended to the ledger as a
``ballot`` event (docs/protocol.md §12) and durable before the reply, which is the receipt
against a witness-co-signed checkpoint. The identical ballot again is a replay (ALREADY_EXISTS,
found through the ledger's leaf-hash index); a different ballot from the same token is a revote:
accepted, and only the latest of a token counts (crypto.tally.latest_per_token). Sealing an
election stops new ballots and waits for those in flight, so that no acknowledged ballot lands
after the close event.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import grpc

from crypto import merkle
from crypto.ballot import ElectionContext
from crypto.cast import verify_cast_ballot
from crypto.codec import Event, encode_ballot, encode_cast_ballot, encode_event
from crypto.credential import CastBallot, IssuerKey
from crypto.errors import InvalidBallot
from crypto.receipt import Receipt

from ..ledger.log import Ledger


class BallotRefused(Exception):
    """A refusal with its gRPC code and the name of the failed check."""

    def __init__(self, code: grpc.StatusCode, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.code = code
        self.check = check
        self.message = message


class ReceiptPending(Exception):
    """The ballot is accepted and on the ledger, but no co-signed checkpoint covers it yet: the
    voter fetches the receipt later (LedgerService.GetReceipt by leaf hash). Not a refusal."""

    def __init__(self, index: int, ballot_hash: bytes) -> None:
        super().__init__(f"ballot accepted at ledger index {index}; receipt pending cosigning")
        self.index = index
        self.ballot_hash = ballot_hash


@dataclass(frozen=True)
class OpenElection:
    """What the ballot box needs to know of an election."""

    context: ElectionContext
    issuers: Mapping[int, IssuerKey]
    opens_at: float  # POSIX seconds
    closes_at: float


@dataclass(frozen=True)
class CastResult:
    ballot_hash: bytes  # SHA-256 of the ballot's canonical bytes
    receipt: Receipt


class BallotBox:
    def __init__(self, ledger: Ledger, *, clock: Callable[[], float] = time.time,
                 receipt_timeout: float = 10.0) -> None:
        self.ledger = ledger
        self.clock = clock
        self.receipt_timeout = receipt_timeout
        self._sealed: set[str] = set()
        self._inflight: dict[str, int] = {}
        self._drained: dict[str, asyncio.Event] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}

    async def cast(self, election: OpenElection, cast: CastBallot) -> CastResult:
        eid = election.context.election_id
        now = self.clock()
        if eid in self._sealed or not election.opens_at <= now < election.closes_at:
            raise BallotRefused(grpc.StatusCode.FAILED_PRECONDITION, "election_state",
                                "the election is not open for ballots")
        try:
            verify_cast_ballot(election.context, election.issuers, cast)
        except InvalidBallot as exc:
            raise BallotRefused(grpc.StatusCode.INVALID_ARGUMENT, exc.check,
                                exc.detail or str(exc)) from exc
        entry = encode_event(Event("ballot", eid, encode_cast_ballot(cast)))
        leaf = merkle.leaf_hash(entry)
        self._inflight[eid] = self._inflight.get(eid, 0) + 1
        try:
            lock = self._locks.setdefault(leaf, asyncio.Lock())
            async with lock:
                if eid in self._sealed:
                    raise BallotRefused(grpc.StatusCode.FAILED_PRECONDITION, "election_state",
                                        "the election closed")
                if await self.ledger.store.index_of_leaf(leaf) is not None:
                    raise BallotRefused(grpc.StatusCode.ALREADY_EXISTS, "replay",
                                        "this exact ballot is already on the ledger")
                appended = await self.ledger.append(entry)
            self._locks.pop(leaf, None)
        finally:
            self._inflight[eid] -= 1
            if self._inflight[eid] == 0 and eid in self._drained:
                self._drained[eid].set()
        ballot_hash = hashlib.sha256(encode_ballot(cast.ballot)).digest()
        try:
            receipt = await self.ledger.receipt(appended.index, appended,
                                                timeout=self.receipt_timeout)
        except TimeoutError as exc:
            raise ReceiptPending(appended.index, ballot_hash) from exc
        return CastResult(ballot_hash, receipt)

    async def seal(self, election_id: str) -> None:
        """Refuse new ballots for the election and wait until those in flight are appended."""
        self._sealed.add(election_id)
        if self._inflight.get(election_id, 0):
            ev = self._drained.setdefault(election_id, asyncio.Event())
            await ev.wait()
