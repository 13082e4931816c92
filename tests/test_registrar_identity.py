"""The registrar's identity guard (server/registrar/identity.py, limits.py): the signature
first, forgeries counted against the client only, a valid attestation always accepted, limits
keyed by IP (never ip:port) or by a trusted proxy header, shared through the database, and a
nonce used once (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select, text

from crypto.attestation import DemoIdentityProvider
from server.db import make_engine
from server.registrar.identity import (
    AttestationVerifier,
    DatabaseNonces,
    ForgedAttestation,
    GuardedVerifier,
    IdentityRefused,
    MemoryNonces,
    NonceReplayed,
    RateLimited,
    UnauthorisedRequest,
)
from server.registrar.limits import (
    DatabaseFailureLimiter,
    MemoryFailureLimiter,
    client_address,
    peer_address,
)
from server.registrar.schema import attestation_nonces, registration_failures
from server.schema import create_schema

MSG, OTHER = b"\x01" * 256, b"\x02" * 256


@pytest.fixture
async def engine(dsn):
    e = make_engine(dsn)
    await create_schema(e)
    yield e
    await e.dispose()


def test_the_client_is_its_ip_address_never_its_port():
    assert peer_address("ipv4:203.0.113.7:50123") == peer_address("ipv4:203.0.113.7:1") \
        == "203.0.113.7"
    # IPv6 as gRPC writes it (percent-encoded brackets) or plain; a client is its /64
    assert peer_address("ipv6:%5B2001:db8:1:2:aaaa::1%5D:443") == "2001:db8:1:2::/64"
    assert peer_address("ipv6:[2001:db8:1:2:bbbb::9]:5") == "2001:db8:1:2::/64"
    assert peer_address("ipv6:[::1]:5") == "::/64"
    assert peer_address("ipv6:[::ffff:198.51.100.4]:5") == "198.51.100.4"  # IPv4-mapped
    assert peer_address("ipv6:[fe80::1%25eth0]:5") == "fe80::/64"
    assert peer_address("unix:/run/ownervote.sock") == "unix"
    assert peer_address("") == "unknown"


def test_a_proxy_header_is_honoured_only_when_the_deployment_names_it():
    peer = "ipv4:10.0.0.2:40000"  # the reverse proxy
    md = [("user-agent", "x"), ("x-forwarded-for", "198.51.100.9, 203.0.113.5")]
    assert client_address(peer, md) == "10.0.0.2"  # not configured: the client's header ignored
    # configured: the last element, the address the trusted proxy itself appended
    assert client_address(peer, md, "x-forwarded-for") == "203.0.113.5"
    assert client_address(peer, [("X-Real-IP", "2001:db8::7")], "x-real-ip") == "2001:db8::/64"
    assert client_address(peer, [("x-real-ip", "1.1.1.1"), ("x-real-ip", "2.2.2.2")],
                          "x-real-ip") == "2.2.2.2"  # the last value
    # configured but absent or not an address: the connection's address
    assert client_address(peer, [], "x-forwarded-for") == "10.0.0.2"
    assert client_address(peer, [("x-forwarded-for", "nonsense")], "x-forwarded-for") \
        == "10.0.0.2"


async def test_memory_limiter_slides_its_window():
    now = [100.0]
    lim = MemoryFailureLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert await lim.failed("k") is None
        now[0] += 10
    assert await lim.failed("k") == pytest.approx(30)  # the first leaves the window at 160
    assert await lim.failed("other") is None
    now[0] = 160.5
    assert await lim.failed("k") is None  # one slot free again
    assert await lim.failed("k") == pytest.approx(9.5)


async def test_the_database_limiter_is_shared_by_processes(engine):
    """Two limiters on one database (two server processes) count the same failures; the rows
    name no key in clear, and leave when their window does."""
    now = [1_000.0]
    a = DatabaseFailureLimiter(engine, 3, 60, clock=lambda: now[0])
    b = DatabaseFailureLimiter(engine, 3, 60, clock=lambda: now[0])
    assert await a.failed("client:203.0.113.7") is None
    assert await b.failed("client:203.0.113.7") is None
    now[0] += 1
    assert await a.failed("client:203.0.113.7") is None
    assert await b.failed("client:203.0.113.7") == pytest.approx(59)
    assert await b.failed("owner:e1:O001") is None  # another key
    async with engine.connect() as conn:
        rows = (await conn.execute(select(registration_failures))).all()
    assert len(rows) == 4
    assert not any(b"203.0.113.7" in bytes(r.key_hash) or b"O001" in bytes(r.key_hash)
                   for r in rows)
    now[0] += 60
    assert await a.failed("client:203.0.113.7") is None  # the window has passed
    now[0] += 61
    await b.failed("owner:e1:O002")  # sweeps every key's expired rows
    async with engine.connect() as conn:
        assert len((await conn.execute(select(registration_failures))).all()) == 1


def guard(provider, now, owner_limit=3, client_limit=10, nonces=None):
    clock = lambda: now[0]  # noqa: E731
    return GuardedVerifier(AttestationVerifier(provider.public_key, clock=clock),
                           MemoryFailureLimiter(owner_limit, 60, clock=clock),
                           MemoryFailureLimiter(client_limit, 60, clock=clock),
                           nonces or MemoryNonces(clock=clock))


async def test_forgeries_never_count_against_the_owner_they_name():
    """The lock-out attempt: any number of forged requests naming an owner, from any number of
    addresses, and the owner's own attestation is accepted at once."""
    now = [1_000_000.0]
    provider = DemoIdentityProvider(clock=lambda: now[0])
    g = guard(provider, now)
    att, sig = provider.attest("O001", "e1", [MSG])
    forged_sig = bytes([sig[0] ^ 1]) + sig[1:]
    for i in range(50):
        with pytest.raises((ForgedAttestation, RateLimited)):
            await g.verify(att, forged_sig, "e1", client=f"198.51.100.{i % 5}", blinded_msg=MSG)
    assert await g.verify(att, sig, "e1", client="203.0.113.1", blinded_msg=MSG) == "O001"
    # the forgers' addresses are limited: past 10 failures each, RATE_LIMITED with a delay
    with pytest.raises(RateLimited) as err:
        await g.verify(att, forged_sig, "e1", client="198.51.100.0", blinded_msg=MSG)
    assert 0 < err.value.retry_after <= 60
    assert err.value.reason == "RATE_LIMITED" and err.value.metadata["retry_after"]
    # and a valid attestation is accepted even from a limited address: the signature first
    assert await g.verify(att, sig, "e1", client="198.51.100.0", blinded_msg=MSG) == "O001"


