"""The one schema (server/schema.py): every table of every package on one MetaData, created by
one function, and no other MetaData anywhere in the server."""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Table

from server import db
from server.schema import PACKAGES, create_schema, metadata

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"log_heads", "log_entries", "log_nodes", "log_checkpoints", "log_pending",
          "log_refusals", "rolls", "roll_owners", "elections", "transitions",
          "election_issuer_keys", "registrar_batches", "registrar_issued",
          "ceremony_messages", "tally", "decryption_shares", "ballot_points", "ballot_tokens",
          "registrar_rolls", "registrar_keys", "issuance_pending", "issuance_published",
          "issuance_batches", "attestation_nonces", "registration_failures", "witness_logs"}


def test_every_package_table_is_on_the_one_metadata():
    assert metadata is db.metadata
    defined = {name: t for p in PACKAGES for name, t in vars(p).items() if isinstance(t, Table)}
    assert {t.name for t in defined.values()} == TABLES == set(metadata.tables)
    assert all(t.metadata is metadata for t in defined.values())


def test_no_other_metadata_is_made_in_the_server():
    makers = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "MetaData":
                makers.append(path.relative_to(ROOT).as_posix())
    assert makers == ["server/db.py"]


async def test_create_schema_makes_every_table_once_and_is_idempotent(dsn):
    engine = db.make_engine(dsn)
    try:
        await create_schema(engine)
        await create_schema(engine)  # a restart: nothing to do, nothing fails
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
            pk = await conn.run_sync(lambda c: sa.inspect(c).get_pk_constraint("elections"))
        assert TABLES <= names
        if engine.dialect.name == "postgresql":  # the naming convention names constraints
            assert pk["name"] == "pk_elections"
    finally:
        await engine.dispose()
