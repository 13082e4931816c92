"""Tests of the PRC Civil Code Art. 278 decision rules (rules.art278)."""

from __future__ import annotations

import dataclasses
import enum
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rules.art278 import (
    ABSTAIN,
    APPROVE,
    MAJOR,
    OPPOSE,
    ORDINARY,
    OptionResult,
    OptionTotals,
    Outcome,
    Result,
    Rule,
    Tally,
    evaluate,
    meets,
    referendum_outcome,
    rule_from_fractions,
    rule_from_name,
)
from rules.errors import RuleError, TallyError, UnknownOptionError
from rules.roll import Unit, compute_weights

# Community used by the boundary tests: 30 owners, 3000 units of area (0.01 m^2) in total.
TOTAL_AREA = 3000
TOTAL_OWNERS = 30


def referendum(
    approve: tuple[int, int],
    oppose: tuple[int, int] = (0, 0),
    abstain: tuple[int, int] = (0, 0),
    *,
    participating: tuple[int, int] | None = None,
    total: tuple[int, int] = (TOTAL_AREA, TOTAL_OWNERS),
) -> Tally:
    """A referendum tally; each pair is (area, headcount); participation defaults to the sum."""
    if participating is None:
        participating = (
            approve[0] + oppose[0] + abstain[0],
            approve[1] + oppose[1] + abstain[1],
        )
    return Tally(
        total_area=total[0],
        total_owners=total[1],
        participating_area=participating[0],
        participating_owners=participating[1],
        options=(
            OptionTotals(APPROVE, *approve),
            OptionTotals(OPPOSE, *oppose),
            OptionTotals(ABSTAIN, *abstain),
        ),
    )


def motion(rule: Rule, tally: Tally) -> Outcome:
    return referendum_outcome(evaluate(rule, tally))


# ---------------------------------------------------------------------------------------------
# Presets and rule construction


def test_presets_match_art_278() -> None:
    assert ORDINARY == Rule(Fraction(2, 3), Fraction(2, 3), Fraction(1, 2), Fraction(1, 2), True)
    assert MAJOR == Rule(Fraction(2, 3), Fraction(2, 3), Fraction(3, 4), Fraction(3, 4), False)
    assert rule_from_name("ordinary") is ORDINARY
    assert rule_from_name("major") is MAJOR


@pytest.mark.parametrize("name", ["Ordinary", "MAJOR", "", "special", " major", None])
def test_rule_from_name_rejects_unknown(name: object) -> None:
    with pytest.raises(RuleError, match="unknown rule"):
        rule_from_name(name)  # type: ignore[arg-type]


def test_rule_from_fractions_accepts_fraction_int_and_string() -> None:
    rule = rule_from_fractions("2/3", Fraction(2, 3), "3/5", "6/10", strict=False)
    assert rule == Rule(Fraction(2, 3), Fraction(2, 3), Fraction(3, 5), Fraction(3, 5), False)
    assert rule_from_fractions(0, 1, "1", "1/2", strict=False).quorum_area == Fraction(0)


@pytest.mark.parametrize(
    "bad", [0.5, "0.5", "1e-1", " 1/2", "1/2 ", "-1/2", "1/0", "01/2", "1/-2", "a/b", True, None]
)
def test_rule_from_fractions_rejects_non_fractions(bad: object) -> None:
    with pytest.raises(RuleError):
        rule_from_fractions(bad, "2/3", "1/2", "1/2", strict=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fractions_", "strict", "fragment"),
    [
        (("4/3", "2/3", "1/2", "1/2"), True, "outside"),
        (("2/3", "2/3", "3/2", "1/2"), True, "outside"),
        (("2/3", "2/3", "1/2", "1"), True, "never be reached"),
        (("2/3", "2/3", "0", "1/2"), False, "always reached"),
    ],
)
def test_rule_rejects_invalid_fractions(
    fractions_: tuple[str, str, str, str], strict: bool, fragment: str
) -> None:
    with pytest.raises(RuleError, match=fragment):
        rule_from_fractions(*fractions_, strict=strict)


