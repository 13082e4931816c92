"""Export a log straight from its store (operators; auditors use clients.ledger over gRPC)."""

from __future__ import annotations

from crypto.log.export import LedgerExport

from .store import LogStore


async def export_from_store(store: LogStore, *, cosigned_only: bool = False) -> LedgerExport:
    """Entries and every checkpoint up to the latest one (co-signed one if ``cosigned_only``)."""
    latest = await store.latest_checkpoint(cosigned=cosigned_only)
    end = latest.size if latest else 0
    checkpoints = []
    size = 1
    while size <= end:
        page = await store.checkpoints(size)
        if not page:
            break
        checkpoints += [c.cosigned_note or c.signed_note for c in page if c.size <= end]
        size = page[-1].size + 1
    entries, hashes = [], []
    while len(entries) < end:
        rows = await store.entries(len(entries), min(1000, end - len(entries)))
        if not rows:
            raise LookupError(f"entry {len(entries)} is missing from the store")
        entries += [d for d, _ in rows]
        hashes += [h for _, h in rows]
    return LedgerExport(store.log_id, tuple(entries), tuple(hashes), tuple(checkpoints))
