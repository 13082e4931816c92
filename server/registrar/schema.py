"""The registrar's tables (gathered with every other package's in server/schema.py).

* ``attestation_nonces`` — each nonce of an identity attestation that a credential request used,
  with the owner it named, SHA-256 of the blinded message it asked for and the attestation's
  expiry: a nonce is accepted once until then (the identical retry, same owner and same blinded
  message, is not a second use). Rows whose attestation expired may be pruned.
* ``registration_failures`` — the failed registration attempts still inside their limiter's
  window, shared by every process on the database (server/registrar/limits.py): per attempt,
  SHA-256 of the limited key (``owner:<election>:<owner id>`` or ``client:<address>``, hashed so
  the table names no owner and no address), when the failure leaves the window (milliseconds)
  and a random tag (two failures of one key in one millisecond are two rows).

On SQLite both are ``WITHOUT ROWID``: rows are kept in primary-key order (a random nonce, a
hash), so no rowid records the order in which they were written.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table

from ..db import metadata

attestation_nonces = Table(
    "attestation_nonces", metadata,
    Column("nonce", LargeBinary, primary_key=True),
    Column("owner_id", String(255), nullable=False),
    Column("request_hash", LargeBinary, nullable=False),  # SHA-256(blinded_msg)
    Column("expires_at", BigInteger, nullable=False),  # the attestation's, POSIX seconds
    sqlite_with_rowid=False,
)

registration_failures = Table(
    "registration_failures", metadata,
    Column("key_hash", LargeBinary, primary_key=True),  # SHA-256 of the limited key
    Column("expires_at", BigInteger, primary_key=True),  # POSIX milliseconds
    Column("tag", LargeBinary, primary_key=True),  # 8 random bytes
    sqlite_with_rowid=False,
)
