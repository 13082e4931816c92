"""Registration under attack, over real gRPC against real processes (a server, three validating
witnesses and the three registrars of ``python -m server.registrar``, reached over TLS): the
attestation authorises one request, once, and nobody can block an owner (issue 12 §3, §5).

* the lock-out attempt: forgeries naming an owner, and the owner's stolen attestation replayed
  with other blinded messages until RATE_LIMITED, and the owner's own valid attestation still
  registers;
* 200 failures from one IP, each over a new connection: refused RATE_LIMITED, with RetryInfo,
  after the limit (the limit is the IP's, not ip:port's); a valid attestation still accepted;
* a stolen attestation with another blinded message: UNAUTHORISED_REQUEST, while the owner's
  own request with it goes through;
* a replayed nonce: NONCE_REPLAYED, while the identical retry gets the identical signature.

The cluster's registrars honour no proxy header (LocalCluster passes no
``--trusted-proxy-header``), so every call here comes from 127.0.0.1, and each registrar
counts that client's failures (20 in 300 s) in its own scope. The tests therefore share the
module's cluster by giving each registrar one job: the forgeries go to FORGED, the 200
failures to FLOODED, and the requests with genuine attestations to REPLAYED, whose 12 failures
over all the tests stay under the client limit (any subset of the tests, in any order, sees the
same answers).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import election_pb2_grpc, wire
from ownervote.v1.wire import details_of

from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names
from crypto.attestation import DemoIdentityProvider, blinded_digest
from crypto.credential import IssuerSet, finalize_credential, verify_credential
from rules.roll_csv import parse_roll_csv
from server.db import create_database, drop_database
from tests.conftest import PG_BASE
from tests.support.ballots import blinded_request

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
OWNERS = [o.owner_id for o in parse_roll_csv(ROLL.decode()).owners]
CLIENT_LIMIT = 20  # failures per client address in five minutes (server/registrar/__main__.py)
OWNER_LIMIT = 5
ROLES: dict[str, str] = {}  # forged, replayed, flooded -> a registrar's name (the fixture's)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(request, tmp_path_factory):
    """A cluster with one election READY and every registrar's issuer keys on the ledger; on
    PostgreSQL the server and the registrars keep their stores in one database."""
    dsn, db = None, None
    if request.param == "postgresql":
        if not PG_BASE:
            pytest.skip("PostgreSQL not configured (set OWNERVOTE_TEST_PG_DSN)")
        db = f"ownervote_reg_{secrets.token_hex(4)}"
        dsn = asyncio.run(create_database(PG_BASE, db))
    eid = f"reg-{secrets.token_hex(3)}"
    cluster = LocalCluster(tmp_path_factory.mktemp("registration") / "cluster", dsn=dsn,
                           origin=f"reg.example/{eid}", lifecycle_tick=0.1,
                           guardian_names=guardian_names(eid))
    cluster.start()

    async def ready():
        async with ElectionScenario(cluster, eid, poll=0.1) as scenario:
            await scenario.define(ROLL, f"c-{eid}", motion="Mend the gate", opens_in=8,
                                  open_for=900)
            return await scenario.run_ceremony(timeout=60)

    try:
        election = asyncio.run(ready())
        # the requests with genuine attestations need a registrar whose keys are on the ledger
        # (k = 2 of them are, at READY; a third may be late): the forgeries need none
        names = [r.name for r in election.definition.registrars]
        keyed = [names[r] for r in sorted(election.issuers)]
        ROLES.update(replayed=keyed[0], flooded=keyed[1],
                     forged=next(n for n in names if n not in keyed[:2]))
        yield cluster, eid, election
    finally:
        cluster.stop()
        if db is not None:
            asyncio.run(drop_database(PG_BASE, db))


def issuer(election, name: str, weight: int):
    """The registrar's issuer key of the class, as the ledger has it."""
    return election.issuers[election.definition.registrar_index(name)][weight]


def one_registrar(election, name: str) -> IssuerSet:
    """The keys of this registrar alone, k = 1: what verifies its single signature."""
    r = election.definition.registrar_index(name)
    return IssuerSet(election.election_id, 1, {r: election.issuers[r]})


def registrar(cluster: LocalCluster, name: str) -> grpc.aio.Channel:
    """A new TLS connection to the registrar (a new source port)."""
    return grpc.aio.secure_channel(cluster.registrar_addresses[name], cluster.credentials())


async def refusal(call) -> dict:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    return details_of(exc.value)


def credential_request(att, sig, weight: int, blinded_msg: bytes):
    return wire.credential_request_pb(att, sig, weight, blinded_msg)


