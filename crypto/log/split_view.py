"""The log as a client downloaded it, against what others saw of it: the checkpoints its witnesses
co-signed (split-view detection) and the checkpoint this client kept from before
(docs/protocol.md §12.6).

A log that shows an auditor one history and its witnesses another cannot have both co-signed by
one witness (C2SP tlog-witness refuses two histories of one log), but the auditor sees only what
the log serves it. So it asks each witness for the latest checkpoint that witness co-signed
(``WitnessService.GetLatestCheckpoint``) and requires it to be a checkpoint of the history it
downloaded: at a size the export covers, its root is the root of the export's first entries; at
a larger size, the log's own consistency proof joins the export's tree to it. Anything else is
:class:`crypto.errors.SplitView`, naming the witness and both sizes.

An answer counts only as its witness's own. The witness says which keys are its own
(``GetWitnessInfo``); exactly one of them is a key the bundle pins, and the note must carry the
log's signature and that key's cosignature, both valid, and no line but the log's and the
witness's own keys' (each valid). A claim to no pinned key or to two, a line of another witness
of the bundle or of a key it does not name, or a second answer of one witness is
:class:`crypto.errors.WitnessRefused`. Where an answer came from (an address) is only reported:
it is the signatures that make it count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import CryptoError, DecodeError, ForkedView, InvalidProof, SplitView, WitnessRefused
from . import merkle
from .checkpoint import Checkpoint, CosignatureVerifier, parse_checkpoint
from .export import LedgerExport
from .note import open_note, parse_note
from .trust import TrustBundle
from .view import LogView


@dataclass(frozen=True)
class WitnessAnswer:
    """What one witness answered."""

    source: str  # where it was asked (an address): reported, never trusted
    keys: tuple[str, ...]  # the C2SP verifier keys it says are its own (GetWitnessInfo)
    signed_note: bytes  # its latest co-signed checkpoint (GetLatestCheckpoint)
    tree_size: int  # the size it says that checkpoint is of


@dataclass(frozen=True)
class Confirmation:
    """A witness whose latest co-signed checkpoint is of the history downloaded."""

    witness: str  # the name of its key in the bundle
    source: str
    size: int
    by_proof: bool  # larger than the export: joined by the log's consistency proof


def open_answer(bundle: TrustBundle, answer: WitnessAnswer) -> tuple[str, Checkpoint]:
    """The bundle's name of the answering witness and its checkpoint; WitnessRefused unless the
    answer is that witness's own co-signed checkpoint of the bundle's log."""

    def refuse(detail: str) -> WitnessRefused:
        return WitnessRefused(answer.source, detail)

    try:
        claimed = [CosignatureVerifier.from_vkey(k) for k in answer.keys]
        note = parse_note(answer.signed_note)
    except DecodeError as exc:
        raise refuse(f"a malformed answer: {exc}") from exc
    pinned = {w.vkey(): w for w in bundle.witnesses}
    own = [k for k in claimed if k.vkey() in pinned]
    if len(own) != 1:
        raise refuse("its keys are outside the trust bundle" if not own else
                     "it claims the keys of two witnesses of the trust bundle")
    log_key = (bundle.log_key.name, bytes(bundle.log_key.key_id))
    own_keys = {(k.name, bytes(k.key_id)) for k in claimed}
    others = {(w.name, bytes(w.key_id)): w.name for w in bundle.witnesses}
    for sig in note.signatures:
        if sig.key in others and sig.key not in own_keys:
            raise refuse(f"its checkpoint carries the cosignature of witness {others[sig.key]}, "
                         "not its own")
        if sig.key != log_key and sig.key not in own_keys:
            raise refuse(f"its checkpoint carries a line of a key outside the trust bundle "
                         f"({sig.name})")
    try:
        _, verified = open_note(answer.signed_note, [bundle.log_key, *claimed])
        cp = parse_checkpoint(note.text)
    except CryptoError as exc:
        raise refuse(f"its checkpoint does not verify: {exc}") from exc
    keys = {s.key for s in verified}
    if log_key not in keys:
        raise refuse("its checkpoint is not signed by the log's key")
    if (own[0].name, bytes(own[0].key_id)) not in keys:
        raise refuse(f"its checkpoint carries no cosignature of its key {own[0].name}")
    if cp.origin != bundle.origin:
        raise refuse(f"a checkpoint of {cp.origin!r}, not of {bundle.origin!r}")
    if cp.size != answer.tree_size:
        raise refuse(f"it says size {answer.tree_size} of a checkpoint of size {cp.size}")
    return own[0].name, cp


def check_witnesses(export: LedgerExport, bundle: TrustBundle,
                    answers: Sequence[WitnessAnswer],
                    proofs: Mapping[int, Sequence[bytes] | None]) -> tuple[Confirmation, ...]:
    """Every answer is its witness's own (:func:`open_answer`, one answer per witness) and of the
    history of the export's entries: at a size m <= n (the export's size) the root of the first
    m entries; at m > n, ``proofs[m]`` — the log's PROOF(n, m), None if it gave none — verifies
    from the export's root to the witness's. SplitView for the first that is not."""
    opened: list[tuple[WitnessAnswer, str, Checkpoint]] = []
    seen: dict[str, str] = {}
    for answer in answers:
        name, cp = open_answer(bundle, answer)
        if name in seen:
            raise WitnessRefused(answer.source, f"witness {name} answered at {seen[name]} "
                                 "already")
        seen[name] = answer.source
        opened.append((answer, name, cp))
    leaves = [merkle.leaf_hash(e) for e in export.entries]
    n = len(leaves)
    roots = _roots(leaves, [n, *(cp.size for _, _, cp in opened if cp.size <= n)])
    out = []
    for answer, name, cp in opened:
        problem = None
        if cp.size <= n:
            if roots[cp.size] != cp.root_hash:
                problem = f"its root is not the root of the log's first {cp.size} entries"
        elif proofs.get(cp.size) is None:
            problem = "the log gives no consistency proof from its tree to the witness's"
        else:
            try:
                merkle.verify_consistency(n, cp.size, list(proofs[cp.size]), roots[n],
                                          cp.root_hash)
            except InvalidProof as exc:
                problem = f"the log's consistency proof does not join them: {exc}"
        if problem is not None:
            raise SplitView(name, answer.source, cp.size, n, problem)
        out.append(Confirmation(name, answer.source, cp.size, cp.size > n))
    return tuple(out)


def observe_export(view: LogView, export: LedgerExport,
                   proof: Sequence[bytes] | None = None) -> Checkpoint:
    """Move a kept view to an audited export's last checkpoint (LogView.observe: co-signed by the
    bundle's quorum and consistent with the checkpoint kept). A kept size no larger than the
    export's is checked against the export's own entries; a larger one (the export is older than
    what this client saw) needs the log's PROOF(n, kept size) as ``proof``: ForkedView without."""
    n = len(export.entries)
    if view.size > n:
        if proof is None:
            raise ForkedView(f"the export (size {n}) is older than the checkpoint of size "
                             f"{view.size} seen before, and the log gives no proof joining them")
    else:
        leaves = [merkle.leaf_hash(e) for e in export.entries]
        proof = merkle.consistency_proof(leaves, view.size) if 0 < view.size < n else []
    return view.observe(export.checkpoints[-1], proof)


def _roots(leaves: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """MTH of the first ``size`` leaves for each size, in one pass."""
    tree = merkle.CompactRange()
    out = {}
    for size in sorted(set(sizes)):
        for leaf in leaves[tree.size:size]:
            tree.append(leaf)
        out[size] = tree.root()
    return out
