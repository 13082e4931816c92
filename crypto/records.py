"""The election's record family: the events it puts on the ledger and their canonical bodies
besides the cryptographic objects of crypto.codec (docs/protocol.md §12, "Election events"),
and the numbers the records carry (states, rule presets, outcomes) as named enums. Pure data:
the rules themselves live in rules/ (the Art. 278 presets come from rules.art278).

    roll       = roll_hash (32) || u64(total_area) || u32(total_owners)
                 || u32(k) || (u64(weight) || u32(owners))^k          weights strictly increasing
    definition = u8(3) || LP(election_id) || LP(roll_id) || roll_hash (32) || LP(motion)
                 || LP(contest_bytes) || rule || u64(ceremony_deadline) || u64(open_time)
                 || u64(close_time) || u8(n) || u8(t) || u8(allow_weak_threshold)
                 || u8(max_ballots_per_token) || u8(r) || (LP(registrar name) || key(32))^r
                 || u8(k) || identity_provider_key(32)          registrars sorted by name
    rule       = u8(preset: 1 ordinary, 2 major, 3 explicit)
                 || (u64(numerator) || u64(denominator)) × 4   (quorum area, quorum headcount,
                 || u8(strict)                                   approval area, approval headcount)
    state      = u8(from) || u8(to) || u64(at)                      ElectionState numbers, POSIX s
    issuer-keys, issuances: crypto/issuance.py (each signed by its registrar)
    aggregates = u8(n) || total^n (counts) || total^n (areas)     total = alpha || beta, 33 bytes
                                                            each; the identity as 33 zero bytes
                 || u64(participating_owners) || u64(participating_area)
    decryption-shares  = u8(guardian) || u16(k) || (LP(label) || decryption_share)^k
    result     = u8(n) || (u64(count) || u64(area))^n || u64(participating_owners)
                 || u64(participating_area) || u8(quorum_met) || u8(outcome)^n
                 || u8(k) || u8(guardian)^k                     outcome: 1 no quorum, 2 passed,
                                                                 3 rejected; guardians increasing
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction

from rules import art278
from rules.errors import RuleError
from rules.roll import Roll, roll_hash

from .ballot import Contest, ContestKind
from .codec import decode_decryption_share, encode_decryption_share
from .elgamal import Ciphertext
from .encoding import Reader, decode_all, lp, register_event_kinds
from .errors import DecodeError, WeakThreshold
from .group import IDENTITY, POINT_LEN, decode_point, encode_point, is_identity
from .tally import Aggregates
from .threshold import DecryptionShare

# --- the family's event kinds ------------------------------------------------------------------

ELECTION_FAMILY = "election"


class ElectionEvent(enum.StrEnum):
    """The kinds of the election family's ledger events (crypto.encoding.Event.kind)."""

    ROLL = "roll"  # roll commitment (subject: the roll id)
    ELECTION = "election"  # the definition
    STATE = "state"  # a lifecycle transition
    GUARDIAN_KEY = "guardian-key"  # the key ceremony (crypto.codec)
    DEALING = "dealing"
    COMPLAINT = "complaint"
    ISSUER_KEYS = "issuer-keys"  # one registrar's issuer key of every weight class
    ISSUANCES = "issuances"  # a batch of one registrar's issuance records
    BALLOT = "ballot"  # a cast ballot (crypto.codec.encode_cast_ballot)
    AGGREGATES = "aggregates"  # the encrypted totals at close
    DECRYPTION_SHARES = "decryption-shares"  # one guardian's shares of every aggregate
    RESULT = "result"  # the decrypted totals and the outcome


ELECTION_EVENT_KINDS = register_event_kinds(ELECTION_FAMILY, (k.value for k in ElectionEvent))


# --- the numbers the records carry (equal to the ownervote.v1 enums; mapped in wire.py) --------

class ElectionState(enum.IntEnum):
    """The lifecycle of an election (server/election/lifecycle.py); a ``state`` event moves it
    one step forward."""

    DRAFT = 1
    KEY_CEREMONY = 2
    READY = 3
    OPEN = 4
    CLOSED = 5
    TALLYING = 6
    PUBLISHED = 7


