"""Database engines: SQLite (embedded default) or PostgreSQL (production), SQLAlchemy 2 asyncio.

A DSN selects the store: ``sqlite+aiosqlite:///path/to/file.db`` or
``postgresql+asyncpg://user@host:5432/db``. SQLite runs in WAL mode with ``synchronous=FULL`` so
that a committed transaction survives a crash or power loss (an acknowledged ballot is durable
before the reply); PostgreSQL's default ``synchronous_commit=on`` gives the same.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DSN = "sqlite+aiosqlite:///ownervote.db"


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
            cur.close()

        return engine
    if dsn.startswith("postgresql"):
        return create_async_engine(dsn, pool_size=pool_size, max_overflow=pool_size,
                                   pool_pre_ping=True)
    raise ValueError(f"unsupported DSN {dsn!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")
