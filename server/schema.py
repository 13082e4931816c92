"""The one schema: every package's tables, gathered on the one MetaData (server.db.metadata).

This is the only place where tables are gathered, and every process (the server, a standalone
ledger, a witness, a registrar) creates its database from it (:func:`create_schema`), so each
database has the same tables whichever process made it. The migrations (server/migrations/,
run by server/migrate.py) target :data:`metadata`; every schema change comes with one.
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
    """The database at the schema's head revision: created if empty, left alone if at head,
    refused otherwise (server/migrate.py: a process migrates only when asked to)."""
    from .migrate import create_schema as at_head

    await at_head(engine)


__all__ = ["PACKAGES", "create_schema", "metadata"]
