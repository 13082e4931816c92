"""The server process (`python -m server --config FILE`): configuration from file and
environment, health and reflection, graceful shutdown, and a Node.js client reading an
election that a Python administrator defined."""

from __future__ import annotations

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
from ownervote.v1 import election_pb2, election_pb2_grpc

from crypto.attestation import DemoIdentityProvider
from server.config import ConfigError, load_config
from tests.test_admin_service import AUTH, SAMPLE, TOKEN, definition
from tests.test_node_client import health_descriptor_set

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(tmp_path):
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'dsn = "sqlite+aiosqlite:///{tmp_path}/server.db"\n'
                   f'listen = "127.0.0.1:0"\norigin = "server.example/log"\n'
                   f'log_key_file = "{tmp_path}/log.key"\n')
    provider = DemoIdentityProvider()
    env = dict(os.environ, OWNERVOTE_ADMIN_TOKEN=TOKEN,  # secrets come from the environment
               OWNERVOTE_KEY_ENCRYPTION_KEY="kek-" + "k" * 20,
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
    yield f"127.0.0.1:{port}", proc, out
    if proc.poll() is None:
        proc.kill()


async def test_node_client_reads_an_election_and_the_server_stops_gracefully(server, tmp_path):
    address, proc, out = server
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("ownervote.v1.RegistrationService", "ownervote.v1.AdminService",
                        "ownervote.v1.BallotBoxService", "ownervote.v1.LedgerService"):
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


def test_configuration_file_environment_and_errors(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('quorum = 1\nwitnesses = ["a@127.0.0.1:1", "b@127.0.0.1:2"]\n'
                 'admin_token = "0123456789abcdef"\n')
    cfg = load_config(f, env={"OWNERVOTE_QUORUM": "2", "OWNERVOTE_LISTEN": "0.0.0.0:9"})
    assert cfg.quorum == 2 and cfg.listen == "0.0.0.0:9" and len(cfg.witnesses) == 2
    for text, env in (('admin_token = "short"\n', {}),
                      ('admin_token = "0123456789abcdef"\nquorum = 3\n', {}),
                      ('admin_token = "0123456789abcdef"\nbogus = 1\n', {}),
                      ('admin_token = "0123456789abcdef"\n', {"OWNERVOTE_QUORUM": "x"}),
                      ("not toml [", {})):
        f.write_text(text)
        with pytest.raises(ConfigError):
            load_config(f, env=env)
