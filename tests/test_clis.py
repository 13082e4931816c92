"""The command-line clients as a person runs them, against a local deployment: administrator,
identity provider, guardians, voter and auditor, each a separate process; and their refusals
(exit status 1 with the reason)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clients.local_cluster import ROOT, LocalCluster
from clients.scenario import guardian_name, guardian_names

SAMPLE = Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv"
EID = "cli-election"


def cli(tmp: Path, *args: str, ok: bool = True) -> str:
    out = tmp / "cli.out"
    with open(out, "w") as f:  # a file, not a pipe
        done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, stdout=f,
                              stderr=subprocess.STDOUT, timeout=180)
    text = out.read_text()
    assert (done.returncode == 0) == ok, (args, done.returncode, text)
    return text


def spawn(tmp: Path, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    out = tmp / f"{name}.out"
    with open(out, "w") as f:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=f,
                                stderr=subprocess.STDOUT), out


@pytest.fixture
def cluster(tmp_path):
    c = LocalCluster(tmp_path / "cluster", origin="cli.example/log", complaint_window=0.3,
                     lifecycle_tick=0.1,
                     guardian_names=guardian_names(EID, 2))
    c.start()
    yield c
    c.stop()


def test_an_election_through_the_command_line(cluster, tmp_path):
    t = tmp_path
    ca = str(cluster.pki / "ca.pem")
    cert, key = (str(p) for p in cluster.cert("admin"))
    trust = str(cluster.trust_file)  # the deployment's bundle: every CLI pins it
    admin = ["clients.admin", "--server", cluster.secure_address, "--trust", trust, "--ca", ca,
             "--cert", cert, "--key", key]
    no_auth = cli(t, "clients.admin", "--server", cluster.address, "--trust", trust,
                  "import-roll", "--community", "x", str(SAMPLE), ok=False)
    assert "UNAUTHENTICATED" in no_auth
    no_trust = cli(t, "clients.admin", "--server", cluster.secure_address, "--ca", ca, "--cert",
                   cert, "--key", key, "import-roll", "--community", "x", str(SAMPLE), ok=False)
    assert "--trust" in no_trust and "Traceback" not in no_trust
    out = cli(t, *admin, "import-roll", "--community", "cli-garden", str(SAMPLE))
    roll_id = out.split()[1].rstrip(":")
    assert "voting owners" in out
    cli(t, *admin, "create-election", "--id", EID, "--roll", roll_id, "--motion", "Paint",
        "--rule", "explicit", "--quorum-area", "1/2", "--quorum-headcount", "1/2",
        "--approval-area", "1/2", "--approval-headcount", "1/2", "--strict",
        "--open", "+8", "--close", "+24", "--guardians", "2",
        "--threshold", "2")
    assert "KEY_CEREMONY" in cli(t, *admin, "schedule", EID)
    assert "FAILED_PRECONDITION" in cli(t, *admin, "schedule", EID, ok=False)
    guardians = []
    for i in (1, 2):
        g_cert, g_key = (str(p) for p in cluster.cert(guardian_name(EID, i)))
        g = ["clients.guardian", "--server", cluster.secure_address, "--trust", trust, "--ca", ca,
             "--cert", g_cert, "--key", g_key, "--state", str(t / f"g{i}.json")]
        assert "fingerprint" in cli(t, *g, "init", "--election", EID, "--index", str(i))
        assert (t / f"g{i}.json").stat().st_mode & 0o777 == 0o600
        guardians.append(g)
    # the community pins the guardians' fingerprints in the bundle (each guardian states its own)
    pins = [x for g in guardians for x in ("--guardian", cli(t, *g, "fingerprint").strip())]
    assert "election cli-election: guardians [1, 2] pinned" in cli(
        t, "clients.trust", "add-guardians", trust, "--election", EID, *pins)
    running = [spawn(t, f"g{i}", *g, "ceremony") for i, g in enumerate(guardians, 1)]
    for proc, out in running:
        assert proc.wait(120) == 0, out.read_text()
        assert "ceremony complete" in out.read_text()
    cli(t, *admin, "status", EID, "--follow", "--until", "READY")
    keyfile = t / "idp.key"
    keyfile.write_text(cluster.provider.key.private_bytes_raw().hex())
    voter = ["clients.voter", "--server", cluster.address, "--trust", trust]
    owners = ["O001", "O002", "O003"]
    for k, owner in enumerate(owners):
        cli(t, "clients.identity_provider", "attest", "--key-file", str(keyfile), "--owner",
            owner, "--election", EID, "--out", str(t / f"att{k}.json"))
        assert "credential for weight class" in cli(
            t, *voter, "register", "--attestation", str(t / f"att{k}.json"), "--wallet",
            str(t / f"wallet{k}.json"))
    # the same owner again (a new token): refused, exit 1 with the reason
    assert "ALREADY_EXISTS" in cli(t, *voter, "register", "--attestation", str(t / "att0.json"),
                                   "--wallet", str(t / "other.json"), ok=False)
    cli(t, *admin, "status", EID, "--follow", "--until", "OPEN")
    for k, choice in enumerate(["approve", "approve", "oppose"]):
        out = cli(t, *voter, "vote", "--wallet", str(t / f"wallet{k}.json"), "--choice", choice,
                  "--receipt", str(t / f"receipt{k}.json"))
        assert "receipt verified" in out
    assert "receipt OK" in cli(t, *voter, "verify-receipt", "--receipt", str(t / "receipt0.json"))
    forged = json.loads((t / "receipt0.json").read_text())
    forged["leaf_hash"] = "00" * 32
    (t / "forged.json").write_text(json.dumps(forged))
    assert "verification failed" in cli(t, *voter, "verify-receipt", "--receipt",
                                        str(t / "forged.json"), ok=False)
    assert "unknown option" in cli(t, *voter, "vote", "--wallet", str(t / "wallet0.json"),
                                   "--choice", "maybe", ok=False)
    assert "close is not on the ledger" in cli(t, *guardians[0], "decrypt", ok=False)
    cli(t, *admin, "status", EID, "--follow", "--until", "TALLYING")
    assert "refused" in cli(t, *voter, "vote", "--wallet", str(t / "wallet1.json"), "--choice",
                            "oppose", ok=False)
    for g in guardians:
        assert "decryption share(s)" in cli(t, *g, "decrypt")
    cli(t, *admin, "status", EID, "--follow")
    result = cli(t, *voter, "result", EID)
    lines = {x.split()[0]: x for x in result.splitlines()[1:]}
    assert lines["approve"].split()[-3] == "2" and lines["oppose"].split()[-3] == "1"
    # a guardian decrypts once: after the publication it refuses
    assert "guardian refuses" in cli(t, *guardians[0], "decrypt", ok=False)
    report = cli(t, "clients.auditor", "verify", "--server", cluster.address, "--roll",
                 str(SAMPLE), "--log-key",
                 cluster.log_vkey, "--quorum", "2", *sum((["--witness", w]
                                                          for w in cluster.witness_vkeys), []))
    assert "VERIFIED" in report and "3 ballots verified" in report
