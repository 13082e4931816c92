"""LedgerService over gRPC: the read API of the log (ledger.proto); every refusal through
server/errors.py."""

from __future__ import annotations

from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, wire

from crypto.log import merkle
from crypto.log.note import Verifier
from crypto.log.receipt import Receipt

from ..errors import NotFound, Precondition, answers, invalid
from .cosign import WitnessPolicy
from .store import MAX_PAGE, LogStore

MAX_U63 = (1 << 63) - 1


class LedgerService(ledger_pb2_grpc.LedgerServiceServicer):
    def __init__(self, store: LogStore, log_verifier: Verifier, policy: WitnessPolicy, *,
                 development: bool = False) -> None:
        self.store = store
        self.log_verifier = log_verifier
        self.policy = policy
        self.development = development

    async def _size(self) -> int:
        return (await self.store.head()).size

    @answers()
    async def GetCheckpoint(self, request, context):  # noqa: N802
        cp = await self.store.latest_checkpoint(cosigned=not request.include_uncosigned)
        if cp is None:
            raise NotFound("no checkpoint yet" if request.include_uncosigned
                           else "no co-signed checkpoint yet", reason="NO_CHECKPOINT")
        cosigned = cp.cosigned_note is not None
        return ledger_pb2.GetCheckpointResponse(
            signed_note=cp.cosigned_note if cosigned else cp.signed_note,
            tree_size=cp.size, cosigned=cosigned)

    @answers()
    async def GetInclusionProof(self, request, context):  # noqa: N802
        size = request.tree_size
        note = b""
        if size == 0:
            cp = await self.store.latest_checkpoint(cosigned=True)
            if cp is None:
                raise _no_cosigned_checkpoint()
            size, note = cp.size, cp.cosigned_note
        else:
            current = await self._size()
            if size > current:
                raise invalid("tree_size", f"larger than the log's size {current}",
                              "BEYOND_TREE_SIZE")
            cp = await self.store.checkpoint(size)
            if cp is not None:
                note = cp.cosigned_note or cp.signed_note
        if request.index >= size:
            raise invalid("index", f"must be below tree_size {size}", "INDEX_OUT_OF_RANGE")
        hashes = await self.store.inclusion_proof(request.index, size)
        return ledger_pb2.GetInclusionProofResponse(index=request.index, tree_size=size,
                                                    hashes=hashes, signed_note=note)

    @answers()
    async def GetConsistencyProof(self, request, context):  # noqa: N802
        current = await self._size()
        if request.new_size > current:
            raise invalid("new_size", f"larger than the log's size {current}",
                          "BEYOND_TREE_SIZE")
        if request.old_size > request.new_size:
            raise invalid("old_size", "larger than new_size", "OLD_SIZE_TOO_LARGE")
        hashes = (await self.store.consistency_proof(request.old_size, request.new_size)
                  if 0 < request.old_size < request.new_size else [])
        return ledger_pb2.GetConsistencyProofResponse(hashes=hashes)

    @answers()
    async def GetReceipt(self, request, context):  # noqa: N802
        cp = await self.store.latest_checkpoint(cosigned=True)
        if cp is None:
            raise _no_cosigned_checkpoint()
        which = request.WhichOneof("entry")
        if which == "leaf_hash":
            if len(request.leaf_hash) != merkle.HASH_LEN:
                raise invalid("leaf_hash", "must be 32 bytes")
            index = await self.store.index_of_leaf(request.leaf_hash)
            if index is None:
                raise NotFound("no entry with that leaf hash", reason="NO_SUCH_ENTRY",
                               field="leaf_hash")
        elif which == "index":
            index = request.index
        else:
            raise invalid("entry", "give an index or a leaf hash", "MISSING_FIELD")
        if index >= cp.size:
            raise Precondition(f"entry {index} is not yet covered by a co-signed checkpoint "
                               f"(size {cp.size})", reason="NOT_YET_COSIGNED", field="index",
                               precondition="COSIGNED_CHECKPOINT")
        proof = await self.store.inclusion_proof(index, cp.size)
        leaf = (await self.store.nodes([(0, index)]))[(0, index)]
        return ledger_pb2.GetReceiptResponse(receipt=wire.receipt_pb(Receipt(
            index, leaf, tuple(proof), cp.cosigned_note)))

    @answers()
    async def GetEntries(self, request, context):  # noqa: N802
        count = request.count or MAX_PAGE
        if count > MAX_PAGE:
            raise invalid("count", f"at most {MAX_PAGE}", "PAGE_TOO_LARGE")
        current = await self._size()
        if request.start > current or request.start > MAX_U63:
            raise invalid("start", f"beyond the log's size {current}", "BEYOND_TREE_SIZE")
        rows = await self.store.entries(request.start, min(count, current - request.start))
        return ledger_pb2.GetEntriesResponse(start=request.start, entries=[d for d, _ in rows],
                                             leaf_hashes=[h for _, h in rows], tree_size=current)

    @answers()
    async def ListCheckpoints(self, request, context):  # noqa: N802
        page = request.page_size or MAX_PAGE
        if page > MAX_PAGE:
            raise invalid("page_size", f"at most {MAX_PAGE}", "PAGE_TOO_LARGE")
        if request.min_size > MAX_U63:
            raise invalid("min_size", "too large", "OUT_OF_RANGE")
        cps = await self.store.checkpoints(request.min_size, page)
        return ledger_pb2.ListCheckpointsResponse(checkpoints=[
            ledger_pb2.LoggedCheckpoint(tree_size=c.size,
                                        signed_note=c.cosigned_note or c.signed_note,
                                        cosigned=c.cosigned_note is not None) for c in cps])

    @answers()
    async def GetLogInfo(self, request, context):  # noqa: N802
        return wire.log_info_pb(self.store.log_id, self.log_verifier, self.policy.witnesses,
                                self.policy.quorum, self.development)


def _no_cosigned_checkpoint() -> Precondition:
    return Precondition("no co-signed checkpoint yet", reason="NO_CHECKPOINT",
                        precondition="COSIGNED_CHECKPOINT")
