"""The ledger export file: the whole log in one file, every byte of which the audit checks.

Format (docs/protocol.md §12.6)::

    "ownervote-ledger-export/v1\\n"
    LP(origin)
    u64(n) || n × ( LP(entry) || recorded leaf hash (32) )
    u32(k) || k × LP(signed checkpoint note)          increasing tree size, the last = n

``LP(x) = u32(len(x)) || x``, integers big-endian. Decoding rejects anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..encoding import Reader, lp
from ..errors import DecodeError

MAGIC = b"ownervote-ledger-export/v1\n"
MAX_ENTRY = 1 << 24


@dataclass(frozen=True)
class LedgerExport:
    origin: str
    entries: tuple[bytes, ...]
    leaf_hashes: tuple[bytes, ...]
    checkpoints: tuple[bytes, ...]


def encode_export(x: LedgerExport) -> bytes:
    out = [MAGIC, lp(x.origin.encode()), len(x.entries).to_bytes(8, "big")]
    for e, h in zip(x.entries, x.leaf_hashes, strict=True):
        out += [lp(e), h]
    out.append(len(x.checkpoints).to_bytes(4, "big"))
    out += [lp(c) for c in x.checkpoints]
    return b"".join(out)


def decode_export(data: bytes) -> LedgerExport:
    r = Reader(data)
    if r.take(len(MAGIC)) != MAGIC:
        raise DecodeError("not an ownervote ledger export")
    origin = r.text(255)
    n = r.uint(8)
    entries, hashes = [], []
    for _ in range(n):
        entries.append(r.lp(MAX_ENTRY))
        hashes.append(r.take(32))
    k = r.uint(4)
    cps = tuple(r.lp(1 << 16) for _ in range(k))
    r.end()
    return LedgerExport(origin, tuple(entries), tuple(hashes), cps)