def test_rule_rejects_floats_and_non_bool_strict() -> None:
    with pytest.raises(RuleError, match="Fraction"):
        Rule(0.5, Fraction(2, 3), Fraction(1, 2), Fraction(1, 2), True)  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="Fraction"):
        Rule(Fraction(2, 3), 1, Fraction(1, 2), Fraction(1, 2), True)  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="strict"):
        Rule(Fraction(2, 3), Fraction(2, 3), Fraction(1, 2), Fraction(1, 2), 1)  # type: ignore[arg-type]


def test_degenerate_but_satisfiable_rules_are_allowed() -> None:
    # "more than 0" (at least one approver) and "all" (unanimity) are meaningful.
    rule_from_fractions("0", "0", "0", "0", strict=True)
    rule_from_fractions("1", "1", "1", "1", strict=False)


# ---------------------------------------------------------------------------------------------
# Quorum boundaries


def test_quorum_exactly_two_thirds_is_met() -> None:
    tally = referendum(approve=(2000, 20))
    result = evaluate(ORDINARY, tally)
    assert result.participation_area == Fraction(2, 3)
    assert result.participation_headcount == Fraction(2, 3)
    assert result.quorum_met
    assert motion(ORDINARY, tally) is Outcome.PASSED
    assert motion(MAJOR, tally) is Outcome.PASSED


def test_quorum_one_centiare_short_is_no_quorum() -> None:
    tally = referendum(approve=(1999, 20))
    result = evaluate(ORDINARY, tally)
    assert not result.quorum_area_met
    assert result.quorum_headcount_met
    assert not result.quorum_met
    assert all(o.status is Outcome.NO_QUORUM for o in result.options)
    assert motion(ORDINARY, tally) is Outcome.NO_QUORUM
    assert motion(MAJOR, tally) is Outcome.NO_QUORUM


def test_quorum_one_owner_short_is_no_quorum() -> None:
    tally = referendum(approve=(2500, 19))
    result = evaluate(MAJOR, tally)
    assert result.quorum_area_met
    assert not result.quorum_headcount_met
    assert motion(MAJOR, tally) is Outcome.NO_QUORUM
    assert motion(ORDINARY, tally) is Outcome.NO_QUORUM


def test_no_quorum_even_if_everyone_participating_approves() -> None:
    assert motion(ORDINARY, referendum(approve=(1000, 10))) is Outcome.NO_QUORUM


def test_full_participation() -> None:
    result = evaluate(ORDINARY, referendum(approve=(3000, 30)))
    assert result.participation_area == 1
    assert result.participation_headcount == 1
    assert referendum_outcome(result) is Outcome.PASSED


def test_zero_participants_no_division_by_zero() -> None:
    tally = referendum(approve=(0, 0))
    result = evaluate(ORDINARY, tally)
    assert not result.quorum_met
    assert result.participation_area == 0 and result.participation_headcount == 0
    for option in result.options:
        assert option.area_fraction == 0 and option.headcount_fraction == 0
        assert isinstance(option.area_fraction, Fraction)
        assert option.status is Outcome.NO_QUORUM


def test_zero_participants_fail_quorum_even_with_zero_quorum() -> None:
    rule = rule_from_fractions("0", "0", "1/2", "1/2", strict=True)
    assert motion(rule, referendum(approve=(0, 0))) is Outcome.NO_QUORUM
    assert motion(rule, referendum(approve=(1, 1))) is Outcome.PASSED


# ---------------------------------------------------------------------------------------------
# Approval boundaries (participation 2000 area, 20 owners: quorum met exactly)


def test_major_exactly_three_quarters_passes() -> None:
    tally = referendum(approve=(1500, 15), oppose=(500, 5))
    result = evaluate(MAJOR, tally)
    approve = result.option(APPROVE)
    assert approve.area_fraction == Fraction(3, 4)
    assert approve.headcount_fraction == Fraction(3, 4)
    assert approve.status is Outcome.PASSED
    assert referendum_outcome(result) is Outcome.PASSED


def test_major_one_centiare_below_three_quarters_rejected() -> None:
    tally = referendum(approve=(1499, 15), oppose=(501, 5))
    result = evaluate(MAJOR, tally)
    assert not result.option(APPROVE).area_met
    assert result.option(APPROVE).headcount_met
    assert referendum_outcome(result) is Outcome.REJECTED