async def test_the_lock_out_attempt_fails_and_the_owner_still_registers(deployment):
    """Many forged requests naming the owner, each over a connection of its own, and a stolen
    genuine attestation replayed with the attacker's own blinded messages until the owner's
    limit answers RATE_LIMITED: the owner's valid attestation is accepted at once, by both the
    registrar that refused the attacker's client and the one that refused the owner's name."""
    cluster, eid, election = deployment
    FORGED = ROLES["forged"]  # noqa: N806
    REPLAYED = ROLES["replayed"]  # noqa: N806
    names = [r.name for r in election.definition.registrars]
    victim = OWNERS[0]
    weight = election.weights[0]  # the attacker does not even know the class
    forger = DemoIdentityProvider()  # not the trusted provider: its signatures do not verify
    reasons = []
    for k in range(60):
        att, sig = forger.attest(victim, eid, [b"x"])
        async with registrar(cluster, FORGED) as channel:
            stub = election_pb2_grpc.RegistrationServiceStub(channel)
            if k % 2:
                info = await refusal(stub.GetEligibility(wire.eligibility_request_pb(att, sig)))
            else:
                info = await refusal(stub.RequestCredential(credential_request(
                    att, sig, weight, b"x" * 512)))
        reasons.append(info["reason"])
    # the client is limited; the owner the forgeries name is not
    assert reasons == ["IDENTITY_REFUSED"] * CLIENT_LIMIT + ["RATE_LIMITED"] * (60 - CLIENT_LIMIT)
    # the owner's own attestation, stolen on the way: replayed with other blinded messages
    weight = await eligibility(cluster, REPLAYED, *cluster.provider.attest(victim, eid))
    _, mine = blinded_request(issuer(election, REPLAYED, weight))
    stolen, ssig = cluster.provider.attest(victim, eid, [mine.blinded_msg])
    reasons = []
    async with registrar(cluster, REPLAYED) as channel:
        stub = election_pb2_grpc.RegistrationServiceStub(channel)
        for _ in range(OWNER_LIMIT + 3):
            _, theirs = blinded_request(issuer(election, REPLAYED, weight))
            info = await refusal(stub.RequestCredential(credential_request(
                stolen, ssig, weight, theirs.blinded_msg)))
            reasons.append(info["reason"])
    assert reasons == ["UNAUTHORISED_REQUEST"] * OWNER_LIMIT + ["RATE_LIMITED"] * 3
    assert 0 < info["retry_delay"] <= 300  # RetryInfo
    # the owner, from the same address: the credential, FORGED's and REPLAYED's signatures in it
    async with ElectionScenario(cluster, eid) as scenario:
        wallet = await scenario.voter.obtain_credential(
            election, cluster.provider.attester(victim, eid))
    assert {REPLAYED} <= {names[s.registrar] for s in wallet.credential.signatures}
    verify_credential(election.issuer_set, wallet.credential)


async def eligibility(cluster: LocalCluster, name: str, att, sig) -> int:
    async with registrar(cluster, name) as channel:
        return (await election_pb2_grpc.RegistrationServiceStub(channel).GetEligibility(
            wire.eligibility_request_pb(att, sig))).weight


async def test_200_failures_from_one_ip_over_many_connections_are_refused_after_the_limit(
        deployment):
    """Every attempt on a new connection (a new source port): the limit is the IP's. After it,
    each refusal is RATE_LIMITED with RetryInfo; a valid attestation from that IP is still
    accepted (its signature is checked first)."""
    cluster, eid, election = deployment
    FLOODED = ROLES["flooded"]  # noqa: N806
    names = [r.name for r in election.definition.registrars]
    forger = DemoIdentityProvider()
    reasons, delays = [], []
    for k in range(200):
        att, sig = forger.attest(OWNERS[k % len(OWNERS)], eid)
        async with registrar(cluster, FLOODED) as channel:
            stub = election_pb2_grpc.RegistrationServiceStub(channel)
            info = await refusal(stub.GetEligibility(wire.eligibility_request_pb(att, sig)))
        reasons.append(info["reason"])
        delays.append(info["retry_delay"])
    assert reasons == ["IDENTITY_REFUSED"] * CLIENT_LIMIT + ["RATE_LIMITED"] * (200 - CLIENT_LIMIT)
    assert all(d is None for d in delays[:CLIENT_LIMIT])
    assert all(0 < d <= 300 for d in delays[CLIENT_LIMIT:])
    # the refusals stop nobody with a valid attestation, from this very IP
    owner = OWNERS[1]
    weight = await eligibility(cluster, FLOODED, *cluster.provider.attest(owner, eid))
    async with ElectionScenario(cluster, eid) as scenario:
        wallet = await scenario.voter.obtain_credential(
            election, cluster.provider.attester(owner, eid), weight)
    assert wallet.credential.weight == weight
    assert FLOODED in {names[s.registrar] for s in wallet.credential.signatures}


