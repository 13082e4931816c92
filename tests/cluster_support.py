"""A local deployment (server + three validating witnesses as processes) for one election,
started for a test and stopped after it: the fixture the end-to-end tests share."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from clients.local_cluster import LocalCluster
from clients.scenario import GUARDIANS, guardian_names


@contextlib.contextmanager
def election_cluster(directory: Path, prefix: str, *, dsn: str | None = None,
                     guardians: int = GUARDIANS) -> Iterator[LocalCluster]:
    """A started cluster whose ``election_id`` (``<prefix>-<random>``) has certificates for
    ``guardians`` guardians; stopped on exit."""
    eid = f"{prefix}-{secrets.token_hex(3)}"
    c = LocalCluster(directory, dsn=dsn, origin=f"{prefix}.example/{eid}",
                     guardian_names=guardian_names(eid, guardians), lifecycle_tick=0.1)
    c.election_id = eid
    c.start()
    try:
        yield c
    finally:
        c.stop()
