"""Generate ownervote's frozen checkpoint / cosignature/v1 vectors (docs/_section_notes.md).

    python -m tests.vectors.note.make_cosignature_vectors > tests/vectors/note/cosignature_v1.json

Everything is derived from fixed inputs, so an independent implementation can reproduce every
byte: Ed25519 seeds are SHA-256 of an ASCII label, the root hash is the RFC 6962 §2.1 Merkle tree
hash of five ASCII leaves, and the cosignature timestamps are fixed. Ed25519 (RFC 8032) is
deterministic. tests/test_checkpoint.py regenerates the file and requires byte equality.
"""

from __future__ import annotations

import hashlib
import json
import sys

from crypto.log.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    SignedCheckpoint,
    cosignature_message,
)
from crypto.log.note import Ed25519Signer

LOG_NAME = "ownervote.example/test-log"
LOG_SEED_LABEL = b"ownervote test log"
WITNESSES = [
    ("witness.ownervote.example/w1", b"ownervote test witness 1"),
    ("witness.ownervote.example/w2", b"ownervote test witness 2"),
    ("witness.ownervote.example/w3", b"ownervote test witness 3"),
]
LEAVES = [f"ownervote test leaf {i}".encode() for i in range(5)]
TIMESTAMPS = [1767225600, 1767225661]  # 2026-01-01T00:00:00Z and 61 s later (w1, w2)
EXTENSION = "ownervote test extension"


def merkle_tree_hash(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH with SHA-256: leaf = H(0x00 || d), node = H(0x01 || left || right)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two < n
    return hashlib.sha256(
        b"\x01" + merkle_tree_hash(leaves[:k]) + merkle_tree_hash(leaves[k:])
    ).digest()


def _key(label: bytes, signer) -> dict:
    return {
        "name": signer.name,
        "seed_label": label.decode(),
        "seed": signer.seed.hex(),
        "public_key": signer.public_key.hex(),
        "key_id": signer.key_id.hex(),
        "vkey": signer.verifier().vkey(),
        "skey": signer.skey(),
    }


def build() -> dict:
    log = Ed25519Signer(LOG_NAME, hashlib.sha256(LOG_SEED_LABEL).digest())
    witnesses = [CosignatureSigner(n, hashlib.sha256(label).digest()) for n, label in WITNESSES]
    cp = Checkpoint(LOG_NAME, len(LEAVES), merkle_tree_hash(LEAVES))
    signed = SignedCheckpoint.sign(cp, log)
    w1, w2 = (w.at(t) for w, t in zip(witnesses, TIMESTAMPS, strict=False))
    cosigs = [w1.cosign(cp), w2.cosign(cp)]
    cosigned = signed.with_signatures(cosigs)
    ext = Checkpoint(cp.origin, cp.size, cp.root_hash, (EXTENSION,))
    ext_cosigned = SignedCheckpoint.sign(ext, log).cosign(w1)
    return {
        "description": "ownervote's own C2SP tlog-checkpoint + tlog-cosignature (cosignature/v1)"
        " vectors; see tests/vectors/note/make_cosignature_vectors.py",
        "log_key": _key(LOG_SEED_LABEL, log),
        "witness_keys": [
            _key(label, w) for (_, label), w in zip(WITNESSES, witnesses, strict=True)
        ],
        "checkpoint": {
            "origin": cp.origin,
            "size": cp.size,
            "leaves": [leaf.decode() for leaf in LEAVES],
            "root_hash": cp.root_hash.hex(),
            "body": cp.body(),
        },
        "log_signed": signed.encode().decode(),
        "cosignatures": [
            {
                "witness": s.name,
                "timestamp": t,
                "signed_message": cosignature_message(t, cp.body()).decode(),
                "line": s.line(),
            }
            for s, t in zip(cosigs, TIMESTAMPS, strict=True)
        ],
        "cosigned": cosigned.encode().decode(),
        "extension_checkpoint": {
            "body": ext.body(),
            "cosigned": ext_cosigned.encode().decode(),
            "witness": w1.name,
            "timestamp": TIMESTAMPS[0],
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
