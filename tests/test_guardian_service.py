"""GuardianService over mutual TLS: guardians run the key ceremony through gRPC; each may speak
only for itself; the server then fixes the joint key (SQLite and PostgreSQL)."""

from __future__ import annotations

import grpc
import pytest
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.dkg import DkgParameters, deal, generate_guardian_key
from crypto.group import encode_point
from crypto.records import ElectionState
from server.election.ceremony import CeremonyStore
from server.election.rpc.guardian_service import GuardianService
from server.election.store import ElectionStore
from server.pki import DevCA
from server.status import details_of
from server.tls import TlsConfig
from tests.election_support import new_election
from tests.ledger_support import start_log


@pytest.fixture
async def setup(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=0, quorum=0)
    store = ElectionStore(h.engine, h.ledger)
    cs = CeremonyStore(h.engine, store)
    eid, _ = await new_election(store, guardians=3, threshold=2)
    await store.transition(eid, ElectionState.KEY_CEREMONY, 1)
    ca = DevCA(tmp_path / "pki")
    server_cert, server_key = ca.issue("server.example", client=False)
    server = grpc.aio.server()
    election_pb2_grpc.add_GuardianServiceServicer_to_server(GuardianService(cs), server)
    port = server.add_secure_port("127.0.0.1:0", TlsConfig(server_cert, server_key, ca.ca_path)
                                  .server_credentials(require_client_cert=True))
    await server.start()
    channels = {}
    for i in (1, 2, 3):
        cert, key = ca.issue(f"{eid}/guardian-{i}", server=False)
        channels[i] = grpc.aio.secure_channel(f"localhost:{port}", TlsConfig(
            cert, key, ca.ca_path).channel_credentials())
    stubs = {i: election_pb2_grpc.GuardianServiceStub(c) for i, c in channels.items()}
    yield stubs, cs, store, eid
    for c in channels.values():
        await c.close()
    await server.stop(None)
    await h.stop()


async def test_ceremony_over_mutual_tls(setup):
    stubs, cs, store, eid = setup
    params = DkgParameters(eid, 3, 2)
    guardians = {i: generate_guardian_key(params, i) for i in (1, 2, 3)}
    # a guardian may not speak for another
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stubs[2].RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
            election_id=eid, key=wire.guardian_key_pb(guardians[3].public)))
    assert details_of(exc.value)["code"] == grpc.StatusCode.PERMISSION_DENIED
    for i, g in guardians.items():
        await stubs[i].RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
            election_id=eid, key=wire.guardian_key_pb(g.public)))
    with pytest.raises(grpc.aio.AioRpcError) as exc:  # twice
        await stubs[1].RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
            election_id=eid, key=wire.guardian_key_pb(guardians[1].public)))
    assert details_of(exc.value)["code"] == grpc.StatusCode.ALREADY_EXISTS
    ceremony = await stubs[3].GetCeremony(election_pb2.GetCeremonyRequest(election_id=eid))
    assert [k.index for k in ceremony.keys] == [1, 2, 3]
    pubs = [g.public for g in guardians.values()]
    for i in (1, 2, 3):
        dealing, _ = deal(params, i, pubs)
        await stubs[i].SubmitDealing(election_pb2.SubmitDealingRequest(
            election_id=eid, dealing=wire.dealing_pb(dealing)))
    bad = wire.dealing_pb(deal(params, 1, pubs)[0])
    bad.commitments[0] = b"\x05" + bytes(32)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stubs[1].SubmitDealing(election_pb2.SubmitDealingRequest(election_id=eid,
                                                                       dealing=bad))
    info = details_of(exc.value)
    assert info["code"] == grpc.StatusCode.INVALID_ARGUMENT
    assert info["field"] == "dealing.commitments[0]"
    result = await cs.finish(eid, 2)
    ceremony = await stubs[1].GetCeremony(election_pb2.GetCeremonyRequest(election_id=eid))
    assert list(ceremony.qualified) == [1, 2, 3]
    assert ceremony.joint_public_key == encode_point(result.joint_public_key)
    assert (await store.get_election(eid)).state is ElectionState.READY
