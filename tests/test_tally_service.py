"""The whole election over real gRPC (SQLite and PostgreSQL): the administrator schedules it,
guardians run the ceremony and later submit decryption shares over mutual TLS, the registrars
(tests/support/registrars.py, their signed records taken through the server's IssuanceIntake)
publish their issuer keys, owners obtain credentials from k = 2 of them and vote (one revotes),
the registrars' final batches go on the ledger at the close, the lifecycle driver moves it
along on an injected clock, SubmitDecryptionShares refuses every bad submission without
storing or appending anything, and GetResult serves the published result, which the
independent auditor confirms."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from fractions import Fraction

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, wire
from sqlalchemy import func, select

from crypto.credential import generate_token
from crypto.group import G, encode_point
from crypto.records import ElectionState, decode_aggregates, decode_transition
from crypto.threshold import partial_decrypt
from server.election.rpc.admin_service import AdminAuth, AdminService
from server.election.rpc.ballot_service import BallotBoxService
from server.election.rpc.election_service import ElectionService
from server.election.rpc.guardian_service import GuardianService
from server.election.tally import decryption_shares
from server.pki import DevCA
from server.tls import TlsConfig
from tests.election_support import new_election
from tests.support.ballots import signed_ballot
from tests.test_admin_service import AUTH, TOKEN, expect
from tests.test_driver import (
    CLOSE,
    OPEN,
    OUTCOME,
    Guardians,
    expected_outcome,
    kinds_in_order,
    make_world,
)

S = ElectionState


class Service:
    """The world of test_driver behind one gRPC server: an insecure port for owners and
    administrators (bearer token), a mutual-TLS port for guardians."""

    def __init__(self, w, tmp_path) -> None:
        self.w = w
        self.ca = DevCA(tmp_path / "pki")
        self.channels: list[grpc.aio.Channel] = []
        self.counters: dict[bytes, int] = {}  # each token's last revote counter

    async def start(self) -> None:
        w = self.w
        server = self.server = grpc.aio.server()
        election_pb2_grpc.add_AdminServiceServicer_to_server(
            AdminService(w.store, AdminAuth(TOKEN), clock=w.clock), server)
        election_pb2_grpc.add_ElectionServiceServicer_to_server(
            ElectionService(w.store, w.tally), server)
        election_pb2_grpc.add_GuardianServiceServicer_to_server(
            GuardianService(w.ceremony, w.tally), server)
        election_pb2_grpc.add_BallotBoxServiceServicer_to_server(
            BallotBoxService(w.store, w.box), server)
        port = server.add_insecure_port("127.0.0.1:0")
        cert, key = self.ca.issue("server.example", client=False)
        self.mtls_port = server.add_secure_port("127.0.0.1:0", TlsConfig(
            cert, key, self.ca.ca_path).server_credentials(require_client_cert=True))
        await server.start()
        channel = self._keep(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        self.admin = election_pb2_grpc.AdminServiceStub(channel)
        self.public = election_pb2_grpc.ElectionServiceStub(channel)
        self.box = election_pb2_grpc.BallotBoxServiceStub(channel)

    def _keep(self, channel: grpc.aio.Channel) -> grpc.aio.Channel:
        self.channels.append(channel)
        return channel

    def guardian(self, eid: str, i: int) -> election_pb2_grpc.GuardianServiceStub:
        cert, key = self.ca.issue(f"{eid}/guardian-{i}", server=False)
        return election_pb2_grpc.GuardianServiceStub(self._keep(grpc.aio.secure_channel(
            f"localhost:{self.mtls_port}", TlsConfig(cert, key, self.ca.ca_path)
            .channel_credentials())))

    async def stop(self) -> None:
        for c in self.channels:
            await c.close()
        await self.server.stop(None)

    async def enrol(self, eid: str, owner):
        """A credential of the first k registrars (each keeps its issuance record)."""
        token = generate_token()
        return token, (await self.w.regs(eid)).credential(owner.owner_id, owner.area, token)

    async def vote(self, eid: str, token, cred, choice: int):
        """Cast for ``choice``; a token's later ballots carry the next revote counter."""
        context = (await self.w.store.get_election(eid)).context()
        key = cred.token_public_key
        counter = self.counters[key] = self.counters.get(key, 0) + 1
        cast = signed_ballot(context, token, cred, [choice], counter=counter)
        return self.box.CastBallot(election_pb2.CastBallotRequest(
            cast_ballot=wire.cast_ballot_pb(cast)))

    async def ceremony(self, eid: str, g: Guardians, stubs) -> None:
        for i, kp in g.keys.items():
            await stubs[i].RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
                election_id=eid, key=wire.guardian_key_pb(kp.public)))
        g.deal_all()
        for i, d in g.dealings.items():
            await stubs[i].SubmitDealing(election_pb2.SubmitDealingRequest(
                election_id=eid, dealing=wire.dealing_pb(d)))


