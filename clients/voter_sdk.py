"""The voter SDK: the reference for the mobile apps (async Python over gRPC).

What a phone does, in order (docs/protocol.md §8–§12):

1. :meth:`VoterClient.election` — read the election and recompute its election hash from the
   joint key (a server cannot make the phone encrypt for another key or contest unnoticed).
2. :meth:`VoterClient.obtain_credential` — with an identity attestation (from the identity
   provider), generate the token key *on the device*, blind the credential message for the
   owner's weight class (RFC 9474 Blind), let the registrar blind-sign it, unblind (Finalize,
   which verifies the signature). The registrar never sees the token. The :class:`Wallet`
   (token + credential) stays on the phone.
3. :meth:`VoterClient.cast` — :meth:`VoterClient.prepare_cast` encrypts the choices with their
   proofs and signs with the token, :meth:`VoterClient.send` casts; the reply is a receipt,
   checked here against the exact ledger entry the ballot became and a checkpoint co-signed by
   the witness quorum. Casting again with the same wallet replaces the earlier ballot (the
   latest counts).
4. :meth:`VoterClient.result` — the published result.

Every refusal by the server is a :class:`Refused` carrying the gRPC code, the reason and the
field the server named.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, ledger_pb2_grpc, wire

from crypto.attestation import Attestation
from crypto.ballot import encrypt_ballot
from crypto.cast import sign_ballot
from crypto.codec import decode_credential, encode_ballot, encode_cast_ballot, encode_credential
from crypto.credential import (
    CastBallot,
    Credential,
    finalize_credential,
    generate_token,
    request_credential,
    token_public_bytes,
)
from crypto.encoding import Event, encode_event
from crypto.errors import InvalidProof
from crypto.log import merkle
from crypto.log.checkpoint import CosignatureVerifier
from crypto.log.note import Ed25519Verifier
from crypto.log.receipt import Receipt, verify_receipt
from crypto.public_election import PublicElection
from crypto.records import ElectionEvent, ResultOutcome, ResultRecord


class Refused(Exception):
    """The server refused a call: its gRPC code, reason and the field it named."""

    def __init__(self, error: grpc.RpcError) -> None:
        d = wire.details_of(error)
        self.code: grpc.StatusCode = d["code"]
        self.reason: str | None = d["reason"]
        self.field: str | None = d["field"]
        self.metadata: dict = d["metadata"]
        super().__init__(f"{self.code.name}"
                         + (f" ({self.reason})" if self.reason else "") + f": {d['message']}")


@dataclass(frozen=True)
class TrustPolicy:
    """Whose signatures make a checkpoint count: the log's key and the witness quorum. An app
    ships these pinned; :meth:`VoterClient.trust_policy` reads them from the log (trust on first
    use) when none is given."""

    log_verifier: Ed25519Verifier
    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int


@dataclass(frozen=True)
class Wallet:
    """What the phone keeps for one election: the token key and its credential."""

    token: Ed25519PrivateKey
    credential: Credential

    @property
    def election_id(self) -> str:
        return self.credential.election_id

    def to_json(self) -> str:
        raw = self.token.private_bytes(serialization.Encoding.Raw,
                                       serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())
        return json.dumps({"token": raw.hex(),
                           "credential": encode_credential(self.credential).hex()})

    @classmethod
    def from_json(cls, text: str) -> Wallet:
        d = json.loads(text)
        token = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["token"]))
        credential = decode_credential(bytes.fromhex(d["credential"]))
        if credential.token_public_key != token_public_bytes(token):
            raise ValueError("the wallet's credential is for another token")
        return cls(token, credential)


@dataclass(frozen=True)
class PreparedCast:
    """A signed ballot ready to send: the request, and the ledger entry it becomes once the
    ballot box accepts it (what the receipt must prove)."""

    cast: CastBallot
    request: election_pb2.CastBallotRequest
    entry: bytes

    @classmethod
    def of(cls, cast: CastBallot) -> PreparedCast:
        entry = encode_event(Event(ElectionEvent.BALLOT, cast.ballot.election_id,
                                   encode_cast_ballot(cast)))
        return cls(cast, wire.cast_ballot_request_pb(cast), entry)

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.entry)

    @property
    def ballot_hash(self) -> bytes:
        """SHA-256 of the ballot's canonical bytes (what the ballot box answers)."""
        return hashlib.sha256(encode_ballot(self.cast.ballot)).digest()


@dataclass(frozen=True)
class CastReceipt:
    ballot_hash: bytes  # SHA-256 of the ballot's canonical bytes
    receipt: Receipt  # verified: the ledger entry is in a checkpoint the quorum co-signed
    tree_size: int


@dataclass(frozen=True)
class OptionResult:
    name: str
    area: int
    headcount: int
    area_fraction: Fraction
    headcount_fraction: Fraction
    outcome: ResultOutcome


@dataclass(frozen=True)
class ElectionResult:
    election_id: str
    record: ResultRecord  # the published result record
    option_names: tuple[str, ...]
    receipt: Receipt  # verified against a co-signed checkpoint

    @property
    def participating_area(self) -> int:
        return self.record.participating_area

    @property
    def participating_owners(self) -> int:
        return self.record.participating_owners

    @property
    def quorum_met(self) -> bool:
        return self.record.quorum_met

    @property
    def guardians(self) -> tuple[int, ...]:
        return self.record.guardians

    @property
    def options(self) -> tuple[OptionResult, ...]:
        r = self.record
        return tuple(OptionResult(name, r.areas[i], r.counts[i],
                                  wire.share_of(r.areas[i], r.participating_area),
                                  wire.share_of(r.counts[i], r.participating_owners),
                                  r.outcomes[i]) for i, name in enumerate(self.option_names))


