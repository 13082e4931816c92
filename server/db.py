"""Database engines: SQLite (embedded default) or PostgreSQL (production), SQLAlchemy 2 asyncio.

A DSN selects the store: ``sqlite+aiosqlite:///path/to/file.db`` or
``postgresql+asyncpg://user@host:5432/db``. SQLite runs in WAL mode with ``synchronous=FULL`` so
that a committed transaction survives a crash or power loss (an acknowledged ballot is durable
before the reply); PostgreSQL's default ``synchronous_commit=on`` gives the same.
"""

from __future__ import annotations

import weakref

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DSN = "sqlite+aiosqlite:///ownervote.db"

#: The one MetaData every table of every package is defined on (server/schema.py gathers them;
#: the migrations point at it). Constraint names follow one convention, as Alembic advises, so
#: that a migration can name any constraint it alters.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(dsn: str = DEFAULT_DSN, *, pool_size: int = 10) -> AsyncEngine:
    if dsn.startswith("sqlite"):
        engine = create_async_engine(dsn, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - runs per connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # deleted rows are overwritten, not left in free pages: a registrar's pending
            # issuances leave no trace of their arrival order (server/registrar/schema.py)
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    if dsn.startswith("postgresql"):
        # no pre-ping (a round trip per checkout); stale connections are recycled instead
        return create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size,
                                   pool_recycle=1800)
    raise ValueError(f"unsupported DSN {dsn!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")


_autocommit: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine for single-statement reads, sharing ``engine``'s pool: on PostgreSQL in
    autocommit, so a read is one round trip (its statement) instead of three (BEGIN, the
    statement, ROLLBACK at check-in); a single statement sees the same committed data either way
    (READ COMMITTED). SQLite already runs a lone SELECT without BEGIN (pysqlite begins only
    before a write), and switching its isolation level per checkout would cost a PRAGMA, so
    there it is ``engine`` itself. Writes keep using ``engine.begin()``."""
    if not is_postgres(engine):
        return engine
    autocommit = _autocommit.get(engine)
    if autocommit is None:  # made once per engine: execution_options builds a new engine
        autocommit = _autocommit[engine] = engine.execution_options(
            isolation_level="AUTOCOMMIT")
    return autocommit


async def fetch_rows(engine: AsyncEngine, stmt) -> list:
    """The rows of a SELECT as tuples. On PostgreSQL the statement, compiled by SQLAlchemy, runs
    on the asyncpg connection itself: no per-row result processing (much less CPU for large
    pages of bytes) (the close reads the whole voting period this way); elsewhere through
    SQLAlchemy. Only for statements whose columns need no type conversion (bytes, integers,
    text)."""
    if not is_postgres(engine):
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(stmt)).all()]
    compiled = stmt.compile(dialect=engine.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    async with read_engine(engine).connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        return [tuple(r) for r in await raw.fetch(compiled.string, *params)]


def insert_skipping_conflicts(engine: AsyncEngine, table):
    """``INSERT … ON CONFLICT DO NOTHING`` for the engine's dialect (PostgreSQL or SQLite)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if is_postgres(engine) else sqlite).insert(table).on_conflict_do_nothing()


def write_once(engine: AsyncEngine):
    """A connection for ONE writing statement: on PostgreSQL in autocommit, where the statement
    is its own transaction (atomic, and durable when it answers with ``synchronous_commit=on``)
    and costs one round trip instead of three (BEGIN, the statement, COMMIT); on SQLite a
    transaction (``engine.begin()``), as pysqlite needs one to commit a write."""
    if is_postgres(engine):
        return read_engine(engine).connect()
    return engine.begin()


def _admin_dsn(dsn: str) -> str:
    return dsn.replace("postgresql+asyncpg://", "postgresql://")


async def create_database(base_dsn: str, name: str) -> str:
    """Create database ``name`` on the server of ``base_dsn``; return its DSN (tests, benches)."""
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(base_dsn))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base_dsn.rsplit("/", 1)[0] + "/" + name


async def drop_database(base_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(base_dsn))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()