async def test_a_stolen_attestation_with_another_blinded_message_is_refused(deployment):
    """An on-path attacker takes the owner's attestation and sends it first, with a blinded
    message of its own token: refused, and the owner's request with the same attestation then
    gets its credential. Replaying the owner's request exactly gets the attacker only the
    owner's blind signature, which unblinds with the owner's secret alone."""
    cluster, eid, election = deployment
    REPLAYED = ROLES["replayed"]  # noqa: N806
    owner = OWNERS[2]
    async with registrar(cluster, REPLAYED) as channel, registrar(cluster, REPLAYED) as thiefs:
        stub = election_pb2_grpc.RegistrationServiceStub(channel)
        thief_stub = election_pb2_grpc.RegistrationServiceStub(thiefs)
        weight = (await stub.GetEligibility(wire.eligibility_request_pb(
            *cluster.provider.attest(owner, eid)))).weight
        key = issuer(election, REPLAYED, weight)
        _, phone = blinded_request(key)
        att, sig = cluster.provider.attest(owner, eid, [phone.blinded_msg])
        _, thief = blinded_request(key)
        info = await refusal(thief_stub.RequestCredential(credential_request(
            att, sig, weight, thief.blinded_msg)))
        assert (info["code"], info["reason"], info["field"]) == (
            grpc.StatusCode.PERMISSION_DENIED, "UNAUTHORISED_REQUEST", "attestation.authorises")
        # nor can the thief make the attestation say otherwise: its signature then fails
        info = await refusal(thief_stub.RequestCredential(credential_request(
            replace(att, authorises=tuple(sorted(att.authorises + (
                blinded_digest(thief.blinded_msg),)))), sig, weight, thief.blinded_msg)))
        assert (info["reason"], info["field"]) == ("IDENTITY_REFUSED", "attestation")
        got = await stub.RequestCredential(credential_request(att, sig, weight,
                                                              phone.blinded_msg))
        replayed = await thief_stub.RequestCredential(credential_request(
            att, sig, weight, phone.blinded_msg))
    assert replayed.blind_sig == got.blind_sig
    credential = finalize_credential(phone, got.blind_sig)
    verify_credential(one_registrar(election, REPLAYED), credential)


async def test_a_replayed_nonce_is_refused_and_the_identical_retry_is_answered(deployment):
    """Each nonce once per registrar: an attestation authorising two blinded messages is good
    for one request there (the other meets one credential per owner); another attestation
    carrying a used nonce (a provider that repeats itself) is refused NONCE_REPLAYED; the
    identical retry of the request that used it gets the identical blind signature. Each
    request over a connection of its own."""
    cluster, eid, election = deployment
    REPLAYED = ROLES["replayed"]  # noqa: N806
    nonce = secrets.token_bytes(16)
    repeating = replace(cluster.provider, nonce_source=lambda: nonce)  # the trusted key
    first, second = OWNERS[3], OWNERS[4]

    async def request(att, sig, weight, blinded_msg):
        async with registrar(cluster, REPLAYED) as channel:
            return await election_pb2_grpc.RegistrationServiceStub(channel).RequestCredential(
                credential_request(att, sig, weight, blinded_msg))

    # eligibility uses no nonce
    w1 = await eligibility(cluster, REPLAYED, *repeating.attest(first, eid))
    _, one = blinded_request(issuer(election, REPLAYED, w1))
    _, two = blinded_request(issuer(election, REPLAYED, w1))
    att, sig = repeating.attest(first, eid, [one.blinded_msg, two.blinded_msg])
    got = await request(att, sig, w1, one.blinded_msg)
    # at the same registrar the owner's other blinded message meets one credential per owner
    # (an attestation authorises one blinded message per registrar: the nonce is each one's)
    info = await refusal(request(att, sig, w1, two.blinded_msg))
    assert (info["code"], info["field"]) == (grpc.StatusCode.ALREADY_EXISTS, "blinded_msg")
    w2 = await eligibility(cluster, REPLAYED, *repeating.attest(second, eid))
    _, other = blinded_request(issuer(election, REPLAYED, w2))
    info = await refusal(request(*repeating.attest(second, eid, [other.blinded_msg]), w2,
                                 other.blinded_msg))
    assert (info["code"], info["reason"], info["field"]) == (
        grpc.StatusCode.PERMISSION_DENIED, "NONCE_REPLAYED", "attestation.nonce")
    again = await request(att, sig, w1, one.blinded_msg)
    assert again.blind_sig == got.blind_sig
    verify_credential(one_registrar(election, REPLAYED), finalize_credential(one, got.blind_sig))