@pytest.fixture
async def svc(own_dsn, tmp_path):  # noqa: F811 (the fixture imported from test_driver)
    w = await make_world(own_dsn, tmp_path)
    s = Service(w, tmp_path)
    await s.start()
    yield s
    await s.stop()
    await w.h.stop()


def submit(eid: str, guardian: int, shares) -> election_pb2.SubmitDecryptionSharesRequest:
    return election_pb2.SubmitDecryptionSharesRequest(
        election_id=eid, guardian=guardian,
        shares=[wire.decryption_share_pb(label, s) for label, s in shares])


async def stored_shares(w, eid: str) -> int:
    async with w.h.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(decryption_shares).where(
            decryption_shares.c.election_id == eid))).scalar_one()


async def to_tallying(s: Service, voters_choices) -> tuple[str, object, Guardians, dict]:
    """Schedule, run the ceremony over gRPC, enrol, vote, close: a TALLYING election."""
    w = s.w
    eid, roll = await new_election(w.store, guardians=3, threshold=2, open_time=OPEN,
                                   close_time=CLOSE)
    scheduled = await s.admin.ScheduleElection(election_pb2.ScheduleElectionRequest(
        election_id=eid), metadata=AUTH)
    assert scheduled.election.state == election_pb2.ELECTION_STATE_KEY_CEREMONY
    g = Guardians.new(eid, 3, 2)
    stubs = {i: s.guardian(eid, i) for i in (1, 2, 3)}
    await s.ceremony(eid, g, stubs)
    await w.publish_keys(eid)
    await w.driver.step()
    w.clock.now += 10
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.READY
    g.combine(await w.ceremony.result(eid))
    creds = {i: await s.enrol(eid, roll.owners[i])
             for i in sorted({i for i, _ in voters_choices})}
    w.clock.now = OPEN + 60
    await w.driver.step()
    choices = {}
    for i, choice in voters_choices:
        await (await s.vote(eid, *creds[i], choice))
        choices[roll.owners[i].owner_id] = (roll.owners[i].area, choice)
    w.clock.now = CLOSE
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.CLOSED
    await w.publish_final(eid)
    await w.driver.step()
    assert (await w.store.get_election(eid)).state is S.TALLYING
    return eid, roll, g, {"stubs": stubs, "creds": creds, "choices": choices}


