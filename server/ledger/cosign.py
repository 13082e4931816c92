"""Collecting witness cosignatures for the log's checkpoints (the log side of tlog-witness).

After each batch the sequencer signals the collector. It sends the newest checkpoint to every
witness named by the log's policy, concurrently, with a consistency proof from the size that
witness last co-signed (learned from its OLD_SIZE_MISMATCH answer when unknown), merges the
cosignature lines it gets back, and once a quorum of distinct witnesses co-signed, stores the
co-signed note beside the checkpoint and wakes whoever waits for a receipt. Intermediate
checkpoints produced while a round is in flight are skipped: the next round covers them. Rounds
start at most every ``min_interval`` (50 ms): a receipt waits up to that much longer, and the
witnesses co-sign at most 20 checkpoints a second however fast batches commit.

The collector also keeps the latest co-signed checkpoint in memory (``cosigned``: loaded from
the store at start, replaced right after each ``set_cosigned``), so the sequencer answers
receipts without reading it back. It is built from the checkpoint row the round read and the note
it stored, so it is exactly the row ``latest_checkpoint(cosigned=True)`` returns; and it stays
correct because, while this process is the sequencer, only its collector co-signs newer
checkpoints (a stale value would still be a valid co-signed checkpoint, just not the newest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import grpc
from ownervote.v1 import witness_pb2, witness_pb2_grpc

from crypto.errors import CryptoError
from crypto.log.checkpoint import CosignatureVerifier, SignedCheckpoint, verify_checkpoint
from crypto.log.note import Verifier, parse_signature_lines

from ..status import details_of
from ..tls import open_channel
from .store import LogStore, StoredCheckpoint

log = logging.getLogger("ownervote.cosign")


@dataclass(frozen=True)
class WitnessPolicy:
    """The witnesses a log names and how many must co-sign (e.g. 3 of 4)."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int

    def __post_init__(self) -> None:
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise ValueError("witness names must be distinct")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ValueError("quorum must be between 0 and the number of witnesses")


@dataclass
class WitnessEndpoint:
    verifier: CosignatureVerifier
    address: str
    known_size: int | None = None  # the size this witness last co-signed, when known
    credentials: grpc.ChannelCredentials | None = field(default=None, repr=False)  # mTLS
    stub: witness_pb2_grpc.WitnessServiceStub | None = field(default=None, repr=False)
    channel: grpc.aio.Channel | None = field(default=None, repr=False)


class CosignCollector:
    def __init__(self, store: LogStore, log_verifier: Verifier, policy: WitnessPolicy,
                 endpoints: Sequence[WitnessEndpoint], *, timeout: float = 5.0,
                 min_interval: float = 0.05) -> None:
        self.store = store
        self.log_verifier = log_verifier
        self.policy = policy
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.min_interval = min_interval  # seconds between the starts of two rounds, at least
        self.cosigned: StoredCheckpoint | None = None  # the latest co-signed checkpoint stored
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None

    @property
    def cosigned_size(self) -> int:
        return self.cosigned.size if self.cosigned is not None else 0

    async def start(self) -> None:
        self.cosigned = await self.store.latest_checkpoint(cosigned=True)
        for ep in self.endpoints:
            ep.channel = open_channel(ep.address, ep.credentials)
            ep.stub = witness_pb2_grpc.WitnessServiceStub(ep.channel)
        self._task = asyncio.create_task(self._run(), name="cosign-collector")
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for ep in self.endpoints:
            if ep.channel is not None:
                await ep.channel.close()

    def notify(self, _size: int | None = None) -> None:
        """Called by the sequencer after each committed batch."""
        self._wake.set()

    async def wait_covering(self, index: int, timeout: float) -> None:
        """Wait until a co-signed checkpoint covers ``index``."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.cosigned_size > index),
                                   timeout)

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            latest = await self.store.latest_checkpoint(cosigned=False)
            if latest is None or latest.size <= self.cosigned_size:
                continue
            started = asyncio.get_running_loop().time()
            try:
                ok = await self._round(latest)
            except Exception:
                log.exception("cosigning round failed")
                ok = False
            if ok:
                backoff = 0.05
                # at most one round per min_interval: under load every round costs each
                # witness a signature check, a consistency proof and a signature, and the
                # batches that commit meanwhile are covered by the next round anyway
                rest = self.min_interval - (asyncio.get_running_loop().time() - started)
                if rest > 0:
                    await asyncio.sleep(rest)
            else:  # quorum not reached: try again later (the log keeps running)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                self._wake.set()

    async def _round(self, checkpoint: StoredCheckpoint) -> bool:
        size, signed_note = checkpoint.size, checkpoint.signed_note
        results = await asyncio.gather(*(self._submit(ep, size, signed_note)
                                         for ep in self.endpoints))
        lines = b"".join(line for res in results for line in res)
        signed = SignedCheckpoint.parse(signed_note)
        if lines:
            # keep only lines from keys the policy names (a witness may send more, e.g. both its
            # consistency and its validation cosignature); unknown lines would only be noise
            policy_keys = {(w.name, bytes(w.key_id)) for w in self.policy.witnesses}
            try:
                sigs = [s for s in parse_signature_lines(lines) if s.key in policy_keys]
            except CryptoError as exc:
                log.warning("malformed cosignature lines: %s", exc)
                sigs = []
            signed = signed.with_signatures(sigs)
        encoded = signed.encode()
        try:
            verify_checkpoint(encoded, self.log_verifier, self.policy.witnesses,
                              self.policy.quorum)
        except CryptoError as exc:
            log.warning("checkpoint %d not co-signed by a quorum: %s", size, exc)
            return False
        if not await self.store.set_cosigned(size, encoded):
            log.warning("checkpoint %d vanished from the store; not co-signed", size)
            return False
        async with self._changed:
            if size > self.cosigned_size:
                # the row as stored: the round's checkpoint row with the note just written
                self.cosigned = replace(checkpoint, cosigned_note=encoded)
            self._changed.notify_all()
        return True

    async def _submit(self, ep: WitnessEndpoint, size: int, signed_note: bytes) -> list[bytes]:
        for _attempt in range(3):
            old = ep.known_size if ep.known_size is not None else 0
            if old > size:
                return []
            proof = await self.store.consistency_proof(old, size) if 0 < old < size else []
            try:
                resp = await ep.stub.AddCheckpoint(witness_pb2.AddCheckpointRequest(
                    old_size=old, consistency_proof=proof, signed_note=signed_note),
                    timeout=self.timeout)
            except grpc.aio.AioRpcError as err:
                info = details_of(err)
                if info["reason"] == "OLD_SIZE_MISMATCH" and "latest_size" in info["metadata"]:
                    ep.known_size = int(info["metadata"]["latest_size"])
                    continue
                log.warning("witness %s refused checkpoint %d: %s %s", ep.verifier.name, size,
                            err.code().name, err.details())
                return []
            ep.known_size = size
            return [bytes(x) for x in resp.cosignature_lines]
        return []
