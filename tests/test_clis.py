"""The command-line clients as a person runs them, against a local deployment: administrator,
identity provider, guardians, voter and auditor, each a separate process; and their refusals
(exit status 1 with the reason). The auditor against a log that shows a witness another history
(a second log process with the same key): SPLIT VIEW, naming the witness."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, witness_pb2, witness_pb2_grpc

from clients.local_cluster import ROOT, LocalCluster
from clients.scenario import guardian_name, guardian_names
from crypto.errors import QuorumNotMet
from crypto.log.checkpoint import CosignatureSigner
from crypto.log.trust import make_bundle
from server.status import details_of
from tests.support.processes import start

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
    c = LocalCluster(tmp_path / "cluster", origin="cli.example/log",
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
    no_auth = cli(t, "clients.admin", "--server", cluster.address, "--trust", trust, "--ca", ca,
                  "import-roll", "--community", "x", str(SAMPLE), ok=False)
    assert "UNAUTHENTICATED" in no_auth
    assert "UNAUTHENTICATED" in cli(t, "clients.admin", "--server", cluster.address, "--trust",
                                    trust, "--ca", ca, "--token", "0123456789abcdef0123",
                                    "import-roll", "--community", "x", str(SAMPLE), ok=False)
    no_trust = cli(t, "clients.admin", "--server", cluster.secure_address, "--ca", ca, "--cert",
                   cert, "--key", key, "import-roll", "--community", "x", str(SAMPLE), ok=False)
    assert "--trust" in no_trust and "Traceback" not in no_trust
    out = cli(t, *admin, "import-roll", "--community", "cli-garden", str(SAMPLE))
    roll_id = out.split()[1].rstrip(":")
    assert "voting owners" in out
    for name in cluster.registrar_names:  # each registrar's operator imports the same roll
        assert "roll " in cli(t, "server.registrar", "import-roll", "--dsn",
                              cluster.registrar_dsn(name), "--name", name, "--csv", str(SAMPLE))
    cli(t, *admin, "create-election", "--id", EID, "--roll", roll_id, "--motion", "Paint",
        "--rule", "explicit", "--quorum-area", "1/2", "--quorum-headcount", "1/2",
        "--approval-area", "1/2", "--approval-headcount", "1/2", "--strict",
        "--open", "+20", "--close", "+36", "--guardians", "2",
        "--threshold", "2", "--ceremony-deadline", "+1")
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
    voter = ["clients.voter", "--server", cluster.address, "--trust", trust, "--ca", ca]
    reach = [x for n, a in cluster.registrar_addresses.items()
             for x in ("--registrar", f"{n}={a}")]
    owners = ["O001", "O002", "O003"]

    def attest(owner: str) -> str:  # the identity provider's command, as the voter CLI runs it
        return shlex.join([sys.executable, "-m", "clients.identity_provider", "attest",
                           "--key-file", str(keyfile), "--owner", owner, "--election", EID])

    for k, owner in enumerate(owners):
        assert "credential for weight class" in cli(
            t, *voter, "register", "--election", EID, "--attest", attest(owner), "--wallet",
            str(t / f"wallet{k}.json"), *reach, "--cast-delay", "0,0")
    # the same owner again (a new token): refused, exit 1 with the reason
    assert "ALREADY_EXISTS" in cli(t, *voter, "register", "--election", EID, "--attest",
                                   attest(owners[0]), "--wallet", str(t / "other.json"),
                                   *reach, ok=False)
    # the provider's CLI signs the digests it is shown, and nothing else
    att = json.loads(cli(t, "clients.identity_provider", "attest", "--key-file", str(keyfile),
                         "--owner", "O001", "--election", EID, "--blinded-digest", "ff" * 32,
                         "--blinded-digest", "01" * 32))
    assert att["authorises"] == ["01" * 32, "ff" * 32]
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
    stolen = (t / "wallet2.json").read_text()  # a copy of owner 3's wallet, taken now
    assert "receipt verified" in cli(t, *voter, "vote", "--wallet", str(t / "wallet2.json"),
                                     "--choice", "approve")  # the owner changes their mind
    (t / "wallet2.json").write_text(stolen)  # ... and the thief votes with the stale copy
    assert "STALE_COUNTER" in cli(t, *voter, "vote", "--wallet", str(t / "wallet2.json"),
                                  "--choice", "oppose", ok=False)
    (t / "wallet2.json").write_text(stolen)  # the stale copy, as the thief holds it
    out = cli(t, *voter, "counted", "--wallet", str(t / "wallet0.json"), ok=False)
    assert out.startswith("尚未截止 / not closed yet") and out.count("\n") == 1
    assert "close is not on the ledger" in cli(t, *guardians[0], "decrypt", ok=False)
    cli(t, *admin, "status", EID, "--follow", "--until", "TALLYING")
    assert "refused" in cli(t, *voter, "vote", "--wallet", str(t / "wallet1.json"), "--choice",
                            "oppose", ok=False)
    for g in guardians:
        assert "decryption share(s)" in cli(t, *g, "decrypt")
    cli(t, *admin, "status", EID, "--follow")
    result = cli(t, *voter, "result", EID)
    lines = {x.split()[0]: x for x in result.splitlines()[1:]}
    assert lines["approve"].split()[-3] == "3" and lines["oppose"].split()[-3] == "0"
    # each owner's phone proves its latest ballot is the one counted; the stale copy learns
    # that a later ballot of its token counts instead (Chinese first, one line, exit 1)
    assert "已计入" in cli(t, *voter, "counted", "--wallet", str(t / "wallet0.json"))
    out = cli(t, *voter, "counted", "--wallet", str(t / "wallet2.json"), ok=False)
    assert out.startswith("未计入 / NOT COUNTED: a later ballot of your token") and \
        out.count("\n") == 1
    # a guardian decrypts once: after the publication it refuses
    assert "guardian refuses" in cli(t, *guardians[0], "decrypt", ok=False)
    report = cli(t, "clients.auditor", "verify", "--trust", str(cluster.trust_file), "--server",
                 cluster.address, "--ca", ca, "--roll", str(SAMPLE),
                 *(a for w in cluster.witness_addresses for a in ("--ask-witness", w)))
    assert "VERIFIED" in report and "4 ballots verified" in report and "3 counted" in report
    assert report.count("is of this history") == cluster.witnesses


@pytest.fixture
def plain_cluster(tmp_path):
    c = LocalCluster(tmp_path / "cluster", origin="split.example/log", validating=False)
    c.start()
    yield c
    c.stop()


def _cosigned_by_all(cluster: LocalCluster, timeout: float = 30) -> int:
    """The size of the cluster's latest co-signed checkpoint, once all its witnesses signed it."""
    every = make_bundle(cluster.origin, cluster.log_vkey, cluster.witness_vkeys,
                        cluster.witnesses, bytes(32))
    deadline = time.monotonic() + timeout
    with grpc.secure_channel(cluster.address, cluster.credentials()) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        while True:
            note = stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest()).signed_note
            try:
                return every.open_checkpoint(note).size
            except QuorumNotMet:
                assert time.monotonic() < deadline, "not co-signed by every witness"
                time.sleep(0.1)


