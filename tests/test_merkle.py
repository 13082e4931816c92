"""Tests of crypto.log.merkle: RFC 9162 §2.1 Merkle trees, proofs and their verification.

Vectors (tests/vectors/merkle/): the transparency-dev/merkle JSON probes (transparency-dev/, see its
SOURCE.md) and the RFC 6962 reference tree of eight leaves (rfc6962_reference.json). Generated
proofs are cross-checked against a direct transcription of the RFC's recursive PATH and
PROOF/SUBPROOF definitions; negative probes follow transparency-dev's corruptInclusionProof and
corruptConsistencyProof, and go further (every single-bit flip).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import DecodeError, InvalidProof
from crypto.log.merkle import (
    EMPTY_ROOT,
    HASH_LEN,
    MAX_TREE_SIZE,
    CompactRange,
    ConsistencyProof,
    InclusionProof,
    assemble,
    complete_subtrees,
    consistency_proof,
    consistency_proof_ranges,
    fold,
    inclusion_path_ranges,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_needed,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

FAST = settings(max_examples=60, deadline=None)
VECTORS = Path(__file__).parent / "vectors" / "merkle"
REF = json.loads((VECTORS / "rfc6962_reference.json").read_text())
TD = VECTORS / "transparency-dev"
U64 = 2**64 - 1
b = bytes.fromhex


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


LEAVES = _leaves(300)
REF_LEAVES = [leaf_hash(b(x)) for x in REF["leaf_inputs_hex"]]


# --- direct transcription of the RFC's recursive definitions ---------------------------------
# D is a list of leaf hashes, so MTH({d0}) is d0 itself (RFC 9162 §2.1.1 applied to hashes).

def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:  # §2.1.3.1
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:  # §2.1.4.1
    return ref_subproof(m, d, True)


def ref_subproof(m: int, d: list[bytes], b_: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b_ else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b_) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


# --- hashing ---------------------------------------------------------------------------------

def test_hash_definitions():
    assert HASH_LEN == 32
    assert EMPTY_ROOT == b("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = bytes(range(32)), bytes(range(32, 64))
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert root_from_leaves([]) == EMPTY_ROOT
    assert root_from_leaves([left]) == left


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "x" * 32, None])
def test_hash_length_is_enforced(bad):
    with pytest.raises(DecodeError):
        node_hash(bad, bytes(32))
    with pytest.raises(DecodeError):
        node_hash(bytes(32), bad)
    with pytest.raises(DecodeError):
        root_from_leaves([bytes(32), bad])
    with pytest.raises(DecodeError):
        fold([bad, bytes(32)])
    with pytest.raises(DecodeError):
        CompactRange().append(bad)


def test_root_of_100000_leaves_is_iterative_and_agrees_with_compact_range():
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(100_000)]
    cr = CompactRange()
    for h in leaves:
        cr.append(h)
    assert root_from_leaves(leaves) == cr.root()


# --- RFC 6962 reference tree -----------------------------------------------------------------

def test_reference_roots():
    for n, want in enumerate(REF["root_hashes_by_size"]):
        assert root_from_leaves(REF_LEAVES[:n]).hex() == want
        assert ref_mth(REF_LEAVES[:n]).hex() == want


def test_reference_node_hashes_are_the_complete_subtrees():
    for level, row in enumerate(REF["node_hashes_by_level"]):
        w = 1 << level
        for index, want in enumerate(row):
            assert root_from_leaves(REF_LEAVES[index * w:(index + 1) * w]).hex() == want


def test_reference_compact_ranges():
    nodes = REF["node_hashes_by_level"]
    cr = CompactRange()
    for n in range(9):
        want = [tuple(a) for a in REF["compact_ranges_by_size"][n]]
        assert cr.size == n and cr.addresses() == want == complete_subtrees(0, n)
        assert [h.hex() for h in cr.nodes] == [nodes[lv][i] for lv, i in want]
        assert cr.root().hex() == REF["root_hashes_by_size"][n]
        if n < 8:
            for (lv, i), h in cr.append(REF_LEAVES[n]):
                assert h.hex() == nodes[lv][i]


@pytest.mark.parametrize("v", REF["inclusion_proofs"], ids=lambda v: f"{v['index']}-{v['size']}")
def test_reference_inclusion_proofs(v):
    leaves, index = REF_LEAVES[: v["size"]], v["index"]
    proof = [b(h) for h in v["proof"]]
    assert inclusion_proof(leaves, index) == proof == ref_path(index, leaves)
    root = b(REF["root_hashes_by_size"][v["size"]])
    assert verify_inclusion(leaves[index], index, v["size"], proof, root) is None
    assert InclusionProof(index, v["size"], tuple(proof)).verify(leaves[index], root) is None


@pytest.mark.parametrize("v", REF["consistency_proofs"],
                         ids=lambda v: f"{v['old_size']}-{v['new_size']}")
def test_reference_consistency_proofs(v):
    m, n = v["old_size"], v["new_size"]
    proof = [b(h) for h in v["proof"]]
    assert consistency_proof(REF_LEAVES[:n], m) == proof == ref_proof(m, REF_LEAVES[:n])
    roots = REF["root_hashes_by_size"]
    assert verify_consistency(m, n, proof, b(roots[m]), b(roots[n])) is None
    assert ConsistencyProof(m, n, tuple(proof)).verify(b(roots[m]), b(roots[n])) is None


# --- transparency-dev/merkle probes ----------------------------------------------------------

def _load(kind: str) -> list[tuple[str, dict]]:
    out = []
    for path in sorted((TD / kind).glob("*/*.json")):
        raw = json.loads(path.read_text())
        probe = {k: v for k, v in raw.items() if k not in ("desc", "wantErr")}
        for k, v in probe.items():
            if isinstance(v, str):
                probe[k] = base64.b64decode(v)
        probe["proof"] = [base64.b64decode(p) for p in raw["proof"] or []]
        out.append((f"{path.parent.name}/{path.name}", {**probe, "desc": raw["desc"],
                                                        "wantErr": raw["wantErr"],
                                                        "dir": path.parent.name}))
    return out


INCLUSION = _load("inclusion")
CONSISTENCY = _load("consistency")
SOME_HASH = b(REF["placeholder_hashes"]["sha256SomeHash"])


def test_all_happy_paths_are_present():
    assert sorted(n for n, p in INCLUSION if p["desc"] == "happy path") == [
        f"{i}/happy-path.json" for i in range(5)]
    assert sorted(n for n, p in CONSISTENCY if p["desc"] == "happy path") == [
        f"{i}/happy-path.json" for i in range(5)]


def _run_inclusion(p: dict) -> None:
    verify_inclusion(p["leafHash"], p["leafIdx"], p["treeSize"], p["proof"], p["root"])


def _run_consistency(p: dict) -> None:
    verify_consistency(p["size1"], p["size2"], p["proof"], p["root1"], p["root2"])


@pytest.mark.parametrize("name,p", INCLUSION, ids=[n for n, _ in INCLUSION])
def test_transparency_dev_inclusion_probe(name, p):
    if p["wantErr"]:
        with pytest.raises(InvalidProof):
            _run_inclusion(p)
    else:
        assert _run_inclusion(p) is None
        # the same proof is what we generate for the reference tree
        leaves = REF_LEAVES[: p["treeSize"]]
        assert leaves[p["leafIdx"]] == p["leafHash"] and root_from_leaves(leaves) == p["root"]
        assert inclusion_proof(leaves, p["leafIdx"]) == p["proof"]


@pytest.mark.parametrize("name,p", CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_transparency_dev_consistency_probe(name, p):
    if p["wantErr"]:
        with pytest.raises(InvalidProof):
            _run_consistency(p)
    else:
        assert _run_consistency(p) is None
        leaves = REF_LEAVES[: p["size2"]]
        assert root_from_leaves(leaves[: p["size1"]]) == p["root1"]
        assert root_from_leaves(leaves) == p["root2"]
        assert consistency_proof(leaves, p["size1"]) == p["proof"]


def corrupt_inclusion(idx: int, size: int, proof: list[bytes], root: bytes, leaf: bytes):
    """transparency-dev corruptInclusionProof, with Go's uint64 arithmetic."""
    probes = [
        ((idx - 1) & U64, size, root, leaf, proof, "leafIdx - 1"),
        (idx + 1, size, root, leaf, proof, "leafIdx + 1"),
        (idx ^ 2, size, root, leaf, proof, "leafIdx ^ 2"),
        (idx, (size * 2) & U64, root, leaf, proof, "treeSize * 2"),
        (idx, size // 2, root, leaf, proof, "treeSize / 2"),
        (idx, size, root, b"WrongLeaf", proof, "wrong leaf"),
        (idx, size, EMPTY_ROOT, leaf, proof, "empty root"),
        (idx, size, SOME_HASH, leaf, proof, "random root"),
        (idx, size, root, leaf, proof + [b""], "trailing garbage"),
        (idx, size, root, leaf, proof + [root], "trailing root"),
        (idx, size, root, leaf, [b""] + proof, "preceding garbage"),
        (idx, size, root, leaf, [root] + proof, "preceding root"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((idx, size, root, leaf, wrong, f"modified proof[{i}] bit 3"))
    if proof:
        probes.append((idx, size, root, leaf, proof[:-1], "removed component"))
    if len(proof) > 1:
        probes.append((idx, size, root, leaf, [proof[0], SOME_HASH] + proof[1:],
                       "inserted component"))
    return probes


def corrupt_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]):
    """transparency-dev corruptConsistencyProof, with Go's uint64 arithmetic."""
    probes = [
        ((size1 - 1) & U64, size2, root1, root2, proof, "size1 - 1"),
        (size1 + 1, size2, root1, root2, proof, "size1 + 1"),
        (size1 ^ 2, size2, root1, root2, proof, "size1 ^ 2"),
        (size1, (size2 * 2) & U64, root1, root2, proof, "size2 * 2"),
        (size1, size2 // 2, root1, root2, proof, "size2 / 2"),
        (size1, size2, b"WrongRoot", root2, proof, "wrong root1"),
        (size1, size2, root1, b"WrongRoot", proof, "wrong root2"),
        (size1, size2, root2, root1, proof, "swapped roots"),
        (size1, size2, root1, root2, [], "empty proof"),
        (size1, size2, root1, root2, proof + [b""], "trailing garbage"),
        (size1, size2, root1, root2, proof + [root1], "trailing root1"),
        (size1, size2, root1, root2, proof + [root2], "trailing root2"),
        (size1, size2, root1, root2, [b""] + proof, "preceding garbage"),
        (size1, size2, root1, root2, [root1] + proof, "preceding root1"),
        (size1, size2, root1, root2, [root2] + proof, "preceding root2"),
        (size1, size2, root1, root2, [proof[0]] + proof, "preceding proof[0]"),
        (size1, size2, root1, root2, proof[:-1], "truncated proof"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((size1, size2, root1, root2, wrong, f"modified proof[{i}] bit 4"))
    return probes


def _rejects(desc, verify, *args) -> None:
    try:
        verify(*args)
    except InvalidProof:
        return
    pytest.fail(f"accepted a corrupted proof: {desc}")


def _happy(probes):
    return [(n, p) for n, p in probes if not p["wantErr"]]


@pytest.mark.parametrize("name,p", _happy(INCLUSION), ids=[n for n, _ in _happy(INCLUSION)])
def test_derived_inclusion_corruptions_fail(name, p):
    probes = corrupt_inclusion(p["leafIdx"], p["treeSize"], p["proof"], p["root"], p["leafHash"])
    for idx, size, root, leaf, proof, desc in probes:
        _rejects(desc, verify_inclusion, leaf, idx, size, proof, root)
    # the corruptions transcribed from upstream are among those derived here
    copied = [q for _, q in INCLUSION if q["wantErr"] and q["dir"] == p["dir"]]
    derived = {d: (i, s, r, lf, pr) for i, s, r, lf, pr, d in probes}
    for q in copied:
        assert derived[q["desc"]] == (q["leafIdx"], q["treeSize"], q["root"], q["leafHash"],
                                      q["proof"])


@pytest.mark.parametrize("name,p", _happy(CONSISTENCY), ids=[n for n, _ in _happy(CONSISTENCY)])
def test_derived_consistency_corruptions_fail(name, p):
    if not p["proof"]:
        return  # as upstream: only non-trivial proofs are corrupted
    probes = corrupt_consistency(p["size1"], p["size2"], p["root1"], p["root2"], p["proof"])
    for size1, size2, root1, root2, proof, desc in probes:
        _rejects(desc, verify_consistency, size1, size2, proof, root1, root2)
    copied = [q for _, q in CONSISTENCY if q["wantErr"] and q["dir"] == p["dir"]]
    derived = {d: (s1, s2, r1, r2, pr) for s1, s2, r1, r2, pr, d in probes}
    for q in copied:
        assert derived[q["desc"]] == (q["size1"], q["size2"], q["root1"], q["root2"], q["proof"])


def _bit_flips(h: bytes):
    for i in range(len(h)):
        for bit in range(8):
            yield h[:i] + bytes([h[i] ^ (1 << bit)]) + h[i + 1:]


@pytest.mark.parametrize("name,p", _happy(INCLUSION), ids=[n for n, _ in _happy(INCLUSION)])
def test_every_single_bit_flip_fails_inclusion(name, p):
    idx, size, root, leaf, proof = (p["leafIdx"], p["treeSize"], p["root"], p["leafHash"],
                                    p["proof"])
    for j in range(len(proof)):
        for flipped in _bit_flips(proof[j]):
            with pytest.raises(InvalidProof):
                verify_inclusion(leaf, idx, size, proof[:j] + [flipped] + proof[j + 1:], root)
    for flipped in _bit_flips(leaf):
        with pytest.raises(InvalidProof):
            verify_inclusion(flipped, idx, size, proof, root)
    for flipped in _bit_flips(root):
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf, idx, size, proof, flipped)


@pytest.mark.parametrize("name,p", _happy(CONSISTENCY), ids=[n for n, _ in _happy(CONSISTENCY)])
def test_every_single_bit_flip_fails_consistency(name, p):
    s1, s2, r1, r2, proof = p["size1"], p["size2"], p["root1"], p["root2"], p["proof"]
    for j in range(len(proof)):
        for flipped in _bit_flips(proof[j]):
            with pytest.raises(InvalidProof):
                verify_consistency(s1, s2, proof[:j] + [flipped] + proof[j + 1:], r1, r2)
    for flipped in _bit_flips(r1):
        with pytest.raises(InvalidProof):
            verify_consistency(s1, s2, proof, flipped, r2)
    for flipped in _bit_flips(r2):
        with pytest.raises(InvalidProof):
            verify_consistency(s1, s2, proof, r1, flipped)


# --- transparency-dev's table tests (TestVerifyInclusion*, TestVerifyConsistency) ------------

def test_inclusion_single_entry():
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h) is None
    for root, leaf in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf, 0, 1, [], root)


@pytest.mark.parametrize("index,size", [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_invalid_trivial_probes(index, size):
    for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf, index, size, [], root)


# transparency-dev uses placeholder roots ("don't care 1"/"2", 12 bytes); this verifier checks
# every hash length, so the placeholders are 32-byte hashes here. Where the placeholder stands for
# the old root of an empty tree, it is EMPTY_ROOT (see test_empty_tree_root_must_be_empty_root).
R1, R2 = leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2")
CONSISTENCY_TABLE = [
    (0, 0, R1, R2, [], True),
    (1, 1, R1, R2, [], True),
    (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], False),
    (0, 1, EMPTY_ROOT, R2, [], False),
    (1, 1, R2, R2, [], False),
    (1, 0, R1, R2, [], True),
    (2, 1, R1, R2, [], True),
    (1, 2, R1, R2, [], True),
    (0, 0, EMPTY_ROOT, R2, [], True),
    (1, 1, EMPTY_ROOT, R2, [], True),
    (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
    (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
    (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], True),
]


@pytest.mark.parametrize("size1,size2,root1,root2,proof,want_err", CONSISTENCY_TABLE)
def test_consistency_table(size1, size2, root1, root2, proof, want_err):
    if want_err:
        with pytest.raises(InvalidProof):
            verify_consistency(size1, size2, proof, root1, root2)
    else:
        assert verify_consistency(size1, size2, proof, root1, root2) is None


def test_empty_tree_root_must_be_empty_root():
    # Stricter than transparency-dev, which ignores root1 when size1 == 0.
    for size2 in (0, 1, 5):
        with pytest.raises(InvalidProof):
            verify_consistency(0, size2, [], R1, R1 if size2 == 0 else R2)
    with pytest.raises(InvalidProof):
        verify_consistency(0, 0, [], EMPTY_ROOT, R1)
    with pytest.raises(InvalidProof):
        root_from_consistency_proof(0, 3, [], EMPTY_ROOT)
    assert consistency_proof_ranges(0, 7) == [] and consistency_proof(LEAVES[:7], 0) == []


@pytest.mark.parametrize("bad", [-1, U64 + 1, True, 1.0, "3", None])
def test_sizes_must_be_uint64(bad):
    h = LEAVES[0]
    with pytest.raises(InvalidProof):
        verify_inclusion(h, bad, 4, [], h)
    with pytest.raises(InvalidProof):
        verify_inclusion(h, 0, bad, [], h)
    with pytest.raises(InvalidProof):
        verify_consistency(bad, 4, [], h, h)
    with pytest.raises(InvalidProof):
        verify_consistency(1, bad, [], h, h)


def test_proof_must_be_a_sequence_of_hashes():
    leaves = LEAVES[:4]
    root, proof = root_from_leaves(leaves), inclusion_proof(leaves, 1)
    for bad in (b"".join(proof), proof[0].hex(), [p.hex() for p in proof], [*proof[:-1], None]):
        with pytest.raises(InvalidProof):
            verify_inclusion(leaves[1], 1, 4, bad, root)
    assert verify_inclusion(leaves[1], 1, 4, [bytearray(p) for p in proof], root) is None


def test_invalid_proof_names_what_failed():
    with pytest.raises(InvalidProof) as e:
        verify_inclusion(LEAVES[0], 3, 3, [], LEAVES[0])
    assert e.value.what == "merkle inclusion proof" and "3 >= tree size 3" in e.value.detail
    with pytest.raises(InvalidProof) as e:
        verify_consistency(4, 3, [], LEAVES[0], LEAVES[1])
    assert e.value.what == "merkle consistency proof"


def test_root_from_proofs():
    leaves = LEAVES[:13]
    assert root_from_inclusion_proof(leaves[6], 6, 13, inclusion_proof(leaves, 6)) == \
        root_from_leaves(leaves)
    old = root_from_leaves(leaves[:5])
    assert root_from_consistency_proof(5, 13, consistency_proof(leaves, 5), old) == \
        root_from_leaves(leaves)
    assert root_from_consistency_proof(5, 5, [], old) == old


# --- exhaustive and property tests against the RFC pseudocode --------------------------------

def test_exhaustive_small_trees():
    for n in range(1, 40):
        d = LEAVES[:n]
        root = root_from_leaves(d)
        assert root == ref_mth(d)
        for m in range(n):
            proof = inclusion_proof(d, m)
            assert proof == ref_path(m, d)
            assert len(inclusion_path_ranges(m, n)) == len(proof)
            verify_inclusion(d[m], m, n, proof, root)
        for m in range(1, n + 1):
            proof = consistency_proof(d, m)
            assert proof == ref_proof(m, d)
            verify_consistency(m, n, proof, root_from_leaves(d[:m]), root)


@st.composite
def size_and_index(draw, max_size=300):
    size = draw(st.integers(1, max_size))
    return size, draw(st.integers(0, size - 1))


@st.composite
def old_and_new(draw, max_size=300):
    new = draw(st.integers(1, max_size))
    return draw(st.integers(1, new)), new


@FAST
@given(size_and_index())
def test_inclusion_matches_rfc_and_verifies(si):
    size, index = si
    d = LEAVES[:size]
    proof = inclusion_proof(d, index)
    assert proof == ref_path(index, d)
    root = root_from_leaves(d)
    assert root == ref_mth(d)
    assert verify_inclusion(d[index], index, size, proof, root) is None
    for idx, sz, rt, leaf, pr, desc in corrupt_inclusion(index, size, proof, root, d[index]):
        _rejects(desc, verify_inclusion, leaf, idx, sz, pr, rt)


@FAST
@given(old_and_new())
def test_consistency_matches_rfc_and_verifies(mn):
    m, n = mn
    d = LEAVES[:n]
    proof = consistency_proof(d, m)
    assert proof == ref_proof(m, d)
    old, new = root_from_leaves(d[:m]), root_from_leaves(d)
    assert verify_consistency(m, n, proof, old, new) is None
    if proof:
        for s1, s2, r1, r2, pr, desc in corrupt_consistency(m, n, old, new, proof):
            _rejects(desc, verify_consistency, s1, s2, pr, r1, r2)


@FAST
@given(size_and_index(), st.data())
def test_inclusion_fails_for_any_other_index_or_a_random_corruption(si, data):
    size, index = si
    d = LEAVES[:size]
    proof, root = inclusion_proof(d, index), root_from_leaves(d)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index)) if size > 1 else 1
    with pytest.raises(InvalidProof):
        verify_inclusion(d[index], other, size, proof, root)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 8 * HASH_LEN - 1))
        bad = bytearray(proof[j])
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidProof):
            verify_inclusion(d[index], index, size, proof[:j] + [bytes(bad)] + proof[j + 1:], root)
        with pytest.raises(InvalidProof):
            verify_inclusion(d[index], index, size, proof[:j] + proof[j + 1:], root)
    with pytest.raises(InvalidProof):
        verify_inclusion(d[index], index, size, proof + [SOME_HASH], root)


