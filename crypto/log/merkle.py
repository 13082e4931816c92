"""The ledger's Merkle tree: RFC 9162 §2.1 (the RFC 6962 tree, certificate-transparency style).

A pure library (no I/O) over SHA-256. Hashes are 32-byte ``bytes``.

Hashing (RFC 9162 §2.1.1):

* leaf  — ``SHA-256(0x00 || entry)``;
* node  — ``SHA-256(0x01 || left || right)``;
* MTH({}) = ``SHA-256()`` (``EMPTY_ROOT``); MTH of one entry is its leaf hash; for n > 1 with k
  the largest power of two < n, ``MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))``.

Node addressing (what storage keeps): ``(level, index)`` names the complete, aligned subtree over
the leaves ``[index·2^level, (index+1)·2^level)``; level 0 holds the leaf hashes. A node, once
complete, never changes, so the log stores each one once (``CompactRange.append`` returns them).
Every range a proof needs (``inclusion_path_ranges``, ``consistency_proof_ranges``) has its start
aligned to the largest power of two not above its size, so its MTH is the right fold of the hashes
of its ``complete_subtrees`` decomposition: at most 2·64 node reads for any proof.

Proofs are lists of hashes in the RFC's order: PATH(m, D[n]) of §2.1.3.1 (bottom-up) and
PROOF(m, D[n]) of §2.1.4.1. ``verify_inclusion`` (§2.1.3.2) and ``verify_consistency``
(§2.1.4.2) return ``None`` or raise :class:`~crypto.errors.InvalidProof`; never ``False``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import DecodeError, InvalidProof

HASH_LEN = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 2**64 - 1  # RFC 9162 tree heads and proofs carry tree_size as a uint64

_LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1 (domain separation, §2.1.1 last paragraph)
_NODE_PREFIX = b"\x01"

_INCLUSION = "merkle inclusion proof"
_CONSISTENCY = "merkle consistency proof"

Node = tuple[int, int]  # (level, index): the subtree over [index·2^level, (index+1)·2^level)
Range = tuple[int, int]  # [start, end) in leaves


# --- hashing (RFC 9162 §2.1.1) ----------------------------------------------------------------

def leaf_hash(entry: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(_LEAF_PREFIX + bytes(entry)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right); both children must be 32-byte hashes."""
    return _node(_hash_arg(left, "left"), _hash_arg(right, "right"))


def _hash_arg(h: bytes, name: str) -> bytes:
    if not isinstance(h, (bytes, bytearray, memoryview)) or len(h) != HASH_LEN:
        raise DecodeError(f"{name} is not a {HASH_LEN}-byte hash")
    return bytes(h)


