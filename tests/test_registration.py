"""A registrar's credential issuance (server/registrar/issuance.py): one credential per owner
per registrar, idempotent retries, concurrent requests, and nothing stored that links to the
token; its batches signed, in owner-id order, the final one ending issuance (SQLite and
PostgreSQL); the attestation verifier's memory of signatures (the guard, its limits and nonces:
tests/test_registrar_identity.py)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from crypto.attestation import DemoIdentityProvider
from crypto.credential import (
    IssuerKey,
    IssuerSet,
    finalize_credential,
    generate_issuer_key,
    token_public_bytes,
    verify_credential,
)
from crypto.issuance import decode_issuances, verify_issuances
from server.db import make_engine
from server.registrar.identity import AttestationVerifier, IdentityRefused, UnauthorisedRequest
from server.registrar.issuance import AlreadyIssued, IssuanceClosed, Issuer
from server.registrar.schema import issuance_batches, issuance_pending, issuance_published
from server.schema import create_schema
from tests.support.ballots import blinded_request

W = 8950
SIGNING = Ed25519PrivateKey.from_private_bytes(b"\x31" * 32)
IDP = DemoIdentityProvider()


@pytest.fixture(scope="module")
def keys():
    return {W: generate_issuer_key(), 12025: generate_issuer_key()}


@pytest.fixture
async def issuer(dsn):
    engine = make_engine(dsn)
    await create_schema(engine)
    yield Issuer(engine, f"reg-{secrets.token_hex(3)}", SIGNING)
    await engine.dispose()


def blinded(keys, weight=W, token=None):
    return blinded_request(IssuerKey("e1", weight, keys[weight].public_key()), token)


async def issue(issuer, eid, owner, req, keys, weight=W):
    att, sig = IDP.attest(owner, eid, [req.blinded_msg])
    return await issuer.issue(eid, owner, weight, keys[weight], req.blinded_msg,
                              att.canonical_bytes(), sig)


async def test_issue_retry_and_second_request(issuer, keys):
    _, req = blinded(keys)
    eid = f"e-{secrets.token_hex(4)}"
    sig = await issue(issuer, eid, "owner-1", req, keys)
    cred = finalize_credential(req, sig)
    verify_credential(IssuerSet("e1", 1, {0: {W: req.issuer}}), cred)  # this registrar's
    # an identical retry gets the identical blind signature
    assert await issue(issuer, eid, "owner-1", req, keys) == sig
    assert await issuer.issued(eid, "owner-1")
    # a different second request is refused, even for the same token
    _, other = blinded(keys)
    with pytest.raises(AlreadyIssued):
        await issue(issuer, eid, "owner-1", other, keys)
    # another election is another credential
    await issue(issuer, eid + "-b", "owner-1", other, keys)
    assert await issuer.pending_count(eid) == 1


async def test_another_registrar_in_the_same_store_is_another_credential(issuer, keys):
    """The tables are keyed by registrar: one registrar's credential does not refuse
    another's."""
    eid = f"e-{secrets.token_hex(4)}"
    _, req = blinded(keys)
    await issue(issuer, eid, "owner-1", req, keys)
    other = Issuer(issuer.engine, issuer.registrar + "-2", SIGNING)
    _, req2 = blinded(keys)
    await issue(other, eid, "owner-1", req2, keys)
    assert await issuer.pending_count(eid) == 1 and await other.pending_count(eid) == 1


async def test_concurrent_requests_release_one_signature(issuer, keys):
    eid = f"e-{secrets.token_hex(4)}"
    reqs = [blinded(keys)[1] for _ in range(6)]
    results = await asyncio.gather(*(issue(issuer, eid, "owner-2", r, keys) for r in reqs),
                                   return_exceptions=True)
    sigs = [r for r in results if isinstance(r, bytes)]
    assert len(sigs) == 1
    assert all(isinstance(r, AlreadyIssued) for r in results if not isinstance(r, bytes))
    assert await issuer.pending_count(eid) == 1


async def test_batches_are_signed_in_owner_order_and_the_final_one_ends_issuance(issuer, keys):
    eid = f"e-{secrets.token_hex(4)}"
    for owner in ("O03", "O01", "O02"):
        await issue(issuer, eid, owner, blinded(keys)[1], keys)
    assert await issuer.write_batch(eid, final=False) == 0
    assert await issuer.write_batch(eid, final=False) is None  # nothing pending
    await issue(issuer, eid, "O00", blinded(keys)[1], keys)
    assert await issuer.write_batch(eid, final=True) == 1
    bodies = await issuer.unsent(eid)
    assert [seq for seq, _ in bodies] == [0, 1]
    records = [decode_issuances(b) for _, b in bodies]
    for rec in records:
        verify_issuances(SIGNING.public_key().public_bytes_raw(), eid, rec)
    assert [[i.owner_id for i in r.issuances] for r in records] == [["O01", "O02", "O03"],
                                                                     ["O00"]]
    assert [r.final for r in records] == [False, True]
    # an issued owner's retry still gets its signature; a new owner is refused
    with pytest.raises(IssuanceClosed):
        await issue(issuer, eid, "O09", blinded(keys)[1], keys)
    assert await issuer.write_batch(eid, final=True) is None
    assert not await issuer.all_sent(eid)
    for seq, _ in bodies:
        await issuer.mark_sent(eid, seq, 100 + seq)
    assert await issuer.all_sent(eid)
    assert await issuer.pending_count(eid) == 0


async def test_nothing_stored_contains_the_token_or_the_message(issuer, keys):
    eid = f"e-{secrets.token_hex(4)}"
    token, req = blinded(keys)
    await issue(issuer, eid, "owner-4", req, keys)
    tpk = token_public_bytes(token)

    async def check() -> None:
        async with issuer.engine.connect() as conn:
            rows = [r for t in (issuance_pending, issuance_published, issuance_batches)
                    for r in (await conn.execute(select(t))).all()]
        assert rows
        for row in rows:
            stored = b"".join(bytes(v) if isinstance(v, (bytes, memoryview))
                              else str(v).encode() for v in row)
            assert tpk not in stored and req.prepared_message not in stored

    await check()
    await issuer.write_batch(eid, final=True)
    await check()


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
