"""A whole election written as ledger entries by the crypto library alone (no server), for the
ledger verifier's tests: honest by default, and every piece reachable for tampering."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crypto.ballot import Contest, ElectionContext
from crypto.codec import encode_cast_ballot, encode_dealing, encode_guardian_key
from crypto.credential import IssuerKey, generate_issuer_key
from crypto.encoding import Event, encode_event
from crypto.outcome import result_of
from crypto.records import (
    CredentialsIssuedRecord,
    DecryptionSharesRecord,
    DefinitionRecord,
    IssuerKeysRecord,
    RollCommitment,
    RulePreset,
    Transition,
    encode_aggregates,
    encode_credentials_issued,
    encode_decryption_shares,
    encode_definition,
    encode_issuer_keys,
    encode_result,
    encode_roll_commitment,
    encode_transition,
    is_weak_threshold,
    preset_rule,
    roll_commitment,
)
from crypto.tally import aggregate, decrypt_aggregates, highest_per_token
from crypto.threshold import is_trivial, partial_decrypt
from rules.roll import Roll
from rules.roll_csv import parse_roll_csv
from tests.support.ballots import new_voter, signed_ballot
from tests.support.dkg import DkgRun, run_dkg

SAMPLE_ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_text()
OPEN_AT, CLOSE_AT = 1_900_000_000, 1_900_086_400
_ISSUER_KEYS: dict[int, object] = {}  # RSA keys are slow to make: shared by every build


@dataclass
class ElectionLedger:
    election_id: str
    roll: Roll
    commitment: RollCommitment
    definition: DefinitionRecord
    dkg: DkgRun
    context: ElectionContext
    issuers: dict[int, IssuerKey]
    issuer_private: dict
    entries: list[bytes] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    state: int = 1
    ballots: list = field(default_factory=list)  # CastBallot, in ledger order
    voters: list = field(default_factory=list)  # (token, credential) of each ballot
    counters: dict = field(default_factory=dict)  # token key -> the last revote counter signed

    def add(self, kind: str, body: bytes, subject: str | None = None) -> int:
        self.entries.append(encode_event(Event(kind, subject or self.election_id, body)))
        self.kinds.append(kind)
        return len(self.entries) - 1

    def step(self, at: int) -> int:
        self.state += 1
        return self.add("state", encode_transition(Transition(self.state - 1, self.state, at)))

    def index_of(self, kind: str, nth: int = 0) -> int:
        return [i for i, k in enumerate(self.kinds) if k == kind][nth]

    def cast(self, owner_weight: int, choices, token=None, credential=None,
             counter: int | None = None):
        """A new voter of the weight class, or a revote with the given token and credential
        (revote counter: one above the token's last here, unless given):
        (cast ballot, token, credential)."""
        if token is None:
            v = new_voter(self.context, self.issuers[owner_weight],
                          self.issuer_private[owner_weight], choices)
            self.counters[v.credential.token_public_key] = 1
            return v.cast, v.token, v.credential
        key = credential.token_public_key
        if counter is None:
            counter = self.counters.get(key, 0) + 1
        self.counters[key] = max(counter, self.counters.get(key, 0))
        return (signed_ballot(self.context, token, credential, choices, counter=counter), token,
                credential)


def open_election(election_id: str = "audit-election", n: int = 3, t: int = 2,
                  contest: Contest | None = None, max_ballots_per_token: int = 5,
                  ready_at: int = OPEN_AT - 500) -> ElectionLedger:
    """Roll, definition, the whole ceremony, issuer keys, READY and OPEN on the ledger."""
    roll = parse_roll_csv(SAMPLE_ROLL)
    commitment = roll_commitment(roll)
    contest = contest or Contest.referendum()
    definition = DefinitionRecord(election_id, "sample/roll", commitment.roll_hash,
                                  "Repair the gate", contest, preset_rule(RulePreset.MAJOR),
                                  OPEN_AT, CLOSE_AT, n, t, OPEN_AT - 600,
                                  max_ballots_per_token=max_ballots_per_token,
                                  allow_weak_threshold=is_weak_threshold(n, t))
    dkg = run_dkg(election_id, n, t)
    for w in commitment.classes:
        if w[0] not in _ISSUER_KEYS:
            _ISSUER_KEYS[w[0]] = generate_issuer_key()
    private = {w: _ISSUER_KEYS[w] for w, _ in commitment.classes}
    issuers = {w: IssuerKey(election_id, w, sk.public_key()) for w, sk in private.items()}
    led = ElectionLedger(election_id, roll, commitment, definition, dkg,
                         ElectionContext(election_id, contest, dkg.result.joint_public_key),
                         issuers, private)
    led.add("roll", encode_roll_commitment(commitment), subject="sample/roll")
    led.add("election", encode_definition(definition))
    led.step(OPEN_AT - 1000)  # KEY_CEREMONY
    for k in dkg.publics:
        led.add("guardian-key", encode_guardian_key(k))
    for d in dkg.dealings:
        led.add("dealing", encode_dealing(d))
    led.add("issuer-keys", encode_issuer_keys(IssuerKeysRecord(
        tuple((w, issuers[w].spki) for w in sorted(issuers)))))
    led.step(ready_at)  # READY
    led.step(OPEN_AT)  # OPEN
    return led


def vote(led: ElectionLedger, votes) -> None:
    """``votes``: (owner index on the roll, choices) pairs; each becomes a ballot entry."""
    for owner_index, choices in votes:
        weight = led.roll.owners[owner_index].area
        cast, token, credential = led.cast(weight, choices)
        led.ballots.append(cast)
        led.voters.append((token, credential))
        led.add("ballot", encode_cast_ballot(cast))


def close_and_tally(led: ElectionLedger, present=None) -> None:
    """CLOSED, the counts, the aggregates, TALLYING, shares of ``present``, result, PUBLISHED."""
    led.step(CLOSE_AT)
    counted = highest_per_token(led.ballots)
    issued = Counter(w for w, _ in counted)  # one credential per token
    led.add("credentials-issued", encode_credentials_issued(
        CredentialsIssuedRecord(tuple(sorted(issued.items())))))
    aggs = aggregate(counted, len(led.definition.contest.options))
    led.add("aggregates", encode_aggregates(aggs))
    led.step(CLOSE_AT + 10)  # TALLYING
    eid, t = led.election_id, led.definition.threshold
    present = list(present or range(1, t + 1))
    labelled = {k: v for k, v in aggs.labelled().items() if not is_trivial(v)}
    by_label: dict[str, list] = {}
    if labelled:
        for g in present:
            shares = tuple((label, partial_decrypt(eid, label, led.dkg.shares[g], ct))
                           for label, ct in labelled.items())
            for label, s in shares:
                by_label.setdefault(label, []).append(s)
            led.add("decryption-shares",
                    encode_decryption_shares(DecryptionSharesRecord(g, shares)))
    used = tuple(sorted(present[:t])) if labelled else ()
    chosen = {label: [s for s in ss if s.guardian in used] for label, ss in by_label.items()}
    totals = decrypt_aggregates(eid, aggs, chosen, led.dkg.result.verification_keys, t,
                                led.commitment.total_area)
    led.add("result", encode_result(result_of(led.definition, led.commitment, aggs, totals,
                                              used)))
    led.step(CLOSE_AT + 20)  # PUBLISHED
