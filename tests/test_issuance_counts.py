"""How many credentials a registrar may issue in a class (docs/protocol.md §8.5): every verifier
refuses an issuance record beyond the roll's owners of its class, whoever it names, and counts
per registrar, not for the election as a whole."""

from __future__ import annotations

import pytest

from crypto.audit import LedgerVerifier
from crypto.credential import generate_token
from crypto.log.audit import AuditFailure
from tests.election_ledger import open_election


def replay(entries) -> LedgerVerifier:
    v = LedgerVerifier()
    for i, e in enumerate(entries):
        v.apply(i, e)
    return v


def test_more_issuances_in_a_class_than_the_roll_has_owners_are_refused():
    """The roll has two owners of class 8950. Registrar 0 may issue to both (and registrar 1 to
    the same two: each counts its own); a third issuance of registrar 0 in that class is refused,
    even to an owner id the roll does not have, in the batch that carries it."""
    led = open_election("issuance-counts")
    weight = 8950
    assert dict(led.commitment.classes)[weight] == 2
    for owner in ("O001", "O003"):
        led.registrars.credential(owner, weight, generate_token(), registrars=[0, 1])
    led.add("issuances", led.registrars.issuances_body(0))
    led.add("issuances", led.registrars.issuances_body(1))
    e = replay(led.entries).election("issuance-counts")
    assert (e.issued[(0, weight)], e.issued[(1, weight)]) == (2, 2)

    led.registrars.credential("X999", weight, generate_token(), registrars=[0])
    led.add("issuances", led.registrars.issuances_body(0))
    with pytest.raises(AuditFailure, match=f"more issuances in class {weight} than the roll"
                       ) as err:
        replay(led.entries)
    assert err.value.entry == len(led.entries) - 1
    # without that batch the ledger verifies
    replay(led.entries[:-1])
