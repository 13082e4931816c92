"""Independent registrars over real processes (issue 12 §1, §2, §7): a server, three validating
witnesses and three registrars (``python -m server.registrar``, each with its own store and
keys), a credential needing two of them. The attacks of the threat model's operator and
registrar: a credential minted with one registrar's keys, issuance records that are forged, for
another election or another class, records sent by someone who is not their registrar, voting
tokens beyond the attested issuances; and the order of issuance, which no store may keep."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.v1 import election_pb2, election_pb2_grpc
from sqlalchemy import text

from clients.auditor import verify
from clients.ledger_export import fetch_export
from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, guardian_names
from clients.voter_sdk import PreparedCast, Refused
from crypto.attestation import DemoIdentityProvider, blinded_digest
from crypto.ballot import encrypt_ballot
from crypto.cast import sign_ballot
from crypto.credential import (
    finalize_credential,
    generate_token,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.issuance import Issuance, batch, encode_issuances, sign_issuances
from crypto.records import ElectionState
from rules.roll_csv import parse_roll_csv
from server.db import make_engine
from server.registrar.issuer_keys import IssuerKeys

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
OWNERS = list(parse_roll_csv(ROLL.decode()).owners)


def start_cluster(directory: Path, prefix: str, dsn: str | None) -> LocalCluster:
    eid = f"{prefix}-{secrets.token_hex(3)}"
    c = LocalCluster(directory, dsn=dsn, origin=f"{prefix}.example/{eid}",
                     guardian_names=guardian_names(eid, 3), lifecycle_tick=0.1,
                     registrar_batch_interval=3600.0)  # batches at the close only
    c.election_id = eid
    return c.start()


@pytest.fixture
def cluster(own_dsn, tmp_path):
    c = start_cluster(tmp_path / "cluster", "reg", own_dsn)
    try:
        yield c
    finally:
        c.stop()


async def refused(call, code: grpc.StatusCode, reason: str | None = None) -> None:
    with pytest.raises((Refused, grpc.RpcError)) as err:
        await call
    e = err.value
    got = e.code if isinstance(e, Refused) else e.code()
    assert got == code, e
    if reason is not None and isinstance(e, Refused):
        assert e.reason == reason, e


def operator_keys(cluster: LocalCluster, name: str):
    """What an operator who took one registrar's machine holds: its signing key, and its issuer
    keys (its store and its key encryption key)."""
    d = cluster.directory
    signing = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex((d / f"registrar-{name}.key").read_text().strip()))
    kek = (d / f"registrar-{name}.kek").read_bytes().strip()
    return signing, IssuerKeys(make_engine(cluster.registrar_dsn(name)), name, signing, kek)


async def mint(election, cluster: LocalCluster, names, weight: int):
    """A credential for a fresh token signed with these registrars' keys, no attestation, no
    issuance record: what an operator holding those keys can make."""
    token = generate_token()
    parts = []
    for name in names:
        r = election.definition.registrar_index(name)
        _, keys = operator_keys(cluster, name)
        private = (await keys.private(election.election_id))[weight]
        await keys.engine.dispose()
        q = request_credential(election.issuers[r][weight], token_public_bytes(token))
        parts.append(finalize_credential(q, issue_credential(private, q.blinded_msg)))
    return token, merge_credentials(parts)


def forged_batch(election, cluster, name: str, item: Issuance, seq: int = 0) -> bytes:
    signing, _ = operator_keys(cluster, name)
    return encode_issuances(sign_issuances(signing, election.election_id,
                                           batch(name, seq, False, [item])))


async def fresh_issuance(election, cluster, name: str, owner: str, weight: int,
                         provider: DemoIdentityProvider, *, election_id: str | None = None,
                         claimed_weight: int | None = None) -> Issuance:
    """An issuance record with the registrar's real blind signature on a fresh blinded message,
    attested by ``provider``."""
    r = election.definition.registrar_index(name)
    _, keys = operator_keys(cluster, name)
    private = (await keys.private(election.election_id))[weight]
    await keys.engine.dispose()
    q = request_credential(election.issuers[r][weight], token_public_bytes(generate_token()))
    att, sig = provider.attest(owner, election_id or election.election_id, [q.blinded_msg])
    return Issuance(owner, claimed_weight or weight, att.canonical_bytes(), sig,
                    blinded_digest(q.blinded_msg), issue_credential(private, q.blinded_msg))


async def test_registrars_issue_accountably_and_every_attack_is_refused(cluster):
    eid = cluster.election_id
    async with ElectionScenario(cluster, eid, poll=0.1) as sc:
        await sc.define(ROLL, f"c-{eid}", motion="Repair the gate", opens_in=12, open_for=14)
        election = await sc.run_ceremony(timeout=60)
        assert len(election.issuers) >= 2 and election.definition.registrar_threshold == 2
        names = [r.name for r in election.definition.registrars]
        first = names[min(election.issuers)]  # a registrar whose keys made it before READY
        second = next(n for n in names if n != first)
        # six owners register, in an order that is not the owners' (the order the stores
        # must not keep)
        arrival = [OWNERS[i].owner_id for i in (5, 0, 3, 1, 4, 2)]
        wallets = {}
        for owner in arrival:
            wallets[owner] = await sc.voter.obtain_credential(
                election, cluster.provider.attester(owner, eid))
        assert all(len(w.credential.signatures) >= 2 for w in wallets.values())
        w0 = wallets[arrival[0]]
        weight = w0.credential.weight

        # the intake takes records only from their own registrar, over mutual TLS
        intake = election_pb2_grpc.IssuanceServiceStub(sc.voter.channel)  # no certificate
        item = await fresh_issuance(election, cluster, first, OWNERS[9].owner_id,
                                    OWNERS[9].area, cluster.provider)
        body = forged_batch(election, cluster, first, item)
        request = election_pb2.PublishIssuancesRequest(election_id=eid, record=body)
        with pytest.raises(grpc.RpcError) as err:
            await intake.PublishIssuances(request)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        other = election_pb2_grpc.IssuanceServiceStub(sc._open(cluster.secure_address,
                                                               f"registrar:{second}"))
        with pytest.raises(grpc.RpcError) as err:
            await other.PublishIssuances(request)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # an operator holding one registrar's machine: records it forges are refused
        theirs = election_pb2_grpc.IssuanceServiceStub(sc._open(cluster.secure_address,
                                                                f"registrar:{first}"))
        forger = DemoIdentityProvider()  # not the identity provider the election trusts
        o9, o10 = OWNERS[9], next(o for o in OWNERS if o.area != OWNERS[9].area)
        cases = [
            await fresh_issuance(election, cluster, first, o9.owner_id, o9.area, forger),
            await fresh_issuance(election, cluster, first, o9.owner_id, o9.area,
                                 cluster.provider, election_id="another-election"),
            await fresh_issuance(election, cluster, first, o9.owner_id, o9.area,
                                 cluster.provider, claimed_weight=o10.area),
        ]
        for bad in cases:
            with pytest.raises(grpc.RpcError) as err:
                await theirs.PublishIssuances(election_pb2.PublishIssuancesRequest(
                    election_id=eid, record=forged_batch(election, cluster, first, bad)))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()

        # a credential minted with one registrar's keys (k = 2) is refused by the ballot box
        await sc.wait_for(ElectionState.OPEN, timeout=40)
        token, minted = await mint(election, cluster, [first], weight)
        cast = sign_ballot(token, encrypt_ballot(election.context, token_public_bytes(token),
                                                 [0]), minted)
        await refused(sc.voter.send(PreparedCast.of(cast)), grpc.StatusCode.INVALID_ARGUMENT)

        for k, owner in enumerate(arrival):
            wallets[owner] = (await sc.voter.cast(election, wallets[owner], [k % 3])).wallet
        await sc.wait_for(ElectionState.TALLYING, timeout=60)
        await sc.decrypt([1, 2])
        await sc.wait_for(ElectionState.PUBLISHED, timeout=40)

        # an owner reads who issued in their name; an owner who did not register finds nothing
        issued = await sc.voter.issued_to(eid, arrival[0])
        assert len(issued) >= 2 and {w for _, w in issued} == {weight}
        assert await sc.voter.issued_to(eid, OWNERS[20].owner_id) == []

        # the auditor checks the issuances against the ballots and against the roll file
        from crypto.records import roll_commitment
        roll = parse_roll_csv(ROLL.decode())
        for _ in range(100):
            lines = verify(await fetch_export(sc.voter.channel), cluster.bundle, eid,
                           roll=roll_commitment(roll),
                           owners={o.owner_id: o.area for o in roll.owners}, issuances=True)
            if f"election {eid}: PUBLISHED" in lines:
                break
            await asyncio.sleep(0.1)
        assert f"election {eid}: PUBLISHED" in lines
        assert any("issuance on the roll: all" in line for line in lines)
        assert any("none above the registrar's issuance records" in line for line in lines)

    # the order of issuance is in no registrar's store
    for name in cluster.registrar_names:
        await assert_no_arrival_order(cluster, name, eid, arrival)


async def assert_no_arrival_order(cluster: LocalCluster, name: str, eid: str,
                                  arrival: list[str]) -> None:
    engine = make_engine(cluster.registrar_dsn(name))
    try:
        async with engine.connect() as conn:
            reg = {"r": name, "e": eid}
            pending = (await conn.execute(text(
                "SELECT count(*) FROM issuance_pending WHERE registrar = :r"), reg)).scalar()
            assert pending == 0
            assert (await conn.execute(text(
                "SELECT count(*) FROM attestation_nonces WHERE registrar = :r"),
                reg)).scalar() == 0  # every issued attestation's nonce is gone
            if engine.dialect.name == "postgresql":
                rows = (await conn.execute(text(
                    "SELECT owner_id FROM issuance_published WHERE registrar = :r "
                    "AND election_id = :e ORDER BY ctid"), reg)).all()
                physical = [r.owner_id for r in rows]
                assert physical == sorted(physical), physical  # the heap in owner order
                return
            rows = (await conn.execute(text(
                "SELECT owner_id, request_hash FROM issuance_published WHERE registrar = :r "
                "AND election_id = :e"), reg)).all()
    finally:
        await engine.dispose()
    if not rows:
        return  # this registrar published no keys in time: it issued nothing
    db = Path(cluster.registrar_dsn(name).split("///", 1)[1])
    hashes = {owner: bytes(h) for owner, h in rows}
    issued_here = [o for o in arrival if o in hashes]
    for f in (db, db.with_name(db.name + "-wal")):
        raw = f.read_bytes() if f.exists() else b""
        found = {o: raw.find(h) for o, h in hashes.items() if raw.find(h) >= 0}
        if len(found) < 2:
            continue
        # wherever the file holds these requests, it holds them in owner order (a batch's
        # order), never in the order they arrived in
        in_file = sorted(found, key=found.get)
        assert in_file in (sorted(found), sorted(found, reverse=True)), (f.name, in_file)
        arrived = [o for o in issued_here if o in found]
        assert in_file != arrived and in_file != arrived[::-1], (f.name, in_file)


async def test_voting_tokens_beyond_the_issuances_stop_the_tally(own_dsn, tmp_path):
    """An operator holding two registrars' keys (k = 2) mints a credential no issuance record
    accounts for and votes with it: the ballot box cannot tell, but at the close the voting
    tokens of that class exceed those registrars' attested issuances, and the tally refuses to
    publish aggregates (every verifier would refuse them: tests/test_issuance.py)."""
    cluster = start_cluster(tmp_path / "cluster", "mint", own_dsn)
    try:
        eid = cluster.election_id
        async with ElectionScenario(cluster, eid, poll=0.1) as sc:
            await sc.define(ROLL, f"c-{eid}", motion="Repair the gate", opens_in=10,
                            open_for=8)
            election = await sc.run_ceremony(timeout=60)
            names = [election.definition.registrars[r].name for r in sorted(election.issuers)]
            owner = OWNERS[0]
            wallet = await sc.voter.obtain_credential(
                election, cluster.provider.attester(owner.owner_id, eid))
            await sc.wait_for(ElectionState.OPEN, timeout=40)
            await sc.voter.cast(election, wallet, [0])
            token, minted = await mint(election, cluster, names[:2], owner.area)
            await sc.voter.send(PreparedCast.of(sign_ballot(token, encrypt_ballot(
                election.context, token_public_bytes(token), [1]), minted)))
            await sc.wait_for(ElectionState.CLOSED, timeout=40)
            await asyncio.sleep(4)  # the finals are in; the tally has tried
            assert await sc.admin.state(eid) is ElectionState.CLOSED
        log = (cluster.directory / "server.log").read_text()
        assert "TOKENS_EXCEED_ISSUANCES" in log or "voting tokens of class" in log
    finally:
        cluster.stop()
