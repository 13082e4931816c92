"""Registration under attack, over real gRPC against real processes (a server, or two over one
PostgreSQL, and three validating witnesses): the attestation authorises one request, once, and
nobody can block an owner (issue 12 §3, §5).

* the lock-out attempt: forgeries naming an owner, and a stolen attestation replayed with other
  blinded messages, and the owner's own valid attestation still registers;
* 200 failures from one IP over as many connections (and server processes): refused
  RATE_LIMITED, with RetryInfo, after the limit (the limit is the IP's, not ip:port's);
* a stolen attestation with another blinded message: UNAUTHORISED_REQUEST, while the owner's
  own request with it goes through;
* a replayed nonce: NONCE_REPLAYED, while the identical retry gets the identical signature.

The servers honour ``x-forwarded-for`` (``trusted_proxy_header``), so each test but the
200-failure one speaks as a client address of its own and the tests do not share a limit.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import election_pb2_grpc, wire

from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names
from clients.voter_sdk import VoterClient
from crypto.attestation import DemoIdentityProvider, blinded_digest
from crypto.credential import finalize_credential, verify_credential
from rules.roll_csv import parse_roll_csv
from server.db import create_database, drop_database
from server.status import details_of
from tests.conftest import PG_BASE
from tests.support.ballots import blinded_request

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
OWNERS = [o.owner_id for o in parse_roll_csv(ROLL.decode()).owners]
CLIENT_LIMIT = 20  # failures per client address in five minutes (server/__main__.py)
OWNER_LIMIT = 5


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(request, tmp_path_factory):
    """A cluster with one election READY; on PostgreSQL two server processes share it."""
    dsn, servers, db = None, 1, None
    if request.param == "postgresql":
        if not PG_BASE:
            pytest.skip("PostgreSQL not configured (set OWNERVOTE_TEST_PG_DSN)")
        db = f"ownervote_reg_{secrets.token_hex(4)}"
        dsn, servers = asyncio.run(create_database(PG_BASE, db)), 2
    eid = f"reg-{secrets.token_hex(3)}"
    cluster = LocalCluster(tmp_path_factory.mktemp("registration") / "cluster", dsn=dsn,
                           servers=servers, origin=f"reg.example/{eid}", lifecycle_tick=0.1,
                           guardian_names=guardian_names(eid),
                           server_settings=(('trusted_proxy_header = "x-forwarded-for"',),)
                           * servers)
    cluster.start()

    async def ready():
        async with ElectionScenario(cluster, eid, poll=0.1) as scenario:
            await scenario.define(ROLL, f"c-{eid}", motion="Mend the gate", opens_in=8,
                                  open_for=900)
            return await scenario.run_ceremony(timeout=60)

    try:
        election = asyncio.run(ready())
        yield cluster, eid, election
    finally:
        cluster.stop()
        if db is not None:
            asyncio.run(drop_database(PG_BASE, db))


def as_client(ip: str) -> list[tuple[str, str]]:
    """The header the deployment's trusted proxy would add for a client at ``ip``."""
    return [("x-forwarded-for", ip)]


async def refusal(call) -> dict:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    return details_of(exc.value)


def credential_request(att, sig, weight: int, blinded_msg: bytes):
    return wire.credential_request_pb(att, sig, weight, blinded_msg)


