"""The one schema: every package's tables, gathered on the one MetaData (server.db.metadata).

This is the only place where tables are gathered, and every process (the server, a standalone
ledger, a witness) creates its database from it (:func:`create_schema`), so each database has
the same tables whichever process made it. The migrations target :data:`metadata`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from .db import metadata
from .election import schema as election_schema
from .ledger import schema as ledger_schema
from .registrar import schema as registrar_schema
from .witness import schema as witness_schema

#: the packages whose tables make up the schema
PACKAGES = (ledger_schema, election_schema, registrar_schema, witness_schema)


async def create_schema(engine: AsyncEngine) -> None:
    """Create every table that does not exist yet (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


__all__ = ["PACKAGES", "create_schema", "metadata"]