class RulePreset(enum.IntEnum):
    """How a definition names its rule: an Art. 278 preset (rules.art278) or explicit
    fractions."""

    ORDINARY = 1
    MAJOR = 2
    EXPLICIT = 3


class ResultOutcome(enum.IntEnum):
    """An option's outcome in the result record (rules.art278.Outcome as a number)."""

    NO_QUORUM = 1
    PASSED = 2
    REJECTED = 3


OUTCOME_OF = {art278.Outcome.NO_QUORUM: ResultOutcome.NO_QUORUM,
              art278.Outcome.PASSED: ResultOutcome.PASSED,
              art278.Outcome.REJECTED: ResultOutcome.REJECTED}

MAX_TEXT = 4096


@dataclass(frozen=True)
class RollCommitment:
    roll_hash: bytes
    total_area: int
    total_owners: int
    classes: tuple[tuple[int, int], ...]  # (weight, owners), weights strictly increasing

    def __post_init__(self) -> None:
        if len(self.roll_hash) != 32:
            raise DecodeError("a roll hash is 32 bytes")
        weights = [w for w, _ in self.classes]
        if weights != sorted(set(weights)) or any(w <= 0 or n <= 0 for w, n in self.classes):
            raise DecodeError("weight classes must be positive and strictly increasing")
        if sum(n for _, n in self.classes) != self.total_owners:
            raise DecodeError("the classes' owners do not add up to the total")
        if sum(w * n for w, n in self.classes) != self.total_area:
            raise DecodeError("the classes' areas do not add up to the total")


def roll_commitment(roll: Roll) -> RollCommitment:
    """What the ledger commits to of a roll: its hash (rules.roll.roll_hash), totals, classes."""
    return RollCommitment(roll_hash(roll), roll.total_area, roll.total_owners,
                          tuple((c.area, c.owners) for c in roll.weight_classes()))


def encode_roll_commitment(r: RollCommitment) -> bytes:
    out = [r.roll_hash, r.total_area.to_bytes(8, "big"), r.total_owners.to_bytes(4, "big"),
           len(r.classes).to_bytes(4, "big")]
    out += [w.to_bytes(8, "big") + n.to_bytes(4, "big") for w, n in r.classes]
    return b"".join(out)


def decode_roll_commitment(data: bytes) -> RollCommitment:
    def read(rd: Reader) -> RollCommitment:
        h, area, owners, k = rd.take(32), rd.uint(8), rd.uint(4), rd.uint(4)
        if k > 1 << 20:
            raise DecodeError("too many weight classes")
        return RollCommitment(h, area, owners, tuple((rd.uint(8), rd.uint(4)) for _ in range(k)))
    return decode_all(data, read)


def _pair(f: Fraction) -> tuple[int, int]:
    return f.numerator, f.denominator


@dataclass(frozen=True)
class RuleRecord:
    """The rule as the definition records it: a preset and its four fractions
    ``(numerator, denominator)`` of quorum area, quorum headcount, approval area, approval
    headcount, and ``strict``. A preset's fractions are exactly those of rules.art278."""

    preset: RulePreset
    fractions: tuple[tuple[int, int], ...]
    strict: bool

    def __post_init__(self) -> None:
        if self.preset not in set(RulePreset) or len(self.fractions) != 4:
            raise DecodeError("a rule is a preset and four fractions")
        object.__setattr__(self, "preset", RulePreset(self.preset))
        if any(d == 0 or not 0 <= n <= d for n, d in self.fractions):
            raise DecodeError("rule fractions must be in [0, 1] with a positive denominator")
        try:
            self.rule()
        except RuleError as exc:  # e.g. "at least 0" is always reached: it cannot decide
            raise DecodeError(f"the rule cannot decide: {exc}") from exc
        if self.preset is not RulePreset.EXPLICIT:
            preset = PRESET_RULES[self.preset]
            if (self.fractions, self.strict) != (_fractions(preset), preset.strict):
                raise DecodeError(f"the {self.preset.name.lower()} preset is not these "
                                  "fractions (rules.art278)")

    def rule(self) -> art278.Rule:
        """The fractions as rules.art278 evaluates them (RuleError if they cannot decide)."""
        qa, qh, aa, ah = (Fraction(n, d) for n, d in self.fractions)
        return art278.Rule(qa, qh, aa, ah, self.strict)


