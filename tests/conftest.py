"""Shared fixtures: the stores the suite runs against.

SQLite always; PostgreSQL whenever ``OWNERVOTE_TEST_PG_DSN`` is set (``.ci/run`` sets it). For
PostgreSQL a fresh database is created for the session and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

PG_BASE = os.environ.get("OWNERVOTE_TEST_PG_DSN", "")


async def _admin(sql: str) -> None:
    import asyncpg

    base = PG_BASE.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_dsn():
    if not PG_BASE:
        pytest.skip("PostgreSQL not configured (set OWNERVOTE_TEST_PG_DSN)")
    name = f"ownervote_test_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    dsn = PG_BASE.rsplit("/", 1)[0] + "/" + name
    yield dsn
    asyncio.run(_admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request, tmp_path):
    """A DSN for a store of the parametrised kind (PostgreSQL skipped when not configured)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_dsn")
