"""Mutual TLS between the log and its witnesses: the witness serves only callers with a
certificate from the consortium CA; the log's read API serves TLS to anyone."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, witness_pb2, witness_pb2_grpc

from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer
from server.pki import DevCA
from server.tls import TlsConfig, server_only_channel_credentials
from tests.test_ledger_processes import start


@pytest.fixture
def mtls(tmp_path):
    ca = DevCA(tmp_path / "pki")
    origin = "tls.example/log"
    log_signer = Ed25519Signer.generate(origin)
    (tmp_path / "log.key").write_text(log_signer.skey() + "\n")
    w_signer = CosignatureSigner.generate("witness.tls.example")
    (tmp_path / "w.key").write_text(w_signer.skey() + "\n")
    w_cert, w_key = ca.issue("witness.tls.example", client=False)
    log_cert, log_key = ca.issue("log.tls.example")
    w, w_addr = start(["server.witness", "--name", "witness.tls.example", "--key-file",
                       str(tmp_path / "w.key"), "--db", f"sqlite+aiosqlite:///{tmp_path}/w.db",
                       "--follow", f"{origin}={log_signer.verifier().vkey()}",
                       "--tls-cert", str(w_cert), "--tls-key", str(w_key),
                       "--tls-client-ca", str(ca.ca_path)], tmp_path / "w.out")
    lg, log_addr = start(["server.ledger", "--dsn", f"sqlite+aiosqlite:///{tmp_path}/log.db",
                          "--origin", origin, "--key-file", str(tmp_path / "log.key"),
                          "--quorum", "1", "--witness", f"{w_signer.verifier().vkey()}@{w_addr}",
                          "--witness-ca", str(ca.ca_path), "--client-cert", str(log_cert),
                          "--client-key", str(log_key), "--tls-cert", str(log_cert),
                          "--tls-key", str(log_key), "--generate", "40"], tmp_path / "log.out")
    yield ca, w_addr, log_addr
    for p in (lg, w):
        p.terminate()
        p.wait(timeout=30)


async def test_log_cosigns_over_mutual_tls(mtls):
    ca, _, log_addr = mtls
    creds = server_only_channel_credentials(ca.ca_path)
    async with grpc.aio.secure_channel(log_addr, creds) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        deadline = time.monotonic() + 20
        size = 0
        while size < 40 and time.monotonic() < deadline:
            try:
                size = (await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())).tree_size
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.05)
        assert size == 40  # the witness co-signed over mTLS


async def test_witness_refuses_a_caller_without_a_client_certificate(mtls, tmp_path):
    ca, w_addr, _ = mtls
    request = witness_pb2.GetWitnessInfoRequest()
    async with grpc.aio.secure_channel(w_addr, server_only_channel_credentials(ca.ca_path)) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await witness_pb2_grpc.WitnessServiceStub(ch).GetWitnessInfo(request, timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
    # a certificate from another CA is refused too
    other = DevCA(tmp_path / "other-pki", "someone else's CA")
    cert, key = other.issue("intruder")
    creds = TlsConfig(cert, key, ca.ca_path).channel_credentials()
    async with grpc.aio.secure_channel(w_addr, creds) as ch:
        with pytest.raises(grpc.aio.AioRpcError):
            await witness_pb2_grpc.WitnessServiceStub(ch).GetWitnessInfo(request, timeout=5)
    # with the consortium CA's certificate it answers
    cert, key = ca.issue("auditor")
    async with grpc.aio.secure_channel(w_addr, TlsConfig(cert, key, ca.ca_path)
                                       .channel_credentials()) as ch:
        info = await witness_pb2_grpc.WitnessServiceStub(ch).GetWitnessInfo(request, timeout=5)
        assert info.verifier_key.startswith("witness.tls.example+")


def test_the_development_ca_writes_private_keys_0600_from_the_start(tmp_path, monkeypatch):
    """Every key file the development CA writes is 0600 when it is created, whatever the umask
    (never written world-readable and chmodded later)."""
    import os
    import stat
    created: list[tuple[str, int]] = []
    real_open = os.open

    def open_(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            created.append((os.fspath(path), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    old = os.umask(0o000)
    try:
        monkeypatch.setattr(os, "open", open_)
        cert, key = DevCA(tmp_path).issue("server")
    finally:
        os.umask(old)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600  # the CA's own key too
    assert [m for p, m in created if p.endswith(".tmp")] == [0o600, 0o600]
    assert stat.S_IMODE(cert.stat().st_mode) & 0o044  # the certificate is public
