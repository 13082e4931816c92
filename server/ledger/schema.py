"""Tables of the Merkle log (gathered with every other package's in server/schema.py). Several
logs may share a database; each row names its log.

* ``log_entries`` — each entry exactly as hashed (never re-encoded), by index.
* ``log_nodes`` — the hash of every complete, aligned subtree ``(level, idx)`` covering leaves
  ``[idx·2^level, (idx+1)·2^level)`` (level 0 = leaf hashes), keyed by its in-order number
  ``node_id = idx·2^(level+1) + 2^level − 1`` so that the O(log n) nodes of a proof are one
  indexed ``IN`` lookup on a single column (docs/protocol.md §12).
* ``log_checkpoints`` — every checkpoint the log signed, and, once a quorum of witnesses
  co-signed it, the co-signed note.
* ``log_heads`` — the current size and root of each log; locked by the sequencer's batch
  transaction, which fences a stale sequencer.
* ``log_pending`` — entries handed to the sequencer by server processes that are not the
  sequencer; the sequencer moves them into ``log_entries`` (recording ``pending_id``).
* ``log_refusals`` — handed-over entries the sequencer's guard refused (server/ledger/guard.py):
  the pending id and the reason, for the process that waits on it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from ..db import metadata

log_heads = Table(
    "log_heads", metadata,
    Column("log_id", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
)

log_entries = Table(
    "log_entries", metadata,
    Column("log_id", String(255), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Column("pending_id", BigInteger, nullable=True),
)
Index("ix_log_entries_leaf_hash", log_entries.c.log_id, log_entries.c.leaf_hash)
Index("ix_log_entries_pending", log_entries.c.log_id, log_entries.c.pending_id, unique=True)

log_nodes = Table(
    "log_nodes", metadata,
    Column("log_id", String(255), primary_key=True),
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

log_checkpoints = Table(
    "log_checkpoints", metadata,
    Column("log_id", String(255), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("signed_note", LargeBinary, nullable=False),
    Column("cosigned_note", LargeBinary, nullable=True),
)

log_pending = Table(
    "log_pending", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("log_id", String(255), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
Index("ix_log_pending_log", log_pending.c.log_id, log_pending.c.id)

log_refusals = Table(
    "log_refusals", metadata,
    Column("log_id", String(255), primary_key=True),
    Column("pending_id", BigInteger, primary_key=True, autoincrement=False),
    Column("reason", String(1000), nullable=False),
)
