"""Crash safety and several processes, with real processes killed with SIGKILL mid-load.

After every kill the store must hold no gap, no half batch and no checkpoint that disagrees with
the stored entries (the offline audit of a store export passes), every append the process had
acknowledged must be there, and a restarted process resumes.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crypto.log.audit import audit
from crypto.log.note import Ed25519Signer
from server.db import make_engine
from server.ledger.export import export_from_store
from server.ledger.store import LogStore

ROOT = Path(__file__).resolve().parent.parent


class Proc:
    """A log process whose output goes to files (no pipe can fill up and stall it)."""

    def __init__(self, tmp: Path, dsn: str, origin: str, key: Path, n: int, *extra: str) -> None:
        self.out_path = tmp / f"log-{secrets.token_hex(3)}.out"
        self.err_path = self.out_path.with_suffix(".err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "server.ledger", "--dsn", dsn, "--origin", origin,
                 "--key-file", str(key), "--generate", str(n), "--entry-size", "256",
                 "--concurrency", "64", "--development", *extra], cwd=ROOT, stdout=out, stderr=err)

    def lines(self) -> list[str]:
        return self.out_path.read_text().splitlines()

    def err(self) -> str:
        return self.err_path.read_text()[-2000:]

    def wait_for(self, *, appended: int, timeout: float = 60) -> list[str]:
        """Wait until ``appended`` appends were acknowledged, or the process ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if sum(x.startswith("appended") for x in lines) >= appended or \
                    self.popen.poll() is not None:
                return lines
            time.sleep(0.02)
        raise TimeoutError(f"{appended} appends not acknowledged in time: {self.err()}")

    def kill(self) -> list[str]:
        self.popen.kill()  # SIGKILL
        self.popen.wait(timeout=30)
        return self.lines()

    def finish(self, timeout: float = 180) -> list[str]:
        self.popen.wait(timeout=timeout)
        assert self.popen.returncode == 0, self.err()
        return self.lines()


def spawn(tmp: Path, dsn: str, origin: str, key: Path, n: int, *extra: str) -> Proc:
    return Proc(tmp, dsn, origin, key, n, *extra)


def acknowledged(lines: list[str]) -> set[int]:
    return {int(line.split()[1]) for line in lines if line.startswith("appended")}


async def check_store(dsn: str, origin: str, key: Path) -> int:
    engine = make_engine(dsn)
    try:
        store = LogStore(engine, origin)
        head = await store.head()
        export = await export_from_store(store)
        assert len(export.entries) == head.size  # no gap, nothing beyond the last checkpoint
        verifier = Ed25519Signer.from_skey(key.read_text().strip()).verifier()
        report = audit(export, verifier, [], 0)
        assert report.root == head.root
        assert await store.take_pending(10) == []
        return head.size
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_mid_load_leaves_a_consistent_log_that_resumes(kind, tmp_path, request):
    dsn = (f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}" if kind == "sqlite"
           else request.getfixturevalue("pg_dsn"))
    origin = f"crash.example/{kind}-{secrets.token_hex(3)}"
    key = tmp_path / "log.key"
    rng = random.Random(7)
    all_acked: set[int] = set()
    for _round in range(3):
        proc = spawn(tmp_path, dsn, origin, key, 1_000_000)
        proc.wait_for(appended=rng.randint(500, 4000))
        acked = acknowledged(proc.kill())  # SIGKILL, mid-load
        assert acked, "the process acknowledged nothing: " + proc.err()
        all_acked |= acked
        size = asyncio.run(check_store(dsn, origin, key))
        assert max(all_acked) < size  # every acknowledged append survived the kill
    # a clean restart resumes where the log stands
    proc = spawn(tmp_path, dsn, origin, key, 300, "--exit-after-generate")
    new = acknowledged(proc.finish())
    assert new == set(range(size, size + 300))
    assert asyncio.run(check_store(dsn, origin, key)) == size + 300


def test_two_processes_one_sequencer_and_failover(tmp_path, pg_dsn):
    origin = f"multi.example/{secrets.token_hex(3)}"
    key = tmp_path / "log.key"
    Path(key).write_text(Ed25519Signer.generate(origin).skey() + "\n")
    a = spawn(tmp_path, pg_dsn, origin, key, 20000, "--exit-after-generate")
    assert "role sequencer" in a.wait_for(appended=100)  # A sequences, under load
    b = spawn(tmp_path, pg_dsn, origin, key, 3000, "--exit-after-generate")
    out_a, out_b = a.finish(), b.finish()
    assert out_b[2] == "role follower"  # B handed its entries to A
    acked_a, acked_b = acknowledged(out_a), acknowledged(out_b)
    assert len(acked_a) == 20000 and len(acked_b) == 3000 and not acked_a & acked_b
    assert acked_a | acked_b == set(range(23000))
    assert asyncio.run(check_store(pg_dsn, origin, key)) == 23000

    # failover: kill the sequencer mid-load; the follower takes over and finishes its appends
    c = spawn(tmp_path, pg_dsn, origin, key, 1_000_000)
    assert "role sequencer" in c.wait_for(appended=200)
    d = spawn(tmp_path, pg_dsn, origin, key, 2000, "--exit-after-generate")
    assert "role follower" in d.wait_for(appended=100)
    c.kill()
    out_d = d.finish()
    assert "role sequencer" in out_d  # it took over
    assert len(acknowledged(out_d)) == 2000
    size = asyncio.run(check_store(pg_dsn, origin, key))
    assert size >= 23000 + 200 + 2000
