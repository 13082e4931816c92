"""Downloading a ledger export through LedgerService (the format is crypto/log/export.py)."""

from __future__ import annotations

import grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

from crypto.log.export import LedgerExport


async def fetch_export(channel: grpc.aio.Channel) -> LedgerExport:
    """Download the log up to its latest co-signed checkpoint through LedgerService."""
    stub = ledger_pb2_grpc.LedgerServiceStub(channel)
    info = await stub.GetLogInfo(ledger_pb2.GetLogInfoRequest())
    latest = await stub.GetCheckpoint(ledger_pb2.GetCheckpointRequest())
    end = latest.tree_size
    checkpoints: list[bytes] = []
    min_size = 1
    while True:
        page = await stub.ListCheckpoints(ledger_pb2.ListCheckpointsRequest(min_size=min_size))
        batch = [c for c in page.checkpoints if c.tree_size <= end]
        checkpoints += [c.signed_note for c in batch]
        if not page.checkpoints or page.checkpoints[-1].tree_size >= end:
            break
        min_size = page.checkpoints[-1].tree_size + 1
    entries: list[bytes] = []
    hashes: list[bytes] = []
    while len(entries) < end:
        resp = await stub.GetEntries(ledger_pb2.GetEntriesRequest(
            start=len(entries), count=min(1000, end - len(entries))))
        if not resp.entries:
            raise LookupError(f"the log did not serve entry {len(entries)}")
        entries += resp.entries
        hashes += resp.leaf_hashes
    return LedgerExport(info.origin, tuple(entries[:end]), tuple(hashes[:end]), tuple(checkpoints))