#: The Art. 278 presets (rules.art278 is the one source of their fractions).
PRESET_RULES = {RulePreset.ORDINARY: art278.ORDINARY, RulePreset.MAJOR: art278.MAJOR}


def _fractions(rule: art278.Rule) -> tuple[tuple[int, int], ...]:
    return tuple(_pair(f) for f in (rule.quorum_area, rule.quorum_headcount,
                                    rule.approval_area, rule.approval_headcount))


def rule_record(rule: art278.Rule, preset: RulePreset = RulePreset.EXPLICIT) -> RuleRecord:
    """The record of ``rule`` (fractions in lowest terms)."""
    return RuleRecord(preset, _fractions(rule), rule.strict)


def preset_rule(preset: RulePreset) -> RuleRecord:
    """The record of an Art. 278 preset (ORDINARY or MAJOR)."""
    return rule_record(PRESET_RULES[RulePreset(preset)], RulePreset(preset))


DEFINITION_VERSION = 3  # 3: the registrars, their threshold and the identity provider
DEFAULT_MAX_BALLOTS_PER_TOKEN = 5
MAX_REGISTRARS = 16
_REGISTRAR_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")


@dataclass(frozen=True)
class Registrar:
    """A registrar an election names: its name (``[a-z0-9][a-z0-9.-]{0,63}``) and the Ed25519
    key (raw, 32 bytes) with which it signs its issuer keys and its issuance records; the trust
    bundle pins the same pair."""

    name: str
    key: bytes

    def __post_init__(self) -> None:
        if not _REGISTRAR_NAME.fullmatch(self.name):
            raise DecodeError("a registrar name is [a-z0-9][a-z0-9.-]{0,63}")
        if len(self.key) != 32:
            raise DecodeError("a registrar key is 32 bytes")


def is_weak_registrar_threshold(threshold: int) -> bool:
    """A credential threshold of one registrar: that registrar alone could mint ballots."""
    return threshold < 2


def is_weak_threshold(guardians: int, threshold: int) -> bool:
    """A threshold below the definition's default floor: t < 2 or t ≤ n/2 (a single guardian,
    or a minority of the guardians, could decrypt)."""
    return threshold < 2 or 2 * threshold <= guardians


