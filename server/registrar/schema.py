"""Tables of a registrar (gathered with every other package's in server/schema.py). Every table
carries the registrar's name, so that several registrars may share one database (tests, a
small deployment); in production each has its own.

* ``registrar_rolls`` — the registrar's own copy of each roll it imported: owner id -> weight,
  keyed by the roll's hash (the one the ledger commits to).
* ``registrar_keys`` — its issuer key per election and weight class: the public key and the
  private key PKCS #8, encrypted under the registrar's key encryption key; ``published``: the
  ledger index of its signed ``issuer-keys`` event, once appended.
* ``issuance_pending`` — credentials issued since the last batch. Keyed by (registrar, election,
  owner id) and, on SQLite, WITHOUT ROWID (a B-tree ordered by the key, no rowid that counts
  arrivals); rows leave it when their batch is written.
* ``issuance_published`` — every issued credential once its batch is written, inserted in batch
  and owner-id order: exactly the order the ledger shows, never the order of arrival.
* ``issuance_batches`` — each signed batch as sent to the server, and its ledger index once
  appended (None: to be sent again).
* ``attestation_nonces`` — per registrar, each nonce of an identity attestation that a
  credential request used, with the owner it named, SHA-256 of the blinded message it asked
  for and the attestation's expiry: a nonce is accepted once until then (the identical retry,
  same blinded message, is not a second use). Rows whose attestation expired are pruned, and a
  written batch deletes its attestations' rows.
* ``registration_failures`` — the failed registration attempts still inside their limiter's
  window, shared by every process on the database (limits.py): per attempt, SHA-256 of the
  limited key (``owner:<election>:<owner id>`` or ``client:<address>``, hashed so the table
  names no owner and no address), when the failure leaves the window (milliseconds) and a
  random tag (two failures of one key in one millisecond are two rows).

Nothing here keeps the order in which owners registered (issue 12 §2; tests/test_registrar.py
checks it on both engines): no rowid or sequence on the issuance tables, no time column, pending
rows deleted with SQLite's ``secure_delete`` on and PostgreSQL's pending table vacuumed after
each batch.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Table

from ..db import metadata

NAME = String(64)

registrar_rolls = Table(
    "registrar_rolls", metadata,
    Column("registrar", NAME, primary_key=True),
    Column("roll_hash", LargeBinary(32), primary_key=True),
    Column("owner_id", String(255), primary_key=True),
    Column("weight", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

registrar_keys = Table(
    "registrar_keys", metadata,
    Column("registrar", NAME, primary_key=True),
    Column("election_id", String(128), primary_key=True),
    Column("weight", BigInteger, primary_key=True),
    Column("spki", LargeBinary, nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # PKCS #8, encrypted under the KEK
    Column("published", BigInteger, nullable=True),  # ledger index of the issuer-keys event
)


def _issuance_columns() -> list[Column]:
    return [
        Column("registrar", NAME, primary_key=True),
        Column("election_id", String(128), primary_key=True),
        Column("owner_id", String(255), primary_key=True),
        Column("weight", BigInteger, nullable=False),
        Column("request_hash", LargeBinary(32), nullable=False),  # SHA-256(blinded_msg)
        Column("blind_sig", LargeBinary, nullable=False),
        Column("attestation", LargeBinary, nullable=False),  # canonical bytes
        Column("attestation_signature", LargeBinary(64), nullable=False),
    ]


issuance_pending = Table("issuance_pending", metadata, *_issuance_columns(),
                         sqlite_with_rowid=False)

issuance_published = Table("issuance_published", metadata, *_issuance_columns(),
                           Column("seq", BigInteger, nullable=False),
                           sqlite_with_rowid=False)

issuance_batches = Table(
    "issuance_batches", metadata,
    Column("registrar", NAME, primary_key=True),
    Column("election_id", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("final", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the signed issuances record
    Column("ledger_index", BigInteger, nullable=True),  # None: not yet appended
)


attestation_nonces = Table(
    "attestation_nonces", metadata,
    Column("registrar", NAME, primary_key=True),
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