def _split(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of §2.1.1 from the n leaf hashes, iteratively (level by level).

    Pairing neighbours level by level and carrying an unpaired last node up unchanged builds
    exactly the §2.1.1 tree (whose left subtree is always the perfect one of size k).
    """
    level = [_hash_arg(h, f"leaf hash {i}") for i, h in enumerate(leaf_hashes)]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# --- ranges and complete subtrees -------------------------------------------------------------

def complete_subtrees(start: int, end: int) -> list[Node]:
    """The leaf range [start, end) as maximal complete aligned subtrees, left to right."""
    if not 0 <= start <= end:
        raise ValueError(f"not a leaf range: [{start}, {end})")
    out: list[Node] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)  # largest power of two that fits
        if start:
            size = min(size, start & -start)  # and that start is aligned to
        level = size.bit_length() - 1
        out.append((level, start >> level))
        start += size
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """node(h0, node(h1, … node(h_{k-2}, h_{k-1}))): the MTH of a range from its decomposition.

    Valid for ranges whose start is aligned to the largest power of two ≤ their size (all the
    ranges proofs use): such a range's decomposition has strictly decreasing sizes, and §2.1.1
    splits it into its first complete subtree and the rest. ``fold([])`` is ``EMPTY_ROOT``.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = _hash_arg(hashes[-1], "subtree hash")
    for h in reversed(hashes[:-1]):
        acc = _node(_hash_arg(h, "subtree hash"), acc)
    return acc


def inclusion_path_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTH form PATH(index, D[size]) of §2.1.3.1, bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:  # §2.1.3.1: PATH(m, D[n]) for n > 1
        mid = lo + _split(hi - lo)
        if index < mid:  # m < k: PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((mid, hi))
            hi = mid
        else:  # m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()  # the recursion appends on the way back up: deepest sibling first
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose MTH form PROOF(old_size, D[new_size]) of §2.1.4.1, in order.

    Empty when old_size == new_size (§2.1.4.1) or old_size == 0 (nothing to prove: every tree
    extends the empty one).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[Range] = []
    lo, hi, b = 0, new_size, True  # SUBPROOF(m, D[lo:hi], b), m = old_size - lo
    while True:
        m = old_size - lo
        if m == hi - lo:  # SUBPROOF(m, D[m], true) = {}, SUBPROOF(m, D[m], false) = {MTH(D[m])}
            if not b:
                ranges.append((lo, hi))
            break
        mid = lo + _split(hi - lo)
        if old_size <= mid:  # m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((mid, hi))
            hi = mid
        else:  # m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((lo, mid))
            lo, b = mid, False
    ranges.reverse()
    return ranges


def nodes_needed(ranges: Iterable[Range]) -> set[Node]:
    """Every (level, index) node that ``assemble`` will ask for, to read them in one query."""
    return {node for start, end in ranges for node in complete_subtrees(start, end)}


def assemble(
    ranges: Iterable[Range],
    get: Callable[[int, int], bytes] | Mapping[Node, bytes],
) -> list[bytes]:
    """The MTH of each range from stored complete-subtree hashes (``get(level, index)`` or a
    mapping keyed by ``(level, index)``), via ``complete_subtrees`` + ``fold``."""
    lookup = (lambda level, index: get[(level, index)]) if isinstance(get, Mapping) else get
    return [
        fold([lookup(level, index) for level, index in complete_subtrees(start, end)])
        for start, end in ranges
    ]


# --- the sequencer's right edge ---------------------------------------------------------------

class CompactRange:
    """The hashes of ``complete_subtrees(0, size)``: all a sequencer needs to append and to
    compute the root (the "compact range" of transparency-dev/merkle, RFC 9162 §2.1.1 tree)."""

    __slots__ = ("_size", "_nodes")

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
            raise ValueError(f"invalid tree size {size!r}")
        hashes = [_hash_arg(h, "compact range node") for h in nodes]
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} compact-range nodes, "
                             f"got {len(hashes)}")
        self._size = size
        self._nodes = hashes  # one per set bit of size, highest level first

    @property
    def size(self) -> int:
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def addresses(self) -> list[Node]:
        """The (level, index) of each entry of ``nodes``: ``complete_subtrees(0, size)``."""
        return complete_subtrees(0, self._size)

    def append(self, leaf_hash: bytes) -> list[tuple[Node, bytes]]:
        """Add one leaf; return every node it completes, the leaf itself first, bottom-up."""
        h = _hash_arg(leaf_hash, "leaf hash")
        if self._size == MAX_TREE_SIZE:
            raise ValueError("the tree is full")
        level, index = 0, self._size
        new = [((level, index), h)]
        while index & 1:  # a right child: its left sibling is the last (lowest) compact node
            h = _node(self._nodes.pop(), h)
            level, index = level + 1, index >> 1
            new.append(((level, index), h))
        self._nodes.append(h)
        self._size += 1
        return new

    def root(self) -> bytes:
        """MTH(D[size]): the right fold of the compact nodes (``EMPTY_ROOT`` when empty)."""
        return fold(self._nodes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, nodes={len(self._nodes)})"


# --- proof generation from a full list (tests, small trees) -----------------------------------

