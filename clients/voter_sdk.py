"""The voter SDK: the reference for the mobile apps (async Python over gRPC).

What a phone does, in order (docs/protocol.md §8–§12):

0. The app ships the deployment's trust bundle pinned (crypto/log/trust.py; the community posts
   its fingerprint), and keeps its view of the log (crypto/log/view.py) between sessions.
1. :meth:`VoterClient.election` — rebuild the election from its ledger records, each proven
   against a checkpoint the bundle's witness quorum co-signed and consistent with every
   checkpoint seen before (crypto/election_view.py): the joint key recomputed from the
   ceremony, the guardians' keys checked against the bundle, the issuer keys, the state. A
   server cannot make the phone encrypt for another key or contest, nor show it a fork.
2. :meth:`VoterClient.obtain_credential` — generate the token key *on the device*, blind the
   credential message for the owner's weight class separately for every registrar of the
   election (RFC 9474 Blind: a fresh prefix and blinding factor each, so each registrar sees an
   unrelated blinded message), and only then ask the identity provider (the ``attest``
   callback: after its real-name and face check it signs one attestation naming every blinded
   message's digest, docs/protocol.md §8.4), let each registrar blind-sign its own, unblind
   (Finalize, which verifies each signature) and keep at least the election's k of them as the
   credential. No registrar sees the token; an attestation taken on the way is good for these
   blinded messages only. The :class:`Wallet` (token + credential) stays on the phone.

   Unlinkability: registration never uses the server's connection. Each registrar is called
   over a connection of its own, opened for the request and closed after it (and not the one
   the ballots go over), and the first ballot is spaced from registration by a random delay
   (``first_cast_delay``, default 30 s to 10 min; :attr:`Wallet.cast_after`): :meth:`send`
   waits until then. An app may instead defer the first cast to a later session (the wallet
   keeps ``cast_after`` either way). What is left to see: docs/threat-model.md, "metadata".
3. :meth:`VoterClient.cast` — :meth:`VoterClient.prepare_cast` encrypts the choices with their
   proofs and signs with the token, :meth:`VoterClient.send` casts; the reply is a receipt,
   checked here against the exact ledger entry the ballot became and a checkpoint co-signed by
   the witness quorum. Casting again with the same wallet replaces the earlier ballot (the
   latest counts).
4. :meth:`VoterClient.result` — the ledger's result entry, proven, and the same record the
   election's records recombine from the guardians' shares.

Every refusal by the server is a :class:`Refused` carrying the gRPC code, the reason and the
field the server named.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, ledger_pb2_grpc, wire

from crypto.attestation import Attestation
from crypto.ballot import encrypt_ballot
from crypto.cast import sign_ballot
from crypto.codec import (
    cast_ballot_token_and_counter,
    decode_credential,
    encode_ballot,
    encode_cast_ballot,
    encode_credential,
)
from crypto.credential import (
    MAX_COUNTER,
    CastBallot,
    Credential,
    finalize_credential,
    generate_token,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.election_audit import ElectionAudit
from crypto.election_view import election_from_records
from crypto.encoding import Event, decode_event, encode_event
from crypto.errors import CryptoError, InvalidProof
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint
from crypto.log.receipt import Receipt
from crypto.log.trust import TrustBundle
from crypto.log.view import LogView
from crypto.public_election import PublicElection
from crypto.records import (
    ElectionEvent,
    ElectionState,
    ResultOutcome,
    ResultRecord,
    decode_result,
)

from .channel import channel_options

#: The identity provider, as the SDK asks it: given the blinded messages (none: an
#: eligibility-only attestation), the attestation authorising exactly them and its signature
#: (e.g. ``DemoIdentityProvider.attester(owner_id, election_id)``; an app's call to the real
#: provider may be a coroutine).
Attested = tuple[Attestation, bytes]
Attester = Callable[[Sequence[bytes]], Attested | Awaitable[Attested]]


async def attested(attest: Attester, blinded_msgs: Sequence[bytes]) -> Attested:
    """The attester's answer for these blinded messages (awaited if it is a coroutine)."""
    answer = attest(tuple(blinded_msgs))
    return await answer if inspect.isawaitable(answer) else answer


