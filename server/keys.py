"""Key files of the server's processes: a C2SP signer key string in a 0600 file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from ownervote.files import write_private

from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer

S = TypeVar("S", Ed25519Signer, CosignatureSigner)


def load_or_create_key(path: Path, name: str, kind: type[S]) -> S:
    """Load the signer key of ``name`` from ``path``, creating it (mode 0600) on first start."""
    if path.exists():
        signer = kind.from_skey(path.read_text().strip())
        if signer.name != name:
            raise SystemExit(f"{path} holds the key of {signer.name!r}, not {name!r}")
        return signer
    signer = kind.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, signer.skey() + "\n", exclusive=True)
    return signer
