"""RegistrationService over real gRPC: attestation → eligibility → blind credential, and every
refusal (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.attestation import DemoIdentityProvider
from crypto.credential import finalize_credential, verify_credential
from crypto.records import ElectionState
from server.election.registrar import Registrar
from server.election.rpc.registration_service import RegistrationService
from server.election.store import ElectionStore
from server.registrar.identity import AttestationVerifier, DatabaseNonces, GuardedVerifier
from server.registrar.limits import MemoryFailureLimiter
from tests.election_support import new_election
from tests.ledger_support import start_log
from tests.support.ballots import blinded_request
from tests.test_admin_service import expect

KEK = b"key-encryption-key-for-tests"


attestation_pb = wire.attestation_pb


@pytest.fixture
async def reg(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=0, quorum=0)
    store = ElectionStore(h.engine, h.ledger)
    registrar = Registrar(h.engine)
    provider = DemoIdentityProvider()
    guarded = GuardedVerifier(AttestationVerifier(provider.public_key),
                              MemoryFailureLimiter(3, 60), MemoryFailureLimiter(100, 60),
                              DatabaseNonces(h.engine))
    eid, roll = await new_election(store)
    server = grpc.aio.server()
    election_pb2_grpc.add_RegistrationServiceServicer_to_server(
        RegistrationService(store, registrar, guarded, KEK), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield election_pb2_grpc.RegistrationServiceStub(channel), store, provider, roll, eid
    await channel.close()
    await server.stop(None)
    await h.stop()


async def make_ready(store, eid):
    await store.transition(eid, ElectionState.KEY_CEREMONY, 1)
    await store.transition(eid, ElectionState.READY, 2)
    await store.create_issuer_keys(eid, KEK)


async def test_credential_flow_and_refusals(reg):
    stub, store, provider, roll, eid = reg
    owner = roll.owners[0]
    elig, esig = provider.attest(owner.owner_id, eid)  # eligibility only
    # not issuing before READY
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(elig, esig))), grpc.StatusCode.FAILED_PRECONDITION)
    await make_ready(store, eid)
    issuers = await store.issuer_keys(eid)
    assert set(issuers) == {c.area for c in roll.weight_classes()}
    got = await stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(elig, esig)))
    assert got.weight == owner.area
    _, req = blinded_request(issuers[got.weight])
    # an eligibility-only attestation authorises no credential
    await expect(stub.RequestCredential(election_pb2.RequestCredentialRequest(
        attestation=attestation_pb(elig, esig), weight=got.weight,
        blinded_msg=req.blinded_msg)), grpc.StatusCode.PERMISSION_DENIED,
        "attestation.authorises", "UNAUTHORISED_REQUEST")
    att, sig = provider.attest(owner.owner_id, eid, [req.blinded_msg])  # after blinding
    ask = election_pb2.RequestCredentialRequest(attestation=attestation_pb(att, sig),
                                                weight=got.weight, blinded_msg=req.blinded_msg)
    resp = await stub.RequestCredential(ask)
    cred = finalize_credential(req, resp.blind_sig)
    verify_credential(issuers[got.weight], cred)
    assert (await stub.RequestCredential(ask)).blind_sig == resp.blind_sig  # identical retry
    _, other = blinded_request(issuers[got.weight])
    # the same attestation with another blinded message (stolen, or the phone's own): refused
    await expect(stub.RequestCredential(replace_blinded(ask, other.blinded_msg)),
                 grpc.StatusCode.PERMISSION_DENIED, "attestation.authorises",
                 "UNAUTHORISED_REQUEST")
    att_o, sig_o = provider.attest(owner.owner_id, eid, [other.blinded_msg])
    await expect(stub.RequestCredential(election_pb2.RequestCredentialRequest(
        attestation=attestation_pb(att_o, sig_o), weight=got.weight,
        blinded_msg=other.blinded_msg)),
        grpc.StatusCode.ALREADY_EXISTS, "blinded_msg", "CREDENTIAL_ISSUED")
    # another owner asks for a class that is not theirs
    second = roll.owners[1]
    wrong = next(w for w in issuers if w != second.area)
    _, req2 = blinded_request(issuers[wrong])
    att2, sig2 = provider.attest(second.owner_id, eid, [req2.blinded_msg, b"short"])
    await expect(stub.RequestCredential(election_pb2.RequestCredentialRequest(
        attestation=attestation_pb(att2, sig2), weight=wrong, blinded_msg=req2.blinded_msg)),
        grpc.StatusCode.INVALID_ARGUMENT, "weight", "WRONG_WEIGHT_CLASS")
    await expect(stub.RequestCredential(election_pb2.RequestCredentialRequest(
        attestation=attestation_pb(att2, sig2), weight=second.area, blinded_msg=b"short")),
        grpc.StatusCode.INVALID_ARGUMENT, "blinded_msg")
    # a forged attestation, someone not on the roll, another election
    victim = roll.owners[2]
    forged = attestation_pb(replace(att2, owner_id=victim.owner_id), sig2)
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(attestation=forged)),
                 grpc.StatusCode.PERMISSION_DENIED, "attestation", "IDENTITY_REFUSED")
    stranger, ssig = provider.attest("not-an-owner", eid)
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(stranger, ssig))),
        grpc.StatusCode.PERMISSION_DENIED, "attestation.owner_id", "NOT_AN_OWNER")
    elsewhere, xsig = provider.attest(second.owner_id, "no-such-election")
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(elsewhere, xsig))), grpc.StatusCode.NOT_FOUND)
    # forgeries naming the victim never lock the victim out
    for _ in range(6):
        await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(attestation=forged)),
                     grpc.StatusCode.PERMISSION_DENIED, "attestation", "IDENTITY_REFUSED")
    assert (await stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(*provider.attest(victim.owner_id, eid))))).weight \
        == victim.area
    # a genuine attestation's repeated failures are: past the limit, RATE_LIMITED with RetryInfo
    for _ in range(2):
        await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
            attestation=attestation_pb(stranger, ssig))), grpc.StatusCode.PERMISSION_DENIED)
    info = await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(stranger, ssig))), grpc.StatusCode.RESOURCE_EXHAUSTED, None,
        "RATE_LIMITED")
    assert 0 < info["retry_delay"] <= 60 and info["metadata"]["retry_after"]
    bad_sig = attestation_pb(att2, sig2[:10])
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(attestation=bad_sig)),
                 grpc.StatusCode.INVALID_ARGUMENT, "attestation.signature")


def replace_blinded(ask, blinded):
    out = election_pb2.RequestCredentialRequest()
    out.CopyFrom(ask)
    out.blinded_msg = blinded
    return out

