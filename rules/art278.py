"""The decision rules of PRC Civil Code Art. 278 (in force 2021), in exact rational arithmetic.

Art. 278 decides every matter of the owners in two steps, each counted twice, by registered
exclusive area and by headcount of owners (see :mod:`rules.roll` for who counts and how much):

1. **Quorum.** Owners holding at least 2/3 of the TOTAL exclusive area AND at least 2/3 of ALL
   owners by headcount must take part. Abstaining counts as taking part.
2. **Approval**, as fractions of the PARTICIPATING area and PARTICIPATING owners, both of which
   must be reached (a double majority):

   * major matters (raising the maintenance fund, rebuilding, changing the use of common parts):
     AT LEAST 3/4 of the participating area AND 3/4 of the participating owners
     (:data:`MAJOR`);
   * every other matter (rules, electing the committee, hiring the property company, using the
     maintenance fund, ...): MORE THAN 1/2 of the participating area AND of the participating
     owners (:data:`ORDINARY`).

Cities may set other fractions, so a :class:`Rule` is either a preset or explicit fractions
(:func:`rule_from_fractions`). Every comparison is between :class:`fractions.Fraction` values or
integers; no float is ever created.

A :class:`Tally` holds the integer totals of one contest; :func:`evaluate` gives a
:class:`Result`. A referendum has the options ``approve`` / ``oppose`` / ``abstain`` and is
decided on ``approve`` (:func:`referendum_outcome`); in a committee election every candidate is
an option and PASSED means the candidate reached the approval thresholds.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from fractions import Fraction

from rules.errors import RuleError, TallyError, UnknownOptionError

__all__ = [
    "ABSTAIN",
    "APPROVE",
    "MAJOR",
    "OPPOSE",
    "ORDINARY",
    "REFERENDUM_OPTIONS",
    "OptionResult",
    "OptionTotals",
    "Outcome",
    "Result",
    "Rule",
    "Tally",
    "evaluate",
    "meets",
    "referendum_outcome",
    "rule_from_fractions",
    "rule_from_name",
]

#: Option names of a referendum on a motion; the motion is decided on :data:`APPROVE`.
APPROVE = "approve"
OPPOSE = "oppose"
ABSTAIN = "abstain"
REFERENDUM_OPTIONS = (APPROVE, OPPOSE, ABSTAIN)


class Outcome(enum.Enum):
    """Status of an option (or of a referendum's motion)."""

    #: The quorum was not met; nothing is decided.
    NO_QUORUM = "no_quorum"
    #: Quorum met and the option reached both approval thresholds.
    PASSED = "passed"
    #: Quorum met but the option missed at least one approval threshold.
    REJECTED = "rejected"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    """The fractions of one decision rule.

    ``quorum_area`` / ``quorum_headcount``
        Participation must be AT LEAST these fractions of the TOTAL area and of ALL owners
        (always ``>=``; ``strict`` does not apply to the quorum).
    ``approval_area`` / ``approval_headcount``
        An option passes when its approving area and headcount reach these fractions of the
        PARTICIPATING area and PARTICIPATING owners.
    ``strict``
        ``True``: approval must be strictly MORE than the fractions; ``False``: AT LEAST them.

    Every fraction must be a :class:`~fractions.Fraction` in ``[0, 1]``. Approval thresholds that
    cannot be missed (``>= 0``) or cannot be reached (``> 1``) are rejected as misconfigurations.
    Invalid values raise :class:`~rules.errors.RuleError`.
    """

    quorum_area: Fraction
    quorum_headcount: Fraction
    approval_area: Fraction
    approval_headcount: Fraction
    strict: bool

    def __post_init__(self) -> None:
        for name in ("quorum_area", "quorum_headcount", "approval_area", "approval_headcount"):
            value = getattr(self, name)
            if not isinstance(value, Fraction):
                raise RuleError(f"{name} must be a Fraction, got {type(value).__name__}")
            if not 0 <= value <= 1:
                raise RuleError(f"{name} {value} is outside [0, 1]")
        if not isinstance(self.strict, bool):
            raise RuleError("strict must be a bool")
        for name in ("approval_area", "approval_headcount"):
            value = getattr(self, name)
            if self.strict and value == 1:
                raise RuleError(f"{name}: more than 1 can never be reached")
            if not self.strict and value == 0:
                raise RuleError(f"{name}: at least 0 is always reached")


#: Art. 278 ordinary matters: quorum 2/3 of area and owners; approval by MORE than 1/2 of the
#: participating area AND of the participating owners.
ORDINARY = Rule(
    quorum_area=Fraction(2, 3),
    quorum_headcount=Fraction(2, 3),
    approval_area=Fraction(1, 2),
    approval_headcount=Fraction(1, 2),
    strict=True,
)

#: Art. 278 major matters (maintenance fund raising, rebuilding, change of use of common parts):
#: quorum 2/3 of area and owners; approval by AT LEAST 3/4 of the participating area AND owners.
MAJOR = Rule(
    quorum_area=Fraction(2, 3),
    quorum_headcount=Fraction(2, 3),
    approval_area=Fraction(3, 4),
    approval_headcount=Fraction(3, 4),
    strict=False,
)

_PRESETS = {"ordinary": ORDINARY, "major": MAJOR}

_FRACTION_RE = re.compile(r"(0|[1-9][0-9]*)(?:/([1-9][0-9]*))?", re.ASCII)


def _as_fraction(name: str, value: Fraction | int | str) -> Fraction:
    """``value`` as a Fraction: a Fraction, an int, or a string ``"p/q"`` / ``"p"`` (ASCII
    digits, no sign, no spaces, no leading zeros). Floats, decimals and bools are refused."""
    if isinstance(value, Fraction):
        return value
    if _is_int(value):
        return Fraction(value)
    if isinstance(value, str):
        match = _FRACTION_RE.fullmatch(value)
        if match is None:
            raise RuleError(f"{name} {value!r} is not a fraction 'p/q'")
        return Fraction(int(match.group(1)), int(match.group(2) or 1))
    raise RuleError(f"{name} must be a Fraction, int or 'p/q' string, got {type(value).__name__}")


def rule_from_fractions(
    quorum_area: Fraction | int | str,
    quorum_headcount: Fraction | int | str,
    approval_area: Fraction | int | str,
    approval_headcount: Fraction | int | str,
    *,
    strict: bool,
) -> Rule:
    """A :class:`Rule` with explicit fractions, e.g. a city's ``approval_area="3/5"``.

    Each fraction may be a :class:`~fractions.Fraction`, an ``int`` (0 or 1) or a string
    ``"p/q"``; floats are refused. Raises :class:`~rules.errors.RuleError`.
    """
    return Rule(
        quorum_area=_as_fraction("quorum_area", quorum_area),
        quorum_headcount=_as_fraction("quorum_headcount", quorum_headcount),
        approval_area=_as_fraction("approval_area", approval_area),
        approval_headcount=_as_fraction("approval_headcount", approval_headcount),
        strict=strict,
    )


def rule_from_name(name: str) -> Rule:
    """The preset named ``"ordinary"`` (:data:`ORDINARY`) or ``"major"`` (:data:`MAJOR`).

    Names are exact (lower case); anything else raises :class:`~rules.errors.RuleError`.
    """
    if isinstance(name, str) and name in _PRESETS:
        return _PRESETS[name]
    raise RuleError(f"unknown rule {name!r}; expected one of {sorted(_PRESETS)}")


@dataclass(frozen=True)
class OptionTotals:
    """The approving totals of one option: area (0.01 m^2) and headcount of the owners who
    chose it. Construction checks the fields (:class:`~rules.errors.TallyError`)."""

    name: str
    area: int
    headcount: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name == "":
            raise TallyError("option name must be a non-empty str")
        for field in ("area", "headcount"):
            value = getattr(self, field)
            if not _is_int(value) or value < 0:
                raise TallyError(f"{field} must be a non-negative int", option=self.name)
        # Every voting owner holds at least 0.01 m^2, so k owners hold at least k units of area.
        if self.area < self.headcount:
            raise TallyError("area smaller than headcount", option=self.name)
        if (self.area == 0) != (self.headcount == 0):
            raise TallyError("area and headcount must be zero together", option=self.name)


@dataclass(frozen=True)
class Tally:
    """The integer totals of one contest.

    ``total_area`` / ``total_owners``
        Of the whole roll (:attr:`rules.roll.Roll.total_area`,
        :attr:`rules.roll.Roll.total_owners`).
    ``participating_area`` / ``participating_owners``
        Of the owners who took part, abstainers included.
    ``options``
        Per option, the area and headcount of the owners who chose it. In a referendum each
        participant chooses exactly one of approve / oppose / abstain; in a committee election a
        participant may choose several candidates (or none), so options need not add up.

    Construction checks consistency and raises :class:`~rules.errors.TallyError`: all counts are
    non-negative ints; at least one owner on the roll; participation does not exceed the totals;
    no option exceeds participation; option names are unique; and, since every owner holds at
    least 0.01 m^2, ``k`` owners account for at least ``k`` units of area (so area and headcount
    are zero together, and the area of ``n`` owners leaves at least one unit for each of the
    others).
    """

    total_area: int
    total_owners: int
    participating_area: int
    participating_owners: int
    options: tuple[OptionTotals, ...]

    def __post_init__(self) -> None:
        for field in ("total_area", "total_owners", "participating_area", "participating_owners"):
            value = getattr(self, field)
            if not _is_int(value) or value < 0:
                raise TallyError(f"{field} must be a non-negative int")
        if self.total_owners == 0:
            raise TallyError("the roll has no owners")
        _check_area_for_headcount(
            "total", self.total_area, self.total_owners, None, self.total_area
        )
        if self.participating_owners > self.total_owners:
            raise TallyError("participating_owners exceeds total_owners")
        if self.participating_area > self.total_area:
            raise TallyError("participating_area exceeds total_area")
        _check_area_for_headcount(
            "participating",
            self.participating_area,
            self.participating_owners,
            None,
            self.total_area - (self.total_owners - self.participating_owners),
        )
        if not isinstance(self.options, tuple) or not self.options:
            raise TallyError("options must be a non-empty tuple of OptionTotals")
        names: set[str] = set()
        for option in self.options:
            if not isinstance(option, OptionTotals):
                raise TallyError("options must be OptionTotals instances")
            if option.name in names:
                raise TallyError("duplicate option", option=option.name)
            names.add(option.name)
            if option.headcount > self.participating_owners:
                raise TallyError("headcount exceeds participating_owners", option=option.name)
            if option.area > self.participating_area:
                raise TallyError("area exceeds participating_area", option=option.name)
            _check_area_for_headcount(
                "option",
                option.area,
                option.headcount,
                option.name,
                self.participating_area - (self.participating_owners - option.headcount),
            )

    def option(self, name: str) -> OptionTotals:
        """The totals of option ``name`` (:class:`~rules.errors.UnknownOptionError` if absent)."""
        for option in self.options:
            if option.name == name:
                return option
        raise UnknownOptionError(name)


def _check_area_for_headcount(
    what: str, area: int, headcount: int, option: str | None, max_area: int
) -> None:
    """``headcount`` owners hold at least ``headcount`` and at most ``max_area`` units of area."""
    if area < headcount:
        raise TallyError(f"{what} area smaller than its headcount", option=option)
    if (area == 0) != (headcount == 0):
        raise TallyError(f"{what} area and headcount must be zero together", option=option)
    if area > max_area:
        raise TallyError(
            f"{what} area leaves less than 0.01 m^2 for each of the other owners", option=option
        )


def meets(part: int, whole: int, threshold: Fraction, *, strict: bool) -> bool:
    """Whether ``part / whole`` is ``> threshold`` (``strict``) or ``>= threshold``, exactly.

    ``whole == 0`` (nobody took part) never meets any threshold.
    """
    if whole == 0:
        return False
    ratio = Fraction(part, whole)
    return ratio > threshold if strict else ratio >= threshold


def _fraction(part: int, whole: int) -> Fraction:
    """``part / whole`` as a Fraction; ``0`` when ``whole == 0`` instead of dividing by zero."""
    return Fraction(part, whole) if whole else Fraction(0)


@dataclass(frozen=True)
class OptionResult:
    """The result of one option.

    ``area_fraction`` / ``headcount_fraction`` are the option's approving area and headcount as
    fractions of the PARTICIPATING area and owners (0 when nobody took part); ``area_met`` /
    ``headcount_met`` say whether each reached the rule's approval threshold; ``status`` is
    NO_QUORUM without quorum, else PASSED if both were met, else REJECTED.
    """

    name: str
    area_fraction: Fraction
    headcount_fraction: Fraction
    area_met: bool
    headcount_met: bool
    status: Outcome


@dataclass(frozen=True)
class Result:
    """The decision on a :class:`Tally` under a :class:`Rule`.

    ``participation_area`` / ``participation_headcount`` are the participating area and owners
    as fractions of the TOTAL area and ALL owners; ``quorum_area_met`` /
    ``quorum_headcount_met`` whether each reached the rule's quorum, ``quorum_met`` whether
    both did (and someone took part). ``options`` are in the tally's order.
    """

    rule: Rule
    tally: Tally
    participation_area: Fraction
    participation_headcount: Fraction
    quorum_area_met: bool
    quorum_headcount_met: bool
    quorum_met: bool
    options: tuple[OptionResult, ...]

    def option(self, name: str) -> OptionResult:
        """The result of option ``name`` (:class:`~rules.errors.UnknownOptionError` if absent)."""
        for option in self.options:
            if option.name == name:
                return option
        raise UnknownOptionError(name)

    def passed(self) -> tuple[str, ...]:
        """Names of the options that PASSED, in the tally's order (e.g. elected candidates)."""
        return tuple(o.name for o in self.options if o.status is Outcome.PASSED)


def evaluate(rule: Rule, tally: Tally) -> Result:
    """Decide ``tally`` under ``rule`` (PRC Civil Code Art. 278).

    Quorum: ``participating_area / total_area >= rule.quorum_area`` AND
    ``participating_owners / total_owners >= rule.quorum_headcount``; with nobody taking part
    the quorum always fails. For each option, when the quorum is met: PASSED iff
    ``area / participating_area`` and ``headcount / participating_owners`` both exceed
    (``rule.strict``) or reach the approval fractions, else REJECTED; NO_QUORUM otherwise.
    """
    if not isinstance(rule, Rule):
        raise RuleError(f"expected a Rule, got {type(rule).__name__}")
    if not isinstance(tally, Tally):
        raise TallyError(f"expected a Tally, got {type(tally).__name__}")
    quorum_area_met = meets(
        tally.participating_area, tally.total_area, rule.quorum_area, strict=False
    )
    quorum_headcount_met = meets(
        tally.participating_owners, tally.total_owners, rule.quorum_headcount, strict=False
    )
    quorum_met = tally.participating_owners > 0 and quorum_area_met and quorum_headcount_met
    options = []
    for option in tally.options:
        area_met = meets(
            option.area, tally.participating_area, rule.approval_area, strict=rule.strict
        )
        headcount_met = meets(
            option.headcount,
            tally.participating_owners,
            rule.approval_headcount,
            strict=rule.strict,
        )
        if not quorum_met:
            status = Outcome.NO_QUORUM
        elif area_met and headcount_met:
            status = Outcome.PASSED
        else:
            status = Outcome.REJECTED
        options.append(
            OptionResult(
                name=option.name,
                area_fraction=_fraction(option.area, tally.participating_area),
                headcount_fraction=_fraction(option.headcount, tally.participating_owners),
                area_met=area_met,
                headcount_met=headcount_met,
                status=status,
            )
        )
    return Result(
        rule=rule,
        tally=tally,
        participation_area=_fraction(tally.participating_area, tally.total_area),
        participation_headcount=_fraction(tally.participating_owners, tally.total_owners),
        quorum_area_met=quorum_area_met,
        quorum_headcount_met=quorum_headcount_met,
        quorum_met=quorum_met,
        options=tuple(options),
    )


def referendum_outcome(result: Result) -> Outcome:
    """The outcome of a referendum's motion: the status of its :data:`APPROVE` option.

    NO_QUORUM without quorum; PASSED if ``approve`` reached both approval thresholds of the
    participating totals (abstainers and opponents count in those totals but never approve);
    REJECTED otherwise. Raises :class:`~rules.errors.UnknownOptionError` if the result has no
    ``approve`` option.
    """
    return result.option(APPROVE).status
