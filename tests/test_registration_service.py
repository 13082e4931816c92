"""A registrar's RegistrationService over real gRPC (server/registrar/service.py): attestation
→ eligibility → this registrar's blind signature, and every refusal (SQLite and PostgreSQL).
The registrar reads the election from its ledger view (here the records of
tests/election_ledger.py, taken through the auditor's rules as LedgerFollower takes them; the
follower's own checks of checkpoints: tests/test_registrar.py), its own roll copy and its own
issuer keys (the ones its ``issuer-keys`` event put on the ledger)."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from ownervote.v1 import election_pb2, election_pb2_grpc, wire
from sqlalchemy import insert

from crypto.credential import IssuerSet, finalize_credential, verify_credential
from crypto.election_audit import ElectionVerifier
from crypto.encoding import decode_event, event_family
from crypto.records import ELECTION_FAMILY, ElectionEvent, ElectionState, decode_transition
from server.db import make_engine
from server.registrar.identity import AttestationVerifier, DatabaseNonces, GuardedVerifier
from server.registrar.issuance import Issuer
from server.registrar.issuer_keys import IssuerKeys
from server.registrar.limits import MemoryFailureLimiter
from server.registrar.node import RegistrarNode
from server.registrar.roll import RollStore
from server.registrar.schema import registrar_keys
from server.registrar.service import RegistrationService
from server.schema import create_schema
from tests.election_ledger import IDP, OPEN_AT, SAMPLE_ROLL, open_election
from tests.support.ballots import blinded_request
from tests.support.registrars import rsa_key
from tests.test_admin_service import expect

KEK = b"key-encryption-key-for-tests"
R = 0  # this registrar's index in the definition

attestation_pb = wire.attestation_pb


class LedgerView:
    """What RegistrationService reads of LedgerFollower: the first ``visible`` entries of the
    ledger, through the auditor's rules without the ballots."""

    def __init__(self, entries: list[bytes], visible: int, identity_provider: bytes) -> None:
        self.entries, self.visible, self.applied = entries, visible, 0
        self.verifier = ElectionVerifier(with_ballots=False)
        self.halted = None
        self.bundle = type("Bundle", (), {"identity_provider": identity_provider})()

    def election(self, election_id):
        return self.verifier.elections.get(election_id)

    async def poll(self) -> bool:
        new = self.applied < self.visible
        for i in range(self.applied, self.visible):
            ev = decode_event(self.entries[i])
            if event_family(ev.kind) == ELECTION_FAMILY and ev.kind != ElectionEvent.BALLOT:
                self.verifier.apply(ev, i)
        self.applied = self.visible
        return new


@pytest.fixture
async def reg(dsn):
    led = open_election("registration-service")
    regs = led.registrars
    ready = next(i for i, e in enumerate(led.entries) if decode_event(e).kind == "state"
                 and _to_state(decode_event(e).body) is ElectionState.READY)
    engine = make_engine(dsn)
    await create_schema(engine)
    name = regs.names[R]
    # the registrar's own keys, stored as IssuerKeys keeps them: the ones on the ledger
    async with engine.begin() as conn:
        await conn.execute(insert(registrar_keys), [
            {"registrar": name, "election_id": led.election_id, "weight": w,
             "spki": regs.issuer(R, w).spki,
             "private_key": rsa_key(R, w).private_bytes(
                 serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                 serialization.BestAvailableEncryption(KEK))} for w in regs.weights])
    rolls = RollStore(engine, name)
    view = LedgerView(led.entries, ready, regs.identity_provider)
    await view.poll()
    signing = regs.signing_key(R)
    nowhere = grpc.aio.insecure_channel("127.0.0.1:9")  # the server's intake: unused here
    node = RegistrarNode(name, signing, view, IssuerKeys(engine, name, signing, KEK),
                         Issuer(engine, name, signing), rolls, nowhere)  # type: ignore[arg-type]
    clock = lambda: OPEN_AT + 10  # noqa: E731
    guarded = GuardedVerifier(AttestationVerifier(IDP.public_key, clock=clock),
                              MemoryFailureLimiter(3, 60), MemoryFailureLimiter(100, 60),
                              DatabaseNonces(engine, clock, registrar=name))
    server = grpc.aio.server()
    election_pb2_grpc.add_RegistrationServiceServicer_to_server(
        RegistrationService(node, guarded, clock=clock), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield election_pb2_grpc.RegistrationServiceStub(channel), led, view, rolls
    await channel.close()
    await nowhere.close()
    await server.stop(None)
    await engine.dispose()


def _to_state(body: bytes):
    return ElectionState(decode_transition(body).to_state)


async def test_credential_flow_and_refusals(reg):
    stub, led, view, rolls = reg
    eid, roll, provider = led.election_id, led.roll, IDP
    owner = roll.owners[0]
    elig, esig = provider.attest(owner.owner_id, eid)  # eligibility only
    # not issuing before READY (the ledger shows the key ceremony)
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(elig, esig))), grpc.StatusCode.FAILED_PRECONDITION, None,
        "NOT_ISSUING")
    view.visible = len(view.entries)  # READY and OPEN on the ledger
    # before the registrar has the roll the definition commits to
    await expect(stub.GetEligibility(election_pb2.GetEligibilityRequest(
        attestation=attestation_pb(elig, esig))), grpc.StatusCode.FAILED_PRECONDITION, None,
        "ROLL_NOT_IMPORTED")
    await rolls.import_csv(SAMPLE_ROLL)
    issuers = {w: led.registrars.issuer(R, w) for w in led.registrars.weights}
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
    verify_credential(IssuerSet(eid, 1, {R: issuers}), cred)  # this registrar's signature
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
