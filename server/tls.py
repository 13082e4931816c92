"""TLS for the gRPC endpoints: server TLS, and mutual TLS where the caller must be known
(witnesses accept checkpoints only from the log; guardians, administrators and registrars
authenticate with client certificates).

Invariants:

- A port serves either server TLS that asks for no client certificate, or mutual TLS that
  requires one and verifies it against the client CA (:meth:`TlsConfig.server_credentials`);
  never "ask but do not verify". So a common name in a call's ``auth_context()``
  (:func:`peer_common_name`) is always one the client CA vouches for.
- Who a caller is comes from that verified common name alone: ``admin`` for administrators,
  ``<election_id>/guardian-<i>`` for guardians, ``registrar:<name>`` for registrars
  (:func:`registrar_cn`, :func:`require_registrar`).
- A public port serves plaintext only in an explicit development setup, and a bearer token is
  accepted only on loopback addresses (:func:`is_loopback`; server/config.py enforces both).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import grpc

from .errors import Forbidden, Unauthenticated

REGISTRAR_PREFIX = "registrar:"
REGISTRAR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TlsConfig:
    cert: Path  # PEM certificate chain of this endpoint
    key: Path  # PEM private key
    ca: Path | None = None  # PEM CA bundle to verify the peer (client CA on a server)

    def server_credentials(self, *, require_client_cert: bool) -> grpc.ServerCredentials:
        """Mutual TLS (a client certificate from ``ca`` required and verified), or server TLS
        that asks for no client certificate at all (``ca`` is then not used)."""
        if require_client_cert and self.ca is None:
            raise ValueError("mutual TLS needs the CA that signs client certificates")
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes() if require_client_cert else None,
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


# --- addresses ----------------------------------------------------------------------------------

def host_of(address: str) -> str:
    """The host of ``HOST:PORT`` or ``[V6]:PORT`` (``unix:PATH`` is its own host)."""
    if address.startswith("unix:"):
        return address
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] if ":" in address else address


def is_loopback(address: str) -> bool:
    """Whether a listening (or peer) address is reachable from this machine only:
    ``localhost``, 127.0.0.0/8, ``::1``, or a Unix socket. ``0.0.0.0`` and ``[::]`` are not."""
    host = host_of(address)
    if host.startswith("unix:") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def peer_is_loopback(context: grpc.aio.ServicerContext) -> bool:
    """Whether the caller connects from this machine (``context.peer()`` is
    ``ipv4:127.0.0.1:PORT``, ``ipv6:[::1]:PORT`` or ``unix:…``)."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return True
    return kind in ("ipv4", "ipv6") and is_loopback(rest)


# --- who is calling -----------------------------------------------------------------------------

def peer_common_name(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's client certificate, verified against the client CA; only
    a mutual-TLS port asks for one (module invariants), so elsewhere there is none."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


def registrar_cn(name: str) -> str:
    """The common name of registrar ``name``'s certificate: ``registrar:<name>``
    (``name``: 1–64 of ``[A-Za-z0-9._-]``, starting with a letter or digit)."""
    if not REGISTRAR_NAME.fullmatch(name):
        raise ValueError(f"a registrar's name is 1-64 of [A-Za-z0-9._-]: {name!r}")
    return REGISTRAR_PREFIX + name


def registrar_of(cn: str | None) -> str | None:
    """The registrar a common name names, or None if it is not a registrar's."""
    if cn is None or not cn.startswith(REGISTRAR_PREFIX):
        return None
    name = cn[len(REGISTRAR_PREFIX):]
    return name if REGISTRAR_NAME.fullmatch(name) else None


def require_client(context: grpc.aio.ServicerContext, allowed: Collection[str], *,
                   role: str, reason: str) -> str:
    """The caller's verified common name, if it is one of ``allowed``. No client certificate
    (plaintext, or a server-TLS-only port) is UNAUTHENTICATED; another name is
    PERMISSION_DENIED with ``reason``."""
    cn = peer_common_name(context)
    if cn is None:
        raise Unauthenticated(f"{role}: a client certificate is required (mutual TLS)",
                              reason="UNAUTHENTICATED")
    if cn not in allowed:
        raise Forbidden(f"{role}: certificate {cn!r} is not allowed", reason=reason)
    return cn


def require_registrar(context: grpc.aio.ServicerContext,
                      names: Collection[str] | None = None) -> str:
    """The name of the registrar calling, from its verified client certificate
    (``registrar:<name>``), if it is one of ``names`` (the election's registrars; None: any
    registrar). UNAUTHENTICATED without a client certificate, PERMISSION_DENIED
    (``NOT_REGISTRAR``) for any other certificate."""
    cn = peer_common_name(context)
    if cn is None:
        raise Unauthenticated("a registrar's client certificate is required (mutual TLS)",
                              reason="UNAUTHENTICATED")
    name = registrar_of(cn)
    if name is None or (names is not None and name not in names):
        raise Forbidden(f"certificate {cn!r} is not a registrar's"
                        + ("" if name is None else " of this election"), reason="NOT_REGISTRAR")
    return name
