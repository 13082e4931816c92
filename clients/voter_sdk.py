"""The voter SDK: the reference for the mobile apps (async Python over gRPC).

What a phone does, in order (docs/protocol.md §8–§12):

1. :meth:`VoterClient.election` — read the election and recompute its election hash from the
   joint key (a server cannot make the phone encrypt for another key or contest unnoticed).
2. :meth:`VoterClient.obtain_credential` — with an identity attestation (from the identity
   provider), generate the token key *on the device*, blind the credential message for the
   owner's weight class (RFC 9474 Blind), let the registrar blind-sign it, unblind (Finalize,
   which verifies the signature). The registrar never sees the token. The :class:`Wallet`
   (token + credential) stays on the phone.
3. :meth:`VoterClient.cast` — encrypt the choices with their proofs, sign with the token, cast;
   the reply is a receipt, checked here against the exact ledger entry the ballot became and a
   checkpoint co-signed by the witness quorum. Casting again with the same wallet replaces the
   earlier ballot (the latest counts).
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
from crypto.ballot import Contest, ElectionContext, encrypt_ballot
from crypto.cast import sign_ballot
from crypto.codec import (
    decode_credential,
    encode_ballot,
    encode_cast_ballot,
    encode_credential,
)
from crypto.credential import (
    Credential,
    IssuerKey,
    finalize_credential,
    generate_token,
    request_credential,
    token_public_bytes,
)
from crypto.encoding import Event, encode_event
from crypto.errors import InvalidProof
from crypto.group import decode_point
from crypto.log import merkle
from crypto.log.checkpoint import CosignatureVerifier
from crypto.log.note import Ed25519Verifier
from crypto.log.receipt import Receipt, verify_receipt
from crypto.records import ElectionEvent

STATES = {v.number: v.name.removeprefix("ELECTION_STATE_")
          for v in election_pb2.ElectionState.DESCRIPTOR.values}
OUTCOMES = {v.number: v.name.removeprefix("OUTCOME_")
            for v in election_pb2.Outcome.DESCRIPTOR.values}


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
class PublicElection:
    election_id: str
    state: str  # DRAFT, KEY_CEREMONY, READY, OPEN, CLOSED, TALLYING, PUBLISHED
    motion: str
    contest: Contest
    context: ElectionContext | None  # from READY on
    issuers: dict[int, IssuerKey]  # weight class → issuer key, from READY on
    open_time: int
    close_time: int
    total_area: int
    total_owners: int
    guardians: int
    threshold: int


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
    outcome: str  # NO_QUORUM, PASSED or REJECTED


@dataclass(frozen=True)
class ElectionResult:
    election_id: str
    participating_area: int
    participating_owners: int
    quorum_met: bool
    options: tuple[OptionResult, ...]
    guardians: tuple[int, ...]
    receipt: Receipt


def attestation_pb(att: Attestation, signature: bytes) -> election_pb2.IdentityAttestation:
    a = election_pb2.IdentityAttestation(owner_id=att.owner_id, election_id=att.election_id,
                                         nonce=att.nonce, signature=signature)
    a.expires_at.seconds = att.expires_at
    return a


def receipt_from_pb(r: ledger_pb2.Receipt) -> Receipt:
    return Receipt(r.index, bytes(r.leaf_hash), tuple(bytes(h) for h in r.inclusion_proof),
                   bytes(r.signed_note))


def contest_from_pb(c: election_pb2.Contest) -> Contest:
    if c.kind == election_pb2.CONTEST_KIND_REFERENDUM:
        return Contest.referendum()
    return Contest.committee(list(c.options), c.min_selections, c.max_selections)


def _fraction(f: election_pb2.Fraction) -> Fraction:
    return Fraction(f.numerator, f.denominator)


class VoterClient:
    def __init__(self, channel: grpc.aio.Channel, policy: TrustPolicy | None = None, *,
                 receipt_wait: float = 30.0) -> None:
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
            self.policy = TrustPolicy(
                Ed25519Verifier.from_vkey(info.log_verifier_key),
                tuple(CosignatureVerifier.from_vkey(w.verifier_key) for w in info.witnesses),
                info.quorum)
        return self.policy

    async def election(self, election_id: str) -> PublicElection:
        e = (await self._call(self.elections.GetElection,
                              election_pb2.GetElectionRequest(election_id=election_id))).election
        d = e.definition
        contest = contest_from_pb(d.contest)
        context = None
        if e.joint_public_key:
            context = ElectionContext(election_id, contest, decode_point(e.joint_public_key))
            if context.hash != e.election_hash:
                raise InvalidProof("election_hash", "the server's election hash is not the one "
                                   "recomputed from the joint key and the contest")
        issuers = {k.weight: IssuerKey(election_id, k.weight,
                                       serialization.load_der_public_key(k.spki))
                   for k in e.issuer_keys}
        return PublicElection(election_id, STATES[e.state], d.motion, contest, context, issuers,
                              d.open_time.seconds, d.close_time.seconds, e.total_area,
                              e.total_owners, d.guardians, d.threshold)

    async def eligibility(self, att: Attestation, signature: bytes) -> int:
        resp = await self._call(self.registration.GetEligibility, election_pb2.
                                GetEligibilityRequest(attestation=attestation_pb(att, signature)))
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
        msg = election_pb2.RequestCredentialRequest(attestation=attestation_pb(att, signature),
                                                    weight=weight,
                                                    blinded_msg=request.blinded_msg)
        for attempt in range(5):  # the identical request again is answered identically
            try:
                resp = await self.registration.RequestCredential(msg)
                break
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 4:
                    raise Refused(exc) from exc
                await asyncio.sleep(0.2 * 2 ** attempt)
        return Wallet(token, finalize_credential(request, resp.blind_sig))

    async def cast(self, election: PublicElection, wallet: Wallet,
                   choices: Sequence[int]) -> CastReceipt:
        if election.context is None:
            raise ValueError("the election has no joint key yet")
        ballot = encrypt_ballot(election.context, wallet.credential.token_public_key, choices)
        cast = sign_ballot(wallet.token, ballot, wallet.credential)
        entry = encode_event(Event(ElectionEvent.BALLOT, election.election_id,
                                   encode_cast_ballot(cast)))
        request = election_pb2.CastBallotRequest(cast_ballot=wire.cast_ballot_pb(cast))
        try:
            resp = await self.ballot_box.CastBallot(request)
            receipt = receipt_from_pb(resp.receipt)
        except grpc.RpcError as exc:
            refusal = Refused(exc)
            if refusal.reason != "COSIGNING_PENDING":
                raise refusal from exc
            receipt = await self._await_receipt(entry)  # accepted; the witnesses are slow
        checkpoint = verify_receipt(receipt, *await self._policy_args(), entry=entry)
        return CastReceipt(hashlib.sha256(encode_ballot(ballot)).digest(), receipt,
                           checkpoint.size)

    async def _policy_args(self):
        p = await self.trust_policy()
        return p.log_verifier, p.witnesses, p.quorum

    async def _await_receipt(self, entry: bytes) -> Receipt:
        request = ledger_pb2.GetReceiptRequest(leaf_hash=merkle.leaf_hash(entry))
        deadline = asyncio.get_running_loop().time() + self.receipt_wait
        while True:
            try:
                return receipt_from_pb((await self.ledger.GetReceipt(request)).receipt)
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
        receipt = receipt_from_pb(r.receipt)
        verify_receipt(receipt, *await self._policy_args())
        return ElectionResult(
            r.election_id, r.participating_area, r.participating_owners, r.quorum_met,
            tuple(OptionResult(o.name, o.area, o.headcount, _fraction(o.area_fraction),
                               _fraction(o.headcount_fraction), OUTCOMES[o.outcome])
                  for o in r.options), tuple(r.guardians), receipt)
