"""The election family's verifier: every election rule, checked from the public entries alone.

:class:`ElectionVerifier` takes the election family's events in ledger order (from the ledger
verifier, crypto/audit.py, which routes every entry by its kind's family) and keeps, per roll and
per election, what the entries so far establish. It is the auditor's core, and a validating
witness runs the same objects on every entry before co-signing (so a witness refuses a ballot
after the close, a bad proof, a wrong aggregate or a wrong result). A broken rule raises
:class:`ElectionViolation`, which the ledger verifier reports as
:class:`crypto.log.audit.AuditFailure` naming the entry. Each kind has one method, listed in an
explicit table. docs/protocol.md §12 lists the events and the checks:

* ``roll``: a roll commitment, once per roll id.
* ``election``: a definition naming a committed roll with its hash, once per election; DRAFT.
* ``state``: exactly one step forward from the current state, with ``at`` not decreasing;
  READY needs the ceremony done (n keys, n dealings, QUAL ≥ t; the joint key is recomputed),
  the issuer keys of at least k registrars and ``ceremony_deadline <= at <= open_time``; OPEN
  needs ``at >= open_time``; CLOSED ``at >= close_time``; TALLYING the aggregates; PUBLISHED
  the result.
* ``guardian-key`` / ``dealing`` / ``complaint`` (KEY_CEREMONY): proofs of possession, the public
  dealing checks (after all n keys), complaints judged; one of each per guardian.
* ``issuer-keys`` (KEY_CEREMONY): from a registrar the definition names, signed by its key, once
  per registrar, exactly one key per weight class of the roll.
* ``issuances`` (READY, OPEN, CLOSED; the ``final`` batch only when CLOSED): signed by a
  registrar that published issuer keys, its batches numbered 0, 1, … with nothing after the
  final one; per record, an owner this registrar has not issued to before, a class of the roll,
  no more issuances in a class than the roll has owners in it, and the record itself valid
  (crypto/issuance.py: attestation genuine, for this election and owner, authorising the
  blinded message, not expired before READY; the blind signature the registrar's on it).
* ``ballot`` (OPEN only): never an entry byte-identical to an earlier one (a replay), a revote
  counter above the token's previous ballot's, at most ``max_ballots_per_token`` ballots of a
  token; a credential signed by at least k distinct registrars under their class keys, token
  signature (over the counter too), every proof.
* ``aggregates`` (CLOSED, after every registrar with issuer keys published its final batch):
  first, with or without the ballots, the participation fits the roll (crypto.tally.dlog_bounds:
  it sizes the tally's discrete logs); then recomputed from the highest-counter ballot of each
  token, byte for byte; per registrar and class, the voting tokens carrying that registrar's
  signature never exceed its issuance records of that class.
* ``decryption-shares`` (TALLYING): one per guardian, a share with a valid proof for exactly the
  non-trivial aggregates.
* ``result`` (TALLYING): t guardians with shares on the ledger; their shares recombined, the
  totals decoded and evaluated under the rule give exactly the published bytes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from .ballot import ElectionContext
from .cast import verify_cast_ballot
from .codec import (
    decode_cast_ballot_bytes,
    decode_complaint,
    decode_dealing,
    decode_guardian_key,
)
from .credential import CastBallot, IssuerKey, IssuerSet, issuer_key_from_spki
from .dkg import (
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
from .encoding import Event
from .errors import CryptoError, DecodeError, InconsistentTotals, InvalidSignature
from .issuance import (
    Issuance,
    decode_issuances,
    decode_issuer_keys,
    verify_issuance,
    verify_issuances,
    verify_issuer_keys,
)
from .outcome import decrypt_totals, result_of
from .records import (
    ELECTION_FAMILY,
    DecryptionSharesRecord,
    DefinitionRecord,
    ElectionEvent,
    ElectionState,
    ResultRecord,
    RollCommitment,
    decode_aggregates,
    decode_decryption_shares,
    decode_definition,
    decode_result,
    decode_roll_commitment,
    decode_transition,
    encode_aggregates,
    encode_result,
)
from .tally import Aggregates, aggregate, dlog_bounds, highest_per_token
from .threshold import is_trivial, verify_decryption_share

S = ElectionState


class ElectionViolation(CryptoError):
    """One election rule broken by an entry (wrapped into AuditFailure with the index)."""


class BallotOrderViolation(ElectionViolation):
    """A ballot out of its token's order; ``reason`` says which rule: ``REPLAYED_BALLOT`` (an
    entry byte-identical to an earlier one), ``STALE_COUNTER`` (a revote counter not above the
    token's previous ballot's), ``REVOTE_CAP`` (more ballots of the token than the definition's
    ``max_ballots_per_token``). The ballot box refuses with the same reasons."""

    REPLAYED = "REPLAYED_BALLOT"
    STALE = "STALE_COUNTER"
    CAP = "REVOTE_CAP"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_ballot_order(previous: tuple[int, int] | None, counter: int, cap: int) -> None:
    """The ordering rule of one token's ballot: ``previous`` is (highest counter, ballots) of
    the token's ballots accepted so far (None for its first); BallotOrderViolation unless
    ``counter`` is above that counter and the token stays within ``cap`` ballots."""
    if previous is None:
        return
    last, count = previous
    if counter <= last:
        raise BallotOrderViolation(BallotOrderViolation.STALE,
                                   f"revote counter {counter} is not above the token's "
                                   f"previous {last}")
    if count >= cap:
        raise BallotOrderViolation(BallotOrderViolation.CAP,
                                   f"the token has cast {count} ballots, the most the election "
                                   f"allows")


@dataclass
class ElectionAudit:
    """What the ledger has established about one election so far."""

    definition: DefinitionRecord
    roll: RollCommitment
    state: ElectionState = ElectionState.DRAFT
    last_at: int = 0
    keys: dict[int, GuardianPublicKey] = field(default_factory=dict)
    dealings: dict[int, Dealing] = field(default_factory=dict)
    complaints: dict[tuple[int, int], tuple[Complaint, Verdict]] = field(default_factory=dict)
    dkg: DkgResult | None = None
    context: ElectionContext | None = None
    issuers: dict[int, dict[int, IssuerKey]] = field(default_factory=dict)  # registrar -> class
    ballots: list[CastBallot] = field(default_factory=list)  # in ledger order
    tokens: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # -> (counter, ballots)
    ballot_digests: set[bytes] = field(default_factory=set)  # SHA-256 of every ballot body
    issuances: list[tuple[int, Issuance]] = field(default_factory=list)  # (registrar, record)
    issued: Counter = field(default_factory=Counter)  # (registrar, weight) -> issuances
    issued_owners: dict[int, set[str]] = field(default_factory=dict)  # registrar -> owner ids
    batches: dict[int, int] = field(default_factory=dict)  # registrar -> batches published
    final: set[int] = field(default_factory=set)  # registrars whose final batch is on the ledger
    aggregates: Aggregates | None = None
    shares: dict[int, DecryptionSharesRecord] = field(default_factory=dict)
    result: ResultRecord | None = None
    counted_per_class: dict[int, int] = field(default_factory=dict)
    counted_per_registrar: Counter = field(default_factory=Counter)  # (registrar, weight)
    transitions: dict[ElectionState, int] = field(default_factory=dict)  # state -> its index
    transition_at: dict[ElectionState, int] = field(default_factory=dict)  # state -> its at

    @property
    def issuer_set(self) -> IssuerSet:
        """Every registrar's issuer keys and the credential threshold k."""
        return IssuerSet(self.definition.election_id, self.definition.registrar_threshold,
                         self.issuers)

    def issued_per_class(self) -> dict[int, dict[int, int]]:
        """Registrar index -> weight -> issuance records on the ledger."""
        out: dict[int, dict[int, int]] = {}
        for (r, w), n in sorted(self.issued.items()):
            out.setdefault(r, {})[w] = n
        return out

    @property
    def params(self) -> DkgParameters:
        d = self.definition
        return DkgParameters(d.election_id, d.guardians, d.threshold)

    @property
    def state_name(self) -> str:
        return self.state.name

    @property
    def weak_threshold(self) -> bool:
        """The definition allows a threshold below the floor (t < 2 or t <= n/2): the auditor
        reports it as WEAK THRESHOLD."""
        return self.definition.weak_threshold