def test_major_one_owner_below_three_quarters_rejected() -> None:
    tally = referendum(approve=(1800, 14), oppose=(200, 6))
    result = evaluate(MAJOR, tally)
    assert result.option(APPROVE).area_met
    assert not result.option(APPROVE).headcount_met
    assert referendum_outcome(result) is Outcome.REJECTED


def test_ordinary_exactly_half_rejected() -> None:
    tally = referendum(approve=(1000, 10), oppose=(1000, 10))
    result = evaluate(ORDINARY, tally)
    assert result.option(APPROVE).area_fraction == Fraction(1, 2)
    assert result.option(APPROVE).headcount_fraction == Fraction(1, 2)
    assert referendum_outcome(result) is Outcome.REJECTED
    # The same tally under "at least one half" passes: strictness is what decides.
    at_least = rule_from_fractions("2/3", "2/3", "1/2", "1/2", strict=False)
    assert motion(at_least, tally) is Outcome.PASSED


def test_ordinary_just_above_half_passes() -> None:
    assert motion(ORDINARY, referendum(approve=(1001, 11), oppose=(999, 9))) is Outcome.PASSED


def test_ordinary_area_above_half_but_headcount_exactly_half_rejected() -> None:
    assert motion(ORDINARY, referendum(approve=(1001, 10), oppose=(999, 10))) is Outcome.REJECTED


def test_ordinary_headcount_above_half_but_area_exactly_half_rejected() -> None:
    assert motion(ORDINARY, referendum(approve=(1000, 11), oppose=(1000, 9))) is Outcome.REJECTED


def test_double_majority_area_passes_headcount_fails() -> None:
    # A few large owners hold 95% of the participating area but are 5 of 20 owners.
    tally = referendum(approve=(1900, 5), oppose=(100, 15))
    for rule in (ORDINARY, MAJOR):
        result = evaluate(rule, tally)
        assert result.option(APPROVE).area_met
        assert not result.option(APPROVE).headcount_met
        assert referendum_outcome(result) is Outcome.REJECTED


def test_double_majority_headcount_passes_area_fails() -> None:
    tally = referendum(approve=(400, 16), oppose=(1600, 4))
    assert motion(ORDINARY, tally) is Outcome.REJECTED
    assert motion(MAJOR, tally) is Outcome.REJECTED


# ---------------------------------------------------------------------------------------------
# Abstention


def test_abstentions_count_for_quorum() -> None:
    without = referendum(approve=(1100, 11), oppose=(100, 1))
    assert motion(ORDINARY, without) is Outcome.NO_QUORUM
    with_abstain = referendum(approve=(1100, 11), oppose=(100, 1), abstain=(800, 8))
    result = evaluate(ORDINARY, with_abstain)
    assert result.quorum_met
    assert referendum_outcome(result) is Outcome.PASSED  # 11/20 owners, 1100/2000 area


def test_abstentions_count_against_approval() -> None:
    # Approve beats oppose 10 to 4, but 10 of 20 participants is not MORE than half.
    tally = referendum(approve=(1000, 10), oppose=(400, 4), abstain=(600, 6))
    result = evaluate(ORDINARY, tally)
    assert result.option(APPROVE).headcount_fraction == Fraction(1, 2)
    assert referendum_outcome(result) is Outcome.REJECTED


def test_motion_decided_on_approve_only() -> None:
    # Abstain holds a majority; the motion is still rejected, not "passed".
    tally = referendum(approve=(500, 5), oppose=(300, 3), abstain=(1200, 12))
    result = evaluate(ORDINARY, tally)
    assert referendum_outcome(result) is Outcome.REJECTED
    assert result.option(APPROVE).status is Outcome.REJECTED


def test_referendum_outcome_requires_approve_option() -> None:
    tally = Tally(3000, 30, 2000, 20, (OptionTotals("yes", 2000, 20),))
    with pytest.raises(UnknownOptionError):
        referendum_outcome(evaluate(ORDINARY, tally))
    with pytest.raises(KeyError):
        evaluate(ORDINARY, tally).option("no")


# ---------------------------------------------------------------------------------------------
# Explicit fractions and committee elections


