"""A guardian's side of the election (docs/protocol.md §7): the key ceremony and the tally.

The guardian's secrets live in a state file (JSON, mode 0600) that only this code reads: its
encryption key, the shares it received, its combined share of the joint key, and the decryption
shares it computed. The ceremony: register the key; once all n keys are in, deal; once all n
dealings are in, open and check every share addressed to it and file a publicly verifiable
complaint against any bad one; once the server publishes the joint key, recompute QUAL and the
joint key from the public messages and combine its share (checked against its public
verification key). The tally: the guardian refuses unless the ledger shows the election closed
and tallying; it downloads the whole ledger, checks every checkpoint, replays every election rule
(every ballot's proofs, the aggregates recomputed from the counted ballots) and decrypts nothing
but the aggregates the ledger holds, once: the shares are kept in the state file, and a retry
re-sends exactly those.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from ownervote.files import write_private
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.audit import LedgerVerifier
from crypto.codec import (
    decode_decryption_share,
    decode_guardian_key,
    encode_decryption_share,
    encode_guardian_key,
)
from crypto.dkg import (
    DkgParameters,
    GuardianKeyPair,
    GuardianShare,
    Verdict,
    combine_shares,
    deal,
    dkg_result,
    generate_guardian_key,
    guardian_fingerprint,
    judge_complaint,
    make_complaint,
    receive_share,
)
from crypto.election_view import check_guardians
from crypto.errors import InvalidShare
from crypto.group import base_mul, encode_point
from crypto.log import merkle
from crypto.log.audit import audit
from crypto.log.trust import TrustBundle
from crypto.log.view import LogView
from crypto.records import DecryptionSharesRecord, ElectionState
from crypto.threshold import is_trivial, partial_decrypt

from .ledger_export import fetch_export
from .voter_sdk import Refused, VoterClient


class GuardianRefusal(Exception):
    """The guardian will not do what was asked (the ledger does not allow it)."""


@dataclass
class GuardianState:
    election_id: str
    index: int
    n: int
    t: int
    secret: int  # the encryption key e_i (never leaves the file)
    public_key: bytes  # its GuardianPublicKey with the proof of possession (crypto.codec)
    received: dict[int, int] = field(default_factory=dict)  # dealer -> f_dealer(i)
    share: int | None = None  # s_i, once the ceremony is over
    joint_public_key: bytes | None = None
    decryption_shares: list[tuple[str, bytes]] | None = None  # computed once, re-sent on retry
    view: str | None = None  # the largest checkpoint it trusted (crypto.log.view.LogView JSON)

    @property
    def params(self) -> DkgParameters:
        return DkgParameters(self.election_id, self.n, self.t)

    def key_pair(self) -> GuardianKeyPair:
        return GuardianKeyPair(self.index, self.secret, decode_guardian_key(self.public_key))

    @property
    def fingerprint(self) -> bytes:
        """What the community's trust bundle pins of this guardian (crypto.dkg)."""
        return guardian_fingerprint(self.election_id, decode_guardian_key(self.public_key))

    def to_json(self) -> str:
        return json.dumps({
            "election_id": self.election_id, "index": self.index, "n": self.n, "t": self.t,
            "secret": f"{self.secret:064x}", "public_key": self.public_key.hex(),
            "received": {str(k): f"{v:064x}" for k, v in self.received.items()},
            "share": None if self.share is None else f"{self.share:064x}",
            "joint_public_key": self.joint_public_key.hex() if self.joint_public_key else None,
            "decryption_shares": None if self.decryption_shares is None else
            [[label, raw.hex()] for label, raw in self.decryption_shares],
            "view": self.view}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> GuardianState:
        d = json.loads(text)
        return cls(d["election_id"], d["index"], d["n"], d["t"], int(d["secret"], 16),
                   bytes.fromhex(d["public_key"]),
                   {int(k): int(v, 16) for k, v in d["received"].items()},
                   None if d["share"] is None else int(d["share"], 16),
                   bytes.fromhex(d["joint_public_key"]) if d["joint_public_key"] else None,
                   None if d["decryption_shares"] is None else
                   [(label, bytes.fromhex(raw)) for label, raw in d["decryption_shares"]],
                   d.get("view"))

    def save(self, path: Path) -> None:
        write_private(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> GuardianState:
        return cls.from_json(path.read_text())


def new_guardian(election_id: str, index: int, n: int, t: int) -> GuardianState:
    pair = generate_guardian_key(DkgParameters(election_id, n, t), index)
    return GuardianState(election_id, index, n, t, pair.secret, encode_guardian_key(pair.public))


class GuardianClient:
    """One guardian, trusting only its pinned ``bundle`` and what the co-signed ledger proves;
    its secrets and its view of the log live in its state file."""

    def __init__(self, channel: grpc.aio.Channel, state: GuardianState, state_path: Path,
                 bundle: TrustBundle, *, poll: float = 0.3, timeout: float = 120.0) -> None:
        self.channel = channel
        self.stub = election_pb2_grpc.GuardianServiceStub(channel)
        self.state = state
        self.path = state_path
        view = LogView.from_json(bundle, state.view) if state.view else LogView(bundle)
        self.voter = VoterClient(channel, bundle, view)  # the election, from the ledger
        self.poll = poll
        self.timeout = timeout

    @property
    def bundle(self) -> TrustBundle:
        return self.voter.bundle

    def pin(self, bundle: TrustBundle) -> None:
        """A newer bundle of the same log (e.g. with this election's guardian fingerprints)."""
        self.voter.pin(bundle)

    async def _call(self, method, request, *, tolerate_exists: bool = False):
        try:
            return await method(request)
        except grpc.RpcError as exc:
            if tolerate_exists and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return None  # sent before (the reply was lost); the ledger has it
            raise Refused(exc) from exc

    async def ceremony(self) -> election_pb2.GetCeremonyResponse:
        return await self._call(self.stub.GetCeremony, election_pb2.GetCeremonyRequest(
            election_id=self.state.election_id))

    async def _until(self, predicate, what: str) -> election_pb2.GetCeremonyResponse:
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            c = await self.ceremony()
            if predicate(c):
                return c
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"guardian {self.state.index}: still waiting for {what}")
            await asyncio.sleep(self.poll)

    async def run_ceremony(self) -> GuardianShare:
        """Every round, resuming wherever a previous run stopped."""
        s = self.state
        me = s.key_pair()
        params = s.params
        c = await self.ceremony()
        if all(k.index != s.index for k in c.keys):
            await self._call(self.stub.RegisterGuardianKey, election_pb2.RegisterGuardianKeyRequest(
                election_id=s.election_id, key=wire.guardian_key_pb(me.public)),
                tolerate_exists=True)
        c = await self._until(lambda c: len(c.keys) == s.n, "every guardian's key")
        keys, _, _ = wire.ceremony(c)
        if next(k for k in keys if k.index == s.index).encryption_key != \
                me.public.encryption_key:
            raise GuardianRefusal("the ceremony holds another key for this guardian")
        pinned = self.bundle.guardian_fingerprints(s.election_id)
        for k in keys:  # no share goes to a key the community did not pin
            if pinned.get(k.index) != guardian_fingerprint(s.election_id, k):
                raise GuardianRefusal(f"guardian {k.index}'s key is not the one the trust bundle "
                                      "pins: this guardian deals no share to it")
        if all(d.dealer != s.index for d in c.dealings):
            dealing, _ = deal(params, s.index, sorted(keys, key=lambda k: k.index))
            await self._call(self.stub.SubmitDealing, election_pb2.SubmitDealingRequest(
                election_id=s.election_id, dealing=wire.dealing_pb(dealing)),
                tolerate_exists=True)
        c = await self._until(lambda c: len(c.dealings) == s.n, "every dealing")
        for d in wire.ceremony(c)[1]:
            if d.dealer in s.received:
                continue
            try:
                s.received[d.dealer] = receive_share(params, me, d)
            except InvalidShare:
                complaint = make_complaint(params, me, d)
                await self._call(self.stub.SubmitComplaint, election_pb2.SubmitComplaintRequest(
                    election_id=s.election_id, complaint=wire.complaint_pb(complaint)),
                    tolerate_exists=True)
        s.save(self.path)
        c = await self._until(lambda c: bool(c.joint_public_key), "the joint key")
        result = self._recompute(c)
        if encode_point(result.joint_public_key) != c.joint_public_key:
            raise GuardianRefusal("the server's joint key is not the one the ceremony gives")
        share = combine_shares(result, s.index, s.received)
        s.share, s.joint_public_key = share.secret, bytes(c.joint_public_key)
        s.save(self.path)
        return share

    def _recompute(self, c: election_pb2.GetCeremonyResponse):
        """QUAL and the joint key from the public messages, complaints judged here."""
        params = self.state.params
        keys, dealt, complaints = wire.ceremony(c)
        keys = sorted(keys, key=lambda k: k.index)
        dealings = {d.dealer: d for d in dealt}
        upheld = [x for x in complaints
                  if judge_complaint(params, x, dealings[x.dealer], keys) is Verdict.UPHELD]
        return dkg_result(params, [dealings[i] for i in sorted(dealings)], upheld)

    async def decrypt(self) -> int:
        """The tally: verify the ledger, then decrypt its aggregates (once). Returns how many
        shares were submitted."""
        s = self.state
        if s.share is None:
            raise GuardianRefusal("this guardian has no share: the ceremony did not finish")
        export = await fetch_export(self.channel)
        b = self.bundle
        audit(export, b.log_key, b.witnesses, b.quorum)  # every checkpoint, the quorum's last
        view = self.voter.view
        leaves = export.leaf_hashes
        low, high = sorted((view.size, len(leaves)))
        view.observe(export.checkpoints[-1],  # consistent with what this guardian saw before
                     merkle.consistency_proof(list(leaves), low) if 0 < low < high else ())
        s.view = view.to_json()
        s.save(self.path)
        verifier = LedgerVerifier()
        for i, entry in enumerate(export.entries):
            verifier.apply(i, entry)  # AuditFailure names the first broken rule
        e = verifier.election(s.election_id)
        check_guardians(s.election_id, e, b.guardian_fingerprints(s.election_id))
        if e.state < ElectionState.CLOSED:
            raise GuardianRefusal(f"the close is not on the ledger (the election is "
                                  f"{e.state_name}): nothing to decrypt")
        if e.state is not ElectionState.TALLYING:
            raise GuardianRefusal(f"the election is {e.state_name}, not TALLYING")
        if encode_point(e.dkg.joint_public_key) != s.joint_public_key or \
                base_mul(s.share) != e.dkg.verification_keys[s.index]:
            raise GuardianRefusal("the ledger's ceremony is not the one this guardian took part in")
        labelled = {label: ct for label, ct in e.aggregates.labelled().items()
                    if not is_trivial(ct)}
        if s.decryption_shares is None:
            share = GuardianShare(s.index, s.share)
            s.decryption_shares = [
                (label, encode_decryption_share(partial_decrypt(s.election_id, label, share, ct)))
                for label, ct in labelled.items()]
            s.save(self.path)  # decrypted once: a retry sends these very shares
        elif sorted(label for label, _ in s.decryption_shares) != sorted(labelled):
            raise GuardianRefusal("this guardian already decrypted other aggregates")
        if not s.decryption_shares:
            return 0  # nobody voted: every total is public, the server publishes without us
        request = wire.decryption_shares_request_pb(s.election_id, DecryptionSharesRecord(
            s.index, tuple((label, decode_decryption_share(raw))
                           for label, raw in s.decryption_shares)))
        await self._call(self.stub.SubmitDecryptionShares, request, tolerate_exists=True)
        return len(s.decryption_shares)

