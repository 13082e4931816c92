"""End to end over real gRPC against real processes (server + three validating witnesses), on
SQLite and on PostgreSQL: a whole election through the clients, and every adversarial case of
the issue refused with the right status — and nothing stored (the next accepted entry takes the
very next ledger index)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from clients.admin import AdminClient
from clients.auditor import verify
from clients.channel import open_channel
from clients.guardian_client import GuardianClient, GuardianRefusal, new_guardian
from clients.ledger_export import fetch_export
from clients.local_cluster import LocalCluster
from clients.voter_sdk import Refused, VoterClient
from crypto.audit import LedgerVerifier
from crypto.ballot import encrypt_ballot
from crypto.cast import sign_ballot
from crypto.dkg import GuardianShare
from crypto.group import G
from crypto.records import ElectionState
from crypto.threshold import is_trivial, partial_decrypt
from rules.roll_csv import parse_roll_csv

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
N, T = 3, 2


async def refused(call, code: grpc.StatusCode, reason: str | None = None) -> Refused:
    with pytest.raises(Refused) as err:
        await call
    assert err.value.code == code, err.value
    if reason is not None:
        assert err.value.reason == reason, err.value
    return err.value


@pytest.fixture
def cluster(own_dsn, tmp_path):
    eid = f"e2e-{secrets.token_hex(3)}"
    c = LocalCluster(tmp_path / "cluster", dsn=own_dsn, origin=f"e2e.example/{eid}",
                     guardian_names=tuple(f"{eid}/guardian-{i}" for i in range(1, N + 1)),
                     complaint_window=0.5, lifecycle_tick=0.1)
    c.election_id = eid
    c.start()
    yield c
    c.stop()


async def test_a_whole_election_and_every_refusal(cluster):
    eid = cluster.election_id
    ca = cluster.pki / "ca.pem"
    public = grpc.aio.insecure_channel(cluster.address)
    admin_channel = open_channel(cluster.secure_address, ca, *cluster.cert("admin"))
    admin = AdminClient(admin_channel)
    voter = VoterClient(public)
    guardians = []
    try:
        # an unauthenticated administrator call, and one with a wrong token
        await refused(AdminClient(public).import_roll("x", ROLL), grpc.StatusCode.UNAUTHENTICATED)
        await refused(AdminClient(public, "not-the-token-at-all").import_roll("x", ROLL),
                      grpc.StatusCode.PERMISSION_DENIED)
        r = await AdminClient(public, cluster.admin_token).import_roll(f"c-{eid}", ROLL)
        now = time.time()
        d = election_pb2.ElectionDefinition(
            election_id=eid, roll_id=r.roll_id, motion="Repaint the fences",
            contest=election_pb2.Contest(kind=election_pb2.CONTEST_KIND_REFERENDUM),
            rule=election_pb2.Rule(preset=election_pb2.RULE_PRESET_ORDINARY),
            guardians=N, threshold=T)
        d.open_time.seconds, d.close_time.seconds = int(now + 8), int(now + 22)
        await admin.create_election(d)  # over mutual TLS, certificate CN admin
        await admin.schedule(eid)
        for i in range(1, N + 1):
            path = cluster.directory / f"g{i}.json"
            state = new_guardian(eid, i, N, T)
            state.save(path)
            guardians.append(GuardianClient(open_channel(
                cluster.secure_address, ca, *cluster.cert(f"{eid}/guardian-{i}")), state, path))
        # a guardian speaking for another guardian is refused by the server
        g1_as_g2 = election_pb2_grpc.GuardianServiceStub(guardians[0].channel)
        with pytest.raises(grpc.RpcError) as err:
            await g1_as_g2.RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
                election_id=eid, key=wire.guardian_key_pb(guardians[1].state.key_pair().public)))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        await asyncio.gather(*(g.run_ceremony() for g in guardians))
        await admin.follow(eid, ElectionState.READY, poll=0.1, timeout=30)
        election = await voter.election(eid)
        owners = list(parse_roll_csv(ROLL.decode()).owners)
        wallets = {}
        for o in owners[:6]:
            att, sig = cluster.provider.attest(o.owner_id, eid)
            wallets[o.owner_id] = await voter.obtain_credential(election, att, sig)
        # a second, different credential request for the same owner
        att, sig = cluster.provider.attest(owners[0].owner_id, eid)
        await refused(voter.obtain_credential(election, att, sig),
                      grpc.StatusCode.ALREADY_EXISTS)
        # a guardian asked to decrypt before the close refuses by itself
        with pytest.raises(GuardianRefusal, match="close is not on the ledger"):
            await guardians[0].decrypt()
        await admin.follow(eid, ElectionState.OPEN, poll=0.1, timeout=30)
        choices = {}
        receipts = []
        for k, o in enumerate(owners[:6]):
            choices[o.owner_id] = k % 3 if k < 4 else 0
            receipts.append(await voter.cast(election, wallets[o.owner_id],
                                             [choices[o.owner_id]]))
        w0 = wallets[owners[0].owner_id]
        choices[owners[0].owner_id] = 1  # a revote: the latest counts
        last = (await voter.cast(election, w0, [1])).receipt.index

        async def box(cast):
            return await voter._call(voter.ballot_box.CastBallot, election_pb2.CastBallotRequest(
                cast_ballot=wire.cast_ballot_pb(cast)))

        ballot = sign_ballot(w0.token, encrypt_ballot(election.context,
                                                      w0.credential.token_public_key, [1]),
                             w0.credential)
        last = (await box(ballot)).receipt.index
        choices[owners[0].owner_id] = 1
        await refused(box(ballot), grpc.StatusCode.ALREADY_EXISTS)  # a replay
        sel = ballot.ballot.selections[1]
        bad = replace(sel, ciphertext=replace(sel.ciphertext, beta=sel.ciphertext.beta + G))
        await refused(box(sign_ballot(w0.token, replace(ballot.ballot, selections=(
            ballot.ballot.selections[0], bad, ballot.ballot.selections[2])), w0.credential)),
            grpc.StatusCode.INVALID_ARGUMENT)  # a tampered proof
        forged = replace(ballot, credential=replace(w0.credential, msg_prefix=bytes(32)))
        await refused(box(forged), grpc.StatusCode.INVALID_ARGUMENT)  # a forged credential
        other_class = next(w for w in election.issuers if w != w0.credential.weight)
        await refused(box(replace(ballot, credential=replace(w0.credential, weight=other_class))),
                      grpc.StatusCode.INVALID_ARGUMENT)  # another weight class
        elsewhere = replace(ballot, credential=replace(w0.credential, election_id="elsewhere"))
        await refused(box(elsewhere), grpc.StatusCode.INVALID_ARGUMENT)  # another election
        w1 = wallets[owners[1].owner_id]  # a credential reused for another token
        reused = sign_ballot(w0.token, encrypt_ballot(election.context,
                                                      w0.credential.token_public_key, [0]),
                             w1.credential)
        await refused(box(reused), grpc.StatusCode.INVALID_ARGUMENT)
        # nothing was stored: the next ballot takes the very next index
        nxt = await voter.cast(election, wallets[owners[2].owner_id], [choices[owners[2].owner_id]])
        assert nxt.receipt.index == last + 1
        await admin.follow(eid, ElectionState.TALLYING, poll=0.2, timeout=40)
        await refused(voter.cast(election, w0, [0]), grpc.StatusCode.FAILED_PRECONDITION)
        await refused(voter.result(eid), grpc.StatusCode.FAILED_PRECONDITION)
        # guardian shares: for another ciphertext, with a bad proof, from fewer than t
        await guardians[0].decrypt()
        verifier = LedgerVerifier()
        for i, entry in enumerate((await fetch_export(public)).entries):
            verifier.apply(i, entry)
        labelled = {label: ct for label, ct in
                    verifier.election(eid).aggregates.labelled().items() if not is_trivial(ct)}
        mine = GuardianShare(2, guardians[1].state.share)
        honest = {label: partial_decrypt(eid, label, mine, ct) for label, ct in labelled.items()}
        l0, l1 = list(labelled)[:2]
        # guardian 2's share of aggregate l1, presented as its share of l0
        other_ciphertext = dict(honest, **{l0: partial_decrypt(eid, l0, mine, labelled[l1])})
        bad_proof = dict(honest, **{l1: replace(honest[l1], proof=replace(
            honest[l1].proof, response=honest[l1].proof.response + 1))})
        stub = election_pb2_grpc.GuardianServiceStub(guardians[1].channel)
        for bad_shares in (other_ciphertext, bad_proof):
            with pytest.raises(grpc.RpcError) as err:
                await stub.SubmitDecryptionShares(election_pb2.SubmitDecryptionSharesRequest(
                    election_id=eid, guardian=2,
                    shares=[wire.decryption_share_pb(label, s)
                            for label, s in bad_shares.items()]))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        await refused(voter.result(eid), grpc.StatusCode.FAILED_PRECONDITION)  # 1 < t
        await guardians[2].decrypt()
        await admin.follow(eid, ElectionState.PUBLISHED, poll=0.1, timeout=30)
        result = await voter.result(eid)
        weight = {o.owner_id: o.area for o in owners}
        for i, opt in enumerate(result.options):
            chose = [o for o, c in choices.items() if c == i]
            assert (opt.headcount, opt.area) == (len(chose), sum(weight[o] for o in chose))
        assert result.guardians == (1, 3) and not result.quorum_met
        # the auditor verifies the whole ledger (once the last transition is co-signed)
        for _ in range(100):
            export = await fetch_export(public)
            lines = verify(export, cluster.log_vkey, cluster.witness_vkeys, cluster.quorum, eid)
            if f"election {eid}: PUBLISHED" in lines:
                break
            await asyncio.sleep(0.1)
        assert f"election {eid}: PUBLISHED" in lines
    finally:
        for g in guardians:
            await g.channel.close()
        await admin_channel.close()
        await public.close()
