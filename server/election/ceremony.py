"""The guardians' key ceremony on the server side (docs/protocol.md §7).

Round 0: each guardian registers its encryption key (proof of possession checked). Round 1:
once all n keys are in, each guardian submits its dealing (the public checks are done here and
a publicly invalid dealing is refused). Round 2: the recipient of a bad share files a publicly
verifiable complaint, judged on arrival. :meth:`CeremonyStore.finish` (called by the lifecycle
driver once the complaint window after the last dealing has passed) needs all n dealings: QUAL =
dealers without an upheld complaint; with at least t of them the joint key is fixed and, once at
least k registrars published their issuer keys (issuance_intake.py), the election is READY.
Every message is a ledger event (``guardian-key``, ``dealing``, ``complaint``), so anyone can
recompute QUAL and the joint key (:meth:`result`, which the tally uses for the guardians'
verification keys). ``finish`` is restartable: a process that died half-way (joint key set)
completes it on the next call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import (
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.codec import (
    decode_complaint,
    decode_dealing,
    decode_guardian_key,
    encode_complaint,
    encode_dealing,
    encode_guardian_key,
)
from crypto.dkg import (
    Complaint,
    Dealing,
    DkgParameters,
    DkgResult,
    GuardianPublicKey,
    Verdict,
    dkg_result,
    judge_complaint,
    verify_dealing,
    verify_guardian_key,
)
from crypto.errors import CryptoError
from crypto.group import encode_point
from crypto.log.receipt import Receipt
from crypto.records import ElectionEvent, ElectionState

from ..errors import Conflict, Precondition, Refused
from .schema import ceremony_messages
from .store import ElectionStore


class CeremonyRefused(Precondition):
    """The ceremony's state does not allow the message (or the result) yet, or any more."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason, precondition="CEREMONY")


class AlreadySent(Conflict):
    def __init__(self, sender: int, kind: str) -> None:
        super().__init__(f"guardian {sender} already sent its {kind}",
                         reason="ALREADY_SUBMITTED")


def _checked(check, *args) -> None:
    """A public check of a ceremony message (crypto.dkg); a message that fails it is refused."""
    try:
        check(*args)
    except CryptoError as exc:
        raise Refused(str(exc), reason="INVALID_CEREMONY_MESSAGE") from exc


@dataclass(frozen=True)
class Ceremony:
    keys: tuple[GuardianPublicKey, ...]
    dealings: tuple[Dealing, ...]
    complaints: tuple[tuple[Complaint, Verdict], ...]