#: The random delay between registration and the first ballot (seconds, low and high).
FIRST_CAST_DELAY = (30.0, 600.0)
CALL_TIMEOUT = 30.0  # seconds: the deadline of every call to the server (clients/channel.py)


@dataclass(frozen=True)
class RegistrarEndpoint:
    """Where a phone reaches one registrar: its address and TLS credentials (``None``: a
    plaintext development setup). Each request opens a connection of its own."""

    target: str
    credentials: grpc.ChannelCredentials | None = None

    def open(self) -> grpc.aio.Channel:
        if self.credentials is None:
            return grpc.aio.insecure_channel(self.target, options=channel_options())
        return grpc.aio.secure_channel(self.target, self.credentials, options=channel_options())


class Refused(Exception):
    """The server refused a call: its gRPC code, reason, the field it named and, for a rate
    limit, the seconds it asks the client to wait (RetryInfo)."""

    def __init__(self, error: grpc.RpcError) -> None:
        d = wire.details_of(error)
        self.code: grpc.StatusCode = d["code"]
        self.reason: str | None = d["reason"]
        self.field: str | None = d["field"]
        self.metadata: dict = d["metadata"]
        self.retry_delay: float | None = d["retry_delay"]
        super().__init__(f"{self.code.name}"
                         + (f" ({self.reason})" if self.reason else "") + f": {d['message']}")


@dataclass(frozen=True)
class Wallet:
    """What the phone keeps for one election: the token key, its credential and the revote
    counter of the last ballot it signed (0: none yet). A ballot is signed with
    ``last_counter + 1`` (:meth:`VoterClient.prepare_cast` returns the wallet advanced to it,
    which the phone persists before sending: a counter is never reused, so a revote after a
    lost answer still outranks the ballot that may have landed)."""

    token: Ed25519PrivateKey
    credential: Credential
    last_counter: int = 0
    last_ballot: bytes = b""  # the leaf hash of the ballot signed with last_counter
    # POSIX seconds before which the first ballot is not sent (registration and casting are
    # spaced by a random delay: VoterClient.obtain_credential)
    cast_after: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.last_counter <= MAX_COUNTER - 1:
            raise ValueError("the wallet's last revote counter is 0..2^32-2")
        if len(self.last_ballot) not in (0, 32) or bool(self.last_ballot) != bool(
                self.last_counter):
            raise ValueError("the wallet's last ballot is a 32-byte leaf hash, with its counter")

    @property
    def election_id(self) -> str:
        return self.credential.election_id

    @property
    def next_counter(self) -> int:
        return self.last_counter + 1

    def to_json(self) -> str:
        raw = self.token.private_bytes(serialization.Encoding.Raw,
                                       serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())
        return json.dumps({"token": raw.hex(),
                           "credential": encode_credential(self.credential).hex(),
                           "last_counter": self.last_counter,
                           "last_ballot": self.last_ballot.hex(),
                           "cast_after": self.cast_after})

    @classmethod
    def from_json(cls, text: str) -> Wallet:
        d = json.loads(text)
        token = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(d["token"]))
        credential = decode_credential(bytes.fromhex(d["credential"]))
        if credential.token_public_key != token_public_bytes(token):
            raise ValueError("the wallet's credential is for another token")
        last = d.get("last_counter", 0)
        if not isinstance(last, int) or isinstance(last, bool):
            raise ValueError("the wallet's last_counter is not a number")
        cast_after = d.get("cast_after", 0.0)
        if not isinstance(cast_after, (int, float)) or isinstance(cast_after, bool):
            raise ValueError("the wallet's cast_after is not a number")
        return cls(token, credential, last, bytes.fromhex(d.get("last_ballot", "")),
                   float(cast_after))


