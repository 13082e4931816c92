"""AdminService and ElectionService over real gRPC on SQLite and PostgreSQL: roll import
(all or nothing, every bad row reported), election definition, scheduling, and the refusals."""

from __future__ import annotations

import secrets
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc

from crypto.encoding import decode_event
from crypto.log.receipt import Receipt, verify_receipt
from crypto.records import decode_roll_commitment, decode_transition
from server.election.rpc.admin_service import AdminAuth, AdminService
from server.election.rpc.election_service import ElectionService
from server.election.store import ElectionStore
from server.status import details_of
from tests.ledger_support import start_log
from tests.support.registrars import Registrars

TOKEN = "admin-token-" + "x" * 20
SAMPLE = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
BAD = (Path(__file__).parent / "vectors" / "rolls" / "bad_roll.csv").read_bytes()


@pytest.fixture
async def admin(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2)
    store = ElectionStore(h.engine, h.ledger)
    server = grpc.aio.server()
    election_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(store, AdminAuth(TOKEN)),
                                                         server)
    election_pb2_grpc.add_ElectionServiceServicer_to_server(ElectionService(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield (election_pb2_grpc.AdminServiceStub(channel),
           election_pb2_grpc.ElectionServiceStub(channel), h, store)
    await channel.close()
    await server.stop(None)
    await h.stop()


AUTH = (("authorization", f"Bearer {TOKEN}"),)


def definition(roll_id: str, election_id: str | None = None, **changes):
    d = election_pb2.ElectionDefinition(
        election_id=election_id or f"gate-{secrets.token_hex(3)}", roll_id=roll_id,
        motion="Use the maintenance fund to rebuild the north gate",
        contest=election_pb2.Contest(kind=election_pb2.CONTEST_KIND_REFERENDUM),
        rule=election_pb2.Rule(preset=election_pb2.RULE_PRESET_MAJOR), guardians=5, threshold=3)
    d.open_time.seconds = 1_900_000_000
    d.close_time.seconds = 1_900_086_400
    d.ceremony_deadline.seconds = 1_899_990_000
    regs = Registrars("unused", [1])
    d.registrars.extend(election_pb2.RegistrarRef(name=r.name, key=r.key) for r in regs.refs)
    d.registrar_threshold = 2
    d.identity_provider_key = regs.identity_provider
    for k, v in changes.items():
        setattr(d, k, v)
    return d


async def expect(call, code, field=None, reason=None, metadata=()):
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    info = details_of(exc.value)
    assert info["code"] == code, info
    if field is not None:
        assert info["field"] == field, info
    if reason is not None:
        assert info["reason"] == reason, info
    return info


async def test_import_roll_and_define_an_election(admin):
    stub, public, h, store = admin
    community = f"sunrise-{secrets.token_hex(3)}"
    resp = await stub.ImportRoll(election_pb2.ImportRollRequest(community_id=community,
                                                                csv=SAMPLE), metadata=AUTH)
    assert resp.units == 30 and resp.owners == 25 and resp.total_area == 319983
    receipt = Receipt(resp.receipt.index, resp.receipt.leaf_hash,
                      tuple(resp.receipt.inclusion_proof), resp.receipt.signed_note)
    entry = (await h.ledger.store.entries(receipt.index, 1))[0][0]
    verify_receipt(receipt, h.node.signer.verifier(), [w.signer.verifier() for w in h.witnesses],
                   2, entry)
    event = decode_event(entry)
    assert event.kind == "roll" and decode_roll_commitment(event.body).roll_hash == resp.roll_hash
    created = await stub.CreateElection(election_pb2.CreateElectionRequest(
        definition=definition(resp.roll_id)), metadata=AUTH)
    assert created.election.state == election_pb2.ELECTION_STATE_DRAFT
    got = await public.GetElection(election_pb2.GetElectionRequest(
        election_id=created.election.definition.election_id))
    assert got.election.definition == created.election.definition
    assert got.election.roll_hash == resp.roll_hash and got.election.total_owners == 25
    # the same roll again, the same election again
    await expect(stub.ImportRoll(election_pb2.ImportRollRequest(community_id=community,
                                                                csv=SAMPLE), metadata=AUTH),
                 grpc.StatusCode.ALREADY_EXISTS, "csv", "ROLL_EXISTS")
    await expect(stub.CreateElection(election_pb2.CreateElectionRequest(
        definition=created.election.definition), metadata=AUTH),
        grpc.StatusCode.ALREADY_EXISTS, "definition.election_id")


async def test_a_bad_roll_reports_every_row_and_imports_nothing(admin):
    stub, _, h, _ = admin
    before = (await h.ledger.store.head()).size
    info = await expect(stub.ImportRoll(election_pb2.ImportRollRequest(
        community_id="bad-roll", csv=BAD), metadata=AUTH),
        grpc.StatusCode.INVALID_ARGUMENT, "csv", "BAD_ROLL_ROW")
    assert int(info["metadata"]["errors"]) == 11 and info["metadata"]["line"].isdigit()
    assert "line " in info["message"]
    assert (await h.ledger.store.head()).size == before


async def test_administrator_calls_need_the_token(admin):
    stub, _, _, _ = admin
    req = election_pb2.ImportRollRequest(community_id="x", csv=SAMPLE)
    await expect(stub.ImportRoll(req), grpc.StatusCode.UNAUTHENTICATED)
    await expect(stub.ImportRoll(req, metadata=(("authorization", "Bearer wrong-token"),)),
                 grpc.StatusCode.PERMISSION_DENIED)
    await expect(stub.CreateElection(election_pb2.CreateElectionRequest(
        definition=definition("x/0")), metadata=(("authorization", "Basic abc"),)),
        grpc.StatusCode.UNAUTHENTICATED)


async def test_invalid_definitions_name_their_field(admin):
    stub, public, _, _ = admin
    resp = await stub.ImportRoll(election_pb2.ImportRollRequest(
        community_id=f"c-{secrets.token_hex(3)}", csv=SAMPLE), metadata=AUTH)
    rid = resp.roll_id
    bad_times = definition(rid)
    bad_times.close_time.seconds = bad_times.open_time.seconds
    cases = [
        (definition(rid, election_id="Not Valid!"), "definition.election_id"),
        (definition(rid, motion=""), "definition.motion"),
        (definition(rid, guardians=2, threshold=3), "definition.threshold"),
        (definition(rid, guardians=3, threshold=1), "definition.threshold"),  # weak, no override
        (bad_times, "definition.open_time"),
    ]
    late = definition(rid)  # the ceremony would end after the opening
    late.ceremony_deadline.seconds = late.open_time.seconds + 1
    cases.append((late, "definition.ceremony_deadline"))
    d = definition(rid)
    d.contest.kind = election_pb2.CONTEST_KIND_UNSPECIFIED
    cases.append((d, "definition.contest.kind"))
    d = definition(rid)
    d.contest.CopyFrom(election_pb2.Contest(kind=election_pb2.CONTEST_KIND_COMMITTEE,
                                            options=["Li", "Li"], min_selections=1,
                                            max_selections=1))
    cases.append((d, "definition.contest"))
    d = definition(rid)
    d.rule.CopyFrom(election_pb2.Rule(preset=election_pb2.RULE_PRESET_EXPLICIT,
                                      quorum_area=election_pb2.Fraction(numerator=3,
                                                                        denominator=2)))
    cases.append((d, "definition.rule.quorum_area"))
    for d, field in cases:
        await expect(stub.CreateElection(election_pb2.CreateElectionRequest(definition=d),
                                         metadata=AUTH),
                     grpc.StatusCode.INVALID_ARGUMENT, field)
    await expect(stub.CreateElection(election_pb2.CreateElectionRequest(
        definition=definition("no/such-roll")), metadata=AUTH),
        grpc.StatusCode.FAILED_PRECONDITION, "definition.roll_id", "NO_SUCH_ROLL")
    await expect(public.GetElection(election_pb2.GetElectionRequest(election_id="nope")),
                 grpc.StatusCode.NOT_FOUND, "election_id")
    await expect(public.GetElection(election_pb2.GetElectionRequest(election_id="BAD ID")),
                 grpc.StatusCode.INVALID_ARGUMENT, "election_id")


async def test_schedule_an_election(admin):
    stub, public, h, _ = admin
    roll = await stub.ImportRoll(election_pb2.ImportRollRequest(
        community_id=f"c-{secrets.token_hex(3)}", csv=SAMPLE), metadata=AUTH)
    created = await stub.CreateElection(election_pb2.CreateElectionRequest(
        definition=definition(roll.roll_id)), metadata=AUTH)
    eid = created.election.definition.election_id
    req = election_pb2.ScheduleElectionRequest(election_id=eid)
    await expect(stub.ScheduleElection(req), grpc.StatusCode.UNAUTHENTICATED)
    await expect(stub.ScheduleElection(req, metadata=(("authorization", "Bearer wrong"),)),
                 grpc.StatusCode.PERMISSION_DENIED, None, "NOT_ADMIN")
    await expect(stub.ScheduleElection(election_pb2.ScheduleElectionRequest(
        election_id="Bad Id"), metadata=AUTH), grpc.StatusCode.INVALID_ARGUMENT, "election_id")
    await expect(stub.ScheduleElection(election_pb2.ScheduleElectionRequest(
        election_id="no-such-election"), metadata=AUTH),
        grpc.StatusCode.NOT_FOUND, "election_id", "NO_SUCH_ELECTION")
    resp = await stub.ScheduleElection(req, metadata=AUTH)
    assert resp.election.state == election_pb2.ELECTION_STATE_KEY_CEREMONY
    receipt = Receipt(resp.receipt.index, resp.receipt.leaf_hash,
                      tuple(resp.receipt.inclusion_proof), resp.receipt.signed_note)
    entry = (await h.ledger.store.entries(receipt.index, 1))[0][0]
    verify_receipt(receipt, h.node.signer.verifier(), [w.signer.verifier() for w in h.witnesses],
                   2, entry)
    event = decode_event(entry)
    assert (event.kind, event.subject) == ("state", eid)
    t = decode_transition(event.body)
    assert (t.from_state, t.to_state) == (1, 2)
    got = await public.GetElection(election_pb2.GetElectionRequest(election_id=eid))
    assert got.election.state == election_pb2.ELECTION_STATE_KEY_CEREMONY
    size = (await h.ledger.store.head()).size
    await expect(stub.ScheduleElection(req, metadata=AUTH),
                 grpc.StatusCode.FAILED_PRECONDITION, "election_id", "NOT_DRAFT")
    assert (await h.ledger.store.head()).size == size
    # this ElectionService has no tally store: GetResult says so
    await expect(public.GetResult(election_pb2.GetResultRequest(election_id=eid)),
                 grpc.StatusCode.UNIMPLEMENTED)


async def test_witnesses_down_gives_unavailable_and_keeps_the_commitment(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=1, quorum=1)
    await h.witnesses[0].server.stop(None)  # the only witness is down
    store = ElectionStore(h.engine, h.ledger, receipt_timeout=0.5)
    server = grpc.aio.server()
    election_pb2_grpc.add_AdminServiceServicer_to_server(AdminService(store, AdminAuth(TOKEN)),
                                                         server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = election_pb2_grpc.AdminServiceStub(channel)
            req = election_pb2.ImportRollRequest(community_id="down", csv=SAMPLE)
            info = await expect(stub.ImportRoll(req, metadata=AUTH),
                                grpc.StatusCode.UNAVAILABLE, None, "COSIGNING_PENDING")
            index = int(info["metadata"]["index"])
            assert index < (await h.ledger.store.head()).size  # the commitment is on the ledger
            await expect(stub.ImportRoll(req, metadata=AUTH), grpc.StatusCode.ALREADY_EXISTS)
    finally:
        await server.stop(None)
        await h.stop()