async def test_only_a_genuine_attestations_failures_count_against_its_owner():
    """Expired, another election, another blinded message: counted against the owner (and the
    client); past the owner's limit such a failure is RATE_LIMITED, while the owner's valid
    request is still accepted."""
    now = [1_000_000.0]
    provider = DemoIdentityProvider(clock=lambda: now[0], lifetime=30)
    g = guard(provider, now)
    stolen, sig = provider.attest("O001", "e1", [MSG])
    with pytest.raises(UnauthorisedRequest):  # a stolen attestation, another blinded message
        await g.verify(stolen, sig, "e1", client="198.51.100.1", blinded_msg=OTHER)
    with pytest.raises(IdentityRefused) as err:
        await g.verify(stolen, sig, "e2", client="198.51.100.2")
    assert err.value.field == "attestation.election_id"
    with pytest.raises(UnauthorisedRequest):
        await g.verify(stolen, sig, "e1", client="198.51.100.3", blinded_msg=OTHER)
    with pytest.raises(RateLimited) as err:  # the owner's fourth genuine failure
        await g.verify(stolen, sig, "e1", client="198.51.100.4", blinded_msg=OTHER)
    assert "owner" in err.value.message
    fresh, fsig = provider.attest("O001", "e1", [MSG])
    assert await g.verify(fresh, fsig, "e1", client="203.0.113.9", blinded_msg=MSG) == "O001"
    now[0] += 31
    with pytest.raises(RateLimited):  # expired, and the owner is still over the limit
        await g.verify(fresh, fsig, "e1", client="203.0.113.9", blinded_msg=MSG)
    # another owner is not affected, and a forgery naming a third is not counted for it
    other, osig = provider.attest("O002", "e1")
    now[0] += 31
    with pytest.raises(IdentityRefused) as err:
        await g.verify(other, osig, "e1", client="203.0.113.9")
    assert err.value.field == "attestation.expires_at"
    forged = replace(other, owner_id="O003")
    with pytest.raises(ForgedAttestation):
        await g.verify(forged, osig, "e1", client="203.0.113.10")


