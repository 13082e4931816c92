"""End to end over real gRPC against real processes (server + three validating witnesses), on
SQLite and on PostgreSQL: a whole election through the clients, and every adversarial case of
the issue refused with the right status — and nothing stored (the next accepted entry takes the
very next ledger index)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, wire

from clients.admin import AdminClient
from clients.auditor import verify
from clients.guardian_client import GuardianRefusal
from clients.ledger_export import fetch_export
from clients.scenario import ElectionScenario
from clients.voter_sdk import PreparedCast, Refused
from crypto.audit import LedgerVerifier
from crypto.ballot import encrypt_ballot
from crypto.cast import sign_ballot
from crypto.dkg import GuardianShare
from crypto.encoding import decode_event
from crypto.errors import InvalidProof
from crypto.group import G
from crypto.records import DecryptionSharesRecord, ElectionState
from crypto.threshold import is_trivial, partial_decrypt
from rules.roll_csv import parse_roll_csv
from tests.cluster_support import election_cluster

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
N, T = 3, 2


async def refused(call, code: grpc.StatusCode, reason: str | None = None, *,
                  field: str | None = None) -> Refused:
    with pytest.raises(Refused) as err:
        await call
    assert err.value.code == code, err.value
    if field is not None:
        assert err.value.field == field, err.value
    if reason is not None:
        assert err.value.reason == reason, err.value
    return err.value


@pytest.fixture
def cluster(own_dsn, tmp_path):
    with election_cluster(tmp_path / "cluster", "e2e", dsn=own_dsn, guardians=N) as c:
        yield c


async def test_a_whole_election_and_every_refusal(cluster):
    eid = cluster.election_id
    async with ElectionScenario(cluster, eid, guardians=N, threshold=T, poll=0.1) as scenario:
        await whole_election(scenario)


async def whole_election(scenario: ElectionScenario) -> None:
    cluster, eid = scenario.cluster, scenario.election_id
    voter, public = scenario.voter, scenario.voter.channel
    # an unauthenticated administrator call, and a bearer token (this is no development setup)
    await refused(AdminClient(public, cluster.bundle).import_roll("x", ROLL),
                  grpc.StatusCode.UNAUTHENTICATED)
    await refused(AdminClient(public, cluster.bundle, "not-the-token-at-all").import_roll(
        "x", ROLL), grpc.StatusCode.UNAUTHENTICATED)
    # the administrator over mutual TLS (certificate CN admin); the roll imported once
    await scenario.admin.import_roll(f"c-{eid}", ROLL)
    await refused(scenario.define(ROLL, f"c-{eid}", motion="Repaint the fences", opens_in=8,
                                  open_for=14), grpc.StatusCode.ALREADY_EXISTS, "ROLL_EXISTS")
    await scenario.define(ROLL, f"c2-{eid}", motion="Repaint the fences", opens_in=8,
                          open_for=14)
    # a guardian speaking for another guardian is refused by the server
    g1_as_g2 = election_pb2_grpc.GuardianServiceStub(scenario.guardian(1).channel)
    with pytest.raises(grpc.RpcError) as err:
        await g1_as_g2.RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
            election_id=eid,
            key=wire.guardian_key_pb(scenario.guardian(2).state.key_pair().public)))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    election = await scenario.run_ceremony(timeout=30)
    owners = list(parse_roll_csv(ROLL.decode()).owners)
    wallets = await scenario.issue([o.owner_id for o in owners[:6]], concurrency=1,
                                   election=election)
    # a second, different credential request for the same owner
    await refused(voter.obtain_credential(election, cluster.provider.attester(
        owners[0].owner_id, eid)), grpc.StatusCode.ALREADY_EXISTS)
    # a guardian asked to decrypt before the close refuses by itself
    with pytest.raises(GuardianRefusal, match="close is not on the ledger"):
        await scenario.guardian(1).decrypt()
    await scenario.wait_for(ElectionState.OPEN, timeout=30)
    choices = {}
    for k, o in enumerate(owners[:6]):
        choices[o.owner_id] = k % 3 if k < 4 else 0
        wallets[o.owner_id] = (await voter.cast(election, wallets[o.owner_id],
                                                [choices[o.owner_id]])).wallet
    w0 = wallets[owners[0].owner_id]
    choices[owners[0].owner_id] = 1  # a revote: the highest counter counts
    w0 = (await voter.cast(election, w0, [1])).wallet
    ballot = voter.prepare_cast(election, w0, [1])
    w0 = ballot.wallet
    assert ballot.cast.counter == 3
    last = (await voter.send(ballot)).receipt.index
    # the identical ballot resent (a lost reply, or a replay): the original receipt, nothing
    # appended (a standard retry policy is safe)
    resent = await voter.send(ballot)
    assert resent.receipt.index == last and resent.tree_size >= last + 1
    # a stale counter: another ballot under a counter the token already used
    stale = voter.prepare_cast(election, replace(w0, last_counter=1), [0])
    await refused(voter.send(stale), grpc.StatusCode.FAILED_PRECONDITION, "STALE_COUNTER")
    signed = ballot.cast
    sel = signed.ballot.selections[1]
    bad = replace(sel, ciphertext=replace(sel.ciphertext, beta=sel.ciphertext.beta + G))
    await refused(voter.send(PreparedCast.of(sign_ballot(w0.token, replace(
        signed.ballot, selections=(signed.ballot.selections[0], bad,
                                   signed.ballot.selections[2])), w0.credential))),
        grpc.StatusCode.INVALID_ARGUMENT)  # a tampered proof
    sigs = w0.credential.signatures
    forged = replace(signed, credential=replace(w0.credential, signatures=(
        replace(sigs[0], msg_prefix=bytes(32)), *sigs[1:])))
    await refused(voter.send(PreparedCast.of(forged)),
                  grpc.StatusCode.INVALID_ARGUMENT)  # a forged credential
    # one registrar's signature where the election needs two (an operator holding one
    # registrar's keys mints no ballot)
    await refused(voter.send(PreparedCast.of(sign_ballot(w0.token, signed.ballot, replace(
        w0.credential, signatures=sigs[:1]), 4))), grpc.StatusCode.INVALID_ARGUMENT,
        field="cast_ballot.credential.signatures")
    other_class = next(w for w in election.weights if w != w0.credential.weight)
    await refused(voter.send(PreparedCast.of(replace(signed, credential=replace(
        w0.credential, weight=other_class)))), grpc.StatusCode.INVALID_ARGUMENT)  # another class
    elsewhere = replace(signed, credential=replace(w0.credential, election_id="elsewhere"))
    await refused(voter.send(PreparedCast.of(elsewhere)),
                  grpc.StatusCode.INVALID_ARGUMENT)  # another election
    w1 = wallets[owners[1].owner_id]  # a credential reused for another token
    reused = sign_ballot(w0.token, encrypt_ballot(election.context,
                                                  w0.credential.token_public_key, [0]),
                         w1.credential)
    await refused(voter.send(PreparedCast.of(reused)), grpc.StatusCode.INVALID_ARGUMENT)
    # nothing was stored: no ballot between the last accepted one and the next (a registrar's
    # issuance batch may be)
    nxt = await voter.cast(election, wallets[owners[2].owner_id], [choices[owners[2].owner_id]])
    gap = nxt.receipt.index - last - 1
    between = (await voter.ledger.GetEntries(ledger_pb2.GetEntriesRequest(
        start=last + 1, count=gap))).entries[:gap] if gap else []
    assert [decode_event(e).kind for e in between if decode_event(e).kind == "ballot"] == []
    await scenario.wait_for(ElectionState.TALLYING, timeout=40)
    # after the close each phone proves that the count takes its own latest ballot
    counted = await voter.check_counted(w0)
    assert (counted.counter, counted.index) == (3, last) and counted.close_index > last
    assert (await voter.check_counted(wallets[owners[1].owner_id])).counter == 1
    # a copy of owner 0's wallet from before the revotes (a stolen phone's, or a stale backup)
    # learns that a later ballot of its token counts, not the one it cast
    with pytest.raises(InvalidProof, match="a later ballot of your token"):
        await voter.check_counted(wallets[owners[0].owner_id])
    await refused(voter.cast(election, w0, [0]), grpc.StatusCode.FAILED_PRECONDITION)
    await refused(voter.result(eid), grpc.StatusCode.FAILED_PRECONDITION)
    # guardian shares: for another ciphertext, with a bad proof, from fewer than t
    await scenario.decrypt([1])
    verifier = LedgerVerifier()
    for i, entry in enumerate((await fetch_export(public)).entries):
        verifier.apply(i, entry)
    labelled = {label: ct for label, ct in
                verifier.election(eid).aggregates.labelled().items() if not is_trivial(ct)}
    mine = GuardianShare(2, scenario.guardian(2).state.share)
    honest = {label: partial_decrypt(eid, label, mine, ct) for label, ct in labelled.items()}
    l0, l1 = list(labelled)[:2]
    # guardian 2's share of aggregate l1, presented as its share of l0
    other_ciphertext = dict(honest, **{l0: partial_decrypt(eid, l0, mine, labelled[l1])})
    bad_proof = dict(honest, **{l1: replace(honest[l1], proof=replace(
        honest[l1].proof, response=honest[l1].proof.response + 1))})
    stub = election_pb2_grpc.GuardianServiceStub(scenario.guardian(2).channel)
    for bad_shares in (other_ciphertext, bad_proof):
        with pytest.raises(grpc.RpcError) as err:
            await stub.SubmitDecryptionShares(wire.decryption_shares_request_pb(
                eid, DecryptionSharesRecord(2, tuple(bad_shares.items()))))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await refused(voter.result(eid), grpc.StatusCode.FAILED_PRECONDITION)  # 1 < t
    await scenario.decrypt([3])
    await scenario.wait_for(ElectionState.PUBLISHED, timeout=30)
    result = await voter.result(eid)
    weight = {o.owner_id: o.area for o in owners}
    for i, opt in enumerate(result.options):
        chose = [o for o, c in choices.items() if c == i]
        assert (opt.headcount, opt.area) == (len(chose), sum(weight[o] for o in chose))
    assert result.guardians == (1, 3) and not result.quorum_met
    # the auditor verifies the whole ledger (once the last transition is co-signed)
    for _ in range(100):
        export = await fetch_export(public)
        lines = verify(export, cluster.bundle, eid)
        if f"election {eid}: PUBLISHED" in lines:
            break
        await asyncio.sleep(0.1)
    assert f"election {eid}: PUBLISHED" in lines
