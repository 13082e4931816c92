"""Identity attestations: signed by the provider, bound to owner, election, nonce and expiry."""

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.attestation import (
    Attestation,
    ExpiredAttestation,
    sign_attestation,
    verify_attestation,
)
from crypto.errors import DecodeError, InvalidSignature

PROVIDER = Ed25519PrivateKey.generate()
ATT = Attestation("owner-007", "e1", bytes(range(16)), 2_000_000_000)


def test_valid_attestation_verifies():
    sig = sign_attestation(PROVIDER, ATT)
    verify_attestation(PROVIDER.public_key(), ATT, sig, now=1_900_000_000, election_id="e1")


@pytest.mark.parametrize("change", [
    {"owner_id": "owner-008"}, {"election_id": "e2"}, {"nonce": bytes(range(1, 17))},
    {"expires_at": 2_000_000_001},
])
def test_any_changed_field_fails(change):
    sig = sign_attestation(PROVIDER, ATT)
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), replace(ATT, **change), sig,
                           now=1_900_000_000, election_id=change.get("election_id", "e1"))


def test_other_election_expired_and_other_provider():
    sig = sign_attestation(PROVIDER, ATT)
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), ATT, sig, now=1, election_id="e2")
    with pytest.raises(ExpiredAttestation):
        verify_attestation(PROVIDER.public_key(), ATT, sig, now=2_000_000_000, election_id="e1")
    with pytest.raises(InvalidSignature):
        verify_attestation(Ed25519PrivateKey.generate().public_key(), ATT, sig, now=1,
                           election_id="e1")
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), ATT, sig[:-1], now=1, election_id="e1")


def test_fields_are_validated():
    for bad in ({"nonce": b"short"}, {"nonce": bytes(65)}, {"owner_id": ""},
                {"expires_at": 0}):
        with pytest.raises(DecodeError):
            replace(ATT, **bad)


def test_canonical_bytes_are_unambiguous():
    a = Attestation("ab", "c" * 2, bytes(16), 5)
    b = Attestation("a", "bcc", bytes(16), 5)
    assert a.canonical_bytes() != b.canonical_bytes()
