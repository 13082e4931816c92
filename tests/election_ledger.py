"""A whole election written as ledger entries by the crypto library alone (no server), for the
ledger verifier's tests: honest by default, and every piece reachable for tampering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crypto.attestation import DemoIdentityProvider
from crypto.ballot import Contest, ElectionContext
from crypto.codec import encode_cast_ballot, encode_dealing, encode_guardian_key
from crypto.credential import IssuerSet, generate_token
from crypto.encoding import Event, encode_event
from crypto.outcome import result_of
from crypto.records import (
    DecryptionSharesRecord,
    DefinitionRecord,
    RollCommitment,
    RulePreset,
    Transition,
    encode_aggregates,
    encode_decryption_shares,
    encode_definition,
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
from tests.support.ballots import signed_ballot
from tests.support.dkg import DkgRun, run_dkg
from tests.support.registrars import IDENTITY_PROVIDER, Registrars

SAMPLE_ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_text()
OPEN_AT, CLOSE_AT = 1_900_000_000, 1_900_086_400
#: the demo identity provider on the ledgers' clock (its attestations expire after READY)
IDP = DemoIdentityProvider(IDENTITY_PROVIDER.key, lifetime=86_400, clock=lambda: OPEN_AT)


@dataclass
class ElectionLedger:
    election_id: str
    roll: Roll
    commitment: RollCommitment
    definition: DefinitionRecord
    dkg: DkgRun
    context: ElectionContext
    registrars: Registrars
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

    @property
    def issuers(self) -> IssuerSet:
        return self.registrars.issuer_set()

    def cast(self, owner_weight: int, choices, token=None, credential=None,
             counter: int | None = None, owner_id: str | None = None, registrars=None):
        """A new voter of the weight class (``owner_id``: whose credential, default the first
        owner of the class; ``registrars``: which sign it, default the first k), or a revote
        with the given token and credential (revote counter: one above the token's last here,
        unless given): (cast ballot, token, credential)."""
        if token is None:
            if owner_id is None:
                owner_id = next(o.owner_id for o in self.roll.owners if o.area == owner_weight)
            token = generate_token()
            credential = self.registrars.credential(owner_id, owner_weight, token, registrars)
            self.counters[credential.token_public_key] = 1
            return (signed_ballot(self.context, token, credential, choices), token,
                    credential)
        key = credential.token_public_key
        if counter is None:
            counter = self.counters.get(key, 0) + 1
        self.counters[key] = max(counter, self.counters.get(key, 0))
        return (signed_ballot(self.context, token, credential, choices, counter=counter), token,
                credential)


def open_election(election_id: str = "audit-election", n: int = 3, t: int = 2,
                  contest: Contest | None = None, max_ballots_per_token: int = 5,
                  ready_at: int = OPEN_AT - 500, registrars: int = 3,
                  registrar_threshold: int = 2) -> ElectionLedger:
    """Roll, definition (``registrars`` registrars, ``registrar_threshold`` k), the whole
    ceremony, every registrar's signed issuer keys, READY and OPEN on the ledger."""
    roll = parse_roll_csv(SAMPLE_ROLL)
    commitment = roll_commitment(roll)
    contest = contest or Contest.referendum()
    regs = Registrars(election_id, [w for w, _ in commitment.classes], registrar_threshold,
                      [f"registrar-{i}" for i in range(registrars)], IDP)
    definition = DefinitionRecord(election_id, "sample/roll", commitment.roll_hash,
                                  "Repair the gate", contest, preset_rule(RulePreset.MAJOR),
                                  OPEN_AT, CLOSE_AT, n, t, OPEN_AT - 600, regs.refs,
                                  registrar_threshold, regs.identity_provider,
                                  max_ballots_per_token=max_ballots_per_token,
                                  allow_weak_threshold=(is_weak_threshold(n, t)
                                                        or registrar_threshold < 2))
    dkg = run_dkg(election_id, n, t)
    led = ElectionLedger(election_id, roll, commitment, definition, dkg,
                         ElectionContext(election_id, contest, dkg.result.joint_public_key),
                         regs)
    led.add("roll", encode_roll_commitment(commitment), subject="sample/roll")
    led.add("election", encode_definition(definition))
    led.step(OPEN_AT - 1000)  # KEY_CEREMONY
    for k in dkg.publics:
        led.add("guardian-key", encode_guardian_key(k))
    for d in dkg.dealings:
        led.add("dealing", encode_dealing(d))
    for r in range(registrars):
        led.add("issuer-keys", regs.issuer_keys_body(r))
    led.step(ready_at)  # READY
    led.step(OPEN_AT)  # OPEN
    return led


def vote(led: ElectionLedger, votes) -> None:
    """``votes``: (owner index on the roll, choices) pairs; each becomes a ballot entry."""
    for owner_index, choices in votes:
        owner = led.roll.owners[owner_index]
        cast, token, credential = led.cast(owner.area, choices, owner_id=owner.owner_id)
        led.ballots.append(cast)
        led.voters.append((token, credential))
        led.add("ballot", encode_cast_ballot(cast))


def publish_issuances(led: ElectionLedger, *, final: bool = False) -> None:
    """Each registrar's batch of the issuance records since its last (its final one if
    ``final``)."""
    for r in range(len(led.registrars.names)):
        if final or led.registrars.issued.get(r):
            led.add("issuances", led.registrars.issuances_body(r, final=final))


def close_and_tally(led: ElectionLedger, present=None) -> None:
    """CLOSED, every registrar's final issuances, the aggregates, TALLYING, shares of
    ``present``, result, PUBLISHED."""
    led.step(CLOSE_AT)
    publish_issuances(led, final=True)
    counted = highest_per_token(led.ballots)
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
