"""The server process (`python -m server --config FILE`): configuration from file and
environment, health and reflection, graceful shutdown, and a Node.js client reading an
election that a Python administrator defined."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, ledger_pb2_grpc, wire

from crypto.attestation import DemoIdentityProvider
from crypto.dkg import DkgParameters, deal, generate_guardian_key
from crypto.log.checkpoint import parse_checkpoint
from crypto.log.note import Ed25519Signer, parse_note
from crypto.log.trust import DEVELOPMENT_EXTENSION
from rules.roll_csv import parse_roll_csv
from server.config import ConfigError, load_config
from server.pki import DevCA
from server.tls import TlsConfig, server_only_channel_credentials
from tests.support.processes import start
from tests.support.registrars import Registrars
from tests.test_admin_service import AUTH, SAMPLE, TOKEN, definition, expect
from tests.test_node_client import health_descriptor_set

ROOT = Path(__file__).resolve().parent.parent


def launch(tmp_path: Path, extra: str = ""):
    """Start ``python -m server`` with a config file (plus ``extra`` TOML lines); the process,
    its output file and its ports (main, mutual-TLS or None)."""
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'dsn = "sqlite+aiosqlite:///{tmp_path}/server.db"\n'
                   f'listen = "127.0.0.1:0"\norigin = "server.example/log"\n'
                   f'log_key_file = "{tmp_path}/log.key"\ndevelopment = true\n' + extra)
    provider = DemoIdentityProvider()
    env = dict(os.environ, OWNERVOTE_ADMIN_TOKEN=TOKEN,  # secrets come from the environment
               OWNERVOTE_IDENTITY_PROVIDER_KEY=provider.public_key.public_bytes_raw().hex())
    out = tmp_path / "server.out"
    with open(out, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "server", "--config", str(cfg)], cwd=ROOT,
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    port = None
    while time.monotonic() < deadline and port is None:
        m = re.search(r"listening on port (\d+)", out.read_text())
        port = m.group(1) if m else None
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert port, out.read_text()
    m = re.search(r"\(mutual TLS\) on port (\d+)", out.read_text())
    return proc, out, int(port), int(m.group(1)) if m else None


@pytest.fixture
def server(tmp_path):
    proc, out, port, _ = launch(tmp_path)
    yield f"127.0.0.1:{port}", proc, out
    if proc.poll() is None:
        proc.kill()


async def test_node_client_reads_an_election_and_the_server_stops_gracefully(server, tmp_path):
    address, proc, out = server
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("ownervote.v1.IssuanceService", "ownervote.v1.AdminService",
                        "ownervote.v1.BallotBoxService", "ownervote.v1.LedgerService",
                        "ownervote.v1.GuardianService"):
            status = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        admin = election_pb2_grpc.AdminServiceStub(channel)
        roll = await admin.ImportRoll(election_pb2.ImportRollRequest(
            community_id="sunrise", csv=SAMPLE), metadata=AUTH)
        created = await admin.CreateElection(election_pb2.CreateElectionRequest(
            definition=definition(roll.roll_id, "gate-2026")), metadata=AUTH)
    assert shutil.which("node"), "Node.js (`node`) is not on PATH"
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "node" / "election_client.mjs"), "--address", address,
         "--proto-root", str(ROOT / "proto"), "--health-proto",
         str(health_descriptor_set(tmp_path / "health.binpb")), "--election", "gate-2026"],
        cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    d = created.election.definition
    assert got == {"health": "SERVING", "election_id": "gate-2026",
                   "state": "ELECTION_STATE_DRAFT", "motion": d.motion,
                   "options": ["approve", "oppose", "abstain"], "rule": "RULE_PRESET_MAJOR",
                   "open_time": str(d.open_time.seconds), "guardians": 5, "threshold": 3,
                   "roll_hash_hex": roll.roll_hash.hex(), "total_owners": 25,
                   "not_found_code": grpc.StatusCode.NOT_FOUND.value[0]}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines() if x.startswith("{")]
    assert any(x["message"] == "serving" and x["origin"] == "server.example/log" for x in lines)
    assert any(x["message"] == "shutting down" for x in lines)


def test_a_server_without_a_majority_of_witnesses_refuses_to_start(tmp_path):
    """No witnesses, or a quorum of half of them: the server does not start unless the setting
    named for development says so."""
    for extra in ("", 'quorum = 1\nwitnesses = ["a@127.0.0.1:1", "b@127.0.0.1:2"]\n'):
        cfg = tmp_path / "weak.toml"
        cfg.write_text(f'dsn = "sqlite+aiosqlite:///{tmp_path}/weak.db"\n'
                       f'log_key_file = "{tmp_path}/weak.key"\n' + extra)
        done = subprocess.run([sys.executable, "-m", "server", "--config", str(cfg)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, OWNERVOTE_ADMIN_TOKEN=TOKEN))
        assert done.returncode != 0
        assert "not a strict majority" in done.stderr and "development" in done.stderr
        assert "Traceback" not in done.stderr


async def test_a_development_server_says_so_everywhere_a_client_looks(server):
    address, _, out = server
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = await health.Check(health_pb2.HealthCheckRequest(
            service="ownervote.v1.Development"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        assert (await ledger.GetLogInfo(ledger_pb2.GetLogInfoRequest())).development
        admin = election_pb2_grpc.AdminServiceStub(channel)
        await admin.ImportRoll(election_pb2.ImportRollRequest(community_id="dev", csv=SAMPLE),
                               metadata=AUTH)
        note = (await ledger.GetCheckpoint(ledger_pb2.GetCheckpointRequest())).signed_note
    cp = parse_checkpoint(parse_note(note).text)
    assert DEVELOPMENT_EXTENSION in cp.extensions
    assert "DEVELOPMENT" in out.read_text()


async def test_mutual_tls_listener_for_guardians_and_administrators(tmp_path):
    ca = DevCA(tmp_path / "pki")
    cert, key = ca.issue("server.example", client=False)
    proc, out, port, mtls = launch(tmp_path, f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
                                   f'guardian_listen = "127.0.0.1:0"\nclient_ca = "{ca.ca_path}"\n'
                                   'lifecycle_tick = 0.1\n'
                                   'listen_tls = true\n')
    try:
        assert mtls and mtls != port
        eid = "gate-mtls"

        def client(cn: str) -> grpc.aio.Channel:
            c, k = ca.issue(cn, server=False)
            return grpc.aio.secure_channel(f"localhost:{mtls}",
                                           TlsConfig(c, k, ca.ca_path).channel_credentials())

        # an administrator by certificate (CN admin), no bearer token
        async with client("admin") as channel:
            admin = election_pb2_grpc.AdminServiceStub(channel)
            roll = await admin.ImportRoll(election_pb2.ImportRollRequest(
                community_id="mtls", csv=SAMPLE))
            d = definition(roll.roll_id, eid, guardians=1, threshold=1,
                           allow_weak_threshold=True)
            d.ceremony_deadline.seconds = int(time.time()) + 2  # the ceremony ends soon
            await admin.CreateElection(election_pb2.CreateElectionRequest(definition=d))
            scheduled = await admin.ScheduleElection(election_pb2.ScheduleElectionRequest(
                election_id=eid))
            assert scheduled.election.state == election_pb2.ELECTION_STATE_KEY_CEREMONY
        # the guardian runs its (one-guardian) ceremony; the driver then makes it READY
        async with client(f"{eid}/guardian-1") as channel:
            guardian = election_pb2_grpc.GuardianServiceStub(channel)
            params = DkgParameters(eid, 1, 1)
            kp = generate_guardian_key(params, 1)
            resp = await guardian.RegisterGuardianKey(election_pb2.RegisterGuardianKeyRequest(
                election_id=eid, key=wire.guardian_key_pb(kp.public)))
            assert resp.receipt.signed_note
            await guardian.SubmitDealing(election_pb2.SubmitDealingRequest(
                election_id=eid, dealing=wire.dealing_pb(deal(params, 1, [kp.public])[0])))
            # a guardian is no administrator
            await expect(election_pb2_grpc.AdminServiceStub(channel).ScheduleElection(
                election_pb2.ScheduleElectionRequest(election_id=eid)),
                grpc.StatusCode.PERMISSION_DENIED, None, "NOT_ADMIN")
        # two registrars put their signed issuer keys on the ledger (the server makes none),
        # each over mutual TLS with its own certificate
        regs = Registrars(eid, sorted({o.area for o in parse_roll_csv(SAMPLE.decode()).owners}))
        for r in (0, 1):
            async with client(f"registrar:{regs.names[r]}") as channel:
                await election_pb2_grpc.IssuanceServiceStub(channel).PublishIssuerKeys(
                    election_pb2.PublishIssuerKeysRequest(election_id=eid,
                                                          record=regs.issuer_keys_body(r)))
                # nor is a registrar an administrator
                await expect(election_pb2_grpc.AdminServiceStub(channel).ScheduleElection(
                    election_pb2.ScheduleElectionRequest(election_id=eid)),
                    grpc.StatusCode.PERMISSION_DENIED, None, "NOT_ADMIN")
        # without a client certificate the mutual-TLS port refuses the handshake
        async with grpc.aio.secure_channel(f"localhost:{mtls}",
                                           server_only_channel_credentials(ca.ca_path)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await election_pb2_grpc.GuardianServiceStub(ch).GetCeremony(
                    election_pb2.GetCeremonyRequest(election_id=eid), timeout=5)
            assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        # the main port (server TLS only): bearer token administrators, public reads; no
        # guardian identity
        async with grpc.aio.secure_channel(f"localhost:{port}",
                                           server_only_channel_credentials(ca.ca_path)) as ch:
            public = election_pb2_grpc.ElectionServiceStub(ch)
            deadline = time.monotonic() + 30
            while True:
                e = (await public.GetElection(election_pb2.GetElectionRequest(
                    election_id=eid))).election
                if e.state == election_pb2.ELECTION_STATE_READY or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert e.state == election_pb2.ELECTION_STATE_READY, out.read_text()
            assert e.joint_public_key and len(e.issuer_keys) == 2 * 11
            await expect(election_pb2_grpc.AdminServiceStub(ch).ScheduleElection(
                election_pb2.ScheduleElectionRequest(election_id=eid), metadata=AUTH),
                grpc.StatusCode.FAILED_PRECONDITION, "election_id", "NOT_DRAFT")
            await expect(election_pb2_grpc.GuardianServiceStub(ch).SubmitDealing(
                election_pb2.SubmitDealingRequest(election_id=eid, dealing=wire.dealing_pb(
                    deal(params, 1, [kp.public])[0]))), grpc.StatusCode.UNAUTHENTICATED)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_configuration_file_environment_and_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('quorum = 1\nwitnesses = ["a@127.0.0.1:1", "b@127.0.0.1:2"]\n'
                 'development = true\n')
    cfg = load_config(f, env={"OWNERVOTE_QUORUM": "2", "OWNERVOTE_LISTEN": "0.0.0.0:9"})
    assert cfg.quorum == 2 and cfg.listen == "0.0.0.0:9" and len(cfg.witnesses) == 2
    assert cfg.lifecycle_tick == 1.0 and not hasattr(cfg, "complaint_window")
    assert not cfg.public_tls and load_config(f, env={
        "OWNERVOTE_TLS_CERT": "c.pem", "OWNERVOTE_TLS_KEY": "k.pem"}).public_tls
    assert load_config(f, env={  # a mutual-TLS port does not make the public port plain
        "OWNERVOTE_TLS_CERT": "c.pem", "OWNERVOTE_TLS_KEY": "k.pem", "OWNERVOTE_CLIENT_CA": "ca",
        "OWNERVOTE_GUARDIAN_LISTEN": "127.0.0.1:0"}).public_tls
    assert not load_config(f, env={  # only a development setup may say so
        "OWNERVOTE_TLS_CERT": "c.pem", "OWNERVOTE_TLS_KEY": "k.pem", "OWNERVOTE_CLIENT_CA": "ca",
        "OWNERVOTE_GUARDIAN_LISTEN": "127.0.0.1:0", "OWNERVOTE_LISTEN_TLS": "false"}).public_tls
    cfg = load_config(f, env={"OWNERVOTE_LIFECYCLE_TICK": "2.5"})
    assert cfg.lifecycle_tick == 2.5
    for text, env in (('admin_token = "short"\ndevelopment = true\n', {}),
                      ('development = true\nquorum = 3\n', {}),
                      ('development = true\nbogus = 1\n', {}),
                      ('development = true\n', {"OWNERVOTE_QUORUM": "x"}),
                      ('development = true\nguardian_listen = "127.0.0.1:0"\n', {}),
                      ('development = true\nclient_ca = "ca.pem"\n'
                       'guardian_listen = "127.0.0.1:0"\n', {}),  # no tls_cert
                      ('development = true\n', {"OWNERVOTE_LIFECYCLE_TICK": "0"}),
                      ('development = true\nidentity_provider_key = "short"\n', {}),
                      ('development = true\nlisten_tls = true\n', {}),
                      ('development = true\n', {"OWNERVOTE_LISTEN_TLS": "maybe"}),
                      ("not toml [", {})):
        f.write_text(text)
        with pytest.raises(ConfigError):
            load_config(f, env=env)


def test_a_second_process_on_a_port_in_use_refuses_to_start(tmp_path):
    """grpc.so_reuseport is off (server/process.py): a second witness told to listen on the
    first one's port ends at once, in one line, instead of sharing the port and its traffic."""
    log = Ed25519Signer.generate("reuse.example/log").verifier().vkey()
    args = ["server.witness", "--name", "w.example", "--follow", f"reuse.example/log={log}"]
    first, address = start([*args, "--key-file", str(tmp_path / "w1.key"), "--db",
                            f"sqlite+aiosqlite:///{tmp_path / 'w1.db'}"], tmp_path / "w1.out")
    try:
        second = subprocess.run(
            [sys.executable, "-m", *args, "--key-file", str(tmp_path / "w2.key"), "--db",
             f"sqlite+aiosqlite:///{tmp_path / 'w2.db'}", "--listen", address],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stdout + second.stderr
        err = second.stderr.strip()
        assert err == (f"cannot listen on {address}: the port is in use by another process (or "
                       "the address is not this machine's); choose another"), err
        assert first.poll() is None  # the first one serves on
    finally:
        first.terminate()
        first.wait(30)
