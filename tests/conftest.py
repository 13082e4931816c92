"""Shared fixtures: the stores the suite runs against.

SQLite always; PostgreSQL whenever ``OWNERVOTE_TEST_PG_DSN`` is set (``.ci/run`` sets it). For
PostgreSQL a fresh database is created for the session and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import secrets
import signal

import pytest

from server.db import create_database, drop_database


def _dump_tasks(signum, frame) -> None:
    """SIGUSR1: every thread's stack and every task of the running event loop, into
    ``/tmp/ownervote-tasks-<pid>.txt`` (pytest captures stderr), to see where a hung test waits:
    ``kill -USR1 <pytest pid>``."""
    with open(f"/tmp/ownervote-tasks-{os.getpid()}.txt", "w") as out:
        faulthandler.dump_traceback(out, all_threads=True)
        loop = asyncio._get_running_loop()
        for task in asyncio.all_tasks(loop) if loop is not None else ():
            task.print_stack(file=out)


signal.signal(signal.SIGUSR1, _dump_tasks)


def _cancel_all_tasks_within(loop, timeout: float = 10.0) -> None:
    """asyncio.runners._cancel_all_tasks, but bounded: the tasks left when a test's event loop
    ends are cancelled and given ``timeout`` seconds, then abandoned. SQLAlchemy's aiosqlite
    adapter can leave a "graceful close" task for a connection the garbage collector reclaimed
    after a cancelled call (a witness's request cancelled by its caller going away), and that
    task waits forever on a connection thread that has already stopped: unbounded, the loop's
    end — and the whole suite — hangs on it."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_within


PG_BASE = os.environ.get("OWNERVOTE_TEST_PG_DSN", "")


@pytest.fixture(scope="session")
def pg_dsn():
    if not PG_BASE:
        pytest.skip("PostgreSQL not configured (set OWNERVOTE_TEST_PG_DSN)")
    name = f"ownervote_test_{secrets.token_hex(4)}"
    dsn = asyncio.run(create_database(PG_BASE, name))
    yield dsn
    asyncio.run(drop_database(PG_BASE, name))


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request, tmp_path):
    """A DSN for a store of the parametrised kind (PostgreSQL skipped when not configured)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_dsn")


@pytest.fixture
async def own_dsn(dsn):
    """A database of the test's own: the driver steps every election in its database, and the
    session's shared PostgreSQL database holds other tests' elections (on other ledgers)."""
    if not dsn.startswith("postgresql"):
        yield dsn
        return
    name = f"ownervote_own_{secrets.token_hex(4)}"
    yield await create_database(PG_BASE, name)
    await drop_database(PG_BASE, name)
