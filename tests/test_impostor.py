"""A server that lies (clients/impostor.py) in front of a real deployment (server and three
validating witnesses as processes): the reference SDK, pinning the deployment's trust bundle,
refuses every lie — a joint key whose secret the server knows, witness keys it made up, a
tampered record under the real checkpoint, a self-signed or under-quorum receipt, an invented
result — and an SDK without a pinned bundle cannot be made."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from clients.impostor import Impostor
from clients.scenario import ElectionScenario
from clients.voter_sdk import VoterClient
from crypto.errors import InvalidProof, QuorumNotMet, UnverifiedNote
from crypto.records import ElectionState
from rules.roll_csv import parse_roll_csv
from tests.cluster_support import election_cluster

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()


@pytest.fixture
def cluster(tmp_path):
    with election_cluster(tmp_path / "cluster", "lies") as c:
        yield c


async def test_the_sdk_refuses_every_lie_of_a_server(cluster):
    eid = cluster.election_id
    witnesses = [w.name for w in cluster.bundle.witnesses]
    async with ElectionScenario(cluster, eid, poll=0.1) as scenario:
        await scenario.define(ROLL, f"c-{eid}", motion="Fix the lift", opens_in=6, open_for=14)
        election = await scenario.run_ceremony(timeout=30)
        owners = [o.owner_id for o in parse_roll_csv(ROLL.decode()).owners][:3]
        wallets = await scenario.issue(owners, election=election)
        await scenario.wait_for(ElectionState.OPEN, timeout=30)

        async def through(lies: set[str]) -> tuple[Impostor, VoterClient, grpc.aio.Channel]:
            impostor = Impostor(cluster.address, cluster.origin, witnesses, lies,
                                cluster.credentials())
            await impostor.start()
            channel = grpc.aio.insecure_channel(impostor.address)
            return impostor, VoterClient(channel, cluster.bundle), channel

        async def lie(lies: set[str], call, error):
            impostor, phone, channel = await through(lies)
            try:
                with pytest.raises(error):
                    await call(phone)
            finally:
                await channel.close()
                await impostor.stop()

        # a joint key whose secret the server knows, on a ledger of its own keys
        await lie({"joint_key"}, lambda p: p.election(eid), UnverifiedNote)
        # the real checkpoint, one record replaced
        await lie({"tampered"}, lambda p: p.election(eid), InvalidProof)
        # the real checkpoint, the issuer keys replaced by the server's own
        await lie({"issuer_key"}, lambda p: p.election(eid), InvalidProof)
        # receipts: one of its own log, or the real one stripped below the quorum
        w0 = wallets[owners[0]]
        await lie({"self_signed"}, lambda p: p.cast(election, w0, [0]), UnverifiedNote)
        await lie({"receipt"}, lambda p: p.cast(election, w0, [1]), QuorumNotMet)
        # the honest path through the same proxy works: the proxy is not what is refused
        impostor, phone, channel = await through(set())
        assert (await phone.election(eid)).context.hash == election.context.hash
        await channel.close()
        await impostor.stop()
        await scenario.wait_for(ElectionState.TALLYING, timeout=40)
        await scenario.decrypt([1, 2])
        await scenario.wait_for(ElectionState.PUBLISHED, timeout=30)
        real = await scenario.voter.result(eid)
        # an invented result (the motion passed) proven against its own log
        await lie({"result"}, lambda p: p.result(eid), UnverifiedNote)
        assert real.record.counts == (0, 1, 0)  # the one real ballot: oppose


async def test_a_client_cannot_be_made_without_a_pinned_bundle():
    with pytest.raises(TypeError, match="trust bundle"):
        VoterClient(grpc.aio.insecure_channel("127.0.0.1:1"), None)  # type: ignore[arg-type]
