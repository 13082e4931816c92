"""A voter's receipt: proof that an entry is in the log, as attested by the witness quorum.

The content of c2sp.org/tlog-proof (index, inclusion proof, co-signed checkpoint), carried in
protobuf as ``ownervote.v1.Receipt``; docs/protocol.md §12.3. :class:`ProvenEntry` is an entry's
bytes with its inclusion proof, against a checkpoint that comes beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidProof
from . import merkle
from .checkpoint import Checkpoint, CosignatureVerifier, parse_checkpoint, verify_checkpoint
from .note import Verifier, parse_note


@dataclass(frozen=True)
class Receipt:
    index: int
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    signed_note: bytes  # a checkpoint co-signed by a quorum of witnesses

    @property
    def tree_size(self) -> int:
        return parse_checkpoint(parse_note(self.signed_note).text).size


def verify_receipt(receipt: Receipt, log_verifier: Verifier,
                   witnesses: Sequence[CosignatureVerifier], quorum: int,
                   entry: bytes | None = None) -> Checkpoint:
    """Check the checkpoint's signatures and quorum, the inclusion proof, and (if given) that
    ``entry`` is what the receipt is for. Raises InvalidSignature / QuorumNotMet / InvalidProof.
    """
    checkpoint, _ = verify_checkpoint(receipt.signed_note, log_verifier, witnesses, quorum)
    if entry is not None and merkle.leaf_hash(entry) != receipt.leaf_hash:
        raise InvalidProof("receipt", "the receipt is for another entry")
    merkle.verify_inclusion(receipt.leaf_hash, receipt.index, checkpoint.size,
                            list(receipt.inclusion_proof), checkpoint.root_hash)
    return checkpoint


@dataclass(frozen=True)
class ProvenEntry:
    """An entry with its RFC 9162 inclusion proof against a checkpoint it came with."""

    index: int
    entry: bytes
    inclusion_proof: tuple[bytes, ...]

    def verify(self, checkpoint: Checkpoint) -> None:
        """InvalidProof unless the entry is at ``index`` of the checkpoint's tree."""
        merkle.verify_inclusion(merkle.leaf_hash(self.entry), self.index, checkpoint.size,
                                list(self.inclusion_proof), checkpoint.root_hash)