async def test_decryption_shares_refusals_and_the_published_result(svc):
    s, w = svc, svc.w
    # owner 0 votes oppose then approve (only the latest counts); 18 owners take part
    votes = [(0, 1)] + [(i, 2 if i == 2 else 1 if i % 6 == 5 else 0) for i in range(18)]
    eid, roll, g, ctx = await to_tallying(s, votes)
    stubs, creds, choices = ctx["stubs"], ctx["creds"], ctx["choices"]
    # a ballot after the close is refused
    await expect(await s.vote(eid, *creds[1], 1), grpc.StatusCode.FAILED_PRECONDITION, None,
                 "NOT_OPEN")
    events = await w.events(eid)
    aggregates = next(decode_aggregates(ev.body) for _, ev in events if ev.kind == "aggregates")
    labelled = aggregates.labelled()
    good1, good2, good3 = (g.decrypt(j, aggregates) for j in (1, 2, 3))
    size = (await w.h.ledger.store.head()).size
    # a guardian may speak only for itself
    await expect(stubs[2].SubmitDecryptionShares(submit(eid, 3, good3)),
                 grpc.StatusCode.PERMISSION_DENIED, None, "NOT_THIS_GUARDIAN")
    # a share computed over another aggregate (labels swapped) is refused, nothing stored
    swapped = [(good1[1][0], good1[0][1]), (good1[0][0], good1[1][1]), *good1[2:]]
    info = await expect(stubs[1].SubmitDecryptionShares(submit(eid, 1, swapped)),
                        grpc.StatusCode.INVALID_ARGUMENT, "shares[0]", "BAD_DECRYPTION_SHARE")
    assert info["metadata"]["label"] == good1[1][0]
    # a share over another ciphertext under the right label
    other = partial_decrypt(eid, good1[0][0], g.shares[1], labelled["option[1].area"])
    await expect(stubs[1].SubmitDecryptionShares(submit(eid, 1, [(good1[0][0], other),
                                                                 *good1[1:]])),
                 grpc.StatusCode.INVALID_ARGUMENT, "shares[0]", "BAD_DECRYPTION_SHARE")
    # a bad proof
    label, share = good1[3]
    bad = replace(share, proof=replace(share.proof, response=(share.proof.response + 1)))
    info = await expect(stubs[1].SubmitDecryptionShares(submit(
        eid, 1, [*good1[:3], (label, bad), *good1[4:]])),
        grpc.StatusCode.INVALID_ARGUMENT, "shares[3]", "BAD_DECRYPTION_SHARE")
    assert info["metadata"]["label"] == label
    # another guardian's valid share under this guardian's name
    await expect(stubs[1].SubmitDecryptionShares(submit(
        eid, 1, [good2[0], *good1[1:]])), grpc.StatusCode.INVALID_ARGUMENT)
    # missing, unknown, duplicate labels; undecodable bytes; no shares
    await expect(stubs[1].SubmitDecryptionShares(submit(eid, 1, good1[1:])),
                 grpc.StatusCode.INVALID_ARGUMENT, "shares", "MISSING_SHARE")
    await expect(stubs[1].SubmitDecryptionShares(submit(
        eid, 1, [*good1, ("option[9].count", good1[0][1])])),
        grpc.StatusCode.INVALID_ARGUMENT, f"shares[{len(good1)}].label", "UNKNOWN_LABEL")
    await expect(stubs[1].SubmitDecryptionShares(submit(eid, 1, [*good1, good1[0]])),
                 grpc.StatusCode.INVALID_ARGUMENT, f"shares[{len(good1)}].label",
                 "DUPLICATE_LABEL")
    req = submit(eid, 1, good1)
    req.shares[2].share = b"\x05" + bytes(32)
    await expect(stubs[1].SubmitDecryptionShares(req), grpc.StatusCode.INVALID_ARGUMENT,
                 "shares[2].share", "UNDECODABLE")
    req = submit(eid, 1, good1)
    req.shares[1].proof.response = b"\xff" * 32
    await expect(stubs[1].SubmitDecryptionShares(req), grpc.StatusCode.INVALID_ARGUMENT,
                 "shares[1].proof.response", "UNDECODABLE")
    await expect(stubs[1].SubmitDecryptionShares(submit(eid, 1, [])),
                 grpc.StatusCode.INVALID_ARGUMENT, "shares")
    await expect(stubs[1].SubmitDecryptionShares(submit(eid, 0, good1)),
                 grpc.StatusCode.INVALID_ARGUMENT, "guardian")
    await expect(stubs[1].SubmitDecryptionShares(submit("No Such", 1, good1)),
                 grpc.StatusCode.INVALID_ARGUMENT, "election_id")
    assert (await w.h.ledger.store.head()).size == size and await stored_shares(w, eid) == 0
    # guardian 3 first, then 1: t = 2 valid submissions publish the result
    resp = await stubs[3].SubmitDecryptionShares(submit(eid, 3, good3))
    assert resp.receipt.index == size
    await expect(stubs[3].SubmitDecryptionShares(submit(eid, 3, good3)),
                 grpc.StatusCode.ALREADY_EXISTS, "guardian", "ALREADY_SUBMITTED")
    await expect(s.public.GetResult(election_pb2.GetResultRequest(election_id=eid)),
                 grpc.StatusCode.FAILED_PRECONDITION, "election_id", "NOT_PUBLISHED")
    await stubs[1].SubmitDecryptionShares(submit(eid, 1, good1))
    assert (await w.store.get_election(eid)).state is S.PUBLISHED
    await expect(stubs[2].SubmitDecryptionShares(submit(eid, 2, good2)),
                 grpc.StatusCode.FAILED_PRECONDITION, None, "NOT_TALLYING")
    got = await s.public.GetResult(election_pb2.GetResultRequest(election_id=eid))
    definition = (await w.store.get_election(eid)).definition
    expected = expected_outcome(definition, await w.store.roll_commitment(definition.roll_id),
                                choices)
    t = expected.tally
    assert list(got.guardians) == [1, 3] and got.election_id == eid
    assert (got.participating_owners, got.participating_area) == (18, t.participating_area)
    assert got.quorum_met and got.options[0].outcome == election_pb2.OUTCOME_PASSED
    for o, want, status in zip(got.options, t.options, expected.options, strict=True):
        assert (o.name, o.area, o.headcount) == (want.name, want.area, want.headcount)
        assert Fraction(o.area_fraction.numerator, o.area_fraction.denominator) == \
            Fraction(want.area, t.participating_area)
        assert Fraction(o.headcount_fraction.numerator, o.headcount_fraction.denominator) == \
            Fraction(want.headcount, 18)
        assert o.outcome == OUTCOME[status.status]
    assert sum(o.headcount for o in got.options) == 18  # the revote counted once
    events = await w.events(eid)
    assert got.receipt.index == next(i for i, ev in events if ev.kind == "result")
    assert kinds_in_order(events)[-13:] == [
        "state:READY", "state:OPEN", "ballot", "state:CLOSED", "issuances", "issuances",
        "issuances", "aggregates", "state:TALLYING", "decryption-shares", "decryption-shares",
        "result", "state:PUBLISHED"]
    assert (await w.audit()).election(eid).result is not None
    await expect(s.public.GetResult(election_pb2.GetResultRequest(election_id="nope")),
                 grpc.StatusCode.NOT_FOUND, "election_id")
    await expect(s.public.GetResult(election_pb2.GetResultRequest(election_id="BAD ID")),
                 grpc.StatusCode.INVALID_ARGUMENT, "election_id")


