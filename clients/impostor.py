"""A server that lies to a voter's device, for the demo and the tests: what the reference clients
must refuse (docs/threat-model.md, "the server operator").

:class:`Impostor` stands between a phone and the real server (every call it does not lie about is
forwarded unchanged) and lies in the ways an operator holding the server could:

* ``joint_key``: it serves the election rebuilt on a ledger of its own — the real records with
  the key ceremony replaced by one it ran itself, so that it knows the joint secret and could
  read every vote — under a checkpoint signed with a log key of its own and "co-signed" by
  witness keys it made up under the real witnesses' names;
* ``tampered``: the real records and the real co-signed checkpoint, one dealing replaced by its
  own (the inclusion proof no longer holds); ``issuer_key``: the same with the issuer keys
  replaced by keys it made (it could then sign credentials for anyone);
* ``receipt``: it casts the ballot for real but answers with the receipt's checkpoint stripped to
  one cosignature (under the quorum), or (``self_signed``) with a receipt of its own log;
* ``result``: it answers GetResult with an invented result entry (the motion passed) proven
  against its own log.

Every lie is refused by a client that pins the deployment's trust bundle: the checkpoints are
not the bundle's log's, or not co-signed by its quorum. Nothing here is needed by a deployment.
"""

from __future__ import annotations

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2_grpc, wire

from crypto.codec import encode_dealing, encode_guardian_key
from crypto.credential import IssuerKey, generate_issuer_key
from crypto.dkg import DkgParameters, deal, generate_guardian_key
from crypto.encoding import Event, decode_event, encode_event
from crypto.issuance import (
    IssuerKeysRecord,
    decode_issuer_keys,
    encode_issuer_keys,
    sign_issuer_keys,
)
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, CosignatureSigner, SignedCheckpoint
from crypto.log.note import Ed25519Signer, parse_note
from crypto.log.receipt import ProvenEntry, Receipt
from crypto.records import (
    ElectionEvent,
    ResultOutcome,
    decode_definition,
    decode_result,
    encode_result,
)

LIES = ("joint_key", "tampered", "issuer_key", "receipt", "self_signed", "result")


class ForgedLog:
    """A log of the impostor's own: the origin's name, keys it made up."""

    def __init__(self, origin: str, witness_names: list[str]) -> None:
        self.signer = Ed25519Signer.generate(origin)
        self.witnesses = [CosignatureSigner.generate(name) for name in witness_names]
        self.entries: list[bytes] = []

    def note(self) -> bytes:
        leaves = [merkle.leaf_hash(e) for e in self.entries]
        cp = Checkpoint(self.signer.name, len(leaves), merkle.root_from_leaves(leaves))
        return SignedCheckpoint.sign(cp, self.signer).cosign(*self.witnesses).encode()

    def proven(self) -> list[ProvenEntry]:
        leaves = [merkle.leaf_hash(e) for e in self.entries]
        return [ProvenEntry(i, e, tuple(merkle.inclusion_proof(leaves, i)))
                for i, e in enumerate(self.entries)]

    def receipt(self, index: int) -> Receipt:
        leaves = [merkle.leaf_hash(e) for e in self.entries]
        return Receipt(index, leaves[index], tuple(merkle.inclusion_proof(leaves, index)),
                       self.note())


def _cosignatures_stripped(note: bytes, keep: int) -> bytes:
    """The note with its log signature and only the first ``keep`` cosignatures."""
    parsed = parse_note(note)
    signed = SignedCheckpoint.parse(note)
    return SignedCheckpoint(signed.checkpoint, parsed.signatures[:1 + keep]).encode()


