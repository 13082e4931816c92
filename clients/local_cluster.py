"""A whole deployment on this machine, as separate processes: the server (ledger, election
services, lifecycle driver), its witnesses and the registrars (``python -m server.registrar``,
three by default, a credential needing two of them), each with its own database, keys and
ports — for the demo, the end-to-end tests and the benchmarks.

Keys are made here first (C2SP key strings, written 0600) so that every process knows the
others' verifier keys before it starts, and the deployment's trust bundle (crypto/log/trust.py:
the log's key, the witnesses' keys, the quorum, the identity provider's key, the registrars'
keys) is written to
:attr:`LocalCluster.trust_file` for the clients to pin; a development CA
(``python -m server.pki``) issues the server's TLS certificate and the client certificates
(administrator ``admin``, guardians ``<election>/guardian-<i>``) for the mutual-TLS port. The
server's public port serves TLS with that CA (:meth:`LocalCluster.channel`; the validating
witnesses follow it with ``--ledger-ca``), and AdminService answers only the ``admin``
certificate on the mutual-TLS port: the cluster runs the transport of a deployment, not a
development setup.
Everything started is stopped by :meth:`LocalCluster.stop` (SIGTERM, then SIGKILL after a grace
period).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.files import write_private

from crypto.attestation import DemoIdentityProvider
from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer
from crypto.log.trust import TrustBundle, is_majority, make_bundle

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ``python -c`` for a server process whose wall clock is off by %f seconds: time.time is shifted
# before the server's modules are imported (their default clocks bind it then)
_SKEWED_SERVER = """import runpy, sys, time
_real = time.time
time.time = lambda: _real() + %f
sys.argv[0] = "server"
runpy.run_module("server", run_name="__main__", alter_sys=True)
"""

@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log.read_text(errors="replace"))
            if m:
                return m
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")


@dataclass
class LocalCluster:
    directory: Path
    witnesses: int = 3
    quorum: int = 2
    dsn: str | None = None  # default: a SQLite file in the directory
    validating: bool = True  # witnesses replay every election rule before co-signing
    guardian_names: tuple[str, ...] = ()  # client certificate common names to issue
    lifecycle_tick: float = 0.2
    servers: int = 1  # more than one needs PostgreSQL: one sequencer, the others forward
    close_grace: float = 1.0  # the close waits this long for other processes' appends
    # per server process (by position): extra settings lines for its TOML file, and how many
    # seconds its clock is off (a test of a process whose clock is wrong: it runs with
    # time.time shifted by that much)
    server_settings: tuple[tuple[str, ...], ...] = ()
    clock_skews: tuple[float, ...] = ()
    origin: str = "demo.ownervote.example/log"
    # the registrars: each its own process, store and keys (the server holds none of them)
    registrar_names: tuple[str, ...] = ("committee", "housing-bureau", "street-office")
    registrar_threshold: int = 2  # k: a credential needs this many registrars' signatures
    registrar_batch_interval: float = 2.0  # seconds between a registrar's issuance batches
    registrar_addresses: dict[str, str] = field(default_factory=dict)  # name -> its TLS port
    registrar_keys: dict[str, bytes] = field(default_factory=dict)  # name -> Ed25519 key
    provider: DemoIdentityProvider = field(default_factory=lambda: DemoIdentityProvider(
        Ed25519PrivateKey.generate(), expiry_grid=600))
    processes: list[Process] = field(default_factory=list)
    address: str = ""  # the public port (TLS, :attr:`ca`) of the first server process
    secure_address: str = ""  # its mutual-TLS port (guardians, administrators, registrars)
    addresses: list[str] = field(default_factory=list)  # every server process's public port
    log_vkey: str = ""
    witness_vkeys: list[str] = field(default_factory=list)  # the keys the bundle pins
    witness_addresses: list[str] = field(default_factory=list)  # each witness's gRPC port
    bundle: TrustBundle | None = None  # the deployment's trust bundle, made at start

    @property
    def trust_file(self) -> Path:
        """Where the deployment's trust bundle is written (what every client pins)."""
        return self.directory / "trust.bundle"

    def pin(self, bundle: TrustBundle) -> None:
        """Make ``bundle`` the deployment's (e.g. with an election's guardian fingerprints)
        and write it for the clients."""
        self.bundle = bundle
        self.trust_file.write_bytes(bundle.encode())

    @property
    def pki(self) -> Path:
        return self.directory / "pki"

    @property
    def ca(self) -> Path:
        """The development CA's certificate: what a client pins to reach the server over TLS."""
        return self.pki / "ca.pem"

    def cert(self, cn: str) -> tuple[Path, Path]:
        """``cn``'s certificate and key, as server/pki.py names them."""
        safe = cn.replace("/", "_")
        return self.pki / f"{safe}.pem", self.pki / f"{safe}.key"

    def credentials(self, cn: str | None = None) -> grpc.ChannelCredentials:
        """TLS to the cluster's servers, verifying them with :attr:`ca`, presenting ``cn``'s
        client certificate if given (mutual TLS)."""
        if cn is None:
            return grpc.ssl_channel_credentials(self.ca.read_bytes())
        cert, key = self.cert(cn)
        return grpc.ssl_channel_credentials(self.ca.read_bytes(), key.read_bytes(),
                                            cert.read_bytes())

    def channel(self, address: str | None = None, cn: str | None = None) -> grpc.aio.Channel:
        """A TLS channel to ``address`` (the first server's public port by default), with
        ``cn``'s client certificate if given (for :attr:`secure_address`)."""
        return grpc.aio.secure_channel(address or self.address, self.credentials(cn))

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> Process:
        log = self.directory / f"{name}.log"
        with open(log, "w") as f:
            popen = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=f,
                                     stderr=subprocess.STDOUT, env=env or dict(os.environ))
        p = Process(name, popen, log)
        self.processes.append(p)
        return p

    def start(self) -> LocalCluster:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "server.pki", str(self.pki), "server", "admin",
                        *self.guardian_names,
                        *(f"registrar:{n}" for n in self.registrar_names)],
                       cwd=ROOT, check=True, capture_output=True)
        for n in self.registrar_names:
            key = Ed25519PrivateKey.generate()
            write_private(d / f"registrar-{n}.key", key.private_bytes_raw().hex() + "\n")
            write_private(d / f"registrar-{n}.kek", secrets.token_hex(24) + "\n")
            self.registrar_keys[n] = key.public_key().public_bytes_raw()
        log_signer = Ed25519Signer.generate(self.origin)
        write_private(d / "log.key", log_signer.skey() + "\n")
        self.log_vkey = log_signer.verifier().vkey()
        port, secure_port = free_port(), free_port()
        self.address, self.secure_address = f"127.0.0.1:{port}", f"127.0.0.1:{secure_port}"
        endpoints = []
        for i in range(self.witnesses):
            name = f"witness-{i + 1}.example"
            signer = CosignatureSigner.generate(name)
            write_private(d / f"w{i + 1}.key", signer.skey() + "\n")
            args = ["-m", "server.witness", "--name", name, "--key-file", str(d / f"w{i + 1}.key"),
                    "--db", f"sqlite+aiosqlite:///{d / f'w{i + 1}.db'}",
                    "--listen", f"127.0.0.1:{(wport := free_port())}",
                    "--follow", f"{self.origin}={self.log_vkey}@{self.address}",
                    "--ledger-ca", str(self.ca)]
            trusted = signer
            if self.validating:
                vsigner = CosignatureSigner.generate(name + "/validated")
                write_private(d / f"w{i + 1}.validating.key", vsigner.skey() + "\n")
                args += ["--validate", "elections",
                         "--validating-key-file", str(d / f"w{i + 1}.validating.key")]
                trusted = vsigner
            self.witness_vkeys.append(trusted.verifier().vkey())
            self.witness_addresses.append(f"127.0.0.1:{wport}")
            endpoints.append(f'"{trusted.verifier().vkey()}@127.0.0.1:{wport}"')
            self._spawn(name, args)
        for p in self.processes:
            p.wait_for(r"listening on port")
        self.pin(make_bundle(self.origin, self.log_vkey, self.witness_vkeys, self.quorum,
                             self.provider.public_key.public_bytes_raw(),
                             development=not is_majority(self.quorum, self.witnesses),
                             registrars=self.registrar_keys))
        env = dict(os.environ, OWNERVOTE_IDENTITY_PROVIDER_KEY=(
            self.provider.public_key.public_bytes_raw().hex()))
        for k in range(self.servers):
            address = self.address if k == 0 else f"127.0.0.1:{free_port()}"
            secure = self.secure_address if k == 0 else f"127.0.0.1:{free_port()}"
            name = "server" if k == 0 else f"server-{k + 1}"
            skew = self.clock_skews[k] if k < len(self.clock_skews) else 0
            run = ["-c", _SKEWED_SERVER % float(skew)] if skew else ["-m", "server"]
            extra = self.server_settings[k] if k < len(self.server_settings) else ()
            self._spawn(name, [*run, "--config", str(self._config(
                name, address, secure, endpoints, extra))], env).wait_for(r"listening on port")
            self.addresses.append(address)
        for n in self.registrar_names:
            self._start_registrar(n)
        return self

    def registrar_dsn(self, name: str) -> str:
        """A registrar's own store: a SQLite file of its own, or the cluster's PostgreSQL
        database (its tables carry the registrar's name)."""
        if self.dsn and self.dsn.startswith("postgresql"):
            return self.dsn
        return f"sqlite+aiosqlite:///{self.directory / f'registrar-{name}.db'}"

    def _start_registrar(self, name: str) -> Process:
        d = self.directory
        cert, key = self.cert(f"registrar:{name}")
        address = f"127.0.0.1:{free_port()}"
        p = self._spawn(f"registrar-{name}", [
            "-m", "server.registrar", "serve", "--dsn", self.registrar_dsn(name),
            "--name", name, "--key-file", str(d / f"registrar-{name}.key"),
            "--kek-file", str(d / f"registrar-{name}.kek"), "--trust", str(self.trust_file),
            "--server", self.secure_address, "--server-ca", str(self.ca),
            "--listen", address, "--tls-cert", str(cert), "--tls-key", str(key),
            "--batch-interval", str(self.registrar_batch_interval),
            "--tick", str(max(1.0, self.lifecycle_tick))])  # a phone's request catches up
        p.wait_for(r"listening on port")
        self.registrar_addresses[name] = address
        return p

    def import_roll_at_registrars(self, csv: Path) -> None:
        """Each registrar's operator imports the committee's roll into its own store (the
        registrar checks owners against its own copy)."""
        for n in self.registrar_names:
            subprocess.run([sys.executable, "-m", "server.registrar", "import-roll",
                            "--dsn", self.registrar_dsn(n), "--name", n, "--csv", str(csv)],
                           cwd=ROOT, check=True, capture_output=True)

    def registrar_targets(self) -> dict[str, tuple[str, grpc.ChannelCredentials]]:
        """Where a phone reaches each registrar: its address and TLS credentials."""
        return {n: (a, self.credentials()) for n, a in self.registrar_addresses.items()}

    def _config(self, name: str, address: str, secure: str, endpoints: list[str],
                extra: tuple[str, ...] = ()) -> Path:
        d = self.directory
        cert, key = self.cert("server")
        dsn = self.dsn or f"sqlite+aiosqlite:///{d / 'server.db'}"
        config = d / f"{name}.toml"
        config.write_text("\n".join([
            f'dsn = "{dsn}"',
            f'listen = "{address}"', f'guardian_listen = "{secure}"',
            f'origin = "{self.origin}"', f'log_key_file = "{d / "log.key"}"',
            f"quorum = {self.quorum}", f"witnesses = [{', '.join(endpoints)}]",
            f'tls_cert = "{cert}"', f'tls_key = "{key}"', f'client_ca = "{self.pki / "ca.pem"}"',
            f"lifecycle_tick = {self.lifecycle_tick}",
            f"close_grace = {self.close_grace}",
            *extra, ""]))
        return config

    def stop(self, grace: float = 15.0) -> None:
        for p in reversed(self.processes):
            if p.popen.poll() is None:
                p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for p in reversed(self.processes):
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait()
        self.processes.clear()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
