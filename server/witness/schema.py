"""The witness's table (gathered with every other package's in server/schema.py): per log
origin, the latest co-signed size, root and compact range (C2SP tlog-witness state), and the
note it co-signed last (served by GetLatestCheckpoint)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table

from ..db import metadata

witness_logs = Table(
    "witness_logs", metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("frontier", LargeBinary, nullable=False),  # complete_subtrees(0, size) hashes, joined
    # the checkpoint of ``size``: the log's signature and this witness's cosignature lines
    Column("cosigned_note", LargeBinary, nullable=True),
)
