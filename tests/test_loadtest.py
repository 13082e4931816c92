"""`make loadtest` must keep working: a short smoke run of its driver (a real deployment on
SQLite, a small pool, locust for a few seconds), and the locustfile's interceptor counting gRPC
errors as failures. Locust (gevent) runs in child processes only: importing it here would
monkey-patch the test process."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

from clients.local_cluster import ROOT, free_port


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in args)
        if text in line and "pytest" not in line:
            found.append(line)
    return found


def test_the_load_test_runs_against_a_deployment(tmp_path):
    workdir = tmp_path / "load"
    out = tmp_path / "loadtest.out"
    with open(out, "w") as f:  # a file, not a pipe: the child may print more than a pipe holds
        done = subprocess.run(
            [sys.executable, "-m", "loadtests.loadtest", "--sqlite", "--communities", "1",
             "--units", "40", "60", "--credentials", "10", "--ballots", "300", "--lead", "6",
             "--users", "4", "--spawn-rate", "4", "--duration", "8s",
             "--workdir", str(workdir), "--csv", str(tmp_path / "stats")],
            cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=300)
    text = out.read_text()
    assert done.returncode == 0, text[-4000:]
    assert "Aggregated" in text and "all processes stopped" in text, text[-4000:]
    with open(tmp_path / "stats_stats.csv", newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    assert int(rows["BallotBoxService/CastBallot"]["Request Count"]) > 0, rows
    assert int(rows["RegistrationService/RequestCredential"]["Request Count"]) > 0, rows
    assert all(int(r["Failure Count"]) == 0 for r in rows.values()), rows
    assert processes_mentioning(str(workdir)) == [], "the load test left processes running"


def test_grpc_errors_count_as_failures(tmp_path):
    """The interceptor reports a refused call as a failure named after its method."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "loadtests")!r})
        import grpc
        import locustfile
        from locust.env import Environment
        from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

        env = Environment(user_classes=[locustfile.ReaderUser])
        env.create_local_runner()
        channel = grpc.intercept_channel(grpc.insecure_channel("127.0.0.1:{free_port()}"),
                                         locustfile.LocustInterceptor(env))
        try:
            ledger_pb2_grpc.LedgerServiceStub(channel).GetCheckpoint(
                ledger_pb2.GetCheckpointRequest(), timeout=10)
        except grpc.RpcError as exc:
            print("raised", exc.code().name)
        entry = env.stats.get("LedgerService/GetCheckpoint", "grpc")
        print("counted", entry.num_requests, entry.num_failures)
        print("errors", *(e.error for e in env.stats.errors.values()))

        # a refusal with the server's rich status is named by its reason
        from google.protobuf import any_pb2
        from google.rpc import error_details_pb2, status_pb2

        class Refusal(grpc.RpcError):
            def code(self):
                return grpc.StatusCode.ALREADY_EXISTS
            def details(self):
                return "this exact ballot is already on the ledger"
            def trailing_metadata(self):
                detail = any_pb2.Any()
                detail.Pack(error_details_pb2.ErrorInfo(reason="REPLAYED_BALLOT"))
                status = status_pb2.Status(code=6, message=self.details(), details=[detail])
                return (("grpc-status-details-bin", status.SerializeToString()),)

        print("refusal", locustfile.GrpcFailure.of(Refusal()))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "raised UNAVAILABLE" in done.stdout, done.stdout
    assert "counted 1 1" in done.stdout, done.stdout
    assert "errors UNAVAILABLE:" in done.stdout, done.stdout
    assert "refusal ALREADY_EXISTS (REPLAYED_BALLOT)" in done.stdout, done.stdout
