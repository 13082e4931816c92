"""Identity attestations v2 (docs/protocol.md §8.4): signed by the provider, bound to owner,
election, nonce, expiry and the blinded messages they authorise; one canonical encoding, and
the frozen vectors (tests/vectors/attestation/)."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto.attestation import (
    Attestation,
    DemoIdentityProvider,
    blinded_digest,
    check_attestation,
    decode_attestation,
    sign_attestation,
    verify_attestation,
)
from crypto.errors import AttestationRefused, DecodeError, ExpiredAttestation, InvalidSignature
from tests.vectors.attestation.make_attestation_vectors import render

PROVIDER = Ed25519PrivateKey.generate()
MSG = b"\x05" * 256  # a blinded message
ATT = Attestation.for_requests("owner-007", "e1", bytes(range(16)), 2_000_000_000, [MSG])
VECTORS = Path(__file__).parent / "vectors" / "attestation" / "identity_attestation_v2.json"
V = json.loads(VECTORS.read_text())
b = bytes.fromhex


def test_valid_attestation_verifies_for_its_blinded_message_only():
    sig = sign_attestation(PROVIDER, ATT)
    verify_attestation(PROVIDER.public_key(), ATT, sig, now=1_900_000_000, election_id="e1",
                       blinded_msg=MSG)
    verify_attestation(PROVIDER.public_key(), ATT, sig, now=1_900_000_000, election_id="e1")
    assert ATT.authorises == (hashlib.sha256(MSG).digest(),) and ATT.authorises_request(MSG)
    with pytest.raises(AttestationRefused) as err:  # a stolen attestation, another message
        verify_attestation(PROVIDER.public_key(), ATT, sig, now=1_900_000_000, election_id="e1",
                           blinded_msg=b"\x06" * 256)
    assert err.value.check == "authorises"


def test_an_eligibility_only_attestation_authorises_no_credential():
    att, sig = DemoIdentityProvider().attest("O001", "e1")
    assert att.authorises == ()
    with pytest.raises(AttestationRefused) as err:
        check_attestation(att, now=1, election_id="e1", blinded_msg=MSG)
    assert err.value.check == "authorises" and "eligibility-only" in str(err.value)


@pytest.mark.parametrize("change", [
    {"owner_id": "owner-008"}, {"election_id": "e2"}, {"nonce": bytes(range(1, 17))},
    {"expires_at": 2_000_000_001}, {"authorises": ()},
    {"authorises": (blinded_digest(b"\x06" * 256),)},
])
def test_any_changed_field_fails(change):
    sig = sign_attestation(PROVIDER, ATT)
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), replace(ATT, **change), sig,
                           now=1_900_000_000, election_id=change.get("election_id", "e1"))


def test_other_election_expired_and_other_provider():
    sig = sign_attestation(PROVIDER, ATT)
    with pytest.raises(AttestationRefused) as err:
        verify_attestation(PROVIDER.public_key(), ATT, sig, now=1, election_id="e2")
    assert err.value.check == "election_id"
    with pytest.raises(ExpiredAttestation) as err:
        verify_attestation(PROVIDER.public_key(), ATT, sig, now=2_000_000_000, election_id="e1")
    assert err.value.check == "expires_at"
    with pytest.raises(InvalidSignature):
        verify_attestation(Ed25519PrivateKey.generate().public_key(), ATT, sig, now=1,
                           election_id="e1")
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), ATT, sig[:-1], now=1, election_id="e1")


def test_the_signature_is_checked_first():
    """A forgery for another election, expired and for another message is a forgery: the
    caller learns nothing else about it (and counts it against nobody but the sender)."""
    forged = replace(ATT, owner_id="owner-008")
    with pytest.raises(InvalidSignature):
        verify_attestation(PROVIDER.public_key(), forged, sign_attestation(PROVIDER, ATT),
                           now=2_100_000_000, election_id="e2", blinded_msg=b"other")


def test_fields_are_validated():
    for bad in ({"nonce": b"short"}, {"nonce": bytes(65)}, {"owner_id": ""},
                {"owner_id": "o" * 256}, {"election_id": ""}, {"expires_at": 0},
                {"expires_at": 1 << 63}, {"expires_at": True},
                {"authorises": (bytes(31),)},
                {"authorises": (b"\x02" * 32, b"\x01" * 32)},
                {"authorises": (b"\x01" * 32, b"\x01" * 32)},
                {"authorises": tuple(bytes([i]) * 32 for i in range(17))}):
        with pytest.raises(DecodeError):
            replace(ATT, **bad)
    many = Attestation.for_requests("o", "e", bytes(16), 5, [bytes([i]) for i in range(16)])
    assert len(many.authorises) == 16 and list(many.authorises) == sorted(many.authorises)
    # the same message twice is authorised once
    assert Attestation.for_requests("o", "e", bytes(16), 5, [MSG, MSG]).authorises == \
        ATT.authorises


def test_canonical_bytes_are_unambiguous_and_decode_back():
    a = Attestation("ab", "c" * 2, bytes(16), 5)
    c = Attestation("a", "bcc", bytes(16), 5)
    assert a.canonical_bytes() != c.canonical_bytes()
    for att in (a, c, ATT, DemoIdentityProvider().attest("业主", "e", [MSG, b"x"])[0]):
        assert decode_attestation(att.canonical_bytes()) == att


def test_non_canonical_bytes_are_refused():
    raw = ATT.canonical_bytes()
    for bad in (raw + b"\x00", raw[:-1], raw[:-33] + b"\x02" + raw[-32:],
                raw.replace(b"identity-attestation-v2", b"identity-attestation-v3"),
                b"", bytearray(raw[:10])):
        with pytest.raises(DecodeError):
            decode_attestation(bytes(bad))


def test_the_demo_provider_signs_the_digests_it_is_shown():
    now = [1_000.0]
    nonces = iter([bytes(16), bytes([1]) * 16])
    provider = DemoIdentityProvider(lifetime=60, clock=lambda: now[0],
                                    nonce_source=lambda: next(nonces))
    att, sig = provider.attester("O001", "e1")([MSG])
    assert (att.expires_at, att.nonce, att.authorises) == (1_060, bytes(16), ATT.authorises)
    verify_attestation(provider.public_key, att, sig, now=1_059, election_id="e1",
                       blinded_msg=MSG)
    att2, _ = provider.attest_digests("O001", "e1", [b"\x09" * 32, b"\x01" * 32])
    assert att2.authorises == (b"\x01" * 32, b"\x09" * 32) and att2.nonce == bytes([1]) * 16


# --- the frozen vectors ----------------------------------------------------------------------

def test_vector_regeneration_is_byte_identical():
    assert render() == VECTORS.read_text()


def _lp(x: bytes) -> bytes:
    return len(x).to_bytes(4, "big") + x


def test_vectors_verify_from_their_hex_and_follow_section_8_4():
    seed = hashlib.sha256(V["provider"]["seed_label"].encode()).digest()
    assert seed.hex() == V["provider"]["seed"]
    key = Ed25519PublicKey.from_public_bytes(b(V["provider"]["public_key"]))
    assert Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw() == \
        key.public_bytes_raw()
    assert {c["name"] for c in V["cases"]} == {"eligibility_only", "one_request",
                                                "three_requests_utf8_owner"}
    for c in V["cases"]:
        digests = sorted(hashlib.sha256(b(m)).digest() for m in c["blinded_messages"])
        assert [d.hex() for d in digests] == c["authorises"]
        by_hand = (_lp(V["tag"].encode()) + _lp(c["owner_id"].encode()) + _lp(
            c["election_id"].encode()) + _lp(b(c["nonce"])) + c["expires_at"].to_bytes(8, "big")
            + bytes([len(digests)]) + b"".join(digests))
        assert by_hand.hex() == c["attestation_bytes"], c["name"]
        att = decode_attestation(by_hand)
        assert (att.owner_id, att.election_id, att.nonce.hex(), att.expires_at) == (
            c["owner_id"], c["election_id"], c["nonce"], c["expires_at"])
        key.verify(b(c["signature"]), by_hand)  # plain Ed25519 over exactly these bytes
        verify_attestation(key, att, b(c["signature"]), now=c["expires_at"] - 1,
                           election_id=c["election_id"])
        for m in c["blinded_messages"]:
            check_attestation(att, now=0, election_id=c["election_id"], blinded_msg=b(m))
        with pytest.raises(AttestationRefused):
            check_attestation(att, now=0, election_id=c["election_id"], blinded_msg=b"other")


def test_refused_vectors_are_refused_by_the_decoder():
    names = {r["name"] for r in V["refused"]}
    assert {"v1_tag", "trailing_byte", "digests_not_increasing", "digest_repeated",
            "seventeen_digests", "owner_overlong_utf8"} <= names
    for r in V["refused"]:
        with pytest.raises(DecodeError):
            decode_attestation(b(r["bytes"]))
