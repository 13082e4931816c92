"""Schema migrations (server/migrate.py, server/migrations/), on SQLite and PostgreSQL.

* The revisions, run from an empty database, build exactly the schema the code declares
  (Alembic's compare_metadata finds nothing), and come back down to the base and up again.
* A database at the previous release's revision (0001_base, the release before independent
  registrars), holding that release's rows: every process refuses to start on it, in one line
  naming the command to run; ``migrate`` (a real process) brings it to head, keeping the rows
  that still mean something and dropping the ones the new release must not keep (the server's
  own issuer keys and registrations); then a whole election runs on it, through a real
  deployment, to its published result.
* A database made before migrations existed (tables, no version) is stamped by its tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from clients.local_cluster import ROOT
from clients.scenario import ElectionScenario
from crypto.log.note import Ed25519Signer
from crypto.records import ElectionState
from rules.roll_csv import parse_roll_csv
from server.db import make_engine
from server.migrate import BASE, downgrade, ensure_schema, head, revision, upgrade
from server.schema import metadata
from tests.cluster_support import election_cluster

ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()


def _diff(sync_conn) -> list:
    return compare_metadata(MigrationContext.configure(sync_conn), metadata)


def _tables(sync_conn) -> set[str]:
    return set(inspect(sync_conn).get_table_names())


async def test_the_revisions_build_the_declared_schema_and_come_back(own_dsn):
    engine = make_engine(own_dsn)
    try:
        assert await revision(engine) is None
        assert await upgrade(engine) == (None, head())
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await downgrade(engine, BASE)
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
        assert {"issuer_keys", "credentials_issued"} <= tables
        assert not tables & {"election_issuer_keys", "issuance_pending", "registrar_keys"}
        assert await upgrade(engine) == (BASE, head())
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
        await ensure_schema(engine, "x")  # at head: used as it is
    finally:
        await engine.dispose()


async def test_a_database_made_before_migrations_is_stamped_by_its_tables(own_dsn):
    engine = make_engine(own_dsn)
    try:
        await upgrade(engine, BASE)
        async with engine.begin() as conn:  # as the release before migrations left it
            await conn.execute(text("DROP TABLE alembic_version"))
        assert await revision(engine) is None
        assert await upgrade(engine) == (BASE, head())
    finally:
        await engine.dispose()


async def _fill_previous_release(dsn: str) -> None:
    """The previous release's schema, with rows of its own in the tables this release changes."""
    engine = make_engine(dsn)
    try:
        await upgrade(engine, BASE)
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO issuer_keys (election_id, weight, spki, private_key) "
                "VALUES ('old', 8950, :b, :b)"), {"b": b"\x01" * 8})
            await conn.execute(text(
                "INSERT INTO credentials_issued (election_id, owner_id, weight, request_hash, "
                "blind_sig) VALUES ('old', 'O001', 8950, :b, :b)"), {"b": b"\x02" * 8})
            await conn.execute(text(
                "INSERT INTO tally (election_id, credentials, credentials_index, aggregates, "
                "aggregates_index) VALUES ('old', :b, 7, :b, 8)"), {"b": b"\x03" * 8})
            await conn.execute(text(
                "INSERT INTO attestation_nonces (nonce, owner_id, request_hash, expires_at) "
                "VALUES (:b, 'O001', :b, 1)"), {"b": b"\x04" * 16})
    finally:
        await engine.dispose()


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


async def test_the_previous_release_is_refused_then_migrated_and_runs_an_election(
        own_dsn, tmp_path):
    await _fill_previous_release(own_dsn)
    # every process refuses it, one line naming the command; nothing is changed
    refusals = {
        "server.witness": _run("server.witness", "--name", "w.example", "--key-file",
                               str(tmp_path / "w.key"), "--db", own_dsn, "--follow",
                               "o.example/log="
                               f"{Ed25519Signer.generate('o.example/log').verifier().vkey()}"
                               "@127.0.0.1:1"),
        "server.registrar": _run("server.registrar", "import-roll", "--dsn", own_dsn, "--name",
                                 "committee", "--csv", str(tmp_path / "none.csv")),
        "server": _run("server", env={"OWNERVOTE_DSN": own_dsn, "OWNERVOTE_DEVELOPMENT": "true",
                                      "OWNERVOTE_LOG_KEY_FILE": str(tmp_path / "log.key")}),
    }
    for prog, done in refusals.items():
        err = done.stderr.strip()
        assert done.returncode == 1, (prog, done.returncode, done.stdout, err)
        assert "Traceback" not in err and f"run `python -m {prog} migrate" in err, (prog, err)
        assert err.splitlines()[-1].startswith("database: the database's schema is at "
                                               f"revision {BASE}"), (prog, err)
    # migrate, as an operator runs it
    done = _run("server", "migrate", env={"OWNERVOTE_DSN": own_dsn,
                                          "OWNERVOTE_DEVELOPMENT": "true"})
    assert done.returncode == 0, done.stderr
    assert f"schema at {head()} (was {BASE})" in done.stdout
    again = _run("server.registrar", "migrate", "--dsn", own_dsn)
    assert again.returncode == 0 and again.stdout.strip().endswith(f"schema at {head()}")
    engine = make_engine(own_dsn)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
            assert not tables & {"issuer_keys", "credentials_issued"}
            row = (await conn.execute(text("SELECT * FROM tally WHERE election_id = 'old'"))
                   ).mappings().one()
            assert row["aggregates_index"] == 8 and "credentials" not in row
            assert (await conn.execute(text("SELECT count(*) FROM attestation_nonces"))
                    ).scalar() == 0
    finally:
        await engine.dispose()
    # a whole election on the migrated database, through a real deployment
    with election_cluster(tmp_path / "cluster", "migrated", dsn=own_dsn, guardians=2) as c:
        eid = c.election_id
        async with ElectionScenario(c, eid, guardians=2, threshold=2, poll=0.1) as sc:
            await sc.define(ROLL, f"c-{eid}", motion="Paint the fence", opens_in=8,
                            open_for=8)
            election = await sc.run_ceremony(timeout=60)
            owners = [o.owner_id for o in parse_roll_csv(ROLL.decode()).owners][:3]
            wallets = await sc.issue(owners, election=election)
            await sc.wait_for(ElectionState.OPEN, timeout=30)
            for owner, choice in zip(owners, (0, 0, 1), strict=True):
                await sc.voter.cast(election, wallets[owner], [choice])
            await sc.wait_for(ElectionState.TALLYING, timeout=40)
            await sc.decrypt([1, 2])
            await sc.wait_for(ElectionState.PUBLISHED, timeout=40)
            result = await sc.voter.result(eid)
            assert result.record.counts == (2, 1, 0)