class _Elections(election_pb2_grpc.ElectionServiceServicer):
    def __init__(self, impostor: Impostor) -> None:
        self.i = impostor

    async def GetElection(self, request, context):  # noqa: N802
        return await self.i.elections.GetElection(request)

    async def GetElectionRecords(self, request, context):  # noqa: N802
        real = await self.i.elections.GetElectionRecords(request)
        if "tampered" in self.i.lies:
            for e in real.entries:
                ev = decode_event(e.entry)
                if ev.kind == ElectionEvent.DEALING:
                    _, _, entries = wire.election_records(real)
                    e.entry = self._ceremony(ev.subject, entries)[-1]
                    break
            return real
        if "issuer_key" in self.i.lies:
            for e in real.entries:
                ev = decode_event(e.entry)
                if ev.kind == ElectionEvent.ISSUER_KEYS:
                    theirs = decode_issuer_keys(ev.body)
                    ours = tuple((w, IssuerKey(ev.subject, w, generate_issuer_key().public_key())
                                  .spki) for w, _ in theirs.keys)
                    signed = sign_issuer_keys(Ed25519PrivateKey.generate(), ev.subject,
                                              IssuerKeysRecord(theirs.registrar, ours))
                    e.entry = encode_event(Event(ev.kind, ev.subject, encode_issuer_keys(signed)))
            return real
        if "joint_key" not in self.i.lies:
            return real
        _, _, entries = wire.election_records(real)
        log = ForgedLog(self.i.origin, self.i.witness_names)
        forged = False
        for e in entries:
            ev = decode_event(e.entry)
            if ev.kind in (ElectionEvent.GUARDIAN_KEY, ElectionEvent.DEALING,
                           ElectionEvent.COMPLAINT):
                if not forged:  # its own ceremony, every secret of it known to it
                    log.entries += self._ceremony(ev.subject, entries)
                    forged = True
                continue
            log.entries.append(e.entry)
        return wire.election_records_pb(log.note(), [], log.proven())

    def _ceremony(self, election_id: str, entries) -> list[bytes]:
        d = next(decode_definition(decode_event(e.entry).body) for e in entries
                 if decode_event(e.entry).kind == ElectionEvent.ELECTION)
        params = DkgParameters(election_id, d.guardians, d.threshold)
        keys = [generate_guardian_key(params, i) for i in range(1, d.guardians + 1)]
        publics = [k.public for k in keys]
        out = [encode_event(Event(ElectionEvent.GUARDIAN_KEY, election_id,
                                  encode_guardian_key(k))) for k in publics]
        out += [encode_event(Event(ElectionEvent.DEALING, election_id,
                                   encode_dealing(deal(params, i, publics)[0])))
                for i in range(1, d.guardians + 1)]
        return out

    async def GetResult(self, request, context):  # noqa: N802
        real = await self.i.elections.GetResult(request)
        if "result" not in self.i.lies:
            return real
        record, names, _ = wire.result(real)
        invented = decode_result(decode_event(real.entry).body) if real.entry else record
        n = len(invented.counts)
        invented = type(invented)(
            tuple(reversed(invented.counts)), tuple(reversed(invented.areas)),
            invented.participating_owners, invented.participating_area, True,
            (ResultOutcome.PASSED,) + (ResultOutcome.REJECTED,) * (n - 1), invented.guardians)
        log = ForgedLog(self.i.origin, self.i.witness_names)
        log.entries.append(encode_event(Event(ElectionEvent.RESULT, request.election_id,
                                              encode_result(invented))))
        return wire.result_pb(request.election_id, names, invented, log.receipt(0),
                              log.entries[0])


class _BallotBox(election_pb2_grpc.BallotBoxServiceServicer):
    def __init__(self, impostor: Impostor) -> None:
        self.i = impostor

    async def CastBallot(self, request, context):  # noqa: N802
        if "self_signed" in self.i.lies:  # not even cast: a receipt of its own log
            log = ForgedLog(self.i.origin, self.i.witness_names)
            log.entries.append(b"whatever the phone expects")
            r = log.receipt(0)
            return election_pb2.CastBallotResponse(ballot_hash=bytes(32),
                                                   receipt=wire.receipt_pb(r))
        real = await self.i.ballot_box.CastBallot(request)
        if "receipt" in self.i.lies:
            real.receipt.signed_note = _cosignatures_stripped(real.receipt.signed_note, 1)
        return real


class _Ledger(ledger_pb2_grpc.LedgerServiceServicer):
    """Forwards what a phone asks the ledger (consistency proofs, receipts)."""

    def __init__(self, impostor: Impostor) -> None:
        self.i = impostor

    async def GetConsistencyProof(self, request, context):  # noqa: N802
        return await self.i.ledger.GetConsistencyProof(request)

    async def GetReceipt(self, request, context):  # noqa: N802
        return await self.i.ledger.GetReceipt(request)

    async def GetCheckpoint(self, request, context):  # noqa: N802
        return await self.i.ledger.GetCheckpoint(request)


class Impostor:
    """Listen on ``127.0.0.1`` in front of the real server at ``real_address`` (reached with
    ``credentials``: its TLS; None, plain gRPC to a development server), telling ``lies`` (a
    subset of :data:`LIES`)."""

    def __init__(self, real_address: str, origin: str, witness_names: list[str],
                 lies: set[str], credentials: grpc.ChannelCredentials | None = None) -> None:
        unknown = set(lies) - set(LIES)
        if unknown:
            raise ValueError(f"no such lie: {sorted(unknown)}")
        self.origin, self.witness_names, self.lies = origin, list(witness_names), set(lies)
        self._real = grpc.aio.secure_channel(real_address, credentials) if credentials \
            else grpc.aio.insecure_channel(real_address)
        self.elections = election_pb2_grpc.ElectionServiceStub(self._real)
        self.ballot_box = election_pb2_grpc.BallotBoxServiceStub(self._real)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(self._real)
        self.server = grpc.aio.server()
        election_pb2_grpc.add_ElectionServiceServicer_to_server(_Elections(self), self.server)
        election_pb2_grpc.add_BallotBoxServiceServicer_to_server(_BallotBox(self), self.server)
        ledger_pb2_grpc.add_LedgerServiceServicer_to_server(_Ledger(self), self.server)
        self.address = ""

    async def start(self) -> str:
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        await self.server.stop(None)
        await self._real.close()

    async def __aenter__(self) -> Impostor:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