@dataclass(frozen=True)
class DefinitionRecord:
    """An election's definition (version 2). ``ceremony_deadline``: the key ceremony's complaint
    window ends at this clock (POSIX s, at or before ``open_time``); an election whose ceremony
    is not complete by ``open_time`` never opens. ``max_ballots_per_token``: how many ballots a
    token may cast (its first and its revotes), 1..255. ``allow_weak_threshold``: without it
    the threshold must be at least 2 and more than half the guardians, and the credential
    threshold at least 2 (WeakThreshold). ``registrars``: sorted by name, distinct names and
    keys, 1..16; ``registrar_threshold`` k: a ballot's credential needs the signatures of k
    distinct ones (1 <= k <= len(registrars)). ``identity_provider``: the Ed25519 key whose
    attestations the registrars accept and every verifier checks in the issuance records."""

    election_id: str
    roll_id: str
    roll_hash: bytes
    motion: str
    contest: Contest
    rule: RuleRecord
    open_time: int
    close_time: int
    guardians: int
    threshold: int
    ceremony_deadline: int
    registrars: tuple[Registrar, ...]
    registrar_threshold: int
    identity_provider: bytes
    max_ballots_per_token: int = DEFAULT_MAX_BALLOTS_PER_TOKEN
    allow_weak_threshold: bool = False

    def __post_init__(self) -> None:
        names = [r.name for r in self.registrars]
        if not 1 <= len(names) <= MAX_REGISTRARS or names != sorted(set(names)):
            raise DecodeError(f"1..{MAX_REGISTRARS} registrars, sorted by name, distinct")
        if len({r.key for r in self.registrars}) != len(names):
            raise DecodeError("two registrars share a key")
        if not 1 <= self.registrar_threshold <= len(names):
            raise DecodeError("need 1 <= registrar threshold <= registrars")
        if len(self.identity_provider) != 32:
            raise DecodeError("the identity provider key is 32 bytes")
        if not self.election_id or not self.roll_id or len(self.roll_hash) != 32:
            raise DecodeError("election id, roll id and roll hash are required")
        if not 0 < self.open_time < self.close_time < 1 << 63:
            raise DecodeError("the election must open before it closes")
        if not 0 < self.ceremony_deadline <= self.open_time:
            raise DecodeError("the ceremony deadline must be positive and at or before the "
                              "opening time")
        if not 1 <= self.max_ballots_per_token <= 255:
            raise DecodeError("max_ballots_per_token is 1..255")
        if not isinstance(self.allow_weak_threshold, bool):
            raise DecodeError("allow_weak_threshold is a boolean")
        if not 1 <= self.threshold <= self.guardians <= 255:
            raise DecodeError("need 1 <= threshold <= guardians <= 255")
        if not self.allow_weak_threshold and is_weak_threshold(self.guardians, self.threshold):
            raise WeakThreshold(self.guardians, self.threshold)
        if not self.allow_weak_threshold and is_weak_registrar_threshold(
                self.registrar_threshold):
            raise WeakThreshold(self.guardians, self.threshold,
                                f"a credential threshold of {self.registrar_threshold} "
                                "registrar lets one registrar mint ballots")

    @property
    def weak_threshold(self) -> bool:
        """Whether a threshold is below the default floor (allowed explicitly)."""
        return (is_weak_threshold(self.guardians, self.threshold)
                or is_weak_registrar_threshold(self.registrar_threshold))

    def registrar_index(self, name: str) -> int:
        """The 0-based index of the named registrar (KeyError if the election names none)."""
        for i, r in enumerate(self.registrars):
            if r.name == name:
                return i
        raise KeyError(name)


def encode_definition(d: DefinitionRecord) -> bytes:
    rule = [d.rule.preset.to_bytes(1, "big")]
    rule += [n.to_bytes(8, "big") + den.to_bytes(8, "big") for n, den in d.rule.fractions]
    rule.append(b"\x01" if d.rule.strict else b"\x00")
    return b"".join([DEFINITION_VERSION.to_bytes(1, "big"), lp(d.election_id.encode()),
                     lp(d.roll_id.encode()), d.roll_hash,
                     lp(d.motion.encode()), lp(d.contest.canonical_bytes()), *rule,
                     d.ceremony_deadline.to_bytes(8, "big"),
                     d.open_time.to_bytes(8, "big"), d.close_time.to_bytes(8, "big"),
                     d.guardians.to_bytes(1, "big"), d.threshold.to_bytes(1, "big"),
                     b"\x01" if d.allow_weak_threshold else b"\x00",
                     d.max_ballots_per_token.to_bytes(1, "big"),
                     len(d.registrars).to_bytes(1, "big"),
                     *(lp(r.name.encode()) + r.key for r in d.registrars),
                     d.registrar_threshold.to_bytes(1, "big"), d.identity_provider])


def _read_contest(data: bytes) -> Contest:
    def read(rd: Reader) -> Contest:
        kind = rd.text(32)
        n = rd.uint(4)
        if n > 64:
            raise DecodeError("too many options")
        options = tuple(rd.text(MAX_TEXT) for _ in range(n))
        lo, hi = rd.uint(4), rd.uint(4)
        try:
            return Contest(ContestKind(kind), options, lo, hi)
        except ValueError as exc:
            raise DecodeError(f"invalid contest: {exc}") from exc
    return decode_all(data, read)


