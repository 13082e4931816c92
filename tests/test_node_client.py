"""The gRPC contract from a second language: a Node.js client (@grpc/grpc-js, proto-loader) reads
a log served by the real ``python -m server.ledger`` process, and what it reports must match what
the Python side knows.

Node is required, not optional: without it the test fails (CI has it; ``make setup`` installs
the pinned packages with ``npm ci``).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tests" / "node" / "ledger_client.mjs"
ORIGIN = "node-client.example/log"
N_ENTRIES = 50


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (`node`) is not on PATH: install Node 20 to run the second-language "
                    "client test (CI has it)", pytrace=False)
    for pkg in ("@grpc/grpc-js", "@grpc/proto-loader"):
        if not (ROOT / "node_modules" / pkg / "package.json").exists():
            pytest.fail(f"node_modules/{pkg} is missing: run `make setup` (npm ci)", pytrace=False)
    return node


def health_descriptor_set(path: Path) -> Path:
    """The standard health contract exactly as the server has it (grpcio-health-checking ships
    health_pb2 but not health.proto), as a serialized FileDescriptorSet."""
    fds = descriptor_pb2.FileDescriptorSet()
    health_pb2.DESCRIPTOR.CopyToProto(fds.file.add())
    path.write_bytes(fds.SerializeToString())
    return path


def wait_for(proc: subprocess.Popen, out: Path, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, out.read_text())
        if m:
            return m
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"log process: no {pattern!r} (exit {proc.poll()}):\n{out.read_text()}")


@pytest.fixture
def log_process(tmp_path):
    """The real log process: no witnesses, quorum 0, 50 generated entries of 32 bytes."""
    out = tmp_path / "log.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.ledger",
             "--dsn", f"sqlite+aiosqlite:///{tmp_path / 'log.db'}", "--origin", ORIGIN,
             "--key-file", str(tmp_path / "log.key"), "--generate", str(N_ENTRIES),
             "--entry-size", "32", "--listen", "127.0.0.1:0", "--development"],
            cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    try:
        port = wait_for(proc, out, r"listening on port (\d+)", 30).group(1)
        wait_for(proc, out, r"(?m)^generated$", 30)
        yield f"127.0.0.1:{port}", proc, out
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise


async def test_node_client_reads_the_log(log_process, tmp_path):
    address, proc, out = log_process
    node = node_executable()
    health_file = health_descriptor_set(tmp_path / "health.binpb")

    async with grpc.aio.insecure_channel(address) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        info = await stub.GetLogInfo(ledger_pb2.GetLogInfoRequest(), timeout=5)
        first = await stub.GetEntries(ledger_pb2.GetEntriesRequest(start=0, count=1), timeout=5)
        cp = await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest(include_uncosigned=True),
                                      timeout=5)

    r = await asyncio.to_thread(
        subprocess.run,
        [node, str(CLIENT), "--address", address, "--proto-root", str(ROOT / "proto"),
         "--health-proto", str(health_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"node client failed ({r.returncode}):\n{r.stderr}"
    lines = r.stdout.splitlines()
    assert len(lines) == 1, f"expected one line of JSON, got:\n{r.stdout}"
    got = json.loads(lines[0])

    assert got == {
        "health": "SERVING",
        "origin": ORIGIN,
        "quorum": 0,
        "witnesses": 0,
        "tree_size": N_ENTRIES,
        "cosigned": True,  # a quorum-0 policy is met by the log's own signature
        "first_entry_hex": first.entries[0].hex(),
        "bad_index_code": grpc.StatusCode.INVALID_ARGUMENT.value[0],
    }
    assert info.origin == ORIGIN and info.quorum == 0 and not info.witnesses
    assert cp.tree_size == N_ENTRIES and cp.cosigned
    assert len(first.entries[0]) == 32

    proc.terminate()
    assert proc.wait(timeout=15) == 0, f"log process did not exit cleanly:\n{out.read_text()}"


def test_node_client_fails_loudly(tmp_path):
    """A client that cannot do its job says so on stderr and exits 1, with nothing on stdout."""
    node = node_executable()
    r = subprocess.run([node, str(CLIENT), "--address", "127.0.0.1:1", "--proto-root",
                        str(tmp_path / "no-such-dir"), "--health-proto",
                        str(health_descriptor_set(tmp_path / "health.binpb"))],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("ledger_client: ")
