"""Server configuration: a TOML file, overridden by ``OWNERVOTE_*`` environment variables.

    dsn = "sqlite+aiosqlite:///ownervote.db"     # OWNERVOTE_DSN
    listen = "127.0.0.1:50051"                    # OWNERVOTE_LISTEN
    origin = "ownervote.example/log"              # OWNERVOTE_ORIGIN (the ledger's origin)
    log_key_file = "keys/log.key"                 # OWNERVOTE_LOG_KEY_FILE
    admin_token = "…"                             # OWNERVOTE_ADMIN_TOKEN (development only)
    quorum = 2                                    # OWNERVOTE_QUORUM (a strict majority)
    development = false                           # OWNERVOTE_DEVELOPMENT (see below)
    witnesses = ["VKEY@HOST:PORT", …]             # OWNERVOTE_WITNESSES (comma-separated)
    tls_cert = "…"  tls_key = "…"                 # OWNERVOTE_TLS_CERT / OWNERVOTE_TLS_KEY
                                                  # (required, unless development = true)
    witness_ca = "…" client_cert = "…" client_key = "…"   (mutual TLS to the witnesses)
    identity_provider_key = "<64 hex>"            # OWNERVOTE_IDENTITY_PROVIDER_KEY (Ed25519)
    guardian_listen = "0.0.0.0:50052"             # OWNERVOTE_GUARDIAN_LISTEN
    client_ca = "…"                               # OWNERVOTE_CLIENT_CA
    listen_tls = true                             # OWNERVOTE_LISTEN_TLS (false: development)
    lifecycle_tick = 1.0                          # OWNERVOTE_LIFECYCLE_TICK (seconds)
    verify_workers = 2                            # OWNERVOTE_VERIFY_WORKERS (default: CPUs)
    close_grace = 2.0                             # OWNERVOTE_CLOSE_GRACE (seconds)
    snapshot_ttl = 1.0                            # OWNERVOTE_SNAPSHOT_TTL (seconds, 0–60)
    trusted_proxy_header = "x-forwarded-for"      # OWNERVOTE_TRUSTED_PROXY_HEADER (see below)
    metrics_listen = "127.0.0.1:9464"             # OWNERVOTE_METRICS_LISTEN (Prometheus; off
                                                  # when unset; docs/metrics.md)
The quorum must be a strict majority of the witnesses, and there must be witnesses: a server
with none, or with a quorum of half of them or less, starts only with ``development = true``
(a machine of one's own), and then says so everywhere a client looks: in every checkpoint it
signs (an extension line, crypto.log.trust.DEVELOPMENT_EXTENSION, which only a development trust
bundle accepts), in GetLogInfo (``development``), in its health checks (the service
``ownervote.v1.Development`` reports SERVING) and in its log.
The server issues no credentials and holds no issuer key: each registrar is its own process
(``python -m server.registrar``) with its own keys, and IssuanceService only appends their
signed records. ``identity_provider_key`` is filled into an election definition that names no
identity provider of its own (the registrars and every verifier check attestations against the
definition's key, and clients check it is the trust bundle's).

Transport (docs/threat-model.md, a network attacker). The public port ``listen`` serves TLS
with ``tls_cert``/``tls_key`` (server authentication only: phones, auditors). A server whose
public port would serve plaintext (no ``tls_cert``, or ``listen_tls = false``) refuses to start
unless ``development = true``. ``guardian_listen`` opens a second, mutual-TLS port that requires
a client certificate from ``client_ca`` (it needs ``tls_cert``/``tls_key`` too): guardians
present CN ``<election_id>/guardian-<i>``, administrators CN ``admin`` (AdminService answers no
one else: server/election/rpc/admin_service.py), registrars ``registrar:<name>``
(server/tls.py). ``admin_token`` is for a development machine only: a bearer token that
AdminService accepts from loopback callers instead of the certificate; it is refused unless
``development = true`` and every port (``listen``, ``guardian_listen``) is bound to a loopback
address (``127.0.0.1``, ``::1``, ``localhost``). Behind a load balancer, it passes TLS
through or re-encrypts to the server (a TLS client of the public port), never plain.

The lifecycle driver steps every ``lifecycle_tick`` seconds; a ceremony finishes at the
``ceremony_deadline`` its election's definition carries (not a server setting).
``verify_workers``: how many worker processes check cast ballots off the event loop
(server/election/ballot_box.py); the default is the number of CPUs, 0 checks them in the server
process itself; as many processes sum the ledger's pages at the close. ``close_grace``: how long
after the closing time the close event waits, so that a ballot another server process was still
appending lands before it (every process refuses ballots from the closing time on).
``snapshot_ttl``: how long a process serves an issuing election's state from memory before it
reads the database again (ElectionStore.election_snapshot): a close made by another process is
seen this late at most (a ballot that gets through meanwhile is still refused by the sequencer,
server/election/append_guard.py).
``trusted_proxy_header``: only for a public port behind a reverse proxy that the deployment
runs: the request header in which that proxy passes the client's address (its last value, and
of a list its last element). Registration's failure limits are then keyed by that address
instead of the connection's (which is the proxy's); unset (the default), the header is never
read, so a client cannot choose its own key by sending it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from crypto.log.trust import is_majority

from .tls import is_loopback

PROXY_HEADER = re.compile(r"(?!grpc-)[a-z0-9][a-z0-9_.-]{0,127}")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    dsn: str = "sqlite+aiosqlite:///ownervote.db"
    listen: str = "127.0.0.1:50051"
    origin: str = "ownervote.example/log"
    log_key_file: str = "keys/log.key"
    admin_token: str = ""
    quorum: int = 0
    development: bool = False
    witnesses: tuple[str, ...] = field(default_factory=tuple)
    tls_cert: str = ""
    tls_key: str = ""
    witness_ca: str = ""
    client_cert: str = ""
    client_key: str = ""
    identity_provider_key: str = ""
    guardian_listen: str = ""
    client_ca: str = ""
    listen_tls: bool | None = None
    lifecycle_tick: float = 1.0
    close_grace: float = 2.0
    snapshot_ttl: float = 1.0
    verify_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    trusted_proxy_header: str = ""
    metrics_listen: str = ""

    @property
    def public_tls(self) -> bool:
        """Whether the ``listen`` port serves TLS: with ``tls_cert``, unless ``listen_tls`` is
        false (a development setting)."""
        if self.listen_tls is not None:
            return self.listen_tls
        return bool(self.tls_cert)

    def __post_init__(self) -> None:
        if self.admin_token and len(self.admin_token) < 16:
            raise ConfigError("admin_token must be at least 16 characters")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ConfigError("quorum must be between 0 and the number of witnesses")
        if not isinstance(self.development, bool):
            raise ConfigError("development is true or false")
        if not is_majority(self.quorum, len(self.witnesses)) and not self.development:
            raise ConfigError(f"a quorum of {self.quorum} of {len(self.witnesses)} witnesses is "
                              "not a strict majority: set development = true only on a machine "
                              "of your own")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together")
        if self.witness_ca and not (self.client_cert and self.client_key):
            raise ConfigError("witness_ca needs client_cert and client_key")
        if self.identity_provider_key:
            try:
                if len(bytes.fromhex(self.identity_provider_key)) != 32:
                    raise ValueError
            except ValueError as exc:
                raise ConfigError("identity_provider_key is 64 hex digits") from exc
        if bool(self.guardian_listen) != bool(self.client_ca):
            raise ConfigError("guardian_listen and client_ca go together")
        if self.guardian_listen and not self.tls_cert:
            raise ConfigError("guardian_listen (mutual TLS) needs tls_cert and tls_key")
        if self.listen_tls and not self.tls_cert:
            raise ConfigError("listen_tls needs tls_cert and tls_key")
        self._check_transport()
        if not self.lifecycle_tick > 0:
            raise ConfigError("lifecycle_tick must be positive")
        if not self.close_grace >= 0:
            raise ConfigError("close_grace cannot be negative")
        if not 0 <= self.snapshot_ttl <= 60:
            raise ConfigError("snapshot_ttl is between 0 and 60 seconds")
        header = self.trusted_proxy_header
        if not isinstance(header, str) or (header and not PROXY_HEADER.fullmatch(header)):
            raise ConfigError("trusted_proxy_header is a lower-case request header name (such as "
                              "x-forwarded-for), not a reserved one (grpc-…, or a pseudo-header)")
        if isinstance(self.verify_workers, bool) or not isinstance(self.verify_workers, int) \
                or self.verify_workers < 0:
            raise ConfigError("verify_workers is a number of processes, 0 or more")


    def _check_transport(self) -> None:
        """TLS on the public port, and a bearer token only on a loopback development machine."""
        if not self.public_tls and not self.development:
            raise ConfigError(f"the public port {self.listen} would serve plaintext: set tls_cert "
                              "and tls_key (TLS), or development = true on a machine of your own")
        if self.admin_token:
            if not self.development:
                raise ConfigError("admin_token (a bearer token) is for development only: "
                                  "administrators use a client certificate with CN admin on "
                                  "guardian_listen; unset admin_token, or set development = true")
            exposed = [a for a in (self.listen, self.guardian_listen) if a and not is_loopback(a)]
            if exposed:
                raise ConfigError(f"admin_token (a bearer token) with a port bound to "
                                  f"{exposed[0]}: bind listen and guardian_listen to 127.0.0.1, "
                                  "or unset admin_token and use the admin client certificate")


def load_config(path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    values: dict = {}
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    known = {f.name: f for f in fields(Config)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    for name in known:
        raw = env.get(f"OWNERVOTE_{name.upper()}")
        if raw is not None:
            values[name] = raw
    if isinstance(values.get("witnesses"), str):
        values["witnesses"] = [w for w in values["witnesses"].split(",") if w]
    if "witnesses" in values:
        values["witnesses"] = tuple(values["witnesses"])
    if "quorum" in values:
        try:
            values["quorum"] = int(values["quorum"])
        except (TypeError, ValueError) as exc:
            raise ConfigError("quorum must be an integer") from exc
    for name in ("listen_tls", "development"):
        if isinstance(values.get(name), str):
            flag = values[name].strip().lower()
            if flag not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"{name} is true or false")
            values[name] = flag in ("true", "1", "yes")
        if name in values and not isinstance(values[name], bool):
            raise ConfigError(f"{name} is true or false")
    if isinstance(values.get("verify_workers"), str):
        try:
            values["verify_workers"] = int(values["verify_workers"])
        except ValueError as exc:
            raise ConfigError("verify_workers is a number of processes, 0 or more") from exc
    for name in ("lifecycle_tick", "close_grace", "snapshot_ttl"):
        if name in values:
            try:
                values[name] = float(values[name])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{name} must be a number of seconds") from exc
    return Config(**values)