def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete subtree hash: ``levels[level][index]``."""
    levels = [[_hash_arg(h, f"leaf hash {i}") for i, h in enumerate(leaf_hashes)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([_node(below[2 * i], below[2 * i + 1]) for i in range(len(below) // 2)])
    return levels


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (§2.1.3.1) for the tree of all of ``leaf_hashes``."""
    ranges = inclusion_path_ranges(index, len(leaf_hashes))
    levels = _levels(leaf_hashes)
    return assemble(ranges, lambda level, i: levels[level][i])


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) (§2.1.4.1) for the tree of all of ``leaf_hashes`` as the new tree."""
    ranges = consistency_proof_ranges(old_size, len(leaf_hashes))
    levels = _levels(leaf_hashes)
    return assemble(ranges, lambda level, i: levels[level][i])


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -----------------------------------------------

def _check_size(what: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TREE_SIZE:
        raise InvalidProof(what, f"{name} {value!r} is not a uint64")


def _check_hash(what: str, name: str, h: bytes) -> bytes:
    if not isinstance(h, (bytes, bytearray, memoryview)):
        raise InvalidProof(what, f"{name} is not bytes")
    if len(h) != HASH_LEN:
        raise InvalidProof(what, f"{name} is {len(h)} bytes, not {HASH_LEN}")
    return bytes(h)


def _check_path(what: str, proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, (bytes, bytearray, memoryview, str)):
        raise InvalidProof(what, "the proof must be a sequence of hashes")
    return [_check_hash(what, f"proof[{i}]", p) for i, p in enumerate(proof)]


def _inclusion_len(index: int, size: int) -> int:
    """len(PATH(index, D[size])): the levels below where the paths to index and size − 1 part,
    plus one left sibling per set bit of index above that (transparency-dev decompInclProof)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_len(old_size: int, new_size: int) -> int:
    """len(PROOF(old_size, D[new_size])) for 0 < old_size < new_size."""
    shift = (old_size & -old_size).bit_length() - 1  # trailing zeros of old_size
    seed = 0 if old_size == 1 << shift else 1  # §2.1.4.2 step 2 supplies it otherwise
    return seed + _inclusion_len(old_size - 1, new_size) - shift


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` (§2.1.3.2 steps 1–4).

    Raises InvalidProof for a malformed proof (index ≥ size, wrong length, non-32-byte hashes).
    """
    _check_size(_INCLUSION, "leaf index", index)
    _check_size(_INCLUSION, "tree size", size)
    if index >= size:  # step 1
        raise InvalidProof(_INCLUSION, f"leaf index {index} >= tree size {size}")
    r = _check_hash(_INCLUSION, "leaf hash", leaf_hash)
    path = _check_path(_INCLUSION, proof)
    if len(path) != (want := _inclusion_len(index, size)):
        raise InvalidProof(_INCLUSION, f"{len(path)} hashes, a proof for ({index}, {size}) has "
                                       f"{want}")
    fn, sn = index, size - 1  # step 2 (step 3: r = leaf hash, above)
    for p in path:  # step 4
        if sn == 0:  # 4a
            raise InvalidProof(_INCLUSION, "the path is longer than the tree is high")
        if fn & 1 or fn == sn:  # 4b
            r = _node(p, r)  # 4b.i
            if not fn & 1:  # 4b.ii
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)  # otherwise 4b.i
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5, first half
        raise InvalidProof(_INCLUSION, "the path is shorter than the tree is high")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    expected = _check_hash(_INCLUSION, "root", root)
    r = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(r, expected):  # step 5, second half
        raise InvalidProof(_INCLUSION, "the computed root differs from the tree head's root")


def root_from_consistency_proof(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes
) -> bytes:
    """The new root that ``proof`` proves ``old_root`` extends to (§2.1.4.2 steps 1–6, step 7's
    check of fr and sn). Defined for 0 < old_size ≤ new_size."""
    _check_size(_CONSISTENCY, "old size", old_size)
    _check_size(_CONSISTENCY, "new size", new_size)
    first_hash = _check_hash(_CONSISTENCY, "old root", old_root)
    path = _check_path(_CONSISTENCY, proof)
    if old_size > new_size:
        raise InvalidProof(_CONSISTENCY, f"old size {old_size} > new size {new_size}")
    if old_size == new_size:  # §2.1.4.1: PROOF(m, D[m]) is empty
        if path:
            raise InvalidProof(_CONSISTENCY, "equal sizes take an empty proof")
        return first_hash
    if old_size == 0:
        raise InvalidProof(_CONSISTENCY, "a proof from the empty tree determines no root")
    if not path:  # step 1
        raise InvalidProof(_CONSISTENCY, "empty proof")
    if len(path) != (want := _consistency_len(old_size, new_size)):
        raise InvalidProof(_CONSISTENCY, f"{len(path)} hashes, a proof from {old_size} to "
                                         f"{new_size} has {want}")
    if old_size & (old_size - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, first_hash)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise InvalidProof(_CONSISTENCY, "the path is longer than the tree is high")
        if fn & 1 or fn == sn:  # 6b
            fr = _node(c, fr)  # 6b.i
            sr = _node(c, sr)  # 6b.ii
            if not fn & 1:  # 6b.iii
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)  # otherwise 6b.i
        fn >>= 1  # 6c
        sn >>= 1
    if sn != 0:  # step 7
        raise InvalidProof(_CONSISTENCY, "the path is shorter than the tree is high")
    if not hmac.compare_digest(fr, first_hash):  # step 7
        raise InvalidProof(_CONSISTENCY, "the computed old root differs from the old tree head")
    return sr


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: the tree (new_size, new_root) extends (old_size, old_root).

    old_size == new_size needs an empty proof and equal roots; old_size == 0 < new_size is
    consistent with an empty proof (as transparency-dev/merkle), but the old root must then be
    MTH({}) = ``EMPTY_ROOT`` — no tree of size 0 has any other root.
    """
    _check_size(_CONSISTENCY, "old size", old_size)
    _check_size(_CONSISTENCY, "new size", new_size)
    first_hash = _check_hash(_CONSISTENCY, "old root", old_root)
    second_hash = _check_hash(_CONSISTENCY, "new root", new_root)
    path = _check_path(_CONSISTENCY, proof)
    if old_size > new_size:
        raise InvalidProof(_CONSISTENCY, f"old size {old_size} > new size {new_size}")
    if old_size == 0:
        if not hmac.compare_digest(first_hash, EMPTY_ROOT):
            raise InvalidProof(_CONSISTENCY, "the root of the empty tree is SHA-256()")
        if path:
            raise InvalidProof(_CONSISTENCY, "a proof from the empty tree is empty")
        if new_size == 0 and not hmac.compare_digest(second_hash, EMPTY_ROOT):
            raise InvalidProof(_CONSISTENCY, "the root of the empty tree is SHA-256()")
        return
    sr = root_from_consistency_proof(old_size, new_size, path, first_hash)
    if not hmac.compare_digest(sr, second_hash):  # step 7
        raise InvalidProof(_CONSISTENCY, "the computed new root differs from the new tree head")


# --- proof objects ----------------------------------------------------------------------------

@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162's inclusion_proof_v2 without the log id: PATH(leaf_index, D[tree_size])."""

    leaf_index: int
    tree_size: int
    inclusion_path: tuple[bytes, ...]

    def verify(self, leaf_hash: bytes, root: bytes) -> None:
        verify_inclusion(leaf_hash, self.leaf_index, self.tree_size, self.inclusion_path, root)


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162's consistency_proof_v2 without the log id: PROOF(old_size, D[new_size])."""

    old_size: int
    new_size: int
    consistency_path: tuple[bytes, ...]

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        verify_consistency(self.old_size, self.new_size, self.consistency_path, old_root,
                           new_root)