@FAST
@given(old_and_new(), st.data())
def test_consistency_fails_for_another_old_size_or_a_random_corruption(mn, data):
    m, n = mn
    d = LEAVES[:n]
    proof, old, new = consistency_proof(d, m), root_from_leaves(d[:m]), root_from_leaves(d)
    if m < n:
        other = data.draw(st.integers(1, n).filter(lambda x: x != m))
        with pytest.raises(InvalidProof):
            verify_consistency(other, n, proof, old, new)
        j = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 8 * HASH_LEN - 1))
        bad = bytearray(proof[j])
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidProof):
            verify_consistency(m, n, proof[:j] + [bytes(bad)] + proof[j + 1:], old, new)
    with pytest.raises(InvalidProof):
        verify_consistency(m, n, proof + [SOME_HASH], old, new)


# --- ranges, complete subtrees, fold ---------------------------------------------------------

@FAST
@given(st.integers(0, 2**70), st.integers(0, 2**20))
def test_complete_subtrees_are_a_maximal_aligned_cover(start, length):
    end = start + length
    nodes = complete_subtrees(start, end)
    pos = start
    for level, index in nodes:
        assert index << level == pos  # aligned, contiguous
        pos += 1 << level
    assert pos == end
    for (l1, i1), (l2, i2) in zip(nodes, nodes[1:], strict=False):
        assert not (l1 == l2 and i1 % 2 == 0 and i2 == i1 + 1)  # siblings would have merged
    assert len(nodes) <= 2 * max(1, length.bit_length())