@pytest.mark.parametrize("kind", ["memory", "database"])
async def test_a_nonce_is_used_once_and_the_identical_retry_is_not_a_second_use(kind, engine):
    now = [1_000.0]
    nonces = MemoryNonces(clock=lambda: now[0], prune_every=0) if kind == "memory" else \
        DatabaseNonces(engine, clock=lambda: now[0], prune_every=0)
    repeat = bytes(16)
    provider = DemoIdentityProvider(clock=lambda: now[0], lifetime=60,
                                    nonce_source=lambda: repeat)  # a provider reusing a nonce
    g = guard(provider, now, nonces=nonces)
    att, sig = provider.attest("O001", "e1", [MSG, OTHER])
    async with g.attempt(att, sig, "203.0.113.1") as attempt:
        attempt.check("e1", MSG)
        await attempt.use_nonce(MSG)
    async with g.attempt(att, sig, "203.0.113.1") as attempt:  # the identical retry
        await attempt.use_nonce(MSG)
    with pytest.raises(NonceReplayed):  # the same attestation's other blinded message
        async with g.attempt(att, sig, "203.0.113.1") as attempt:
            attempt.check("e1", OTHER)
            await attempt.use_nonce(OTHER)
    again, asig = provider.attest("O002", "e1", [MSG])  # another owner, the same nonce
    with pytest.raises(NonceReplayed) as err:
        async with g.attempt(again, asig, "203.0.113.1") as attempt:
            await attempt.use_nonce(MSG)
    assert (err.value.reason, err.value.field) == ("NONCE_REPLAYED", "attestation.nonce")
    async def stored() -> list[tuple[str, int]]:
        if kind == "memory":
            return [(owner, exp) for owner, _, exp in nonces._used.values()]
        async with engine.connect() as conn:
            return [(r.owner_id, r.expires_at)
                    for r in (await conn.execute(select(attestation_nonces))).all()]

    assert await stored() == [("O001", 1_060)]
    now[0] += 60 + 3600 + 1  # an hour past the expiry: pruned on the next use
    later, lsig = provider.attest("O003", "e1", [MSG])
    async with g.attempt(later, lsig, "203.0.113.1") as attempt:
        await attempt.use_nonce(MSG)
    assert await stored() == [("O003", 4_721)]


async def test_the_registrar_tables_keep_no_insertion_order_on_sqlite(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's rowid")
    async with engine.connect() as conn:
        sql = dict((await conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))).all())
    for table in ("attestation_nonces", "registration_failures"):
        assert "WITHOUT ROWID" in sql[table], table


def test_the_trusted_proxy_header_is_a_setting_of_its_own():
    from server.config import ConfigError, load_config

    env = {"OWNERVOTE_ADMIN_TOKEN": "t" * 16, "OWNERVOTE_DEVELOPMENT": "true"}
    assert load_config(env=env).trusted_proxy_header == ""  # unset: no header is read
    assert load_config(env={**env, "OWNERVOTE_TRUSTED_PROXY_HEADER": "x-forwarded-for"}) \
        .trusted_proxy_header == "x-forwarded-for"
    for bad in ("X-Forwarded-For", "grpc-peer", ":authority", "x forwarded"):
        with pytest.raises(ConfigError, match="trusted_proxy_header"):
            load_config(env={**env, "OWNERVOTE_TRUSTED_PROXY_HEADER": bad})