@dataclass(frozen=True)
class PreparedCast:
    """A signed ballot ready to send: the request, and the ledger entry it becomes once the
    ballot box accepts it (what the receipt must prove)."""

    cast: CastBallot
    request: election_pb2.CastBallotRequest
    entry: bytes
    wallet: Wallet | None = None  # the wallet advanced to this ballot's counter (to persist)

    @classmethod
    def of(cls, cast: CastBallot, wallet: Wallet | None = None) -> PreparedCast:
        entry = encode_event(Event(ElectionEvent.BALLOT, cast.ballot.election_id,
                                   encode_cast_ballot(cast)))
        return cls(cast, wire.cast_ballot_request_pb(cast), entry, wallet)

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
    wallet: Wallet | None = None  # the wallet advanced to the ballot's counter (to persist)


@dataclass(frozen=True)
class CountedBallot:
    """What :meth:`VoterClient.check_counted` proved: the token's ballot the count takes is its
    latest, at ``index``, with revote ``counter``, before the close event at ``close_index``."""

    election_id: str
    index: int
    counter: int
    close_index: int


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
    record: ResultRecord  # the ledger's result record (decoded from its entry)
    option_names: tuple[str, ...]  # from the ledger's definition
    receipt: Receipt  # the result entry's, verified against a co-signed checkpoint

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
    """A voter's device. ``bundle`` is the trust bundle the app ships pinned (crypto/log/trust.py):
    every checkpoint must be co-signed by its witness quorum, every guardian key on the ledger
    must be one it pins; ``view`` is the device's view of the log (the largest checkpoint it
    has trusted, kept between sessions), which every later checkpoint must be consistent with."""

    def __init__(self, channel: grpc.aio.Channel, bundle: TrustBundle,
                 view: LogView | None = None, *, receipt_wait: float = 30.0,
                 registrars: Mapping[str, RegistrarEndpoint] | None = None,
                 first_cast_delay: tuple[float, float] = FIRST_CAST_DELAY,
                 call_timeout: float = CALL_TIMEOUT) -> None:
        if not isinstance(bundle, TrustBundle):
            raise TypeError("a VoterClient needs the pinned trust bundle")
        self.channel = channel
        self.elections = election_pb2_grpc.ElectionServiceStub(channel)
        # name -> where to reach it; a connection of its own per request (never ``channel``)
        self.registrars = dict(registrars or {})
        if not 0 <= first_cast_delay[0] <= first_cast_delay[1]:
            raise ValueError("first_cast_delay is (low, high) seconds, 0 <= low <= high")
        self.first_cast_delay = first_cast_delay
        self.ballot_box = election_pb2_grpc.BallotBoxServiceStub(channel)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(channel)
        self.bundle = bundle
        self.view = view if view is not None else LogView(bundle)
        if self.view.bundle.origin != bundle.origin:
            raise ValueError("the view is of another log than the bundle's")
        self.receipt_wait = receipt_wait
        self.call_timeout = call_timeout  # the deadline of every call, whatever the channel
        self._observing = asyncio.Lock()

    def pin(self, bundle: TrustBundle) -> None:
        """Pin a newer bundle of the same log (e.g. with an election's guardian fingerprints)."""
        if (bundle.origin, bundle.log_key.vkey()) != (self.bundle.origin,
                                                      self.bundle.log_key.vkey()):
            raise ValueError("that bundle is of another log")
        self.bundle = bundle
        self.view.bundle = bundle

    async def _call(self, method, request):
        try:
            return await method(request, timeout=self.call_timeout)
        except grpc.RpcError as exc:
            raise Refused(exc) from exc

    async def observe(self, signed_note: bytes, consistency_proof: Sequence[bytes] = (),
                      proof_from: int | None = None) -> Checkpoint:
        """Trust a checkpoint the server sent: co-signed by the bundle's quorum and consistent
        with this device's view. ``consistency_proof`` is the one the server sent between
        ``proof_from`` (the view's size it was asked for) and the checkpoint; when it is not for
        the view as it now stands, the server is asked for the right one. ForkedView if the
        checkpoint is not consistent with the view."""
        cp = self.bundle.open_checkpoint(signed_note)
        async with self._observing:  # the view moves one checkpoint at a time
            proof = list(consistency_proof)
            if proof_from != self.view.size:
                proof = []
                low, high = sorted((self.view.size, cp.size))
                if 0 < low < high:
                    proof = list((await self._call(
                        self.ledger.GetConsistencyProof, ledger_pb2.GetConsistencyProofRequest(
                            old_size=low, new_size=high))).hashes)
            return self.view.observe(signed_note, proof)

    async def records(self, election_id: str, *, require_guardians: bool = True,
                      issuances: bool = False) -> tuple[PublicElection, ElectionAudit]:
        """The election rebuilt from its ledger records (crypto/election_view.py), proven
        against a co-signed checkpoint consistent with this device's view: what it acts on.
        Every registrar it names must be one the bundle pins, with the bundle's identity
        provider. ``require_guardians=False`` for a client that only reads the state (not the
        joint key): a guardian the bundle pins must still match. ``issuances``: the registrars'
        issuance batches too (:meth:`issued_to`)."""
        known = self.view.size
        r = await self._call(self.elections.GetElectionRecords, election_pb2.
                             GetElectionRecordsRequest(election_id=election_id,
                                                       known_tree_size=known,
                                                       include_issuances=issuances))
        note, consistency, entries = wire.election_records(r)
        cp = await self.observe(note, consistency, proof_from=known)
        return election_from_records(election_id, cp, entries,
                                     self.bundle.guardian_fingerprints(election_id),
                                     require_guardians=require_guardians,
                                     registrars=self.bundle.registrars,
                                     identity_provider=self.bundle.identity_provider)

    async def issued_to(self, election_id: str, owner_id: str) -> list[tuple[str, int]]:
        """(registrar, weight class) of every credential the ledger records as issued in this
        owner's name, each record verified (attestation and blind signature): an owner who
        never registered and finds one here was impersonated, and the record names the
        identity provider's attestation and the registrar that issued it."""
        _, audit = await self.records(election_id, require_guardians=False, issuances=True)
        names = audit.definition.registrars
        return [(names[r].name, i.weight) for r, i in audit.issuances if i.owner_id == owner_id]

    async def election(self, election_id: str) -> PublicElection:
        """The election as the co-signed ledger proves it (never GetElection's word)."""
        return (await self.records(election_id))[0]

    def _endpoints(self, election: PublicElection) -> list[tuple[int, str, RegistrarEndpoint]]:
        """(index, name, endpoint) of every registrar of the election that published issuer
        keys and that this client can reach, in the definition's order."""
        out = []
        for i, ref in enumerate(election.definition.registrars):
            endpoint = self.registrars.get(ref.name)
            if endpoint is not None and i in election.issuers:
                out.append((i, ref.name, endpoint))
        k = election.definition.registrar_threshold
        if len(out) < k:
            raise InvalidProof("registrars", f"the election needs credentials from {k} "
                               f"registrars; this client reaches {len(out)} of those with keys")
        return out

    async def _registrar_call(self, endpoint: RegistrarEndpoint, method: str, request):
        """One registrar request over a connection of its own (opened and closed here); an
        UNAVAILABLE answer is retried by the channel's policy (clients/channel.py: the identical
        request is answered identically)."""
        channel = endpoint.open()
        try:
            stub = election_pb2_grpc.RegistrationServiceStub(channel)
            try:
                return await getattr(stub, method)(request, timeout=self.call_timeout)
            except grpc.RpcError as exc:
                raise Refused(exc) from exc
        finally:
            await channel.close()

    async def eligibility(self, election: PublicElection, att: Attestation,
                          signature: bytes) -> int:
        """The owner's weight class, as the election's first reachable registrar's roll has
        it; any valid attestation of the owner answers it, an eligibility-only one
        (authorising no blinded message) is enough."""
        _, _, endpoint = self._endpoints(election)[0]
        resp = await self._registrar_call(endpoint, "GetEligibility",
                                          wire.eligibility_request_pb(att, signature))
        return resp.weight

    async def obtain_credential(self, election: PublicElection, attest: Attester,
                                weight: int | None = None) -> Wallet:
        """Token generated and the credential message blinded here, once per registrar; then
        ``attest`` is asked for one attestation of exactly those blinded messages, and each
        registrar signs its own blind, over its own connection. ``weight`` is the owner's
        weight class if the app already asked (:meth:`eligibility`); otherwise it asks now,
        with an eligibility-only attestation. The credential keeps every registrar's signature
        that verified; fewer than the election's k is a Refused of the first registrar that
        refused (or InvalidProof for a signature that did not verify)."""
        endpoints = self._endpoints(election)
        if weight is None:
            weight = await self.eligibility(election, *await attested(attest, ()))
        token = generate_token()
        tpk = token_public_bytes(token)
        requests = []
        for i, name, endpoint in endpoints:
            issuer = election.issuers[i].get(weight)
            if issuer is None:
                raise InvalidProof("issuer_keys", f"registrar {name} publishes no key for "
                                   f"class {weight}")
            requests.append((name, endpoint, request_credential(issuer, tpk)))
        att, signature = await attested(attest, [q.blinded_msg for _, _, q in requests])

        async def one(endpoint: RegistrarEndpoint, q) -> Credential:
            resp = await self._registrar_call(endpoint, "RequestCredential",
                                              wire.credential_request_pb(att, signature,
                                                                         weight, q.blinded_msg))
            return finalize_credential(q, resp.blind_sig)  # InvalidSignature if it is not

        answers = await asyncio.gather(*(one(e, q) for _, e, q in requests),
                                       return_exceptions=True)
        parts = [a for a in answers if isinstance(a, Credential)]
        k = election.definition.registrar_threshold
        if len(parts) < k:
            raise next(a for a in answers if isinstance(a, BaseException))
        lo, hi = self.first_cast_delay
        return Wallet(token, merge_credentials(parts),
                      cast_after=time.time() + secrets.SystemRandom().uniform(lo, hi))

    @staticmethod
    def prepare_cast(election: PublicElection, wallet: Wallet,
                     choices: Sequence[int]) -> PreparedCast:
        """Encrypt the choices with their proofs and sign with the token under the wallet's next
        revote counter: the request to send, the ledger entry it will be and the advanced
        wallet (``prepared.wallet``, to persist before sending) (no network)."""
        if election.context is None:
            raise ValueError("the election has no joint key yet")
        ballot = encrypt_ballot(election.context, wallet.credential.token_public_key, choices)
        counter = wallet.next_counter
        prepared = PreparedCast.of(sign_ballot(wallet.token, ballot, wallet.credential, counter))
        return replace(prepared, wallet=replace(wallet, last_counter=counter,
                                                last_ballot=prepared.leaf_hash))

    async def send(self, prepared: PreparedCast) -> CastReceipt:
        """Cast a prepared ballot; the receipt is checked against exactly its ledger entry and a
        checkpoint the witness quorum co-signed. Refused if the ballot box refuses it. A first
        ballot waits until its wallet's ``cast_after`` (the random delay after registration)."""
        wallet = prepared.wallet
        if wallet is not None and wallet.last_counter == 1:
            await asyncio.sleep(max(0.0, wallet.cast_after - time.time()))
        try:
            resp = await self.ballot_box.CastBallot(prepared.request,
                                                     timeout=self.call_timeout)
            receipt = wire.receipt(resp.receipt)
        except grpc.RpcError as exc:
            refusal = Refused(exc)
            if refusal.reason != "COSIGNING_PENDING":
                raise refusal from exc
            receipt = await self._await_receipt(prepared.entry)  # accepted; witnesses are slow
        checkpoint = await self._verify_receipt(receipt, prepared.entry)
        return CastReceipt(prepared.ballot_hash, receipt, checkpoint.size, prepared.wallet)

    async def cast(self, election: PublicElection, wallet: Wallet,
                   choices: Sequence[int]) -> CastReceipt:
        """:meth:`prepare_cast` then :meth:`send`. Casting again with the returned wallet
        (``receipt.wallet``, the next counter) replaces the earlier ballot (the highest counter
        counts); the same wallet again signs a stale counter, which every verifier refuses."""
        return await self.send(self.prepare_cast(election, wallet, choices))

    async def _verify_receipt(self, receipt: Receipt, entry: bytes | None) -> Checkpoint:
        """The receipt's checkpoint, trusted (:meth:`observe`), and its inclusion proof for
        exactly ``entry`` (when given)."""
        checkpoint = await self.observe(receipt.signed_note)
        if entry is not None and merkle.leaf_hash(entry) != receipt.leaf_hash:
            raise InvalidProof("receipt", "the receipt is for another entry")
        merkle.verify_inclusion(receipt.leaf_hash, receipt.index, checkpoint.size,
                                list(receipt.inclusion_proof), checkpoint.root_hash)
        return checkpoint

    async def _await_receipt(self, entry: bytes) -> Receipt:
        request = ledger_pb2.GetReceiptRequest(leaf_hash=merkle.leaf_hash(entry))
        deadline = asyncio.get_running_loop().time() + self.receipt_wait
        while True:
            try:
                return wire.receipt((await self.ledger.GetReceipt(
                    request, timeout=self.call_timeout)).receipt)
            except grpc.RpcError as exc:
                if asyncio.get_running_loop().time() > deadline or exc.code() not in (
                        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION):
                    raise Refused(exc) from exc
                await asyncio.sleep(0.5)

    async def verify_receipt(self, receipt: Receipt, entry: bytes | None = None) -> int:
        """Re-check a stored receipt (the tree size it proves inclusion in)."""
        return (await self._verify_receipt(receipt, entry)).size

    async def check_counted(self, wallet: Wallet) -> CountedBallot:
        """After the close: that the ballot the count takes for this wallet's token is its own
        latest one (the ballot signed with ``wallet.last_counter``). Proven, not asked:

        1. the election's records (co-signed, consistent with this device's view) have the close
           event, at index C;
        2. the wallet's last ballot is the ledger's entry i < C (its receipt, by leaf hash, with
           its inclusion proof), and its counter is the wallet's;
        3. every entry in [i, C] is fetched and proven complete: the frontier of [0, i) (the
           inclusion path of i in the tree of size i + 1) extended by their leaf hashes gives the
           root of the tree of size C + 1, which a consistency proof ties to the co-signed
           checkpoint; none of them is a ballot of this token with a higher counter (which only
           the token key can sign: a stolen wallet). Every verifier refuses a lower one, and
           counts each token's highest (protocol §8.3, §12).

        InvalidProof names what fails: ``counted`` (not on the ledger before the close, or another
        ballot of the token counts), ``ledger`` (the entries do not prove out)."""
        if not wallet.last_counter:
            raise InvalidProof("counted", "this wallet has cast no ballot")
        eid = wallet.election_id
        _, audit = await self.records(eid, require_guardians=False)
        close = audit.transitions.get(ElectionState.CLOSED)
        if close is None:
            raise InvalidProof("close", "the close is not on the ledger yet")
        mine = await self._await_receipt_by_leaf(wallet.last_ballot)
        checkpoint = await self._verify_receipt(mine, None)
        if mine.leaf_hash != wallet.last_ballot:
            raise InvalidProof("counted", "the receipt is for another entry")
        if mine.index >= close:
            raise InvalidProof("counted", f"your latest ballot is at index {mine.index}, after "
                               f"the close at {close}: it does not count")
        entries = await self._proven_range(mine.index, close + 1, checkpoint)
        token = wallet.credential.token_public_key
        first = decode_event(entries[0])
        if (first.kind, first.subject) != (ElectionEvent.BALLOT, eid) or \
                cast_ballot_token_and_counter(first.body) != (token, wallet.last_counter):
            raise InvalidProof("counted", "the entry of your receipt is not your latest ballot")
        for k, entry in enumerate(entries[1:-1], start=mine.index + 1):
            ev = decode_event(entry)
            if (ev.kind, ev.subject) == (ElectionEvent.BALLOT, eid):
                other, counter = cast_ballot_token_and_counter(ev.body)
                if other == token:
                    raise InvalidProof("counted", f"a later ballot of your token (revote "
                                       f"{counter}, ledger index {k}) counts instead of yours: "
                                       "someone else holds your wallet")
        return CountedBallot(eid, mine.index, wallet.last_counter, close)

    async def _await_receipt_by_leaf(self, leaf: bytes) -> Receipt:
        try:
            r = await self.ledger.GetReceipt(ledger_pb2.GetReceiptRequest(leaf_hash=leaf),
                                             timeout=self.call_timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidProof("counted", "your latest ballot is not on the ledger") from exc
            raise Refused(exc) from exc
        return wire.receipt(r.receipt)

    async def _proven_range(self, start: int, end: int, checkpoint: Checkpoint) -> list[bytes]:
        """Entries [start, end) of the log, proven to be exactly its entries there against
        ``checkpoint`` (trusted, of size ≥ end); InvalidProof("ledger") otherwise."""
        path = [] if start == 0 else list((await self._call(
            self.ledger.GetInclusionProof, ledger_pb2.GetInclusionProofRequest(
                index=start, tree_size=start + 1))).hashes)
        entries: list[bytes] = []
        while start + len(entries) < end:
            r = await self._call(self.ledger.GetEntries, ledger_pb2.GetEntriesRequest(
                start=start + len(entries), count=min(1000, end - start - len(entries))))
            if not r.entries:
                raise InvalidProof("ledger", f"the log gives no entry at {start + len(entries)}")
            entries.extend(bytes(e) for e in r.entries)
        entries = entries[:end - start]
        tree = merkle.CompactRange(start, list(reversed(path)))
        for entry in entries:
            tree.append(merkle.leaf_hash(entry))
        proof = [] if end == checkpoint.size else list((await self._call(
            self.ledger.GetConsistencyProof, ledger_pb2.GetConsistencyProofRequest(
                old_size=end, new_size=checkpoint.size))).hashes)
        try:
            merkle.verify_consistency(end, checkpoint.size, proof, tree.root(),
                                      checkpoint.root_hash)
        except CryptoError as exc:
            raise InvalidProof("ledger", f"entries {start}..{end - 1} are not the log's: "
                               f"{exc}") from exc
        return entries

    async def result(self, election_id: str) -> ElectionResult:
        """The ledger's result: the ``result`` entry GetResult names, proven by its receipt,
        and the very record the election's records recombine from the guardians' shares. A
        result that is not the ledger's (or a server's answer that disagrees with it) is
        refused."""
        r = await self._call(self.elections.GetResult,
                             election_pb2.GetResultRequest(election_id=election_id))
        stated, _, receipt = wire.result(r)
        await self._verify_receipt(receipt, bytes(r.entry))
        event = decode_event(bytes(r.entry))
        if (event.kind, event.subject) != (ElectionEvent.RESULT, election_id):
            raise InvalidProof("result", "the entry named is not this election's result")
        record = decode_result(event.body)
        _, audit = await self.records(election_id)
        if audit.result != record:
            raise InvalidProof("result", "the result entry is not the one the election's "
                               "records give")
        if stated != record:
            raise InvalidProof("result", "the server's answer is not its own result entry")
        return ElectionResult(election_id, record, audit.definition.contest.options, receipt)