def test_complete_subtrees_rejects_bad_ranges():
    for start, end in [(-1, 3), (5, 4)]:
        with pytest.raises(ValueError):
            complete_subtrees(start, end)
    assert complete_subtrees(3, 3) == [] and fold([]) == EMPTY_ROOT


@FAST
@given(size_and_index(max_size=1000), st.integers(1, 1000))
def test_proof_ranges_fold_to_their_mth(si, extra):
    size, index = si
    leaves = _leaves(size + extra)
    cache: dict[tuple[int, int], bytes] = {}

    def get(level, i):
        if (level, i) not in cache:
            cache[(level, i)] = root_from_leaves(leaves[i << level:(i + 1) << level])
        return cache[(level, i)]

    n = size + extra
    for ranges in (inclusion_path_ranges(index, n), consistency_proof_ranges(size, n)):
        for (start, end), h in zip(ranges, assemble(ranges, get), strict=True):
            w = 1 << ((end - start).bit_length() - 1)
            assert start % w == 0  # the alignment fold relies on
            assert h == root_from_leaves(leaves[start:end])


def test_ranges_reject_impossible_arguments():
    for index, size in [(0, 0), (3, 3), (-1, 4)]:
        with pytest.raises(ValueError):
            inclusion_path_ranges(index, size)
    for old, new in [(4, 3), (-1, 3)]:
        with pytest.raises(ValueError):
            consistency_proof_ranges(old, new)
    assert consistency_proof_ranges(5, 5) == []