async def test_the_lock_out_attempt_fails_and_the_owner_still_registers(deployment):
    """Many forged requests naming the owner, from several addresses and connections, and a
    stolen genuine attestation replayed with the attacker's own blinded messages until the
    owner's limit answers RATE_LIMITED: the owner's valid attestation is accepted at once."""
    cluster, eid, election = deployment
    victim = OWNERS[0]
    weight = next(w for w in election.issuers)  # the attacker does not even know the class
    forger = DemoIdentityProvider()  # not the trusted provider: its signatures do not verify
    for k in range(60):
        att, sig = forger.attest(victim, eid, [b"x"])
        async with cluster.channel(cluster.addresses[k % len(cluster.addresses)]) \
                as channel:
            stub = election_pb2_grpc.RegistrationServiceStub(channel)
            ip = f"198.51.100.{k % 4}"
            if k % 2:
                info = await refusal(stub.GetEligibility(
                    wire.eligibility_request_pb(att, sig), metadata=as_client(ip)))
            else:
                info = await refusal(stub.RequestCredential(credential_request(
                    att, sig, weight, b"x" * 512), metadata=as_client(ip)))
        assert info["reason"] in ("IDENTITY_REFUSED", "RATE_LIMITED"), info
    # the owner's own attestation, stolen on the way: replayed with other blinded messages
    _, mine = blinded_request(election.issuers[weight])
    stolen, ssig = cluster.provider.attest(victim, eid, [mine.blinded_msg])
    reasons = []
    async with cluster.channel(cluster.address) as channel:
        stub = election_pb2_grpc.RegistrationServiceStub(channel)
        for k in range(OWNER_LIMIT + 3):
            _, theirs = blinded_request(election.issuers[weight])
            info = await refusal(stub.RequestCredential(credential_request(
                stolen, ssig, weight, theirs.blinded_msg), metadata=as_client(f"192.0.2.{k}")))
            reasons.append(info["reason"])
    assert reasons == ["UNAUTHORISED_REQUEST"] * OWNER_LIMIT + ["RATE_LIMITED"] * 3
    assert 0 < info["retry_delay"] <= 300  # RetryInfo
    # the owner, from the owner's own address: eligibility, then the credential
    async with cluster.channel(cluster.address) as channel:
        voter = VoterClient(channel, cluster.bundle)
        wallet = await voter.obtain_credential(election, cluster.provider.attester(victim, eid))
    verify_credential(election.issuers[wallet.credential.weight], wallet.credential)


async def test_200_failures_from_one_ip_over_many_connections_are_refused_after_the_limit(
        deployment):
    """Every attempt on a new connection (a new source port), alternating between the server
    processes when there are two: the limit is the IP's, shared through the database. After it,
    each refusal is RATE_LIMITED with RetryInfo; a valid attestation from that IP is still
    accepted (its signature is checked first)."""
    cluster, eid, election = deployment
    forger = DemoIdentityProvider()
    reasons, delays = [], []
    for k in range(200):
        att, sig = forger.attest(OWNERS[k % len(OWNERS)], eid)
        address = cluster.addresses[k % len(cluster.addresses)]
        async with cluster.channel(address) as channel:
            stub = election_pb2_grpc.RegistrationServiceStub(channel)
            info = await refusal(stub.GetEligibility(wire.eligibility_request_pb(att, sig)))
        reasons.append(info["reason"])
        delays.append(info["retry_delay"])
    assert reasons == ["IDENTITY_REFUSED"] * CLIENT_LIMIT + ["RATE_LIMITED"] * (200 - CLIENT_LIMIT)
    assert all(d is None for d in delays[:CLIENT_LIMIT])
    assert all(0 < d <= 300 for d in delays[CLIENT_LIMIT:])
    # the refusals stop nobody with a valid attestation, from this very IP
    async with cluster.channel(cluster.addresses[-1]) as channel:
        voter = VoterClient(channel, cluster.bundle)
        owner = OWNERS[1]
        weight = await voter.eligibility(*cluster.provider.attest(owner, eid))
        wallet = await voter.obtain_credential(election, cluster.provider.attester(owner, eid),
                                               weight)
    assert wallet.credential.weight == weight


