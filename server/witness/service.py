"""The witness's gRPC service: C2SP tlog-witness add-checkpoint over gRPC (witness.proto).

Checks, in order (each refusal is a gRPC status with details, and leaves the store unchanged):
the note parses as a checkpoint; its origin is a log this witness follows (NOT_FOUND); the log's
key signed it (PERMISSION_DENIED); old_size <= the new size (INVALID_ARGUMENT); old_size is the
witness's latest size (FAILED_PRECONDITION, OLD_SIZE_MISMATCH, metadata latest_size); at the same
size the roots agree (FAILED_PRECONDITION, ROOT_MISMATCH: a fork); the consistency proof verifies
(INVALID_ARGUMENT, BAD_CONSISTENCY_PROOF). A validating witness then fetches the new entries,
checks that they rebuild the checkpoint's root and passes each to its validator (ABORTED,
VALIDATION_FAILED). Only then is the new state stored (compare-and-swap) and the checkpoint
co-signed (C2SP tlog-cosignature, cosignature/v1). The note kept with the new state is the
checkpoint with the log's signature and this witness's cosignature lines, written by the same
compare-and-swap: GetLatestCheckpoint serves it to anyone who checks the log's view (an
auditor looking for a split view).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, witness_pb2, witness_pb2_grpc

from crypto.errors import CryptoError, DecodeError, InvalidProof, InvalidSignature
from crypto.log import merkle
from crypto.log.checkpoint import (
    MAX_ORIGIN_BYTES,
    CosignatureSigner,
    SignedCheckpoint,
    parse_checkpoint,
)
from crypto.log.note import Ed25519Verifier, open_note, parse_note

from ..errors import (
    Aborted,
    Forbidden,
    NotFound,
    Precondition,
    Refused,
    Unavailable,
    answers,
    invalid,
)
from ..tls import open_channel
from .store import WitnessedState, WitnessStore

log = logging.getLogger("ownervote.witness")

MAX_NOTE = 1 << 16
MAX_PROOF = 128
Validator = Callable[[int, bytes], None]  # (index, entry) -> None, raises to refuse
# A stateful validator per followed log (e.g. crypto.election_audit.LedgerVerifier().apply):
# it must see the log from entry 0, so after a restart the witness replays the entries it had
# already validated before validating new ones.
ValidatorFactory = Callable[[str], Validator]


@dataclass(frozen=True)
class FollowedLog:
    origin: str
    verifier: Ed25519Verifier
    ledger_address: str | None = None  # where to fetch entries (validating witnesses)


class EntrySource:
    """Fetches a log's entries over its LedgerService (paged GetEntries)."""

    def __init__(self, address: str,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.channel = open_channel(address, credentials)
        self.stub = ledger_pb2_grpc.LedgerServiceStub(self.channel)

    async def entries(self, start: int, end: int) -> list[bytes]:
        out: list[bytes] = []
        while start + len(out) < end:
            want = min(1000, end - start - len(out))
            resp = await self.stub.GetEntries(
                ledger_pb2.GetEntriesRequest(start=start + len(out), count=want), timeout=30)
            if not resp.entries:
                raise LookupError(f"log has no entry {start + len(out)}")
            out.extend(resp.entries[:want])
        return out

    async def close(self) -> None:
        await self.channel.close()


class Witness(witness_pb2_grpc.WitnessServiceServicer):
    def __init__(self, store: WitnessStore, signer: CosignatureSigner,
                 logs: Sequence[FollowedLog], *,
                 validating_signer: CosignatureSigner | None = None,
                 validator: Validator | None = None,
                 validator_factory: ValidatorFactory | None = None,
                 entry_source: Callable[[FollowedLog], EntrySource] | None = None,
                 ledger_credentials: grpc.ChannelCredentials | None = None) -> None:
        if validator is not None and validator_factory is not None:
            raise ValueError("a plain validator or a validator factory, not both")
        if (validating_signer is None) != (validator is None and validator_factory is None):
            raise ValueError("a validating witness needs both a validating key and a validator")
        self.store = store
        self.signer = signer
        self.validating_signer = validating_signer
        self.validator = validator
        self.validator_factory = validator_factory
        self._validators: dict[str, Validator] = {}  # per origin, from the factory
        self.logs = {lg.origin: lg for lg in logs}
        self._sources: dict[str, EntrySource] = {}
        self._entry_source = entry_source or (
            lambda lg: EntrySource(lg.ledger_address or "", ledger_credentials))

    @answers()
    async def GetWitnessInfo(self, request, context):  # noqa: N802 - gRPC method name
        return witness_pb2.GetWitnessInfoResponse(
            verifier_key=self.signer.verifier().vkey(),
            validating_verifier_key=(self.validating_signer.verifier().vkey()
                                     if self.validating_signer else ""))

    @answers()
    async def GetLatestCheckpoint(self, request, context):  # noqa: N802 - gRPC method name
        state = await self.latest_checkpoint(request.origin)
        return witness_pb2.GetLatestCheckpointResponse(signed_note=state.cosigned_note,
                                                       tree_size=state.size)

    async def latest_checkpoint(self, origin: str) -> WitnessedState:
        """The state of ``origin`` with the note of its latest co-signed checkpoint."""
        if not origin or len(origin.encode("utf-8")) > MAX_ORIGIN_BYTES:
            raise invalid("origin", f"must be 1..{MAX_ORIGIN_BYTES} bytes")
        if origin not in self.logs:
            raise NotFound(f"unknown origin {origin!r}", reason="UNKNOWN_ORIGIN", field="origin")
        state = await self.store.get(origin)
        if not state.cosigned_note:
            raise NotFound(f"this witness has co-signed no checkpoint of {origin!r} yet",
                           reason="NO_COSIGNED_CHECKPOINT", field="origin")
        return state

    @answers()
    async def AddCheckpoint(self, request, context):  # noqa: N802 - gRPC method name
        lines = await self.add_checkpoint(request.old_size, list(request.consistency_proof),
                                          request.signed_note)
        return witness_pb2.AddCheckpointResponse(cosignature_lines=lines)

    async def add_checkpoint(self, old_size: int, proof: list[bytes], signed_note: bytes,
                             ) -> list[bytes]:
        if not signed_note or len(signed_note) > MAX_NOTE:
            raise invalid("signed_note", f"must be 1..{MAX_NOTE} bytes")
        if len(proof) > MAX_PROOF or any(len(h) != merkle.HASH_LEN for h in proof):
            raise invalid("consistency_proof", "at most 128 hashes of 32 bytes each")
        try:
            note = parse_note(signed_note)
            cp = parse_checkpoint(note.text)
        except (DecodeError, ValueError) as exc:
            raise invalid("signed_note", f"not a checkpoint note: {exc}") from exc
        followed = self.logs.get(cp.origin)
        if followed is None:
            raise NotFound(f"unknown origin {cp.origin!r}", reason="UNKNOWN_ORIGIN",
                           field="signed_note")
        try:
            _, log_signatures = open_note(signed_note, [followed.verifier])
        except (InvalidSignature, DecodeError) as exc:
            raise Forbidden(f"no valid signature by the log's key: {exc}",
                            reason="NO_LOG_SIGNATURE", field="signed_note") from exc
        if old_size > cp.size:
            raise Refused(f"old_size {old_size} is larger than the checkpoint size {cp.size}",
                          reason="OLD_SIZE_TOO_LARGE", field="old_size")
        state = await self.store.get(cp.origin)
        if old_size != state.size:
            raise _mismatch(state.size)
        if old_size == cp.size:
            if cp.root_hash != state.root:
                raise Precondition(f"checkpoint of size {cp.size} has another root than the one "
                                   "this witness co-signed: the log forked",
                                   reason="ROOT_MISMATCH", precondition="FORK")
            if proof:
                raise invalid("consistency_proof", "must be empty for an unchanged size",
                              "BAD_CONSISTENCY_PROOF")
        else:
            try:
                merkle.verify_consistency(old_size, cp.size, proof, state.root, cp.root_hash)
            except InvalidProof as exc:
                raise invalid("consistency_proof", f"does not verify: {exc}",
                              "BAD_CONSISTENCY_PROOF") from exc
        # a validating witness keeps the compact range to rebuild roots; a plain one needs none
        frontier = (await self._validate(followed, state, cp)
                    if self.validating_signer is not None else ())
        # signed before the store, released only once stored: the note kept is what it answers
        cosignatures = [s.cosign(cp) for s in (self.signer, self.validating_signer) if s]
        kept = SignedCheckpoint(cp, log_signatures).with_signatures(cosignatures).encode()
        new_state = WitnessedState(cp.size, cp.root_hash, tuple(frontier), kept)
        if not await self.store.advance(cp.origin, old_size, new_state):
            raise _mismatch((await self.store.get(cp.origin)).size)
        log.info("co-signed %s at size %d", cp.origin, cp.size)
        return [c.line().encode() for c in cosignatures]

    async def _validate(self, followed: FollowedLog, state: WitnessedState, cp) -> tuple:
        """Fetch entries [state.size, cp.size), rebuild the root, run the validator on each."""
        if state.size == cp.size:
            return state.frontier
        source = self._sources.get(followed.origin)
        if source is None:
            source = self._sources[followed.origin] = self._entry_source(followed)
        try:
            entries = await source.entries(state.size, cp.size)
        except (grpc.RpcError, LookupError) as exc:
            raise Unavailable(f"cannot fetch the new entries: {exc}",
                              reason="ENTRIES_UNAVAILABLE") from exc
        validator = await self._validator(followed, state, source)
        tree = merkle.CompactRange(state.size, state.frontier)
        for i, data in enumerate(entries):
            tree.append(merkle.leaf_hash(data))
            await self._run(validator, followed, state.size + i, data)
        if tree.root() != cp.root_hash:
            self._validators.pop(followed.origin, None)  # it saw entries that are not the log's
            raise Aborted("the entries served by the log do not rebuild the checkpoint's root",
                          reason="ENTRIES_MISMATCH")
        return tree.nodes

    async def _run(self, validator: Validator, followed: FollowedLog, index: int,
                   data: bytes) -> None:
        try:
            result = validator(index, data)
            if isinstance(result, Awaitable):
                await result
        except (CryptoError, ValueError) as exc:
            # a stateful validator may hold part of a refused batch: start it afresh next time
            self._validators.pop(followed.origin, None)
            raise Aborted(f"entry {index} failed validation: {exc}", reason="VALIDATION_FAILED",
                          metadata={"index": str(index)}) from exc

    async def _validator(self, followed: FollowedLog, state: WitnessedState,
                         source: EntrySource) -> Validator:
        """The plain validator, or this log's stateful one, brought up to ``state.size`` by
        replaying the entries validated before (checked against the stored compact range)."""
        if self.validator_factory is None:
            return self.validator
        validator = self._validators.get(followed.origin)
        if validator is not None:
            return validator
        validator = self.validator_factory(followed.origin)
        if state.size:
            try:
                old = await source.entries(0, state.size)
            except (grpc.RpcError, LookupError) as exc:
                raise Unavailable(f"cannot fetch the validated entries: {exc}",
                                  reason="ENTRIES_UNAVAILABLE") from exc
            tree = merkle.CompactRange()
            for i, data in enumerate(old):
                tree.append(merkle.leaf_hash(data))
                await self._run(validator, followed, i, data)
            if tree.nodes != tuple(state.frontier):
                raise Aborted("the log's entries do not rebuild the tree this witness validated",
                              reason="ENTRIES_MISMATCH")
        self._validators[followed.origin] = validator
        return validator

    async def close(self) -> None:
        for s in self._sources.values():
            await s.close()


def _mismatch(latest: int) -> Precondition:
    return Precondition(f"old_size is not this witness's latest size {latest}",
                        reason="OLD_SIZE_MISMATCH", metadata={"latest_size": str(latest)},
                        precondition="OLD_SIZE")
