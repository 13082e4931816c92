"""Generate ownervote's frozen identity attestation v2 vectors (docs/protocol.md §8.4).

    python -m tests.vectors.attestation.make_attestation_vectors \
        > tests/vectors/attestation/identity_attestation_v2.json

Everything comes from fixed inputs, so an independent implementation can reproduce every byte:
the provider's Ed25519 seed is SHA-256 of an ASCII label (RFC 8032 signatures are
deterministic), each stand-in blinded message is 256 bytes of
``SHA-256(label || u8(0)) || … || SHA-256(label || u8(7))``, and the nonces and expiries are
fixed. ``refused`` lists byte strings that are not the canonical encoding of any attestation
(each with what is wrong); a decoder must refuse every one. tests/test_attestation.py
regenerates the file and requires byte equality, then checks every vector from its hex alone.
"""

from __future__ import annotations

import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.attestation import TAG, Attestation, blinded_digest, sign_attestation

PROVIDER_LABEL = b"ownervote attestation vector identity provider"
EXPIRES_AT = 1_800_000_000  # 2027-01-15T08:00:00Z


def blinded_message(label: bytes) -> bytes:
    return b"".join(hashlib.sha256(label + bytes([i])).digest() for i in range(8))


def _lp(x: bytes) -> bytes:
    return len(x).to_bytes(4, "big") + x


def _raw(owner: bytes, election: bytes, nonce: bytes, expires: int, digests: list[bytes],
         tag: bytes = TAG, d: int | None = None) -> bytes:
    """attestation_bytes written from the text of §8.4 (any field may be made wrong)."""
    return (_lp(tag) + _lp(owner) + _lp(election) + _lp(nonce) + expires.to_bytes(8, "big")
            + bytes([len(digests) if d is None else d]) + b"".join(digests))


def build() -> dict:
    seed = hashlib.sha256(PROVIDER_LABEL).digest()
    provider = Ed25519PrivateKey.from_private_bytes(seed)
    messages = [blinded_message(f"ownervote attestation vector blinded message {i}".encode())
                for i in range(3)]
    cases = []
    for name, owner, election, nonce, msgs in (
            ("eligibility_only", "O001", "gate-2026", bytes(range(16)), []),
            ("one_request", "O001", "gate-2026", bytes(range(16, 48)), messages[:1]),
            ("three_requests_utf8_owner", "业主-0042", "gate-2026", bytes(range(64)),
             messages)):
        att = Attestation.for_requests(owner, election, nonce, EXPIRES_AT, msgs)
        cases.append({
            "name": name, "owner_id": owner, "election_id": election, "nonce": nonce.hex(),
            "expires_at": EXPIRES_AT, "blinded_messages": [m.hex() for m in msgs],
            "authorises": [d.hex() for d in att.authorises],
            "attestation_bytes": att.canonical_bytes().hex(),
            "signature": sign_attestation(provider, att).hex()})
    d0, d1, d2 = sorted(blinded_digest(m) for m in messages)
    o, e, n = b"O001", b"gate-2026", bytes(range(16))
    refused = [
        ("v1_tag", _lp(b"ownervote/v1/identity-attestation") + _lp(o) + _lp(e) + _lp(n)
         + EXPIRES_AT.to_bytes(8, "big")),
        ("other_tag", _raw(o, e, n, EXPIRES_AT, [d0], tag=b"ownervote/v1/identity-attestation-v3")),
        ("trailing_byte", _raw(o, e, n, EXPIRES_AT, [d0]) + b"\x00"),
        ("truncated_digest", _raw(o, e, n, EXPIRES_AT, [d0])[:-1]),
        ("count_above_digests", _raw(o, e, n, EXPIRES_AT, [d0], d=2)),
        ("seventeen_digests", _raw(o, e, n, EXPIRES_AT,
                                   [bytes([i]) * 32 for i in range(17)])),
        ("digests_not_increasing", _raw(o, e, n, EXPIRES_AT, [d1, d0])),
        ("digest_repeated", _raw(o, e, n, EXPIRES_AT, [d0, d0, d2])),
        ("nonce_15_bytes", _raw(o, e, bytes(15), EXPIRES_AT, [])),
        ("nonce_65_bytes", _raw(o, e, bytes(65), EXPIRES_AT, [])),
        ("expires_at_zero", _raw(o, e, n, 0, [])),
        ("expires_at_2_pow_63", _raw(o, e, n, 1 << 63, [])),
        ("empty_owner", _raw(b"", e, n, EXPIRES_AT, [])),
        ("empty_election", _raw(o, b"", n, EXPIRES_AT, [])),
        ("owner_256_bytes", _raw(b"o" * 256, e, n, EXPIRES_AT, [])),
        ("owner_not_utf8", _raw(b"O\xff01", e, n, EXPIRES_AT, [])),
        ("owner_overlong_utf8", _raw(b"O\xc0\xb001", e, n, EXPIRES_AT, [])),
        ("owner_utf8_surrogate", _raw(b"O\xed\xa0\x80", e, n, EXPIRES_AT, [])),
        ("empty", b""),
    ]
    return {
        "description": "ownervote identity attestation v2 vectors (docs/protocol.md §8.4); see "
                       "tests/vectors/attestation/make_attestation_vectors.py",
        "provider": {"seed_label": PROVIDER_LABEL.decode(), "seed": seed.hex(),
                     "public_key": provider.public_key().public_bytes_raw().hex()},
        "tag": TAG.decode(),
        "cases": cases,
        "refused": [{"name": name, "bytes": raw.hex()} for name, raw in refused],
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