def decode_definition(data: bytes) -> DefinitionRecord:
    def read(rd: Reader) -> DefinitionRecord:
        if rd.uint(1) != DEFINITION_VERSION:
            raise DecodeError("unknown definition version")
        eid, rid, rh, motion = rd.text(128), rd.text(255), rd.take(32), rd.text(MAX_TEXT)
        contest = _read_contest(rd.lp(1 << 16))
        preset = rd.uint(1)
        if preset not in set(RulePreset):
            raise DecodeError("unknown rule preset")
        fractions = tuple((rd.uint(8), rd.uint(8)) for _ in range(4))
        strict = rd.uint(1)
        if strict not in (0, 1):
            raise DecodeError("strict is 0 or 1")
        rule = RuleRecord(preset, fractions, bool(strict))
        deadline, open_time, close_time = rd.uint(8), rd.uint(8), rd.uint(8)
        n, t, weak, cap = rd.uint(1), rd.uint(1), rd.uint(1), rd.uint(1)
        if weak not in (0, 1):
            raise DecodeError("allow_weak_threshold is 0 or 1")
        r = rd.uint(1)
        if r > MAX_REGISTRARS:
            raise DecodeError("too many registrars")
        registrars = tuple(Registrar(rd.text(64), rd.take(32)) for _ in range(r))
        k, idp = rd.uint(1), rd.take(32)
        return DefinitionRecord(eid, rid, rh, motion, contest, rule, open_time, close_time, n, t,
                                deadline, registrars, k, idp, cap, bool(weak))
    return decode_all(data, read)


@dataclass(frozen=True)
class Transition:
    from_state: ElectionState
    to_state: ElectionState
    at: int

    def __post_init__(self) -> None:
        if not 1 <= self.from_state <= 6 or self.to_state != self.from_state + 1:
            raise DecodeError("a transition moves one state forward")
        object.__setattr__(self, "from_state", ElectionState(self.from_state))
        object.__setattr__(self, "to_state", ElectionState(self.to_state))


def encode_transition(t: Transition) -> bytes:
    return bytes([t.from_state, t.to_state]) + t.at.to_bytes(8, "big")


def decode_transition(data: bytes) -> Transition:
    return decode_all(data, lambda rd: Transition(rd.uint(1), rd.uint(1), rd.uint(8)))


IDENTITY_ENCODING = bytes(POINT_LEN)  # only in aggregates: the sum of no ballots is (O, O)


def encode_total(ct: Ciphertext) -> bytes:
    """An aggregate ciphertext: 66 bytes, the identity point as 33 zero bytes."""
    return b"".join(IDENTITY_ENCODING if is_identity(p) else encode_point(p)
                    for p in (ct.alpha, ct.beta))


def read_total(rd: Reader) -> Ciphertext:
    def point():
        raw = rd.take(POINT_LEN)
        return IDENTITY if raw == IDENTITY_ENCODING else decode_point(raw)
    return Ciphertext(point(), point())


def decode_total(data: bytes) -> Ciphertext:
    return decode_all(data, read_total)


def encode_aggregates(a: Aggregates) -> bytes:
    n = len(a.counts)
    if not 1 <= n <= 255 or len(a.areas) != n:
        raise DecodeError("aggregates: 1..255 options, one count and one area each")
    return b"".join([bytes([n]), *map(encode_total, a.counts), *map(encode_total, a.areas),
                     a.participating_owners.to_bytes(8, "big"),
                     a.participating_area.to_bytes(8, "big")])


def decode_aggregates(data: bytes) -> Aggregates:
    def read(rd: Reader) -> Aggregates:
        n = rd.uint(1)
        if n == 0:
            raise DecodeError("aggregates of no option")
        counts = tuple(read_total(rd) for _ in range(n))
        areas = tuple(read_total(rd) for _ in range(n))
        owners, area = rd.uint(8), rd.uint(8)
        if area < owners:
            raise DecodeError("participating area below participating owners")
        return Aggregates(counts, areas, owners, area)
    return decode_all(data, read)