def counted_with_registrars(ballots: list[CastBallot]) -> tuple[list, Counter]:
    """The counted (weight, ballot) pairs (each token's highest-counter ballot) and, per
    (registrar, weight), how many counted tokens carry that registrar's signature."""
    best: dict[bytes, CastBallot] = {}
    for c in ballots:
        t = c.ballot.token_public_key
        if t not in best or c.counter > best[t].counter:
            best[t] = c
    per_registrar: Counter = Counter()
    for c in best.values():
        for r in c.credential.registrars:
            per_registrar[(r, c.credential.weight)] += 1
    return highest_per_token(ballots), per_registrar


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ElectionViolation(message)


def _in_state(e: ElectionAudit, kind: str, *states: ElectionState) -> None:
    _need(e.state in states, f"a {kind} event while the election is {e.state_name}")


class ElectionVerifier:
    """The election family's rules; :meth:`apply` takes its events in ledger order.

    ``with_ballots=False`` is the view of a client that reads an election's records without its
    ballots (crypto/election_view.py): a ballot is then refused as out of place, and the
    aggregates are taken as the ledger has them (their recomputation from the ballots is the
    validating witnesses' and the auditors' check, which the co-signed checkpoint stands for);
    every other rule is checked as for a full replay."""

    family = ELECTION_FAMILY

    def __init__(self, *, with_ballots: bool = True) -> None:
        self.with_ballots = with_ballots
        self._index = -1  # the ledger index of the event being applied
        self.rolls: dict[str, RollCommitment] = {}
        self.elections: dict[str, ElectionAudit] = {}
        self.ballots_verified = 0
        E = ElectionEvent
        self._per_election = {  # kind -> the rule of that kind, for a defined election
            E.STATE: self._state, E.GUARDIAN_KEY: self._guardian_key, E.DEALING: self._dealing,
            E.COMPLAINT: self._complaint, E.ISSUER_KEYS: self._issuer_keys,
            E.BALLOT: self._ballot, E.ISSUANCES: self._issuances,
            E.AGGREGATES: self._aggregates, E.DECRYPTION_SHARES: self._decryption_shares,
            E.RESULT: self._result,
        }
        self._rules = {E.ROLL: self._roll, E.ELECTION: self._define, **{
            kind: self._for_election(rule) for kind, rule in self._per_election.items()}}

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this verifier has a rule for (every kind of the family)."""
        return frozenset(self._rules)

    def apply(self, ev: Event, index: int) -> None:
        """Check one event of the family, at ledger index ``index``; ElectionViolation (or a
        CryptoError of the record's decoding) if it breaks a rule."""
        rule = self._rules.get(ev.kind)
        if rule is None:
            raise ElectionViolation(f"the election family has no {ev.kind!r} event")
        self._index = index
        rule(ev)

    def election(self, election_id: str) -> ElectionAudit:
        e = self.elections.get(election_id)
        if e is None:
            raise ElectionViolation(f"no election {election_id!r} on the ledger")
        return e

    def _for_election(self, rule):
        def apply(ev: Event) -> None:
            rule(self.election(ev.subject), ev.body)
        return apply

    # --- rolls and definitions -----------------------------------------------------------------

    def _roll(self, ev: Event) -> None:
        _need(ev.subject not in self.rolls, f"roll {ev.subject} committed twice")
        self.rolls[ev.subject] = decode_roll_commitment(ev.body)

    def _define(self, ev: Event) -> None:
        d = decode_definition(ev.body)
        _need(d.election_id == ev.subject, "the definition names another election")
        _need(d.election_id not in self.elections, f"election {d.election_id} defined twice")
        roll = self.rolls.get(d.roll_id)
        _need(roll is not None, f"the election's roll {d.roll_id} is not on the ledger")
        _need(roll.roll_hash == d.roll_hash, "the definition's roll hash is not the roll's")
        self.elections[d.election_id] = ElectionAudit(d, roll)

    # --- lifecycle -----------------------------------------------------------------------------

    def _state(self, e: ElectionAudit, body: bytes) -> None:
        t = decode_transition(body)
        _need(t.from_state == e.state, f"a transition from {t.from_state.name} "
                                       f"while the election is {e.state_name}")
        _need(t.at >= e.last_at, "a transition dated before the previous one")
        d = e.definition
        if t.to_state == S.READY:
            _need(t.at >= d.ceremony_deadline, "the ceremony finished before its deadline (the "
                                               "complaint window was cut short)")
            _need(t.at <= d.open_time, "the ceremony finished after the opening time (the vote "
                                       "would be shortened)")
            self._finish_ceremony(e)
        elif t.to_state == S.OPEN:
            _need(t.at >= d.open_time, "opened before the opening time")
        elif t.to_state == S.CLOSED:
            _need(t.at >= d.close_time, "closed before the closing time")
        elif t.to_state == S.TALLYING:
            _need(e.aggregates is not None, "tallying before the aggregates are published")
        elif t.to_state == S.PUBLISHED:
            _need(e.result is not None, "published without a result")
        e.state, e.last_at = t.to_state, t.at
        e.transitions[t.to_state] = self._index
        e.transition_at[t.to_state] = t.at

    def _finish_ceremony(self, e: ElectionAudit) -> None:
        p = e.params
        _need(len(e.dealings) == p.n, f"{len(e.dealings)} of {p.n} dealings at READY")
        k = e.definition.registrar_threshold
        _need(len(e.issuers) >= k, f"READY with the issuer keys of {len(e.issuers)} "
                                   f"registrar(s), fewer than the credential threshold {k}")
        upheld = [c for c, v in e.complaints.values() if v is Verdict.UPHELD]
        e.dkg = dkg_result(p, [e.dealings[i] for i in sorted(e.dealings)], upheld)
        e.context = ElectionContext(p.election_id, e.definition.contest,
                                    e.dkg.joint_public_key)

    # --- the key ceremony ----------------------------------------------------------------------

    def _guardian_key(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "guardian-key", S.KEY_CEREMONY)
        key = decode_guardian_key(body)
        verify_guardian_key(e.params, key)
        _need(key.index not in e.keys, f"guardian {key.index} registered twice")
        e.keys[key.index] = key

    def _dealing(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "dealing", S.KEY_CEREMONY)
        _need(len(e.keys) == e.params.n, "a dealing before all guardian keys")
        dealing = decode_dealing(body)
        verify_dealing(e.params, dealing)
        _need(dealing.dealer not in e.dealings, f"guardian {dealing.dealer} dealt twice")
        e.dealings[dealing.dealer] = dealing

    def _complaint(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "complaint", S.KEY_CEREMONY)
        c = decode_complaint(body)
        dealing = e.dealings.get(c.dealer)
        _need(dealing is not None, f"a complaint about guardian {c.dealer}, who has not dealt")
        _need((c.complainer, c.dealer) not in e.complaints, "the same complaint twice")
        verdict = judge_complaint(e.params, c, dealing, [e.keys[i] for i in sorted(e.keys)])
        e.complaints[(c.complainer, c.dealer)] = (c, verdict)

    def _registrar(self, e: ElectionAudit, name: str) -> int:
        try:
            return e.definition.registrar_index(name)
        except KeyError:
            raise ElectionViolation(f"registrar {name!r} is not one of the election's") from None

    def _issuer_keys(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "issuer-keys", S.KEY_CEREMONY)
        record = decode_issuer_keys(body)
        r = self._registrar(e, record.registrar)
        _need(r not in e.issuers, f"registrar {record.registrar} published issuer keys twice")
        eid = e.definition.election_id
        try:
            verify_issuer_keys(e.definition.registrars[r].key, eid, record)
        except InvalidSignature as exc:
            raise ElectionViolation(f"issuer keys of {record.registrar}: {exc}") from exc
        _need([w for w, _ in record.keys] == [w for w, _ in e.roll.classes],
              "the issuer keys are not one per weight class of the roll")
        keys = {}
        for w, spki in record.keys:
            try:
                keys[w] = issuer_key_from_spki(eid, w, spki, r)
            except DecodeError as exc:  # not a key, not canonical, or weaker than §8.2
                raise ElectionViolation(f"issuer key of class {w}: {exc}") from exc
        e.issuers[r] = keys

    def _issuances(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "issuances", S.READY, S.OPEN, S.CLOSED)
        record = decode_issuances(body)
        r = self._registrar(e, record.registrar)
        keys = e.issuers.get(r)
        _need(keys is not None, f"issuances of {record.registrar}, which has no issuer keys")
        eid = e.definition.election_id
        try:
            verify_issuances(e.definition.registrars[r].key, eid, record)
        except InvalidSignature as exc:
            raise ElectionViolation(f"issuances of {record.registrar}: {exc}") from exc
        _need(r not in e.final, f"a batch of {record.registrar} after its final one")
        _need(record.seq == e.batches.get(r, 0),
              f"batch {record.seq} of {record.registrar}, expected {e.batches.get(r, 0)}")
        _need(not record.final or e.state == S.CLOSED, "a final batch before the close")
        owners = e.issued_owners.setdefault(r, set())
        roll = dict(e.roll.classes)
        ready_at = e.transition_at.get(S.READY, 0)
        for i, item in enumerate(record.issuances):
            where = f"issuances[{i}]"
            _need(item.owner_id not in owners,
                  f"{where}: {record.registrar} issued to {item.owner_id} before")
            _need(item.weight in roll, f"{where}: class {item.weight} is not on the roll")
            _need(e.issued[(r, item.weight)] < roll[item.weight],
                  f"{where}: more issuances in class {item.weight} than the roll has owners")
            try:
                verify_issuance(eid, e.definition.identity_provider, keys[item.weight], item,
                                check=where, not_expired_at=ready_at)
            except InvalidSignature as exc:
                raise ElectionViolation(f"issuances of {record.registrar}: {exc}") from exc
            owners.add(item.owner_id)
            e.issued[(r, item.weight)] += 1
            e.issuances.append((r, item))
        e.batches[r] = record.seq + 1
        if record.final:
            e.final.add(r)

    # --- voting and the tally ------------------------------------------------------------------

    def _ballot(self, e: ElectionAudit, body: bytes) -> None:
        _need(self.with_ballots, "a ballot among an election's records (they leave ballots out)")
        _in_state(e, "ballot", S.OPEN)
        digest = hashlib.sha256(body).digest()
        if digest in e.ballot_digests:
            raise BallotOrderViolation(BallotOrderViolation.REPLAYED,
                                       "a ballot byte-identical to an earlier entry (a replay)")
        cast, ballot_bytes = decode_cast_ballot_bytes(body)
        token = cast.ballot.token_public_key
        previous = e.tokens.get(token)
        check_ballot_order(previous, cast.counter, e.definition.max_ballots_per_token)
        verify_cast_ballot(e.context, e.issuer_set, cast, ballot_bytes=ballot_bytes)
        self.ballots_verified += 1
        e.ballot_digests.add(digest)
        e.tokens[token] = (cast.counter, 1 + (previous[1] if previous else 0))
        e.ballots.append(cast)

    def _aggregates(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "aggregates", S.CLOSED)
        missing = sorted(e.definition.registrars[r].name for r in e.issuers if r not in e.final)
        _need(not missing or not self.with_ballots,
              f"aggregates before the final issuances of {', '.join(missing)}")
        _need(e.aggregates is None, "aggregates published twice")
        published = decode_aggregates(body)
        # before anything else, and on every path: the participation bounds every discrete log
        # of the tally (§4.3), so it must fit the roll even when the ballots are not replayed
        try:
            dlog_bounds(published, e.roll.total_area, e.roll.total_owners, e.roll.classes)
        except InconsistentTotals as exc:
            raise ElectionViolation(f"the aggregates' participation does not fit the roll: "
                                    f"{exc}") from exc
        if not self.with_ballots:
            e.aggregates = published
            return
        counted, per_registrar = counted_with_registrars(e.ballots)
        per_class = Counter(w for w, _ in counted)
        for (r, w), n in sorted(per_registrar.items()):
            _need(n <= e.issued[(r, w)],
                  f"{n} voting tokens in class {w} carry {e.definition.registrars[r].name}'s "
                  f"signature, but it issued {e.issued[(r, w)]} credentials in that class")
        expected = aggregate(counted, len(e.definition.contest.options))
        _need(encode_aggregates(expected) == body,
              "the aggregates are not those of the counted ballots")
        e.aggregates = decode_aggregates(body)
        e.counted_per_class = dict(per_class)
        e.counted_per_registrar = per_registrar

    def _decryption_shares(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "decryption-shares", S.TALLYING)
        record = decode_decryption_shares(body)
        g = record.guardian
        _need(1 <= g <= e.params.n, f"no guardian {g}")
        _need(g not in e.shares, f"guardian {g} submitted shares twice")
        labelled = e.aggregates.labelled()
        wanted = {label for label, ct in labelled.items() if not is_trivial(ct)}
        got = record.by_label()
        _need(set(got) == wanted, f"guardian {g}'s shares are not one per non-trivial aggregate")
        for label, share in record.shares:
            verify_decryption_share(e.definition.election_id, label, e.dkg.verification_keys[g],
                                    labelled[label], share)
        e.shares[g] = record

    def _result(self, e: ElectionAudit, body: bytes) -> None:
        _in_state(e, "result", S.TALLYING)
        _need(e.result is None, "a second result")
        published = decode_result(body)
        t = e.definition.threshold
        needed = t if any(not is_trivial(c) for c in e.aggregates.labelled().values()) else 0
        _need(len(published.guardians) == needed
              and all(g in e.shares for g in published.guardians),
              f"the result must name {needed} guardians whose shares are on the ledger")
        by_label: dict[str, list] = {}
        for g in published.guardians:
            for label, share in e.shares[g].shares:
                by_label.setdefault(label, []).append(share)
        try:
            totals = decrypt_totals(e.definition.election_id, e.roll, e.aggregates, by_label,
                                    e.dkg.verification_keys, t)
        except InconsistentTotals as exc:
            raise ElectionViolation(f"the tally's bounds do not fit the roll: {exc}") from exc
        expected = result_of(e.definition, e.roll, e.aggregates, totals, published.guardians)
        _need(encode_result(expected) == body,
              "the published result is not what the shares decrypt to under the rule")
        e.result = published
