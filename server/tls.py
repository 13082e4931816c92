"""TLS for the gRPC endpoints: server TLS, and mutual TLS where the caller must be known
(witnesses accept checkpoints only from the log; guardians and administrators authenticate with
client certificates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class TlsConfig:
    cert: Path  # PEM certificate chain of this endpoint
    key: Path  # PEM private key
    ca: Path | None = None  # PEM CA bundle to verify the peer (client CA on a server)

    def server_credentials(self, *, require_client_cert: bool) -> grpc.ServerCredentials:
        if require_client_cert and self.ca is None:
            raise ValueError("mutual TLS needs the CA that signs client certificates")
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes() if self.ca else None,
            require_client_auth=require_client_cert)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """As a client: verify the server with ``ca`` and present ``cert``/``key``."""
        if self.ca is None:
            raise ValueError("a TLS client needs the CA of the server it calls")
        return grpc.ssl_channel_credentials(root_certificates=self.ca.read_bytes(),
                                            private_key=self.key.read_bytes(),
                                            certificate_chain=self.cert.read_bytes())


def server_only_channel_credentials(ca: Path) -> grpc.ChannelCredentials:
    """As a client without a certificate (voters, auditors): verify the server only."""
    return grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())


def open_channel(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(address)
    return grpc.aio.secure_channel(address, credentials)