def test_explicit_three_fifths() -> None:
    at_least = rule_from_fractions("2/3", "2/3", "3/5", "3/5", strict=False)
    more_than = rule_from_fractions("2/3", "2/3", "3/5", "3/5", strict=True)
    exact = referendum(approve=(1200, 12), oppose=(800, 8))
    assert motion(at_least, exact) is Outcome.PASSED
    assert motion(more_than, exact) is Outcome.REJECTED
    below = referendum(approve=(1199, 12), oppose=(801, 8))
    assert motion(at_least, below) is Outcome.REJECTED
    above = referendum(approve=(1201, 13), oppose=(799, 7))
    assert motion(more_than, above) is Outcome.PASSED


def test_explicit_quorum_fraction() -> None:
    half_quorum = rule_from_fractions("1/2", "1/2", "1/2", "1/2", strict=True)
    tally = referendum(approve=(1500, 15))
    assert motion(half_quorum, tally) is Outcome.PASSED
    assert motion(ORDINARY, tally) is Outcome.NO_QUORUM
    assert motion(half_quorum, referendum(approve=(1499, 15))) is Outcome.NO_QUORUM


def test_committee_election_each_candidate_is_an_option() -> None:
    tally = Tally(
        total_area=TOTAL_AREA,
        total_owners=TOTAL_OWNERS,
        participating_area=2400,
        participating_owners=24,
        options=(
            OptionTotals("wang", 1500, 15),  # > 1/2 of both: elected
            OptionTotals("li", 1200, 13),  # area exactly 1/2: not elected
            OptionTotals("zhao", 1300, 12),  # headcount exactly 1/2: not elected
            OptionTotals("chen", 2400, 24),  # everyone: elected
            OptionTotals("sun", 0, 0),
        ),
    )
    result = evaluate(ORDINARY, tally)
    assert result.passed() == ("wang", "chen")
    assert result.option("li").status is Outcome.REJECTED
    assert result.option("sun").area_fraction == 0
    assert [o.name for o in result.options] == ["wang", "li", "zhao", "chen", "sun"]


def test_tally_from_a_roll() -> None:
    roll = compute_weights(
        [Unit.sole(f"A-{i}", "A", 10000 + i, f"owner{i}") for i in range(9)]
        + [Unit.unsold("D-1", "D", 5000), Unit.unsold("D-2", "D", 5000)]
    )
    assert roll.total_owners == 10
    voters = [o for o in roll.owners if not o.is_developer][:7]
    tally = Tally(
        roll.total_area,
        roll.total_owners,
        sum(o.area for o in voters),
        len(voters),
        (OptionTotals(APPROVE, sum(o.area for o in voters), len(voters)),),
    )
    assert motion(ORDINARY, tally) is Outcome.PASSED


# ---------------------------------------------------------------------------------------------
# Tally validation


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: referendum(approve=(2000, 20), participating=(1999, 20)), "exceeds"),
        (lambda: referendum(approve=(2000, 20), participating=(2000, 19)), "exceeds"),
        (lambda: referendum(approve=(3001, 30)), "participating_area exceeds total_area"),
        (lambda: referendum(approve=(3000, 31)), "participating_owners exceeds total_owners"),
        (lambda: referendum(approve=(10, 20)), "smaller than"),
        (lambda: referendum(approve=(2991, 20)), "leaves less"),
        (lambda: referendum(approve=(5, 0)), "zero together"),
        (lambda: referendum(approve=(0, 0), total=(10, 0)), "no owners"),
        (lambda: referendum(approve=(0, 0), total=(5, 10)), "smaller than"),
        (lambda: referendum(approve=(-1, 1)), "non-negative"),
        (lambda: referendum(approve=(2000, 20), participating=(2000.0, 20)), "int"),
        (lambda: referendum(approve=(2000, 20), participating=(True, 1)), "int"),
        (lambda: Tally(3000, 30, 2000, 20, ()), "non-empty"),
        (lambda: Tally(3000, 30, 2000, 20, [OptionTotals("a", 1, 1)]), "non-empty tuple"),
        (lambda: Tally(3000, 30, 2000, 20, (("a", 1, 1),)), "OptionTotals"),
        (
            lambda: Tally(3000, 30, 2000, 20, (OptionTotals("a", 1, 1), OptionTotals("a", 2, 2))),
            "duplicate",
        ),
        (lambda: OptionTotals("", 1, 1), "name"),
        (lambda: OptionTotals("a", 1, 2), "smaller than headcount"),
        (lambda: OptionTotals("a", 0, 1), "smaller than headcount"),
        (lambda: OptionTotals("a", 1, 0), "zero together"),
        (lambda: OptionTotals("a", Fraction(1), 1), "non-negative int"),
    ],
)
def test_tally_rejects_inconsistent_totals(make, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TallyError, match=fragment):
        make()