SHARE_LEN = 1 + 33 + 2 * 33 + 32  # guardian, D, DLEQ proof (two commitments and a response)


@dataclass(frozen=True)
class DecryptionSharesRecord:
    """One guardian's partial decryption of every aggregate, by label."""

    guardian: int
    shares: tuple[tuple[str, DecryptionShare], ...]  # (label, share), labels distinct

    def __post_init__(self) -> None:
        if not 1 <= self.guardian <= 255 or not self.shares or len(self.shares) > 1024:
            raise DecodeError("decryption shares: guardian 1..255, 1..1024 shares")
        labels = [label for label, _ in self.shares]
        if len(set(labels)) != len(labels):
            raise DecodeError("decryption shares: a label appears twice")
        if any(s.guardian != self.guardian for _, s in self.shares):
            raise DecodeError("decryption shares: a share of another guardian")

    def by_label(self) -> dict[str, DecryptionShare]:
        return dict(self.shares)


def encode_decryption_shares(r: DecryptionSharesRecord) -> bytes:
    return bytes([r.guardian]) + len(r.shares).to_bytes(2, "big") + b"".join(
        lp(label.encode()) + encode_decryption_share(s) for label, s in r.shares)


def decode_decryption_shares(data: bytes) -> DecryptionSharesRecord:
    def read(rd: Reader) -> DecryptionSharesRecord:
        guardian, k = rd.uint(1), rd.uint(2)
        shares = []
        for _ in range(k):
            label = rd.text(64)
            shares.append((label, decode_decryption_share(rd.take(SHARE_LEN))))
        return DecryptionSharesRecord(guardian, tuple(shares))
    return decode_all(data, read)


@dataclass(frozen=True)
class ResultRecord:
    """The decrypted totals and the decision under the rule."""

    counts: tuple[int, ...]  # per option: owners who chose it
    areas: tuple[int, ...]  # per option: their area, 0.01 m²
    participating_owners: int
    participating_area: int
    quorum_met: bool
    outcomes: tuple[ResultOutcome, ...]  # per option
    # whose shares were combined, increasing; empty when every aggregate is trivial (nobody
    # voted, so every total is the public (O, 0·G) and nothing needs decrypting)
    guardians: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.counts)
        if not 1 <= n <= 255 or len(self.areas) != n or len(self.outcomes) != n:
            raise DecodeError("result: 1..255 options with a count, an area and an outcome")
        if any(o not in set(ResultOutcome) for o in self.outcomes):
            raise DecodeError("result: unknown outcome")
        object.__setattr__(self, "outcomes", tuple(ResultOutcome(o) for o in self.outcomes))
        if list(self.guardians) != sorted(set(self.guardians)) or \
                any(not 1 <= g <= 255 for g in self.guardians):
            raise DecodeError("result: guardians 1..255, strictly increasing")


def encode_result(r: ResultRecord) -> bytes:
    out = [bytes([len(r.counts)])]
    out += [c.to_bytes(8, "big") + a.to_bytes(8, "big")
            for c, a in zip(r.counts, r.areas, strict=True)]
    out += [r.participating_owners.to_bytes(8, "big"), r.participating_area.to_bytes(8, "big"),
            bytes([int(r.quorum_met)]), bytes(r.outcomes), bytes([len(r.guardians)]),
            bytes(r.guardians)]
    return b"".join(out)


def decode_result(data: bytes) -> ResultRecord:
    def read(rd: Reader) -> ResultRecord:
        n = rd.uint(1)
        pairs = [(rd.uint(8), rd.uint(8)) for _ in range(n)]
        owners, area, quorum = rd.uint(8), rd.uint(8), rd.uint(1)
        if quorum > 1:
            raise DecodeError("result: quorum_met is 0 or 1")
        outcomes = tuple(rd.take(n))
        guardians = tuple(rd.take(rd.uint(1)))
        return ResultRecord(tuple(c for c, _ in pairs), tuple(a for _, a in pairs), owners, area,
                            bool(quorum), outcomes, guardians)
    return decode_all(data, read)
