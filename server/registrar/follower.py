"""The registrar's view of the ledger: every election's state as the co-signed ledger proves it
(docs/protocol.md §13.3), never as the server says.

:class:`LedgerFollower` polls the server's LedgerService: it opens the latest checkpoint with
the pinned trust bundle (log signature and the witness quorum), downloads the entries it has not
seen, and accepts them only if the Merkle tree of every entry from the first (a compact range,
RFC 9162 §2.1) has exactly the checkpoint's root. So a server that shows it another history
than the witnesses co-signed, or leaves an entry out, is caught here (InvalidProof) and nothing
is acted on. The election family's events but the ballots go through the auditor's rules
(crypto/election_audit.py, without the ballots), so what the registrar reads of an election — its
definition, the roll hash it names, its state, the issuer keys and issuances on the ledger — is
exactly what every verifier reads.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

from crypto.election_audit import ElectionAudit, ElectionVerifier
from crypto.encoding import decode_event, event_family
from crypto.errors import CryptoError, InvalidProof
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint
from crypto.log.trust import TrustBundle
from crypto.records import ELECTION_FAMILY, ElectionEvent

log = logging.getLogger("ownervote.registrar")
PAGE = 1000


@dataclass
class LedgerFollower:
    channel: grpc.aio.Channel
    bundle: TrustBundle
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    verifier: ElectionVerifier = field(
        default_factory=lambda: ElectionVerifier(with_ballots=False))
    checkpoint: Checkpoint | None = None
    halted: Exception | None = None  # the ledger broke a rule: nothing more is read or trusted

    def __post_init__(self) -> None:
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(self.channel)
        self._polling = asyncio.Lock()  # one catch-up at a time (the duties, a request)

    @property
    def size(self) -> int:
        return self.tree.size

    def election(self, election_id: str) -> ElectionAudit | None:
        return self.verifier.elections.get(election_id)

    async def poll(self) -> bool:
        """Catch up with the latest co-signed checkpoint; whether anything new was read.
        InvalidProof when the server's entries are not those the checkpoint commits to, and
        the crypto error of an entry that breaks a rule (the follower then halts for good: a
        co-signed entry that breaks a rule means the witnesses failed, and an operator must
        look)."""
        async with self._polling:
            return await self._poll()

    async def _poll(self) -> bool:
        if self.halted is not None:
            raise self.halted
        try:
            r = await self.ledger.GetCheckpoint(ledger_pb2.GetCheckpointRequest())
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False  # no co-signed checkpoint yet
            raise
        cp = self.bundle.open_checkpoint(bytes(r.signed_note))
        if cp.size < self.size:
            raise InvalidProof("checkpoint", f"a co-signed checkpoint of size {cp.size} after "
                                             f"one of size {self.size}")
        if cp.size == self.size:
            if cp.root_hash != self.tree.root():
                raise InvalidProof("checkpoint", "two co-signed checkpoints of one size with "
                                                 "different roots")
            self.checkpoint = cp
            return False
        entries: list[bytes] = []
        tree = merkle.CompactRange(self.tree.size, self.tree.nodes)
        while tree.size < cp.size:
            page = await self.ledger.GetEntries(ledger_pb2.GetEntriesRequest(
                start=tree.size, count=min(PAGE, cp.size - tree.size)))
            if not page.entries:
                raise InvalidProof("ledger", f"the log gives no entry at {tree.size}")
            for e in page.entries[:cp.size - tree.size]:
                entries.append(bytes(e))
                tree.append(merkle.leaf_hash(bytes(e)))
        if tree.root() != cp.root_hash:
            raise InvalidProof("ledger", f"entries {self.size}..{cp.size - 1} are not those the "
                                         "co-signed checkpoint commits to")
        start = self.size
        try:
            for k, entry in enumerate(entries):
                self._apply(entry, start + k)
        except CryptoError as exc:
            self.halted = exc
            raise
        self.tree, self.checkpoint = tree, cp
        return True

    def _apply(self, entry: bytes, index: int) -> None:
        try:
            ev = decode_event(entry)
            if event_family(ev.kind) != ELECTION_FAMILY or ev.kind == ElectionEvent.BALLOT:
                return
        except CryptoError:
            return  # a kind no family of this build knows: not an election's
        self.verifier.apply(ev, index)
