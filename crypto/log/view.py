"""A client's view of the log: the largest checkpoint it has trusted, and the rule that every
checkpoint it sees after is consistent with it (docs/protocol.md §13.2).

A server that shows one client a fork of the ledger (another history, e.g. an election with a
joint key whose secret it knows) must show it checkpoints the bundle's witness quorum co-signed.
The witnesses refuse to co-sign two histories of one log (C2SP tlog-witness), so a fork can only
be shown to a client that never saw the other branch. A client that keeps its last checkpoint
and demands an RFC 9162 consistency proof to every later one (or from every earlier one) sees
the fork as a proof that does not verify: :class:`crypto.errors.ForkedView`, its own refusal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ForkedView, InvalidProof
from . import merkle
from .checkpoint import Checkpoint
from .trust import TrustBundle


@dataclass
class LogView:
    """The largest checkpoint trusted so far (size 0: none yet)."""

    bundle: TrustBundle
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    signed_note: bytes = b""

    def observe(self, signed_note: bytes, proof: Sequence[bytes] = ()) -> Checkpoint:
        """Trust a checkpoint: signed by the log and co-signed by the bundle's quorum, and
        consistent with the one kept (``proof``: the consistency proof between the smaller and
        the larger of the two). The larger of the two is kept. ForkedView if they disagree."""
        cp = self.bundle.open_checkpoint(signed_note)
        if cp.size == self.size:
            if cp.root_hash != self.root:
                raise ForkedView(f"two checkpoints of size {cp.size} with different roots")
            return cp
        if self.size == 0:
            self._keep(cp, signed_note)
            return cp
        old, new = sorted([(self.size, self.root), (cp.size, cp.root_hash)])
        try:
            merkle.verify_consistency(old[0], new[0], list(proof), old[1], new[1])
        except InvalidProof as exc:
            raise ForkedView(f"the checkpoint of size {cp.size} is not consistent with the one "
                             f"of size {self.size} this client saw before: {exc}") from exc
        if cp.size > self.size:
            self._keep(cp, signed_note)
        return cp

    def _keep(self, cp: Checkpoint, signed_note: bytes) -> None:
        self.size, self.root, self.signed_note = cp.size, cp.root_hash, bytes(signed_note)

    # --- kept between runs (a phone's storage, a CLI's file) -----------------------------------

    def to_json(self) -> str:
        return json.dumps({"origin": self.bundle.origin, "size": self.size,
                           "root": self.root.hex(), "signed_note": self.signed_note.decode()})

    @classmethod
    def from_json(cls, bundle: TrustBundle, text: str) -> LogView:
        """A kept view, re-checked against the bundle (a view of another log is refused)."""
        d = json.loads(text)
        if d.get("origin") != bundle.origin:
            raise ForkedView("the kept view is of another log")
        view = cls(bundle)
        if d["size"]:
            cp = view.observe(d["signed_note"].encode())
            if (cp.size, cp.root_hash.hex()) != (d["size"], d["root"]):
                raise ForkedView("the kept view does not match its checkpoint")
        return view