class VoterClient:
    def __init__(self, channel: grpc.aio.Channel, policy: TrustPolicy | None = None, *,
                 receipt_wait: float = 30.0) -> None:
        self.channel = channel
        self.elections = election_pb2_grpc.ElectionServiceStub(channel)
        self.registration = election_pb2_grpc.RegistrationServiceStub(channel)
        self.ballot_box = election_pb2_grpc.BallotBoxServiceStub(channel)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        self.policy = policy
        self.receipt_wait = receipt_wait

    async def _call(self, method, request):
        try:
            return await method(request)
        except grpc.RpcError as exc:
            raise Refused(exc) from exc

    async def trust_policy(self) -> TrustPolicy:
        if self.policy is None:
            info = await self._call(self.ledger.GetLogInfo, ledger_pb2.GetLogInfoRequest())
            self.policy = TrustPolicy(*wire.log_info(info))
        return self.policy

    async def election(self, election_id: str) -> PublicElection:
        """The election, its election hash recomputed from the joint key and the contest
        (InvalidProof if the server's differs)."""
        e = (await self._call(self.elections.GetElection,
                              election_pb2.GetElectionRequest(election_id=election_id))).election
        return wire.election(e)

    async def eligibility(self, att: Attestation, signature: bytes) -> int:
        resp = await self._call(self.registration.GetEligibility,
                                wire.eligibility_request_pb(att, signature))
        return resp.weight

    async def obtain_credential(self, election: PublicElection, att: Attestation,
                                signature: bytes, weight: int | None = None) -> Wallet:
        """Token generated and credential blinded here; the registrar signs blind. ``weight``
        is the owner's weight class if the app already asked (:meth:`eligibility`, e.g. when
        the owner first opened it); otherwise it asks now. A wrong one is refused (weight)."""
        if weight is None:
            weight = await self.eligibility(att, signature)
        issuer = election.issuers.get(weight)
        if issuer is None:
            raise InvalidProof("issuer_keys", f"the election publishes no key for class {weight}")
        token = generate_token()
        request = request_credential(issuer, token_public_bytes(token))
        msg = wire.credential_request_pb(att, signature, weight, request.blinded_msg)
        for attempt in range(5):  # the identical request again is answered identically
            try:
                resp = await self.registration.RequestCredential(msg)
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 4:
                    raise Refused(exc) from exc
                await asyncio.sleep(0.2 * 2 ** attempt)
        return Wallet(token, finalize_credential(request, resp.blind_sig))

    @staticmethod
    def prepare_cast(election: PublicElection, wallet: Wallet,
                     choices: Sequence[int]) -> PreparedCast:
        """Encrypt the choices with their proofs and sign with the token: the request to send
        and the ledger entry it will be (no network)."""
        if election.context is None:
            raise ValueError("the election has no joint key yet")
        ballot = encrypt_ballot(election.context, wallet.credential.token_public_key, choices)
        return PreparedCast.of(sign_ballot(wallet.token, ballot, wallet.credential))

    async def send(self, prepared: PreparedCast) -> CastReceipt:
        """Cast a prepared ballot; the receipt is checked against exactly its ledger entry and a
        checkpoint the witness quorum co-signed. Refused if the ballot box refuses it."""
        try:
            resp = await self.ballot_box.CastBallot(prepared.request)
            receipt = wire.receipt(resp.receipt)
        except grpc.RpcError as exc:
            refusal = Refused(exc)
            if refusal.reason != "COSIGNING_PENDING":
                raise refusal from exc
            receipt = await self._await_receipt(prepared.entry)  # accepted; witnesses are slow
        checkpoint = verify_receipt(receipt, *await self._policy_args(), entry=prepared.entry)
        return CastReceipt(prepared.ballot_hash, receipt, checkpoint.size)

    async def cast(self, election: PublicElection, wallet: Wallet,
                   choices: Sequence[int]) -> CastReceipt:
        """:meth:`prepare_cast` then :meth:`send`. Casting again with the same wallet replaces
        the earlier ballot (the latest counts)."""
        return await self.send(self.prepare_cast(election, wallet, choices))

    async def _policy_args(self):
        p = await self.trust_policy()
        return p.log_verifier, p.witnesses, p.quorum

    async def _await_receipt(self, entry: bytes) -> Receipt:
        request = ledger_pb2.GetReceiptRequest(leaf_hash=merkle.leaf_hash(entry))
        deadline = asyncio.get_running_loop().time() + self.receipt_wait
        while True:
            try:
                return wire.receipt((await self.ledger.GetReceipt(request)).receipt)
            except grpc.RpcError as exc:
                if asyncio.get_running_loop().time() > deadline or exc.code() not in (
                        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION):
                    raise Refused(exc) from exc
                await asyncio.sleep(0.5)

    async def verify_receipt(self, receipt: Receipt, entry: bytes | None = None) -> int:
        """Re-check a stored receipt (the tree size it proves inclusion in)."""
        return verify_receipt(receipt, *await self._policy_args(), entry=entry).size

    async def result(self, election_id: str) -> ElectionResult:
        r = await self._call(self.elections.GetResult,
                             election_pb2.GetResultRequest(election_id=election_id))
        record, names, receipt = wire.result(r)
        verify_receipt(receipt, *await self._policy_args())
        return ElectionResult(r.election_id, record, names, receipt)
