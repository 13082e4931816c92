"""An election as anyone may read it: its definition, where it stands, the roll's totals, the
issuer key of each weight class (published during the key ceremony) and, from READY on, the
guardians' joint key.

A voter's device rebuilds it from the co-signed ledger (crypto/election_view.py) and encrypts
for its :attr:`PublicElection.context`; the server also publishes it (ElectionService.GetElection;
``ownervote.v1.wire`` maps it both ways). The invariant: every issuer key certifies its own
weight class of this election; the context's hash is what every ballot binds (docs/protocol.md
§6.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from petlib.ec import EcPt

from .ballot import Contest, ElectionContext
from .credential import IssuerKey, IssuerSet
from .errors import DecodeError
from .records import DefinitionRecord, ElectionState


@dataclass(frozen=True)
class PublicElection:
    definition: DefinitionRecord
    state: ElectionState
    total_area: int  # of the roll, 0.01 m²
    total_owners: int  # of the roll (headcount)
    joint_public_key: EcPt | None = None  # from READY on
    #: registrar index -> weight class -> key (registrars that published none left out)
    issuers: Mapping[int, Mapping[int, IssuerKey]] = field(default_factory=dict)
    class_owners: Mapping[int, int] = field(default_factory=dict)  # weight class -> owners

    def __post_init__(self) -> None:
        try:
            _ = self.issuer_set
        except DecodeError as exc:
            raise DecodeError(f"the issuer keys do not fit the election: {exc}") from exc
        if any(r >= len(self.definition.registrars) for r in self.issuers):
            raise DecodeError("an issuer key of a registrar the election does not name")

    @cached_property
    def issuer_set(self) -> IssuerSet:
        """Every registrar's keys and the credential threshold k: what verifies a credential."""
        return IssuerSet(self.definition.election_id, self.definition.registrar_threshold,
                         self.issuers)

    @property
    def weights(self) -> tuple[int, ...]:
        """The weight classes some registrar has a key for, increasing."""
        return tuple(sorted(self.issuer_set.weights))

    @property
    def election_id(self) -> str:
        return self.definition.election_id

    @property
    def contest(self) -> Contest:
        return self.definition.contest

    @property
    def motion(self) -> str:
        return self.definition.motion

    @property
    def open_time(self) -> int:
        return self.definition.open_time

    @property
    def close_time(self) -> int:
        return self.definition.close_time

    @property
    def guardians(self) -> int:
        return self.definition.guardians

    @property
    def threshold(self) -> int:
        return self.definition.threshold

    @cached_property
    def context(self) -> ElectionContext | None:
        """What ballots are encrypted for (None until the ceremony has fixed the joint key)."""
        if self.joint_public_key is None:
            return None
        return ElectionContext(self.election_id, self.contest, self.joint_public_key)
