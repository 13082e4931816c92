"""Credential issuance: one credential per owner, idempotent retries, refusals, and nothing
stored that links to the token (SQLite and PostgreSQL); the attestation verifier's memory of
signatures (the guard, its limits and nonces: tests/test_registrar_identity.py)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace

import pytest
from sqlalchemy import select

from crypto.attestation import DemoIdentityProvider
from crypto.credential import (
    IssuerKey,
    finalize_credential,
    generate_issuer_key,
    token_public_bytes,
    verify_credential,
)
from server.db import make_engine
from server.election.registrar import (
    AlreadyIssued,
    Registrar,
    WrongWeightClass,
    credentials_issued,
)
from server.registrar.identity import AttestationVerifier, IdentityRefused, UnauthorisedRequest
from server.schema import create_schema
from tests.support.ballots import blinded_request

W = 8950


@pytest.fixture(scope="module")
def keys():
    return {W: generate_issuer_key(), 12025: generate_issuer_key()}


@pytest.fixture
async def registrar(dsn):
    engine = make_engine(dsn)
    reg = Registrar(engine)
    await create_schema(engine)
    yield reg
    await engine.dispose()


def blinded(keys, weight=W, token=None):
    return blinded_request(IssuerKey("e1", weight, keys[weight].public_key()), token)


async def test_issue_retry_and_second_request(registrar, keys):
    _, req = blinded(keys)
    eid = f"e-{secrets.token_hex(4)}"
    sig = await registrar.issue(eid, "owner-1", W, W, req.blinded_msg, keys)
    cred = finalize_credential(req, sig)
    verify_credential(req.issuer, cred)
    # an identical retry gets the identical blind signature
    assert await registrar.issue(eid, "owner-1", W, W, req.blinded_msg, keys) == sig
    # a different second request is refused, even for the same token
    _, other = blinded(keys)
    with pytest.raises(AlreadyIssued):
        await registrar.issue(eid, "owner-1", W, W, other.blinded_msg, keys)
    # another election is another credential
    await registrar.issue(eid + "-b", "owner-1", W, W, other.blinded_msg, keys)
    assert await registrar.counts_per_class(eid) == {W: 1}


async def test_concurrent_requests_release_one_signature(registrar, keys):
    reqs = [blinded(keys)[1] for _ in range(6)]
    results = await asyncio.gather(*(registrar.issue("e1", "owner-2", W, W, r.blinded_msg, keys)
                                     for r in reqs), return_exceptions=True)
    sigs = [r for r in results if isinstance(r, bytes)]
    assert len(sigs) == 1
    assert all(isinstance(r, AlreadyIssued) for r in results if not isinstance(r, bytes))


async def test_wrong_weight_class_is_refused(registrar, keys):
    _, req = blinded(keys, weight=12025)
    with pytest.raises(WrongWeightClass):
        await registrar.issue("e-weight", "owner-3", W, 12025, req.blinded_msg, keys)
    assert await registrar.counts_per_class("e-weight") == {}


async def test_nothing_stored_contains_the_token_or_the_message(registrar, keys):
    token, req = blinded(keys)
    await registrar.issue("e1", "owner-4", W, W, req.blinded_msg, keys)
    tpk = token_public_bytes(token)
    async with registrar.engine.connect() as conn:
        rows = (await conn.execute(select(credentials_issued))).all()
    for row in rows:
        stored = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                          for v in row)
        assert tpk not in stored and req.prepared_message not in stored


def test_a_remembered_attestation_still_checks_election_expiry_and_exact_bytes():
    """The second presentation of an attestation skips the Ed25519 check, nothing else: another
    election, an expired one, or any other bytes or signature are refused as before."""
    provider = DemoIdentityProvider(lifetime=100)
    now = [1_000.0]
    provider.clock = lambda: now[0]
    calls = []

    class CountingKey:  # counts the Ed25519 checks
        def verify(self, signature, data):
            calls.append(1)
            provider.public_key.verify(signature, data)

    verifier = AttestationVerifier(CountingKey(), clock=lambda: now[0], remember=2)
    att, sig = provider.attest("owner-1", "e1")
    assert verifier.verify(att, sig, "e1") == "owner-1"
    assert verifier.verify(att, sig, "e1") == "owner-1"
    assert len(calls) == 1  # remembered
    with pytest.raises(IdentityRefused, match="another election") as err:
        verifier.verify(att, sig, "e2")
    assert err.value.field == "attestation.election_id"
    forged = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(IdentityRefused):
        verifier.verify(att, forged, "e1")  # not the remembered signature: checked, refused
    with pytest.raises(IdentityRefused):
        verifier.verify(replace(att, owner_id="owner-2"), sig, "e1")
    for k in range(3):  # the memory is bounded: the first one is forgotten and checked again
        verifier.verify(*provider.attest(f"other-{k}", "e1"), "e1")
    n = len(calls)
    assert verifier.verify(att, sig, "e1") == "owner-1" and len(calls) == n + 1
    att3, sig3 = provider.attest("owner-3", "e1", [b"\x01" * 256])
    verifier.verify(att3, sig3, "e1", b"\x01" * 256)
    with pytest.raises(UnauthorisedRequest):  # remembered, and still not for another message
        verifier.verify(att3, sig3, "e1", b"\x02" * 256)
    now[0] += 100
    with pytest.raises(IdentityRefused, match="expired") as err:
        verifier.verify(att, sig, "e1")
    assert err.value.field == "attestation.expires_at"