class CeremonyStore:
    def __init__(self, engine: AsyncEngine, elections: ElectionStore) -> None:
        self.engine = engine
        self.elections = elections

    async def _params(self, election_id: str) -> DkgParameters:
        e = await self.elections.get_election(election_id)
        if e.state is not ElectionState.KEY_CEREMONY:
            raise CeremonyRefused("NOT_IN_CEREMONY", f"the election is {e.state.name}")
        return DkgParameters(election_id, e.definition.guardians, e.definition.threshold)

    async def _store(self, election_id: str, kind: str, sender: int, about: int, data: bytes,
                     event: str) -> Receipt:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(ceremony_messages.c.data).where(
                (ceremony_messages.c.election_id == election_id)
                & (ceremony_messages.c.kind == kind) & (ceremony_messages.c.sender == sender)
                & (ceremony_messages.c.about == about)))).first()
        if row is not None:
            raise AlreadySent(sender, kind)
        appended = await self.elections._append_event(event, election_id, data)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(ceremony_messages).values(
                    election_id=election_id, kind=kind, sender=sender, about=about, data=data,
                    ledger_index=appended.index))
        except IntegrityError as exc:  # a concurrent twin won; ours stays on the ledger only
            raise AlreadySent(sender, kind) from exc
        return await self.elections.receipt(appended)

    async def ceremony(self, election_id: str) -> Ceremony:
        q = select(ceremony_messages).where(ceremony_messages.c.election_id == election_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q.order_by(ceremony_messages.c.ledger_index))).all()
        keys = tuple(decode_guardian_key(bytes(r.data)) for r in rows if r.kind == "key")
        dealings = tuple(decode_dealing(bytes(r.data)) for r in rows if r.kind == "dealing")
        complaints = []
        if any(r.kind == "complaint" for r in rows):
            e = await self.elections.get_election(election_id)
            params = DkgParameters(election_id, e.definition.guardians, e.definition.threshold)
            by_dealer = {d.dealer: d for d in dealings}
            for r in rows:
                if r.kind == "complaint":
                    c = decode_complaint(bytes(r.data))
                    complaints.append((c, judge_complaint(params, c, by_dealer[c.dealer],
                                                          list(keys))))
        return Ceremony(keys, dealings, tuple(complaints))

    async def count(self, election_id: str, kind: str) -> int:
        """How many messages of ``kind`` (key, dealing, complaint) the election has."""
        q = select(func.count()).select_from(ceremony_messages).where(
            (ceremony_messages.c.election_id == election_id) & (ceremony_messages.c.kind == kind))
        async with self.engine.connect() as conn:
            return (await conn.execute(q)).scalar_one()

    async def result(self, election_id: str) -> DkgResult:
        """QUAL, the joint key and every guardian's verification key, recomputed from the stored
        ceremony (CeremonyRefused TOO_FEW_QUALIFIED / DEALINGS_MISSING if there is none)."""
        e = await self.elections.get_election(election_id)
        params = DkgParameters(election_id, e.definition.guardians, e.definition.threshold)
        c = await self.ceremony(election_id)
        if len(c.dealings) != params.n:
            raise CeremonyRefused("DEALINGS_MISSING",
                                  f"{len(c.dealings)} of {params.n} dealings")
        upheld = [comp for comp, verdict in c.complaints if verdict is Verdict.UPHELD]
        try:
            return await asyncio.to_thread(dkg_result, params, list(c.dealings), upheld)
        except CryptoError as exc:
            raise CeremonyRefused("TOO_FEW_QUALIFIED", str(exc)) from exc

    async def register_key(self, election_id: str, key: GuardianPublicKey) -> Receipt:
        params = await self._params(election_id)
        _checked(verify_guardian_key, params, key)  # a bad index or proof
        return await self._store(election_id, "key", key.index, 0, encode_guardian_key(key),
                                 ElectionEvent.GUARDIAN_KEY)

    async def submit_dealing(self, election_id: str, dealing: Dealing) -> Receipt:
        params = await self._params(election_id)
        c = await self.ceremony(election_id)
        if len(c.keys) != params.n:
            raise CeremonyRefused("KEYS_MISSING", f"{len(c.keys)} of {params.n} guardian keys")
        _checked(verify_dealing, params, dealing)
        return await self._store(election_id, "dealing", dealing.dealer, 0,
                                 encode_dealing(dealing), ElectionEvent.DEALING)

    async def submit_complaint(self, election_id: str, complaint: Complaint) -> Receipt:
        params = await self._params(election_id)
        c = await self.ceremony(election_id)
        dealing = next((d for d in c.dealings if d.dealer == complaint.dealer), None)
        if dealing is None:
            raise CeremonyRefused("NO_SUCH_DEALING", f"no dealing from {complaint.dealer}")
        _checked(judge_complaint, params, complaint, dealing, list(c.keys))  # malformed?
        return await self._store(election_id, "complaint", complaint.complainer,
                                 complaint.dealer, encode_complaint(complaint),
                                 ElectionEvent.COMPLAINT)

    async def finish(self, election_id: str, at: int) -> DkgResult:
        """Fix QUAL and the joint key and move to READY (``state`` event); the caller checked
        that at least k registrars' issuer keys are on the ledger. CeremonyRefused: not in the
        ceremony, DEALINGS_MISSING, TOO_FEW_QUALIFIED (the election then never opens)."""
        await self._params(election_id)
        result = await self.result(election_id)
        joint = encode_point(result.joint_public_key)
        stored = (await self.elections.get_election(election_id)).joint_public_key
        if stored is None:
            try:
                await self.elections.set_joint_key(election_id, joint)
            except Conflict:  # a concurrent finish set it
                stored = (await self.elections.get_election(election_id)).joint_public_key
        if stored is not None and stored != joint:
            raise CeremonyRefused("JOINT_KEY_MISMATCH",
                                  "the stored joint key is not the ceremony's")
        await self.elections.advance_state(election_id, ElectionState.READY, at)
        return result
