"""Tests of the property roll and owner weights (PRC Civil Code Art. 278, rules.roll)."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.area import MAX_UNIT_AREA, format_area, parse_area
from rules.errors import AreaError, RollError, UnknownOwnerError
from rules.roll import (
    DEVELOPER_OWNER_ID,
    ROLL_ENCODING_TAG,
    OwnerWeight,
    Roll,
    Unit,
    WeightClass,
    compute_weights,
    roll_canonical_bytes,
    roll_hash,
)

# ---------------------------------------------------------------------------------------------
# Area parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85", 8500),
        ("85.5", 8550),
        ("85.50", 8550),
        ("120.25", 12025),
        ("0.01", 1),
        ("0.1", 10),
        ("0.5", 50),
        ("1", 100),
        ("1.0", 100),
        ("1.00", 100),
        ("10000000", MAX_UNIT_AREA),
        ("10000000.00", MAX_UNIT_AREA),
    ],
)
def test_parse_area_accepts(text: str, expected: int) -> None:
    assert parse_area(text) == expected
    assert type(parse_area(text)) is int


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("-1", "negative"),
        ("-0.5", "negative"),
        ("+85", "explicit sign"),
        ("0", "zero"),
        ("0.0", "zero"),
        ("0.00", "zero"),
        ("1.005", "more than two decimals"),
        ("1.000", "more than two decimals"),
        ("85.123", "more than two decimals"),
        ("1e2", "exponent notation"),
        ("1E2", "exponent notation"),
        ("1.5e1", "exponent notation"),
        ("nan", "not a finite number"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("Infinity", "not a finite number"),
        ("085", "leading zero"),
        ("00.5", "leading zero"),
        (" 85", "surrounding whitespace"),
        ("85 ", "surrounding whitespace"),
        ("85\n", "surrounding whitespace"),
        ("10000000.01", "above the maximum"),
        ("99999999999", "above the maximum"),
    ],
)
def test_parse_area_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(AreaError) as info:
        parse_area(text)
    assert reason in info.value.reason
    assert info.value.text == text


@pytest.mark.parametrize(
    "text",
    [
        ".5",
        "5.",
        ".",
        "1,000",
        "1_000",
        "1.2.3",
        "85 m2",
        "٣",
        "８５",
        "0x10",
        "1/2",
        "--1",
        "1" * 40,
    ],
)
def test_parse_area_rejects_malformed(text: str) -> None:
    with pytest.raises(AreaError):
        parse_area(text)


@pytest.mark.parametrize("value", [85.5, 85, None, b"85.5", True])
def test_parse_area_rejects_non_strings(value: object) -> None:
    with pytest.raises(AreaError, match="expected a decimal string"):
        parse_area(value)  # type: ignore[arg-type]


def test_area_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_area("-1")


@given(st.integers(min_value=1, max_value=MAX_UNIT_AREA))
def test_format_then_parse_round_trips(area: int) -> None:
    assert parse_area(format_area(area)) == area


@given(st.integers(min_value=0, max_value=10**8), st.integers(min_value=0, max_value=99))
def test_parse_matches_integer_arithmetic(whole: int, cents: int) -> None:
    value = whole * 100 + cents
    if value == 0:
        with pytest.raises(AreaError):
            parse_area(f"{whole}.{cents:02d}")
    elif value > MAX_UNIT_AREA:
        with pytest.raises(AreaError):
            parse_area(f"{whole}.{cents:02d}")
    else:
        assert parse_area(f"{whole}.{cents:02d}") == value
        if cents % 10 == 0:
            assert parse_area(f"{whole}.{cents // 10}") == value


# ---------------------------------------------------------------------------------------------
# Units


def test_unit_helpers() -> None:
    unit = Unit.sole("A-101", "A", 8550, "alice")
    assert unit == Unit("A-101", "A", 8550, "alice", "alice", False)
    unsold = Unit.unsold("B-909", "B", 10000)
    assert unsold.owner_id == unsold.designated_voter == DEVELOPER_OWNER_ID
    assert unsold.developer_unsold is True


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"unit_id": ""}, "unit_id must not be empty"),
        ({"owner_id": ""}, "owner_id must not be empty"),
        ({"designated_voter": ""}, "designated_voter must not be empty"),
        ({"owner_id": " alice"}, "whitespace"),
        ({"unit_id": "A\x00101"}, "control"),
        ({"owner_id": "ali\u200bce"}, "control or format"),
        ({"owner_id": "e\u0301"}, "NFC"),
        ({"unit_id": 101}, "must be a str"),
        ({"area": 0}, "positive"),
        ({"area": -5}, "positive"),
        ({"area": MAX_UNIT_AREA + 1}, "maximum"),
        ({"area": 85.5}, "int"),
        ({"area": True}, "int"),
        ({"area": "8550"}, "int"),
        ({"developer_unsold": 1}, "bool"),
        ({"owner_id": DEVELOPER_OWNER_ID, "designated_voter": DEVELOPER_OWNER_ID}, "reserved"),
        ({"designated_voter": DEVELOPER_OWNER_ID}, "reserved"),
        ({"developer_unsold": True}, "owner_id"),
        (
            {"developer_unsold": True, "owner_id": DEVELOPER_OWNER_ID, "designated_voter": "bob"},
            "designated voter other than the developer",
        ),
    ],
)
def test_unit_rejects_invalid_fields(kwargs: dict[str, object], fragment: str) -> None:
    fields: dict[str, object] = {
        "unit_id": "A-101",
        "building": "A",
        "area": 8550,
        "owner_id": "alice",
        "designated_voter": "alice",
        "developer_unsold": False,
    }
    fields.update(kwargs)
    with pytest.raises(RollError, match=fragment):
        Unit(**fields)  # type: ignore[arg-type]


def test_unit_error_names_the_unit() -> None:
    with pytest.raises(RollError) as info:
        Unit("A-101", "A", 0, "alice", "alice")
    assert info.value.unit_id == "A-101"
    assert info.value.line is None


def test_empty_building_is_allowed() -> None:
    assert Unit.sole("1", "", 100, "alice").building == ""


# ---------------------------------------------------------------------------------------------
# Weights


def test_several_units_of_one_owner_sum_and_count_once() -> None:
    roll = compute_weights(
        [
            Unit.sole("A-101", "A", 8550, "alice"),
            Unit.sole("A-102", "A", 12025, "alice"),
            Unit.sole("P-007", "P", 1250, "alice"),
            Unit.sole("A-201", "A", 9000, "bob"),
        ]
    )
    assert roll.total_owners == 2
    assert roll.weight_of("alice") == 8550 + 12025 + 1250
    assert roll.weight_of("bob") == 9000
    assert roll.total_area == 8550 + 12025 + 1250 + 9000
    alice = roll.owner("alice")
    assert [u.unit_id for u in alice.units] == ["A-101", "A-102", "P-007"]


def test_developer_unsold_units_count_as_one_owner() -> None:
    roll = compute_weights(
        [
            Unit.unsold("C-101", "C", 10000),
            Unit.sole("A-101", "A", 8000, "alice"),
            Unit.unsold("C-102", "C", 11000),
            Unit.unsold("C-103", "C", 12000),
        ]
    )
    assert roll.total_owners == 2
    assert roll.weight_of(DEVELOPER_OWNER_ID) == 33000
    developer = roll.owner(DEVELOPER_OWNER_ID)
    assert developer.is_developer
    assert not roll.owner("alice").is_developer
    assert len(developer.units) == 3


def test_roll_without_developer_has_no_developer_owner() -> None:
    roll = compute_weights([Unit.sole("A-101", "A", 8000, "alice")])
    with pytest.raises(UnknownOwnerError):
        roll.weight_of(DEVELOPER_OWNER_ID)


def test_co_owned_unit_weight_goes_to_designated_voter() -> None:
    roll = compute_weights(
        [
            # carol and dave co-own A-301; the roll designates dave.
            Unit("A-301", "A", 9550, "carol", "dave"),
            Unit.sole("A-302", "A", 7000, "dave"),
            Unit.sole("A-303", "A", 6000, "erin"),
        ]
    )
    assert roll.total_owners == 2  # carol votes for no unit, dave counts once
    assert roll.weight_of("dave") == 9550 + 7000
    with pytest.raises(UnknownOwnerError):
        roll.weight_of("carol")
    with pytest.raises(KeyError):
        roll.weight_of("carol")


def test_co_owner_who_also_owns_alone_keeps_own_unit() -> None:
    roll = compute_weights(
        [
            Unit("A-301", "A", 9550, "carol", "dave"),
            Unit.sole("B-101", "B", 5000, "carol"),
        ]
    )
    assert roll.total_owners == 2
    assert roll.weight_of("carol") == 5000
    assert roll.weight_of("dave") == 9550


def test_duplicate_unit_rejected_with_line() -> None:
    units = [
        Unit.sole("A-101", "A", 8550, "alice"),
        Unit.sole("A-102", "A", 8550, "bob"),
        Unit.sole("A-101", "A", 9000, "carol"),
    ]
    with pytest.raises(RollError) as info:
        compute_weights(units)
    assert info.value.unit_id == "A-101"
    assert info.value.line == 3
    assert "duplicate unit id" in info.value.reason
    assert "line 1" in info.value.reason


def test_identical_duplicate_unit_also_rejected() -> None:
    unit = Unit.sole("A-101", "A", 8550, "alice")
    with pytest.raises(RollError, match="duplicate"):
        compute_weights([unit, unit])


def test_non_unit_rejected_with_line() -> None:
    with pytest.raises(RollError) as info:
        compute_weights([Unit.sole("A-101", "A", 8550, "alice"), ("A-102", "A", 1, "bob")])
    assert info.value.line == 2


def test_empty_roll_rejected() -> None:
    with pytest.raises(RollError, match="no units"):
        compute_weights([])


def test_compute_weights_accepts_any_iterable() -> None:
    units = (Unit.sole(f"U{i}", "A", 100 + i, f"o{i % 3}") for i in range(9))
    roll = compute_weights(units)
    assert roll.total_owners == 3


def test_weight_classes() -> None:
    roll = compute_weights(
        [
            Unit.sole("1", "A", 8000, "a"),
            Unit.sole("2", "A", 8000, "b"),
            Unit.sole("3", "A", 9000, "c"),
            Unit.sole("4", "A", 4000, "d"),
            Unit.sole("5", "A", 4000, "d"),  # d: 8000 in total
            Unit.unsold("6", "B", 5000),
        ]
    )
    assert roll.weight_classes() == (
        WeightClass(5000, 1),
        WeightClass(8000, 3),
        WeightClass(9000, 1),
    )


def test_owners_sorted_by_id() -> None:
    roll = compute_weights(
        [Unit.sole("1", "A", 1, "zoe"), Unit.sole("2", "A", 1, "amy"), Unit.unsold("3", "A", 1)]
    )
    assert [o.owner_id for o in roll.owners] == ["amy", DEVELOPER_OWNER_ID, "zoe"]


def test_weight_of_unknown_and_non_string() -> None:
    roll = compute_weights([Unit.sole("1", "A", 100, "alice")])
    for bad in ("bob", "", 1, None):
        with pytest.raises(UnknownOwnerError):
            roll.weight_of(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Direct construction keeps the invariants


def test_roll_direct_construction_checks_invariants() -> None:
    a = OwnerWeight("alice", 100, (Unit.sole("1", "A", 100, "alice"),))
    b = OwnerWeight("bob", 200, (Unit.sole("2", "A", 200, "bob"),))
    assert Roll((a, b), 300, 2).total_area == 300
    with pytest.raises(RollError, match="sorted"):
        Roll((b, a), 300, 2)
    with pytest.raises(RollError, match="total_area"):
        Roll((a, b), 301, 2)
    with pytest.raises(RollError, match="total_owners"):
        Roll((a, b), 300, 3)
    with pytest.raises(RollError, match="non-empty"):
        Roll((), 0, 0)
    b2 = OwnerWeight("bob", 100, (Unit.sole("1", "A", 100, "bob"),))
    with pytest.raises(RollError, match="duplicate unit id"):
        Roll((a, b2), 200, 2)


def test_owner_weight_checks_invariants() -> None:
    u1 = Unit.sole("1", "A", 100, "alice")
    u2 = Unit.sole("2", "A", 50, "alice")
    assert OwnerWeight("alice", 150, (u1, u2)).area == 150
    with pytest.raises(RollError, match="sum"):
        OwnerWeight("alice", 151, (u1, u2))
    with pytest.raises(RollError, match="sorted"):
        OwnerWeight("alice", 150, (u2, u1))
    with pytest.raises(RollError, match="voted by"):
        OwnerWeight("bob", 100, (u1,))
    with pytest.raises(RollError, match="non-empty"):
        OwnerWeight("alice", 0, ())


# ---------------------------------------------------------------------------------------------
# Canonical encoding and hash


def _sample_units() -> list[Unit]:
    return [
        Unit.sole("A-101", "A", 8550, "alice"),
        Unit.sole("A-102", "A", 12025, "alice"),
        Unit("A-301", "A", 9550, "carol", "dave"),
        Unit.sole("A-302", "A", 7000, "dave"),
        Unit.unsold("C-101", "C", 10000),
        Unit.unsold("C-102", "C", 11000),
        Unit.sole("B-101", "B", 6000, "张三"),
    ]


def test_canonical_bytes_layout() -> None:
    roll = compute_weights([Unit.sole("U1", "A", 8550, "al")])
    expected = (
        ROLL_ENCODING_TAG
        + (8550).to_bytes(8, "big")
        + (1).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + b"al"
        + (8550).to_bytes(8, "big")
        + (1).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + b"U1"
        + (1).to_bytes(4, "big")
        + b"A"
        + (8550).to_bytes(8, "big")
        + (2).to_bytes(4, "big")
        + b"al"
        + (2).to_bytes(4, "big")
        + b"al"
        + b"\x00"
    )
    assert roll_canonical_bytes(roll) == expected
    assert roll_hash(roll) == hashlib.sha256(expected).digest()
    assert len(roll_hash(roll)) == 32


def test_hash_stable_under_input_order() -> None:
    units = _sample_units()
    reference = roll_hash(compute_weights(units))
    rng = random.Random(278)
    for _ in range(20):
        shuffled = units[:]
        rng.shuffle(shuffled)
        assert roll_hash(compute_weights(shuffled)) == reference


def test_hash_changes_when_any_area_changes() -> None:
    units = _sample_units()
    reference = roll_hash(compute_weights(units))
    for i, unit in enumerate(units):
        changed = units[:]
        changed[i] = Unit(
            unit.unit_id,
            unit.building,
            unit.area + 1,
            unit.owner_id,
            unit.designated_voter,
            unit.developer_unsold,
        )
        assert roll_hash(compute_weights(changed)) != reference, unit.unit_id


def test_hash_changes_with_designation_building_and_ids() -> None:
    units = _sample_units()
    reference = roll_hash(compute_weights(units))
    variants = [
        # designation moved from dave to carol: same areas, different owners
        [Unit("A-301", "A", 9550, "carol", "carol") if u.unit_id == "A-301" else u for u in units],
        [Unit.sole("A-101", "B", 8550, "alice") if u.unit_id == "A-101" else u for u in units],
        [Unit.sole("A-101x", "A", 8550, "alice") if u.unit_id == "A-101" else u for u in units],
        # registered owner changes but the voter does not
        [Unit("A-301", "A", 9550, "erin", "dave") if u.unit_id == "A-301" else u for u in units],
    ]
    for variant in variants:
        assert roll_hash(compute_weights(variant)) != reference


def test_length_prefix_prevents_field_shifting() -> None:
    # With naive concatenation "ab"+"c" and "a"+"bc" would collide.
    r1 = compute_weights([Unit.sole("ab", "c", 100, "x")])
    r2 = compute_weights([Unit.sole("a", "bc", 100, "x")])
    assert roll_canonical_bytes(r1) != roll_canonical_bytes(r2)


_ids = st.text(alphabet="abcdefgh", min_size=1, max_size=3)


@st.composite
def _unit_lists(draw: st.DrawFn) -> list[Unit]:
    unit_ids = draw(st.lists(_ids, min_size=1, max_size=12, unique=True))
    units = []
    for uid in unit_ids:
        area = draw(st.integers(min_value=1, max_value=10**6))
        kind = draw(st.sampled_from(["sole", "co", "dev"]))
        if kind == "dev":
            units.append(Unit.unsold(uid, "B", area))
        elif kind == "co":
            units.append(Unit(uid, "B", area, draw(_ids), draw(_ids)))
        else:
            units.append(Unit.sole(uid, "B", area, draw(_ids)))
    return units


@given(_unit_lists(), st.randoms(use_true_random=False))
def test_property_roll_invariants_and_order_independence(
    units: list[Unit], rnd: random.Random
) -> None:
    roll = compute_weights(units)
    assert roll.total_area == sum(u.area for u in units)
    voters = {u.designated_voter for u in units}
    assert roll.total_owners == len(voters)
    for voter in voters:
        assert roll.weight_of(voter) == sum(u.area for u in units if u.designated_voter == voter)
    assert sum(wc.owners for wc in roll.weight_classes()) == roll.total_owners
    assert [o.owner_id for o in roll.owners] == sorted(voters)
    shuffled = units[:]
    rnd.shuffle(shuffled)
    assert roll_canonical_bytes(compute_weights(shuffled)) == roll_canonical_bytes(roll)


@given(_unit_lists(), st.data())
def test_property_any_area_change_changes_hash(units: list[Unit], data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(units) - 1))
    delta = data.draw(st.integers(min_value=1, max_value=1000))
    u = units[i]
    changed = units[:]
    changed[i] = Unit(
        u.unit_id, u.building, u.area + delta, u.owner_id, u.designated_voter, u.developer_unsold
    )
    assert roll_hash(compute_weights(changed)) != roll_hash(compute_weights(units))
