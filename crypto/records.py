"""Canonical encodings of the election records that go on the ledger besides the cryptographic
objects of crypto.codec: the roll commitment, the election definition, lifecycle transitions
(docs/protocol.md §12, "Election events"). Pure data: the rules themselves live in rules/.

    roll       = roll_hash (32) || u64(total_area) || u32(total_owners)
                 || u32(k) || (u64(weight) || u32(owners))^k          weights strictly increasing
    definition = u8(1) || LP(election_id) || LP(roll_id) || roll_hash (32) || LP(motion)
                 || LP(contest_bytes) || rule || u64(open_time) || u64(close_time) || u8(n) || u8(t)
    rule       = u8(preset: 1 ordinary, 2 major, 3 explicit)
                 || (u64(numerator) || u64(denominator)) × 4   (quorum area, quorum headcount,
                 || u8(strict)                                   approval area, approval headcount)
    state      = u8(from) || u8(to) || u64(at)                      ElectionState numbers, POSIX s
"""

from __future__ import annotations

from dataclasses import dataclass

from .ballot import Contest, ContestKind
from .codec import Reader, _decode_all, _lp
from .errors import DecodeError

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
    return _decode_all(data, read)


@dataclass(frozen=True)
class RuleRecord:
    preset: int  # 1 ordinary, 2 major, 3 explicit
    # (numerator, denominator) of quorum area, quorum headcount, approval area, approval headcount
    fractions: tuple[tuple[int, int], ...]
    strict: bool

    def __post_init__(self) -> None:
        if self.preset not in (1, 2, 3) or len(self.fractions) != 4:
            raise DecodeError("a rule is a preset and four fractions")
        if any(d == 0 or not 0 <= n <= d for n, d in self.fractions):
            raise DecodeError("rule fractions must be in [0, 1] with a positive denominator")


@dataclass(frozen=True)
class DefinitionRecord:
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

    def __post_init__(self) -> None:
        if not self.election_id or not self.roll_id or len(self.roll_hash) != 32:
            raise DecodeError("election id, roll id and roll hash are required")
        if not 0 < self.open_time < self.close_time < 1 << 63:
            raise DecodeError("the election must open before it closes")
        if not 1 <= self.threshold <= self.guardians <= 255:
            raise DecodeError("need 1 <= threshold <= guardians <= 255")


def encode_definition(d: DefinitionRecord) -> bytes:
    rule = [d.rule.preset.to_bytes(1, "big")]
    rule += [n.to_bytes(8, "big") + den.to_bytes(8, "big") for n, den in d.rule.fractions]
    rule.append(b"\x01" if d.rule.strict else b"\x00")
    return b"".join([b"\x01", _lp(d.election_id.encode()), _lp(d.roll_id.encode()), d.roll_hash,
                     _lp(d.motion.encode()), _lp(d.contest.canonical_bytes()), *rule,
                     d.open_time.to_bytes(8, "big"), d.close_time.to_bytes(8, "big"),
                     d.guardians.to_bytes(1, "big"), d.threshold.to_bytes(1, "big")])


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
    return _decode_all(data, read)


def decode_definition(data: bytes) -> DefinitionRecord:
    def read(rd: Reader) -> DefinitionRecord:
        if rd.uint(1) != 1:
            raise DecodeError("unknown definition version")
        eid, rid, rh, motion = rd.text(128), rd.text(255), rd.take(32), rd.text(MAX_TEXT)
        contest = _read_contest(rd.lp(1 << 16))
        preset = rd.uint(1)
        fractions = tuple((rd.uint(8), rd.uint(8)) for _ in range(4))
        strict = rd.uint(1)
        if strict not in (0, 1):
            raise DecodeError("strict is 0 or 1")
        rule = RuleRecord(preset, fractions, bool(strict))
        return DefinitionRecord(eid, rid, rh, motion, contest, rule, rd.uint(8), rd.uint(8),
                                rd.uint(1), rd.uint(1))
    return _decode_all(data, read)


@dataclass(frozen=True)
class Transition:
    from_state: int
    to_state: int
    at: int

    def __post_init__(self) -> None:
        if not 1 <= self.from_state <= 7 or self.to_state != self.from_state + 1:
            raise DecodeError("a transition moves one state forward")


def encode_transition(t: Transition) -> bytes:
    return bytes([t.from_state, t.to_state]) + t.at.to_bytes(8, "big")


def decode_transition(data: bytes) -> Transition:
    return _decode_all(data, lambda rd: Transition(rd.uint(1), rd.uint(1), rd.uint(8)))


@dataclass(frozen=True)
class IssuerKeysRecord:
    """The issuer key of every weight class of an election: ``u32(k) || (u64(weight) ||
    LP(SubjectPublicKeyInfo DER))^k``, weights strictly increasing."""

    keys: tuple[tuple[int, bytes], ...]

    def __post_init__(self) -> None:
        weights = [w for w, _ in self.keys]
        if not weights or weights != sorted(set(weights)) or weights[0] <= 0:
            raise DecodeError("issuer keys: weights positive and strictly increasing")


def encode_issuer_keys(r: IssuerKeysRecord) -> bytes:
    return len(r.keys).to_bytes(4, "big") + b"".join(
        w.to_bytes(8, "big") + _lp(spki) for w, spki in r.keys)


def decode_issuer_keys(data: bytes) -> IssuerKeysRecord:
    def read(rd: Reader) -> IssuerKeysRecord:
        k = rd.uint(4)
        if k > 1 << 20:
            raise DecodeError("too many issuer keys")
        return IssuerKeysRecord(tuple((rd.uint(8), rd.lp(4096)) for _ in range(k)))
    return _decode_all(data, read)
