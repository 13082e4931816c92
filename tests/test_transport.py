"""Transport and administrators (issue 12 §4), over real processes: the server's public port
serves TLS in every non-development configuration; AdminService answers only the ``admin``
client certificate on the mutual-TLS port; a bearer token starts only on a loopback development
machine; and the plumbing for registrars (a ``registrar:<name>`` certificate for its own TLS
port and its calls to the server, and the server-side check that reads the name back)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, ledger_pb2_grpc

from clients.admin import AdminClient
from clients.local_cluster import LocalCluster
from crypto.log.checkpoint import CosignatureSigner
from server.election.rpc.admin_service import AdminAuth
from server.errors import ServerError, answers
from server.pki import DevCA
from server.status import details_of
from server.tls import (
    TlsConfig,
    is_loopback,
    peer_common_name,
    registrar_cn,
    registrar_of,
    require_registrar,
    server_only_channel_credentials,
)
from tests.support.processes import start

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
TOKEN = "0123456789abcdef0123"
GUARDIAN = "transport-gate/guardian-1"
REGISTRAR = "housing-bureau"


def _config(tmp_path: Path, extra: str) -> Path:
    """A server configuration that is complete but for ``extra``: a strict majority of (one)
    witness, so nothing about it is a development setup unless ``extra`` says so."""
    vkey = CosignatureSigner.generate("w.transport.example").verifier().vkey()
    cfg = tmp_path / "server.toml"
    cfg.write_text(f'dsn = "sqlite+aiosqlite:///{tmp_path}/server.db"\n'
                   f'log_key_file = "{tmp_path}/log.key"\norigin = "transport.example/log"\n'
                   f'quorum = 1\nwitnesses = ["{vkey}@127.0.0.1:1"]\nlifecycle_tick = 0.2\n'
                   + extra)
    return cfg


def refused_at_start(tmp_path: Path, extra: str, env: dict[str, str] | None = None) -> str:
    """``python -m server`` with this configuration exits at once: its one line of error."""
    done = subprocess.run([sys.executable, "-m", "server", "--config",
                           str(_config(tmp_path, extra))], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, **(env or {})))
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def _tls(ca: DevCA) -> str:
    cert, key = ca.issue("server")
    return f'tls_cert = "{cert}"\ntls_key = "{key}"\n'


def test_a_plaintext_public_port_is_refused_outside_development(tmp_path):
    """No tls_cert, or listen_tls = false: the server does not start, and says which setting to
    set. With TLS it starts, and its public port refuses a plaintext client."""
    for extra in ("", 'listen = "127.0.0.1:0"\n',
                  'listen = "0.0.0.0:0"\nlisten_tls = false\n' + _tls(DevCA(tmp_path / "a"))):
        line = refused_at_start(tmp_path, extra)
        assert "would serve plaintext" in line and "set tls_cert and tls_key" in line, line
        assert "development = true" in line, line
    ca = DevCA(tmp_path / "pki")
    server, address = start(["server", "--config", str(_config(
        tmp_path, 'listen = "127.0.0.1:0"\n' + _tls(ca)))], tmp_path / "server.out")
    try:
        request = ledger_pb2.GetLogInfoRequest()
        with grpc.insecure_channel(address) as plain:
            with pytest.raises(grpc.RpcError) as exc:
                ledger_pb2_grpc.LedgerServiceStub(plain).GetLogInfo(request, timeout=5)
            assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        with grpc.secure_channel(address, server_only_channel_credentials(ca.ca_path)) as tls:
            info = ledger_pb2_grpc.LedgerServiceStub(tls).GetLogInfo(request, timeout=10)
            assert info.origin == "transport.example/log" and not info.development
    finally:
        server.terminate()
        server.wait(30)


def test_a_bearer_token_is_refused_outside_a_loopback_development_setup(tmp_path):
    """A bearer token without development mode, or with any port bound to a non-loopback
    address, stops the server at start (from the file or from OWNERVOTE_ADMIN_TOKEN)."""
    ca = DevCA(tmp_path / "pki")
    mtls = f'guardian_listen = "127.0.0.1:0"\nclient_ca = "{ca.ca_path}"\n'
    line = refused_at_start(tmp_path, 'listen = "127.0.0.1:0"\n' + _tls(ca) + mtls,
                            {"OWNERVOTE_ADMIN_TOKEN": TOKEN})
    assert "admin_token" in line and "development" in line and "CN admin" in line, line
    for listen, guardian_listen, exposed in (("0.0.0.0:0", "127.0.0.1:0", "0.0.0.0:0"),
                                             ("127.0.0.1:0", "[::]:0", "[::]:0"),
                                             ("192.0.2.1:50051", "", "192.0.2.1:50051")):
        extra = (f'listen = "{listen}"\ndevelopment = true\nadmin_token = "{TOKEN}"\n' + _tls(ca)
                 + (f'guardian_listen = "{guardian_listen}"\nclient_ca = "{ca.ca_path}"\n'
                    if guardian_listen else ""))
        line = refused_at_start(tmp_path, extra)
        assert f"admin_token (a bearer token) with a port bound to {exposed}" in line, line
        assert "127.0.0.1" in line, line


def test_loopback_addresses_and_a_bearer_token_from_elsewhere():
    for address in ("127.0.0.1:50051", "127.8.9.1:1", "localhost:7", "[::1]:50051",
                    "unix:/tmp/s"):
        assert is_loopback(address), address
    for address in ("0.0.0.0:50051", "[::]:1", "10.0.0.5:1", "example.org:443", "[2001:db8::1]:1",
                    ":50051"):
        assert not is_loopback(address), address

    class Context:  # what AdminAuth reads of a call
        def __init__(self, peer: str, token: str | None) -> None:
            self._peer = peer
            self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

        def peer(self):
            return self._peer

        def auth_context(self):
            return {"transport_security_type": [b"insecure"]}

        def invocation_metadata(self):
            return self._metadata

    auth = AdminAuth(TOKEN)
    auth.check(Context("ipv4:127.0.0.1:4000", TOKEN))
    auth.check(Context("ipv6:[::1]:4000", TOKEN))
    for ctx, reason in ((Context("ipv4:10.1.2.3:4000", TOKEN), "UNAUTHENTICATED"),
                        (Context("ipv4:127.0.0.1:4000", "another-token-entirely"), "NOT_ADMIN"),
                        (Context("ipv4:127.0.0.1:4000", None), "UNAUTHENTICATED")):
        with pytest.raises(ServerError) as exc:
            auth.check(ctx)
        assert exc.value.reason == reason
    with pytest.raises(ServerError) as exc:  # without a token, a bearer header is no credential
        AdminAuth().check(Context("ipv4:127.0.0.1:4000", TOKEN))
    assert exc.value.reason == "UNAUTHENTICATED" and "mutual-TLS" in exc.value.message


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("transport")
    c = LocalCluster(directory / "cluster", origin="transport.example/log", validating=False,
                     guardian_names=(GUARDIAN,))
    c.start()
    subprocess.run([sys.executable, "-m", "server.pki", "--add", str(c.pki),
                    registrar_cn(REGISTRAR)], cwd=ROOT, check=True, capture_output=True)
    c.other_ca = DevCA(directory / "other-pki", "someone else's CA")
    yield c
    c.stop()


async def _import_roll(channel: grpc.aio.Channel, metadata=None):
    return await election_pb2_grpc.AdminServiceStub(channel).ImportRoll(
        election_pb2.ImportRollRequest(community_id="transport", csv=SAMPLE), metadata=metadata,
        timeout=20)


async def _refused(call, code: grpc.StatusCode, reason: str | None = None) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    info = details_of(exc.value)
    assert info["code"] == code, info
    if reason is not None:
        assert info["reason"] == reason, info


async def test_administrators_only_over_mutual_tls_with_the_admin_certificate(cluster):
    """On a deployment's transport (LocalCluster: no development setting): plaintext reaches
    neither port; over server TLS AdminService is UNAUTHENTICATED, with a bearer token or a
    client certificate offered alike; on the mutual-TLS port a guardian's or a registrar's
    certificate is PERMISSION_DENIED, one from another CA fails the handshake, and the admin
    certificate imports the roll."""
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    for address in (cluster.address, cluster.secure_address):
        async with grpc.aio.insecure_channel(address) as plain:
            await _refused(_import_roll(plain), grpc.StatusCode.UNAVAILABLE)
    async with cluster.channel() as public:  # server TLS: voters, auditors
        await _refused(_import_roll(public), unauthenticated, "UNAUTHENTICATED")
        await _refused(_import_roll(public, (("authorization", f"Bearer {TOKEN}"),)),
                       unauthenticated, "UNAUTHENTICATED")
    async with cluster.channel(cluster.address, "admin") as offered:  # the port asks for none
        await _refused(_import_roll(offered), unauthenticated, "UNAUTHENTICATED")
    async with grpc.aio.secure_channel(cluster.secure_address, cluster.credentials()) as none:
        await _refused(_import_roll(none), grpc.StatusCode.UNAVAILABLE)  # no certificate
    for cn in (GUARDIAN, registrar_cn(REGISTRAR)):
        async with cluster.channel(cluster.secure_address, cn) as channel:
            await _refused(_import_roll(channel), grpc.StatusCode.PERMISSION_DENIED, "NOT_ADMIN")
    cert, key = cluster.other_ca.issue("admin")
    async with grpc.aio.secure_channel(cluster.secure_address, TlsConfig(
            cert, key, cluster.ca).channel_credentials()) as forged:
        await _refused(_import_roll(forged), grpc.StatusCode.UNAVAILABLE)
    async with cluster.channel(cluster.secure_address, "admin") as admin:
        roll = await AdminClient(admin, cluster.bundle).import_roll("transport", SAMPLE)
        assert roll.owners == 25  # and its receipt checked against the pinned bundle


class Probe:
    """One RPC a registrar-only service would have: it answers the calling registrar's name."""

    def __init__(self, names) -> None:
        self.names = names

    @answers()
    async def Who(self, request, context):  # noqa: N802
        return require_registrar(context, self.names).encode()

    @answers()
    async def Peer(self, request, context):  # noqa: N802
        return (peer_common_name(context) or "").encode()


