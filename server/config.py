"""Server configuration: a TOML file, overridden by ``OWNERVOTE_*`` environment variables.

    dsn = "sqlite+aiosqlite:///ownervote.db"     # OWNERVOTE_DSN
    listen = "127.0.0.1:50051"                    # OWNERVOTE_LISTEN
    origin = "ownervote.example/log"              # OWNERVOTE_ORIGIN (the ledger's origin)
    log_key_file = "keys/log.key"                 # OWNERVOTE_LOG_KEY_FILE
    admin_token = "…"                             # OWNERVOTE_ADMIN_TOKEN (>= 16 characters)
    quorum = 2                                    # OWNERVOTE_QUORUM
    witnesses = ["VKEY@HOST:PORT", …]             # OWNERVOTE_WITNESSES (comma-separated)
    tls_cert = "…"  tls_key = "…"                 # OWNERVOTE_TLS_CERT / OWNERVOTE_TLS_KEY
    witness_ca = "…" client_cert = "…" client_key = "…"   (mutual TLS to the witnesses)
    identity_provider_key = "<64 hex>"            # OWNERVOTE_IDENTITY_PROVIDER_KEY (Ed25519)
    key_encryption_key = "…"                      # OWNERVOTE_KEY_ENCRYPTION_KEY (>= 16 chars)
RegistrationService is served when both of the last two are set.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


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
    witnesses: tuple[str, ...] = field(default_factory=tuple)
    tls_cert: str = ""
    tls_key: str = ""
    witness_ca: str = ""
    client_cert: str = ""
    client_key: str = ""
    identity_provider_key: str = ""
    key_encryption_key: str = ""

    def __post_init__(self) -> None:
        if len(self.admin_token) < 16:
            raise ConfigError("admin_token must be at least 16 characters")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise ConfigError("quorum must be between 0 and the number of witnesses")
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
            if len(self.key_encryption_key) < 16:
                raise ConfigError("key_encryption_key must be at least 16 characters")


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
        except ValueError as exc:
            raise ConfigError("quorum must be an integer") from exc
    return Config(**values)
