"""Offline audit of a ledger export: trust nothing but the log's key and the witness policy.

It recomputes the Merkle tree from the entries, checks that every checkpoint is signed by the
log (and that every signature line in it is from the log or a policy witness and verifies),
that each checkpoint's root is the recomputed root at its size, that sizes only grow, that the
last checkpoint covers every entry and is co-signed by the witness quorum. The first problem is
raised as :class:`AuditFailure` naming the entry (or the checkpoint) where things disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import CryptoError
from . import merkle
from .checkpoint import CosignatureVerifier, cosignature_timestamp, parse_checkpoint
from .export import LedgerExport
from .note import Verifier, open_note, parse_note


class AuditFailure(CryptoError):
    def __init__(self, message: str, *, entry: int | None = None,
                 checkpoint: int | None = None) -> None:
        self.entry = entry
        self.checkpoint = checkpoint
        where = (f"entry {entry}: " if entry is not None else "") + \
                (f"checkpoint at size {checkpoint}: " if checkpoint is not None else "")
        super().__init__(where + message)


@dataclass(frozen=True)
class AuditReport:
    origin: str
    entries: int
    checkpoints: int
    cosigned_checkpoints: int
    root: bytes
    cosigners: tuple[tuple[str, int], ...]


def audit(export: LedgerExport, log_verifier: Verifier,
          witnesses: Sequence[CosignatureVerifier], quorum: int) -> AuditReport:
    if export.origin != log_verifier.name:
        raise AuditFailure(f"origin {export.origin!r} is not the log key's {log_verifier.name!r}")
    for i, (entry, recorded) in enumerate(zip(export.entries, export.leaf_hashes, strict=True)):
        if merkle.leaf_hash(entry) != recorded:
            raise AuditFailure("the entry's bytes do not match the leaf hash the log recorded",
                               entry=i)
    if not export.checkpoints:
        raise AuditFailure("the export has no checkpoint")
    trusted = [log_verifier, *witnesses]
    log_key = (log_verifier.name, bytes(log_verifier.key_id))
    witness_keys = {(w.name, bytes(w.key_id)) for w in witnesses}
    tree = merkle.CompactRange()
    last_size = 0
    cosigned = 0
    cosigners: tuple[tuple[str, int], ...] = ()
    for k, note_bytes in enumerate(export.checkpoints):
        try:
            note = parse_note(note_bytes)
            cp = parse_checkpoint(note.text)
        except CryptoError as exc:
            raise AuditFailure(f"checkpoint #{k} is malformed: {exc}") from exc
        if cp.origin != export.origin:
            raise AuditFailure("another origin", checkpoint=cp.size)
        if cp.size <= last_size:
            raise AuditFailure(f"size does not grow (previous {last_size})", checkpoint=cp.size)
        if cp.size > len(export.entries):
            raise AuditFailure(f"beyond the {len(export.entries)} exported entries",
                               checkpoint=cp.size)
        try:
            _, verified = open_note(note_bytes, trusted)
        except CryptoError as exc:
            raise AuditFailure(f"signature check failed: {exc}", checkpoint=cp.size) from exc
        if len(verified) != len(note.signatures):
            raise AuditFailure("a signature line is from a key outside the log's policy",
                               checkpoint=cp.size)
        if not any(s.key == log_key for s in verified):
            raise AuditFailure("not signed by the log's key", checkpoint=cp.size)
        names = tuple(dict.fromkeys(
            (s.name, cosignature_timestamp(s)) for s in verified if s.key in witness_keys))
        if len({n for n, _ in names}) >= quorum:
            cosigned += 1
        for i in range(last_size, cp.size):
            tree.append(export.leaf_hashes[i])
        if tree.root() != cp.root_hash:
            raise AuditFailure(f"entries [{last_size}, {cp.size}) do not rebuild the root of the "
                               f"checkpoint at size {cp.size}", entry=last_size)
        last_size = cp.size
        cosigners = names
    if last_size != len(export.entries):
        raise AuditFailure(f"entries from {last_size} on are not covered by any checkpoint",
                           entry=last_size)
    if len({n for n, _ in cosigners}) < quorum:
        raise AuditFailure(f"the last checkpoint is co-signed by {len(cosigners)} witnesses, "
                           f"the policy needs {quorum}", checkpoint=last_size)
    return AuditReport(export.origin, len(export.entries), len(export.checkpoints), cosigned,
                       tree.root(), cosigners)