@pytest.mark.parametrize("size", [1_000_000, 2**63 + 12345, MAX_TREE_SIZE])
def test_nodes_needed_is_logarithmic(size):
    rng = random.Random(size)
    indices = [0, 1, size // 2, size - 2, size - 1] + [rng.randrange(size) for _ in range(50)]
    for index in indices:
        if 0 <= index < size:
            assert len(nodes_needed(inclusion_path_ranges(index, size))) <= 2 * 64
        if 0 < index < size:
            assert len(nodes_needed(consistency_proof_ranges(index, size))) <= 2 * 64
    if size == 1_000_000:
        worst = max(len(nodes_needed(inclusion_path_ranges(i, size))) for i in indices)
        assert worst <= 2 * size.bit_length()


# --- CompactRange ----------------------------------------------------------------------------

def test_compact_range_constructor_validates():
    with pytest.raises(ValueError):
        CompactRange(3, [LEAVES[0]])  # 3 = 0b11 has two nodes
    with pytest.raises(ValueError):
        CompactRange(-1)
    with pytest.raises(DecodeError):
        CompactRange(1, [b"short"])
    assert CompactRange().root() == EMPTY_ROOT and CompactRange().nodes == ()


@FAST
@given(st.integers(0, 300), st.data())
def test_compact_range_appends_store_every_node_proofs_need(n, data):
    leaves = LEAVES[:n]
    cr, store = CompactRange(), {}
    for i, h in enumerate(leaves):
        new = cr.append(h)
        assert new[0] == ((0, i), h)
        for addr, node in new:
            assert addr not in store
            store[addr] = node
        # a sequencer restarted from storage continues identically
        restarted = CompactRange(cr.size, [store[a] for a in cr.addresses()])
        assert restarted.nodes == cr.nodes and restarted.root() == cr.root()
    assert cr.size == n and cr.root() == root_from_leaves(leaves)
    assert len(store) == 2 * n - n.bit_count()  # every complete subtree, each once
    assert list(cr.nodes) == [store[a] for a in complete_subtrees(0, n)]
    if n == 0:
        return
    for _ in range(5):  # proofs at any size the log has had
        size = data.draw(st.integers(1, n))
        index = data.draw(st.integers(0, size - 1))
        old = data.draw(st.integers(0, size))
        root = root_from_leaves(leaves[:size])
        for ranges in (inclusion_path_ranges(index, size), consistency_proof_ranges(old, size)):
            assert nodes_needed(ranges) <= store.keys()
        proof = assemble(inclusion_path_ranges(index, size), store)
        assert proof == inclusion_proof(leaves[:size], index)
        verify_inclusion(leaves[index], index, size, proof, root)
        needed = nodes_needed(consistency_proof_ranges(old, size))
        subset = {a: store[a] for a in needed}  # one query's worth of rows
        cproof = assemble(consistency_proof_ranges(old, size), lambda lv, i, s=subset: s[(lv, i)])
        assert cproof == consistency_proof(leaves[:size], old)
        verify_consistency(old, size, cproof, root_from_leaves(leaves[:old]), root)