async def test_shares_before_tallying_and_concurrent_submissions_publish_once(svc):
    s, w = svc, svc.w
    eid, roll = await new_election(w.store, guardians=3, threshold=2, open_time=OPEN,
                                   close_time=CLOSE)
    stub = s.guardian(eid, 1)
    dummy = election_pb2.DecryptionShare(label="option[0].count", share=encode_point(G))
    dummy.proof.commitment_g = encode_point(G)
    dummy.proof.commitment_h = encode_point(G)
    dummy.proof.response = (1).to_bytes(32, "big")
    await expect(stub.SubmitDecryptionShares(election_pb2.SubmitDecryptionSharesRequest(
        election_id=eid, guardian=1, shares=[dummy])), grpc.StatusCode.FAILED_PRECONDITION,
        None, "NOT_TALLYING")
    await expect(stub.SubmitDecryptionShares(election_pb2.SubmitDecryptionSharesRequest(
        election_id="no-such-election", guardian=1, shares=[dummy])),
        grpc.StatusCode.PERMISSION_DENIED)
    del eid
    eid, roll, g, ctx = await to_tallying(s, [(0, 0), (1, 1)])
    aggregates = await w.tally.aggregates(eid)
    results = await asyncio.gather(*(ctx["stubs"][j].SubmitDecryptionShares(
        submit(eid, j, g.decrypt(j, aggregates))) for j in (1, 2, 3)), return_exceptions=True)
    ok = [r for r in results if isinstance(r, election_pb2.SubmitDecryptionSharesResponse)]
    late = [r for r in results if not isinstance(r, election_pb2.SubmitDecryptionSharesResponse)]
    assert len(ok) >= 2
    assert all(r.code() == grpc.StatusCode.FAILED_PRECONDITION for r in late)
    kinds = kinds_in_order(await w.events(eid))
    assert kinds.count("result") == 1 and kinds.count("state:PUBLISHED") == 1
    assert kinds[-1] == "state:PUBLISHED"
    got = await s.public.GetResult(election_pb2.GetResultRequest(election_id=eid))
    assert [o.headcount for o in got.options] == [1, 1, 0]
    assert not got.quorum_met and got.options[0].outcome == election_pb2.OUTCOME_NO_QUORUM
    transitions = [decode_transition(ev.body).at for _, ev in await w.events(eid)
                   if ev.kind == "state"]
    assert transitions == sorted(transitions)
    await w.audit()