async def test_a_stolen_attestation_with_another_blinded_message_is_refused(deployment):
    """An on-path attacker takes the owner's attestation and sends it first, with a blinded
    message of its own token: refused, and the owner's request with the same attestation then
    gets its credential. Replaying the owner's request exactly gets the attacker only the
    owner's blind signature, which unblinds with the owner's secret alone."""
    cluster, eid, election = deployment
    owner = OWNERS[2]
    me = as_client("203.0.113.30")
    async with cluster.channel(cluster.address) as channel:
        stub = election_pb2_grpc.RegistrationServiceStub(channel)
        weight = (await stub.GetEligibility(wire.eligibility_request_pb(
            *cluster.provider.attest(owner, eid)), metadata=me)).weight
        _, phone = blinded_request(election.issuers[weight])
        att, sig = cluster.provider.attest(owner, eid, [phone.blinded_msg])
        _, thief = blinded_request(election.issuers[weight])
        info = await refusal(stub.RequestCredential(credential_request(
            att, sig, weight, thief.blinded_msg), metadata=as_client("198.51.100.66")))
        assert (info["code"], info["reason"], info["field"]) == (
            grpc.StatusCode.PERMISSION_DENIED, "UNAUTHORISED_REQUEST", "attestation.authorises")
        # nor can the thief make the attestation say otherwise: its signature then fails
        info = await refusal(stub.RequestCredential(credential_request(
            replace(att, authorises=tuple(sorted(att.authorises + (
                blinded_digest(thief.blinded_msg),)))), sig, weight, thief.blinded_msg),
            metadata=as_client("198.51.100.66")))
        assert (info["reason"], info["field"]) == ("IDENTITY_REFUSED", "attestation")
        got = await stub.RequestCredential(credential_request(att, sig, weight,
                                                              phone.blinded_msg), metadata=me)
        replayed = await stub.RequestCredential(credential_request(
            att, sig, weight, phone.blinded_msg), metadata=as_client("198.51.100.66"))
    assert replayed.blind_sig == got.blind_sig
    credential = finalize_credential(phone, got.blind_sig)
    verify_credential(election.issuers[weight], credential)


async def test_a_replayed_nonce_is_refused_and_the_identical_retry_is_answered(deployment):
    """Each nonce once: an attestation authorising two blinded messages is good for one
    request; another attestation carrying a used nonce (a provider that repeats itself) is
    refused NONCE_REPLAYED; the identical retry of the request that used it gets the identical
    blind signature."""
    cluster, eid, election = deployment
    nonce = secrets.token_bytes(16)
    repeating = replace(cluster.provider, nonce_source=lambda: nonce)  # the trusted key
    me = as_client("203.0.113.40")
    first, second = OWNERS[3], OWNERS[4]
    async with cluster.channel(cluster.addresses[0]) as a, \
            cluster.channel(cluster.addresses[-1]) as b:
        stub_a = election_pb2_grpc.RegistrationServiceStub(a)
        stub_b = election_pb2_grpc.RegistrationServiceStub(b)  # another process, if two
        w1 = (await stub_a.GetEligibility(wire.eligibility_request_pb(
            *repeating.attest(first, eid)), metadata=me)).weight  # eligibility uses no nonce
        _, one = blinded_request(election.issuers[w1])
        _, two = blinded_request(election.issuers[w1])
        att, sig = repeating.attest(first, eid, [one.blinded_msg, two.blinded_msg])
        got = await stub_a.RequestCredential(credential_request(att, sig, w1, one.blinded_msg),
                                             metadata=me)
        info = await refusal(stub_b.RequestCredential(credential_request(
            att, sig, w1, two.blinded_msg), metadata=me))
        assert (info["code"], info["reason"], info["field"]) == (
            grpc.StatusCode.PERMISSION_DENIED, "NONCE_REPLAYED", "attestation.nonce")
        w2 = (await stub_b.GetEligibility(wire.eligibility_request_pb(
            *repeating.attest(second, eid)), metadata=me)).weight
        _, other = blinded_request(election.issuers[w2])
        info = await refusal(stub_b.RequestCredential(credential_request(
            *repeating.attest(second, eid, [other.blinded_msg]), w2, other.blinded_msg),
            metadata=me))
        assert info["reason"] == "NONCE_REPLAYED"
        again = await stub_b.RequestCredential(credential_request(att, sig, w1,
                                                                  one.blinded_msg), metadata=me)
    assert again.blind_sig == got.blind_sig
    verify_credential(election.issuers[w1], finalize_credential(one, got.blind_sig))
