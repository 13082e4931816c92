"""Schema migrations (Alembic) of the one schema (server/schema.py), for every process's store.

Each database — the server's, a witness's, a registrar's, a standalone ledger's — carries
Alembic's ``alembic_version`` row. Revisions live in ``server/migrations/versions/``, one per
schema change from the base on (``0001_base``: the release before migrations).

* :func:`upgrade` (``python -m server migrate``, ``python -m server.witness migrate``,
  ``python -m server.registrar migrate``, ``python -m server.ledger migrate``) brings a database
  to head. A database made before migrations existed (tables, no version row) is first stamped
  with the revision its tables show.
* :func:`ensure_schema`, called by every process before it serves: a database at head is used;
  an empty one is created at head (``metadata.create_all`` and a stamp: Alembic's documented
  recipe for a new database; nothing is there to lose); anything else is refused with
  :class:`SchemaNotAtHead`, whose message names the command to run. A process never migrates
  a database it was not asked to.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import metadata

MIGRATIONS = Path(__file__).parent / "migrations"
BASE = "0001_base"
VERSION_TABLE = "alembic_version"

# Alembic narrates every step at INFO; the processes say in one line what they did instead
logging.getLogger("alembic").setLevel(logging.WARNING)


class SchemaNotAtHead(Exception):
    """The database's schema is not the one this release runs on."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest revision."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _tables(sync_conn) -> set[str]:
    return set(inspect(sync_conn).get_table_names()) - {VERSION_TABLE}


def _revision(sync_conn) -> str | None:
    return MigrationContext.configure(sync_conn).get_current_revision()


def _unversioned_revision(tables: set[str]) -> str:
    """The revision a database made before migrations is at, by the tables it has."""
    if "issuer_keys" in tables:  # the server's own issuer keys: before issue 12
        return BASE
    if "election_issuer_keys" in tables:
        return head()
    raise SchemaNotAtHead("the database holds tables of no known ownervote release")


def _with_connection(sync_conn, fn) -> None:
    cfg = _config()
    cfg.attributes["connection"] = sync_conn
    fn(cfg)


async def revision(engine: AsyncEngine) -> str | None:
    """The database's revision (None: not versioned)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_revision)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str]:
    """Bring the database to ``target`` (default head): (revision before, revision after)."""

    def run(sync_conn) -> tuple[str | None, str]:
        before = _revision(sync_conn)
        if before is None:
            tables = _tables(sync_conn)
            if tables:
                stamp = _unversioned_revision(tables)
                _with_connection(sync_conn, lambda cfg: command.stamp(cfg, stamp))
                before = stamp
        _with_connection(sync_conn, lambda cfg: command.upgrade(cfg, target))
        return before, _revision(sync_conn)

    async with engine.begin() as conn:
        return await conn.run_sync(run)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(
            lambda c: _with_connection(c, lambda cfg: command.downgrade(cfg, target)))


async def ensure_schema(engine: AsyncEngine, migrate_command: str) -> None:
    """Before serving: the schema is at head, or the database is empty and is created at head;
    otherwise SchemaNotAtHead naming ``migrate_command``."""
    want = head()

    def check(sync_conn) -> None:
        have = _revision(sync_conn)
        if have == want:
            return
        if have is None and not _tables(sync_conn):
            metadata.create_all(sync_conn)
            _with_connection(sync_conn, lambda cfg: command.stamp(cfg, want))
            return
        raise SchemaNotAtHead(
            f"the database's schema is at revision {have or 'none (made before migrations)'}, "
            f"this release runs on {want}: run `{migrate_command}` first")

    async with engine.begin() as conn:
        await conn.run_sync(check)


async def create_schema(engine: AsyncEngine) -> None:
    """A database at head for the tests and tools: created (and stamped) if empty; a database
    already at head is left as it is."""
    await ensure_schema(engine, "python -m server migrate")


async def ensure_or_exit(engine: AsyncEngine, migrate_command: str) -> None:
    """:func:`ensure_schema` for a process's start: a refusal is one line and exit status 1."""
    try:
        await ensure_schema(engine, migrate_command)
    except SchemaNotAtHead as exc:
        await engine.dispose()
        raise SystemExit(f"database: {exc}") from None


async def migrate_command(dsn: str) -> int:
    """``… migrate``: bring the database at ``dsn`` to head, saying from where to where."""
    from .db import make_engine

    engine = make_engine(dsn)
    try:
        before, after = await upgrade(engine)
    except SchemaNotAtHead as exc:
        print(f"database: {exc}")
        return 1
    finally:
        await engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    print(f"{where}: schema at {after}" + ("" if before == after else
                                          f" (was {before or 'empty'})"))
    return 0


def migrate_main(prog: str, flag: str, default: str) -> None:
    """``{prog} migrate {flag} DSN``: the database's schema to this release's head."""
    p = argparse.ArgumentParser(prog=f"{prog} migrate",
                                description="bring the database's schema to this release's "
                                            "revision (Alembic) and exit")
    p.add_argument(flag, default=default, metavar="DSN",
                   help=f"the database, as an SQLAlchemy URL (default {default})")
    args = p.parse_args(sys.argv[2:])
    raise SystemExit(asyncio.run(migrate_command(getattr(args, flag.lstrip("-")))))
