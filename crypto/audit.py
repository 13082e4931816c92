"""The ledger verifier that auditors, guardians and validating witnesses run (docs/protocol.md
§12): every entry, in order from index 0, routed by its kind's record family to that family's
verifier.

* An entry that is not an event envelope (crypto/encoding.py) is refused.
* A kind that no family registered is refused (:class:`crypto.errors.UnknownEventKind`).
* A kind of a family this verifier has no rules for is refused
  (:class:`crypto.errors.UnknownFamily`): nothing on the ledger is passed over unchecked.
* Otherwise the family's verifier checks it (:data:`FAMILIES`, an explicit table; the election
  family's rules are crypto/election_audit.py).

The first violation raises :class:`crypto.log.audit.AuditFailure` naming the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from .election_audit import ElectionAudit, ElectionVerifier
from .encoding import Event, decode_event, event_family
from .errors import CryptoError, UnknownFamily
from .log.audit import AuditFailure
from .records import ELECTION_FAMILY


class FamilyVerifier(Protocol):
    """The rules of one record family: its events, in ledger order."""

    family: str

    def apply(self, event: Event, index: int) -> None:
        """Check one event (at ledger index ``index``); a CryptoError names the broken rule."""


#: family name -> a fresh verifier of that family's rules (one per ledger)
FAMILIES: Mapping[str, Callable[[], FamilyVerifier]] = {
    ELECTION_FAMILY: ElectionVerifier,
}


class LedgerVerifier:
    """Feed it every entry of a ledger, in order, from index 0."""

    def __init__(self, families: Mapping[str, Callable[[], FamilyVerifier]] = FAMILIES) -> None:
        self.verifiers: dict[str, FamilyVerifier] = {name: make() for name, make in
                                                     families.items()}
        self.next_index = 0

    def apply(self, index: int, entry: bytes) -> None:
        if index != self.next_index:
            raise AuditFailure(f"expected entry {self.next_index} next, got {index}",
                               entry=index)
        try:
            event = decode_event(entry)
            family = event_family(event.kind)
            verifier = self.verifiers.get(family)
            if verifier is None:
                raise UnknownFamily(family, event.kind)
            verifier.apply(event, index)
        except (CryptoError, ValueError) as exc:
            raise AuditFailure(str(exc), entry=index) from exc
        self.next_index += 1

    @property
    def election_family(self) -> ElectionVerifier:
        """The election family's verifier: its rolls, elections and ballot count."""
        return self.verifiers[ELECTION_FAMILY]  # type: ignore[return-value]

    def election(self, election_id: str) -> ElectionAudit:
        """What the ledger establishes about one election (ElectionViolation if none)."""
        return self.election_family.election(election_id)