def test_tally_error_names_option() -> None:
    with pytest.raises(TallyError) as info:
        referendum(approve=(2000, 20), oppose=(2001, 1), participating=(2000, 20))
    assert info.value.option == OPPOSE


def test_evaluate_rejects_wrong_types() -> None:
    tally = referendum(approve=(2000, 20))
    with pytest.raises(RuleError):
        evaluate("ordinary", tally)  # type: ignore[arg-type]
    with pytest.raises(TallyError):
        evaluate(ORDINARY, (3000, 30, 2000, 20))  # type: ignore[arg-type]


def test_meets_helper() -> None:
    assert meets(2, 3, Fraction(2, 3), strict=False)
    assert not meets(2, 3, Fraction(2, 3), strict=True)
    assert not meets(0, 0, Fraction(0), strict=False)


# ---------------------------------------------------------------------------------------------
# Property tests


@st.composite
def rules_(draw: st.DrawFn) -> Rule:
    def frac() -> Fraction:
        den = draw(st.integers(min_value=1, max_value=12))
        return Fraction(draw(st.integers(min_value=0, max_value=den)), den)

    strict = draw(st.booleans())
    approval_area, approval_headcount = frac(), frac()
    bad = Fraction(1) if strict else Fraction(0)
    assume(approval_area != bad and approval_headcount != bad)
    return Rule(frac(), frac(), approval_area, approval_headcount, strict)


any_rule = st.one_of(st.just(ORDINARY), st.just(MAJOR), rules_())

CHOICES = (None, APPROVE, OPPOSE, ABSTAIN)


@st.composite
def electorates(draw: st.DrawFn) -> tuple[list[int], list[str | None]]:
    """Owners' areas and each owner's choice (None = did not take part)."""
    n = draw(st.integers(min_value=1, max_value=25))
    areas = draw(st.lists(st.integers(min_value=1, max_value=500), min_size=n, max_size=n))
    choices = draw(st.lists(st.sampled_from(CHOICES), min_size=n, max_size=n))
    return areas, choices


def tally_of(areas: list[int], choices: list[str | None]) -> Tally:
    def totals(pred) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        picked = [a for a, c in zip(areas, choices, strict=True) if pred(c)]
        return sum(picked), len(picked)

    part = totals(lambda c: c is not None)
    return Tally(
        total_area=sum(areas),
        total_owners=len(areas),
        participating_area=part[0],
        participating_owners=part[1],
        options=tuple(
            OptionTotals(name, *totals(lambda c, name=name: c == name))
            for name in (APPROVE, OPPOSE, ABSTAIN)
        ),
    )