def test_the_auditor_catches_a_split_view_and_trusts_only_its_bundle(plain_cluster, tmp_path):
    """A second log process with the log's own key and origin shows a witness another history;
    the auditor, asking every witness, names that witness. Also: every honest witness confirms,
    a witness outside the bundle is refused, one that is down or has nothing fails the run, and
    nothing runs without --trust."""
    cluster, t = plain_cluster, tmp_path
    ca = str(cluster.pki / "ca.pem")
    cert, key = (str(p) for p in cluster.cert("admin"))
    cli(t, "clients.admin", "--server", cluster.secure_address, "--ca", ca, "--cert", cert,
        "--key", key, "--trust", str(cluster.trust_file), "import-roll", "--community",
        "split-garden", str(SAMPLE))
    size = _cosigned_by_all(cluster)
    honest = [a for w in cluster.witness_addresses for a in ("--ask-witness", w)]
    verify = ["clients.auditor", "verify", "--server", cluster.address, "--ca", ca]
    trust = ["--trust", str(cluster.trust_file)]
    report = cli(t, *verify, *trust, *honest)
    assert report.count("is of this history") == 3 and "VERIFIED" in report
    # the ledger CLI pins the same bundle
    export = t / "ledger.export"
    cli(t, "clients.ledger", "export", "--server", cluster.address, "--ca", ca, "--out",
        str(export))
    assert "audit OK" in cli(t, "clients.ledger", "audit", str(export), *trust)
    assert "--trust FILE is required" in cli(t, "clients.ledger", "audit", str(export), ok=False)
    # no bundle: one line, no traceback
    out = cli(t, *verify, ok=False)
    assert out.startswith("--trust FILE is required") and out.count("\n") == 1
    # a fourth witness, outside the cluster: it has co-signed nothing of this log yet
    wx = CosignatureSigner.generate("witness-x.example")
    (t / "wx.key").write_text(wx.skey() + "\n")
    wx_proc, wx_address = start(
        ["server.witness", "--name", "witness-x.example", "--key-file", str(t / "wx.key"),
         "--db", f"sqlite+aiosqlite:///{t / 'wx.db'}",
         "--follow", f"{cluster.origin}={cluster.log_vkey}"], t / "wx.out")
    try:
        with grpc.insecure_channel(wx_address) as channel:
            stub = witness_pb2_grpc.WitnessServiceStub(channel)

            def latest(origin: str):
                return stub.GetLatestCheckpoint(
                    witness_pb2.GetLatestCheckpointRequest(origin=origin), timeout=10)

            for origin, reason in (("other.example/log", "UNKNOWN_ORIGIN"),
                                   (cluster.origin, "NO_COSIGNED_CHECKPOINT")):
                with pytest.raises(grpc.RpcError) as exc:
                    latest(origin)
                info = details_of(exc.value)
                assert (info["code"], info["reason"]) == (grpc.StatusCode.NOT_FOUND, reason)
            out = cli(t, *verify, *trust, *honest, "--ask-witness", wx_address, ok=False)
            assert f"NOT CONFIRMED: the witness at {wx_address} gives no checkpoint" in out
            # the fork: another log process, the same key and origin, its own database
            fork, _ = start(["server.ledger", "--dsn", f"sqlite+aiosqlite:///{t / 'fork.db'}",
                             "--origin", cluster.origin, "--key-file",
                             str(cluster.directory / "log.key"), "--quorum", "1",
                             "--witness", f"{wx.verifier().vkey()}@{wx_address}",
                             "--generate", "5", "--entry-size", "64"], t / "fork.out")
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if latest(cluster.origin).tree_size == 5:
                            break
                    except grpc.RpcError:
                        pass
                    assert time.monotonic() < deadline, (t / "fork.out").read_text()
                    time.sleep(0.1)
            finally:
                fork.terminate()
                fork.wait(30)
        # a bundle pinning the fourth witness too (quorum 3 of 4): the auditor asks all four
        four = make_bundle(cluster.origin, cluster.log_vkey,
                           [*cluster.witness_vkeys, wx.verifier().vkey()], 3,
                           cluster.provider.public_key.public_bytes_raw())
        (t / "four.txt").write_bytes(four.encode())
        out = cli(t, *verify, "--trust", str(t / "four.txt"), *honest,
                  "--ask-witness", wx_address, ok=False)
        assert (f"SPLIT VIEW: witness witness-x.example (at {wx_address}) co-signed size 5, "
                f"the log downloaded has size {size}") in out
        # under the cluster's own bundle the fourth witness's key is nobody's
        out = cli(t, *verify, *trust, "--ask-witness", wx_address, ok=False)
        assert f"WITNESS REFUSED: the witness at {wx_address}: its keys are outside" in out
    finally:
        wx_proc.terminate()
        wx_proc.wait(30)
    # a witness that is down cannot confirm: the run fails, saying so
    out = cli(t, *verify, *trust, *honest, "--ask-witness", wx_address, ok=False)
    assert f"NOT CONFIRMED: the witness at {wx_address} cannot be reached" in out
    assert "Traceback" not in out