async def test_registrars_and_the_server_talk_over_mutual_tls(tmp_path):
    """A registrar's certificate from the local PKI serves its own TLS port (phones verify it
    with the CA) and authenticates it to the server's mutual-TLS port, where require_registrar
    reads its name; a registrar outside the election, an administrator's certificate, or a call
    without a certificate is refused. The server calls a registrar's mutual-TLS port with its
    own certificate."""
    ca = DevCA(tmp_path / "pki")
    server_cert, server_key = ca.issue("server")
    bureau = ca.issue_registrar(REGISTRAR)
    office = ca.issue_registrar("street-office")
    committee = ca.issue_registrar("owners-committee")
    admin = ca.issue("admin", server=False)
    cert = x509.load_pem_x509_certificate(bureau[0].read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "registrar:housing-bureau"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert registrar_of("registrar:street-office") == "street-office"
    assert registrar_of("admin") is None and registrar_of("registrar:") is None
    for bad in ("", "a/b", "x" * 65, "-lead", "name with space"):
        with pytest.raises(ValueError):
            registrar_cn(bad)

    async def serve(cert_key, *, mutual: bool) -> tuple[grpc.aio.Server, int]:
        probe = Probe({REGISTRAR, "street-office"})
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "ownervote.test.Probe", {"Who": grpc.unary_unary_rpc_method_handler(probe.Who),
                                     "Peer": grpc.unary_unary_rpc_method_handler(probe.Peer)})])
        port = server.add_secure_port("127.0.0.1:0", TlsConfig(*cert_key, ca.ca_path)
                                      .server_credentials(require_client_cert=mutual))
        await server.start()
        return server, port

    def call(port: int, method: str, cert_key=None):
        creds = TlsConfig(*cert_key, ca.ca_path).channel_credentials() if cert_key \
            else server_only_channel_credentials(ca.ca_path)
        return (grpc.aio.secure_channel(f"localhost:{port}", creds),
                f"/ownervote.test.Probe/{method}")

    # the server's mutual-TLS port, called by registrars
    server, mtls = await serve((server_cert, server_key), mutual=True)
    tls_only, tls_port = await serve((server_cert, server_key), mutual=False)
    # a registrar's own port: server TLS for phones, mutual TLS for the server's calls
    registrar, phones = await serve(bureau, mutual=False)
    registrar_mtls, from_server = await serve(bureau, mutual=True)
    try:
        for who, want in ((bureau, b"housing-bureau"), (office, b"street-office")):
            channel, method = call(mtls, "Who", who)
            async with channel:
                assert await channel.unary_unary(method)(b"", timeout=10) == want
        for who, code, reason in ((committee, grpc.StatusCode.PERMISSION_DENIED, "NOT_REGISTRAR"),
                                  (admin, grpc.StatusCode.PERMISSION_DENIED, "NOT_REGISTRAR"),
                                  (None, grpc.StatusCode.UNAVAILABLE, None)):
            channel, method = call(mtls, "Who", who)
            async with channel:
                await _refused(channel.unary_unary(method)(b"", timeout=10), code, reason)
        channel, method = call(tls_port, "Who", bureau)  # server TLS only: no name to read
        async with channel:
            await _refused(channel.unary_unary(method)(b"", timeout=10),
                           grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        channel, method = call(phones, "Peer")  # a phone verifies the registrar with the CA
        async with channel:
            assert await channel.unary_unary(method)(b"", timeout=10) == b""
        channel, method = call(from_server, "Peer", (server_cert, server_key))
        async with channel:
            assert await channel.unary_unary(method)(b"", timeout=10) == b"server"
    finally:
        for s in (server, tls_only, registrar, registrar_mtls):
            await s.stop(None)