def _walk(value: object):  # type: ignore[no-untyped-def]
    """Every leaf value inside nested dataclasses and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _walk(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def reference_status(rule: Rule, tally: Tally, option: OptionTotals) -> Outcome:
    """Independent formulation: integer cross-multiplication, no Fraction division."""

    def at_least(part: int, whole: int, f: Fraction) -> bool:
        return part * f.denominator >= f.numerator * whole

    def more_than(part: int, whole: int, f: Fraction) -> bool:
        return part * f.denominator > f.numerator * whole

    pa, po = tally.participating_area, tally.participating_owners
    quorum = (
        po > 0
        and at_least(pa, tally.total_area, rule.quorum_area)
        and at_least(po, tally.total_owners, rule.quorum_headcount)
    )
    if not quorum:
        return Outcome.NO_QUORUM
    cmp = more_than if rule.strict else at_least
    if cmp(option.area, pa, rule.approval_area) and cmp(
        option.headcount, po, rule.approval_headcount
    ):
        return Outcome.PASSED
    return Outcome.REJECTED


@given(any_rule, electorates())
def test_property_no_floats_anywhere(rule: Rule, electorate) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(rule, tally_of(*electorate))
    leaves = list(_walk(result))
    assert not any(isinstance(v, float) for v in leaves)
    assert all(isinstance(v, (Fraction, int, bool, str, enum.Enum)) for v in leaves)
    for fraction in (result.participation_area, result.participation_headcount):
        assert type(fraction) is Fraction
    for option in result.options:
        assert isinstance(option, OptionResult)
        assert type(option.area_fraction) is Fraction
        assert type(option.headcount_fraction) is Fraction
        assert 0 <= option.area_fraction <= 1 and 0 <= option.headcount_fraction <= 1
    assert isinstance(result, Result)


@given(any_rule, electorates())
def test_property_matches_integer_cross_multiplication(rule: Rule, electorate) -> None:  # type: ignore[no-untyped-def]
    tally = tally_of(*electorate)
    result = evaluate(rule, tally)
    for option, option_result in zip(tally.options, result.options, strict=True):
        assert option_result.status is reference_status(rule, tally, option)
        if tally.participating_owners:
            assert option_result.area_fraction * tally.participating_area == option.area
            assert option_result.headcount_fraction * tally.participating_owners == option.headcount
    assert result.participation_area * tally.total_area == tally.participating_area
    assert result.participation_headcount * tally.total_owners == tally.participating_owners


@given(any_rule, electorates(), st.data())
def test_property_monotone_in_approval(rule: Rule, electorate, data) -> None:  # type: ignore[no-untyped-def]
    """Turning participants (oppose/abstain) into approvers never turns PASSED into REJECTED."""
    areas, choices = electorate
    converted = [
        APPROVE if c in (OPPOSE, ABSTAIN) and data.draw(st.booleans()) else c for c in choices
    ]
    before = motion(rule, tally_of(areas, choices))
    after = motion(rule, tally_of(areas, converted))
    if before is Outcome.NO_QUORUM:
        assert after is Outcome.NO_QUORUM  # participation is unchanged
    if before is Outcome.PASSED:
        assert after is Outcome.PASSED


@st.composite
def monotone_pairs(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    """Totals and two consistent approving (area, headcount) pairs, the second >= the first."""
    total_owners = draw(st.integers(min_value=1, max_value=60))
    total_area = draw(st.integers(min_value=total_owners, max_value=total_owners * 300))
    po = draw(st.integers(min_value=0, max_value=total_owners))
    pa = 0 if po == 0 else draw(st.integers(min_value=po, max_value=total_area - total_owners + po))
    h1 = draw(st.integers(min_value=0, max_value=po))
    a1 = 0 if h1 == 0 else draw(st.integers(min_value=h1, max_value=pa - po + h1))
    h2 = draw(st.integers(min_value=h1, max_value=po))
    a2 = 0 if h2 == 0 else draw(st.integers(min_value=max(a1, h2), max_value=pa - po + h2))
    return total_area, total_owners, pa, po, (a1, h1), (a2, h2)


@given(any_rule, monotone_pairs())
def test_property_monotone_in_area_and_headcount_separately(rule: Rule, case) -> None:  # type: ignore[no-untyped-def]
    total_area, total_owners, pa, po, low, high = case

    def status(area: int, headcount: int) -> Outcome:
        tally = Tally(total_area, total_owners, pa, po, (OptionTotals(APPROVE, area, headcount),))
        return motion(rule, tally)

    order = {Outcome.NO_QUORUM: 0, Outcome.REJECTED: 1, Outcome.PASSED: 2}
    s_low, s_high = status(*low), status(*high)
    assert (s_low is Outcome.NO_QUORUM) == (s_high is Outcome.NO_QUORUM)
    assert order[s_low] <= order[s_high]
    # Raising only the area, or only the headcount, is monotone too (when consistent).
    a1, h1 = low
    a2, h2 = high
    for mid in ((a2, h1), (a1, h2)):
        try:
            s_mid = status(*mid)
        except TallyError:
            continue
        assert order[s_low] <= order[s_mid] <= order[s_high]


@given(electorates())
def test_property_major_passing_implies_ordinary_passing(electorate) -> None:  # type: ignore[no-untyped-def]
    # At least 3/4 is more than 1/2, with the same quorum.
    tally = tally_of(*electorate)
    if motion(MAJOR, tally) is Outcome.PASSED:
        assert motion(ORDINARY, tally) is Outcome.PASSED
    assert (motion(MAJOR, tally) is Outcome.NO_QUORUM) == (
        motion(ORDINARY, tally) is Outcome.NO_QUORUM
    )
