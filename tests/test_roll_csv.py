"""Tests of the property-roll CSV import and export (rules.roll_csv)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.area import MAX_UNIT_AREA
from rules.errors import RollError, RulesError, UnknownOwnerError
from rules.roll import DEVELOPER_OWNER_ID, Unit, compute_weights, roll_hash
from rules.roll_csv import (
    COLUMNS,
    DEFAULT_MAX_ERRORS,
    RollImportError,
    RowError,
    parse_roll_csv,
    roll_to_csv,
)

ROLLS = Path(__file__).parent / "vectors" / "rolls"
HEADER = ",".join(COLUMNS)


def read(name: str) -> str:
    return (ROLLS / name).read_text(encoding="utf-8")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def import_errors(text, **kwargs) -> tuple[RowError, ...]:
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(text, **kwargs)
    return info.value.errors


def only_error(text, **kwargs) -> RowError:
    errors = import_errors(text, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


GOOD = "9-999,9号楼,50,O900,,no"

# ---------------------------------------------------------------------------------------------
# The realistic sample: 30 units in 3 buildings


def test_sample_roll_imports_to_the_expected_roll() -> None:
    roll = parse_roll_csv(read("sample_roll.csv"))
    units = {u.unit_id: u for o in roll.owners for u in o.units}
    assert len(units) == 30
    assert {u.building for u in units.values()} == {"1号楼", "2号楼", "3号楼, 商住楼"}

    # 1048.75 + 1095.50 + 1055.58 m^2
    assert roll.total_area == 319983
    # 24 distinct registered owners; O007's co-owned unit votes through O008; plus the developer
    assert roll.total_owners == 25
    ids = [o.owner_id for o in roll.owners]
    assert ids == sorted(ids)
    assert "O007" not in ids and "O008" in ids

    # the developer's three unsold units count as ONE owner, whatever the owner_id cell said
    developer = roll.owner(DEVELOPER_OWNER_ID)
    assert developer.is_developer
    assert [u.unit_id for u in developer.units] == ["1-501", "1-502", "3-501"]
    assert developer.area == 8950 + 12025 + 9860
    assert all(u == Unit.unsold(u.unit_id, u.building, u.area) for u in developer.units)
    assert sum(o.is_developer for o in roll.owners) == 1

    # owners of two units count once with the sum of the areas
    assert roll.weight_of("O001") == 8950 + 8950
    assert roll.weight_of("O002") == 12025 + 14380
    assert roll.weight_of("O009") == 7530 + 9860
    assert len(roll.owner("O009").units) == 2

    # the co-owned unit: registered to O007 first, its area goes to the designated voter O008
    assert units["1-402"] == Unit("1-402", "1号楼", 12025, "O007", "O008", False)
    assert roll.weight_of("O008") == 12025
    with pytest.raises(UnknownOwnerError):
        roll.weight_of("O007")

    # a designated voter equal to the owner is a sole owner; "89.5" == "89.50"; "210" is 210.00
    assert units["2-501"] == Unit.sole("2-501", "2号楼", 7530, "O016")
    assert units["1-201"].area == 8950
    assert units["3-101"].area == 21000
    assert units["1-401"].developer_unsold is False  # empty developer_unsold means no


def test_sample_roll_accepts_an_iterable_of_lines() -> None:
    text = read("sample_roll.csv")
    expected = roll_hash(parse_roll_csv(text))
    assert roll_hash(parse_roll_csv(text.splitlines(keepends=True))) == expected
    assert roll_hash(parse_roll_csv(text.splitlines())) == expected
    with (ROLLS / "sample_roll.csv").open(encoding="utf-8", newline="") as f:
        assert roll_hash(parse_roll_csv(f)) == expected


def test_bom_and_line_endings_are_handled() -> None:
    text = read("sample_roll.csv")
    expected = roll_hash(parse_roll_csv(text))
    crlf = text.replace("\n", "\r\n")
    for variant in (
        "\ufeff" + text,
        crlf,
        "\ufeff" + crlf,
        text.replace("\n", "\r"),
        text.rstrip("\n"),  # no final line break
    ):
        assert roll_hash(parse_roll_csv(variant)) == expected
    # the BOM is also dropped from the first of an iterable of lines (an utf-8 file read as text)
    assert roll_hash(parse_roll_csv(("\ufeff" + crlf).splitlines(keepends=True))) == expected
    # what a caller reading bytes gets with utf-8-sig is the same roll
    raw = ("\ufeff" + crlf).encode("utf-8")
    assert roll_hash(parse_roll_csv(raw.decode("utf-8-sig"))) == expected
    assert roll_hash(parse_roll_csv(raw.decode("utf-8"))) == expected


def test_line_numbers_with_crlf_and_bom() -> None:
    text = "\ufeff" + csv_text(GOOD, "1-1,A,1.234,O1,,no").replace("\n", "\r\n")
    assert only_error(text).line == 3


def test_quoted_fields_with_commas_quotes_and_any_column_order() -> None:
    header = "owner_id,developer_unsold,unit_id,designated_voter,exclusive_area_m2,building"
    text = csv_text(
        '"Zhang, Wei",no,"A-1, east","Li ""Lily"" Na",85.5,"Block ""A"", 1"',
        ',yes,A-2,,"100",Block A',
        header=header,
    )
    roll = parse_roll_csv(text)
    assert roll.owner('Li "Lily" Na').units == (
        Unit("A-1, east", 'Block "A", 1', 8550, "Zhang, Wei", 'Li "Lily" Na', False),
    )
    assert roll.owner(DEVELOPER_OWNER_ID).units == (Unit.unsold("A-2", "Block A", 10000),)
    assert roll.total_owners == 2


def test_quoted_field_with_line_break_is_one_record_and_line_numbers_follow_the_file() -> None:
    # the building cell spans lines 2-3; Unit rejects the line break (a control character)
    text = csv_text('1-1,"Bldg\n1",50,O1,,no', "1-2,B,1.234,O2,,no")
    errors = import_errors(text)
    assert [(e.line, e.column) for e in errors] == [(2, "building"), (4, "exclusive_area_m2")]
    assert "control" in errors[0].reason


# ---------------------------------------------------------------------------------------------
# A file with several bad rows: every problem reported, nothing imported


def test_bad_file_reports_every_row_with_its_line_and_reason() -> None:
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(read("bad_roll.csv"))
    err = info.value
    got = [(e.line, e.column) for e in err.errors]
    assert got == [
        (2, "unit_id"),  # 1-101 duplicated on line 7
        (3, "exclusive_area_m2"),  # 120.255
        (4, "unit_id"),  # empty
        (5, "owner_id"),  # empty, not a developer unit
        (6, "developer_unsold"),  # maybe
        (7, "unit_id"),  # 1-101 duplicated on line 2
        (8, "designated_voter"),  # the developer votes for an owner's unit
        (9, None),  # 7 fields
        (10, "designated_voter"),  # developer unit voted by O009
        (11, "owner_id"),  # " O010"
        (12, "exclusive_area_m2"),  # -89.50
    ]
    reasons = [e.reason for e in err.errors]
    assert reasons[0] == "duplicate unit_id '1-101' (also on line 7)"
    assert reasons[1] == "invalid area '120.255': more than two decimals"
    assert reasons[2] == "unit_id is empty"
    assert "owner_id is empty" in reasons[3]
    assert "'maybe'" in reasons[4]
    assert reasons[5] == "duplicate unit_id '1-101' (also on line 2)"
    assert "designated_voter 'developer' is reserved" in reasons[6]
    assert reasons[7] == "row has 7 fields, expected 6 (one per column)"
    assert "'O009'" in reasons[8] and "developer" in reasons[8]
    assert reasons[9] == "owner_id has surrounding whitespace"
    assert reasons[10] == "invalid area '-89.50': negative"
    assert err.error_count == 11 and not err.truncated
    # the message lists every error, so a log line alone is enough to fix the file
    message = str(err)
    assert message.startswith("roll import failed with 11 errors:")
    assert all(str(e) in message for e in err.errors)
    assert "line 12, column exclusive_area_m2: invalid area '-89.50': negative" in message


def test_import_error_is_a_roll_error() -> None:
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(read("bad_roll.csv"))
    assert isinstance(info.value, RollError)
    assert isinstance(info.value, RulesError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.errors, tuple)
    assert all(isinstance(e, RowError) for e in info.value.errors)


def test_one_bad_row_rejects_the_whole_file() -> None:
    lines = read("sample_roll.csv").splitlines()
    lines[21] = lines[21].replace(",210,", ",210.001,")  # 3-101, line 22
    error = only_error("\n".join(lines))
    assert error == RowError(
        22, "exclusive_area_m2", "invalid area '210.001': more than two decimals"
    )


# ---------------------------------------------------------------------------------------------
# Each kind of error


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("1-1,A,50,O1,", "row has 5 fields, expected 6 (one per column)"),
        ("1-1,A,50,O1,,no,", "row has 7 fields, expected 6 (one per column)"),
        ("1-1,A, 1,50,O1,,no", "row has 7 fields, expected 6 (one per column)"),  # unquoted comma
        ("", "blank line, expected 6 (one per column)"),
        (" ", "row has 1 fields, expected 6 (one per column)"),
    ],
)
def test_wrong_field_count(row: str, reason: str) -> None:
    assert only_error(csv_text(GOOD, row, GOOD.replace("9-999", "9-998"))) == RowError(
        3, None, reason
    )


def test_trailing_blank_line_is_an_error() -> None:
    assert only_error(csv_text(GOOD) + "\n") == RowError(
        3, None, "blank line, expected 6 (one per column)"
    )


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (",A,50,O1,,no", "unit_id", "unit_id is empty"),
        (
            "1-1,A,50,,,no",
            "owner_id",
            "owner_id is empty (required unless developer_unsold is yes)",
        ),
        (
            "1-1,A,50,,,",
            "owner_id",
            "owner_id is empty (required unless developer_unsold is yes)",
        ),
        (
            "1-1,A,50,,O2,no",
            "owner_id",
            "owner_id is empty (required unless developer_unsold is yes)",
        ),
    ],
)
def test_empty_required_ids(row: str, column: str, reason: str) -> None:
    assert only_error(csv_text(GOOD, row)) == RowError(3, column, reason)


@pytest.mark.parametrize(
    ("area", "why"),
    [
        ("", "empty"),
        ("0", "zero"),
        ("-5", "negative"),
        ("+5", "explicit sign"),
        ("85.123", "more than two decimals"),
        ("1e2", "exponent notation"),
        ("NaN", "not a finite number"),
        ("085", "leading zero"),
        ('" 85"', "surrounding whitespace"),
        ('"1,000"', "not a decimal number of square metres with at most two decimals"),
        ("10000000.01", "above the maximum"),
    ],
)
def test_invalid_area_reports_the_area_error_reason(area: str, why: str) -> None:
    error = only_error(csv_text(GOOD, f"1-1,A,{area},O1,,no"))
    assert (error.line, error.column) == (3, "exclusive_area_m2")
    assert error.reason.startswith("invalid area ")
    assert why in error.reason


@pytest.mark.parametrize("value", ["Yes", "YES", "true", "1", "y", " yes", "no ", "N"])
def test_invalid_developer_unsold(value: str) -> None:
    error = only_error(csv_text(GOOD, f'1-1,A,50,O1,,"{value}"'))
    assert error == RowError(
        3, "developer_unsold", f"invalid developer_unsold {value!r}: expected 'yes', 'no' or empty"
    )


def test_several_errors_in_one_row_are_all_reported() -> None:
    errors = import_errors(csv_text(",A,5.555,,,maybe"))
    assert [(e.line, e.column) for e in errors] == [
        (2, "unit_id"),
        (2, "exclusive_area_m2"),
        (2, "developer_unsold"),
    ]


def test_duplicate_unit_id_reports_every_line() -> None:
    text = csv_text("1-1,A,50,O1,,no", GOOD, "1-1,A,60,O2,,no", "1-1,B,70,,,yes")
    errors = import_errors(text)
    assert errors == (
        RowError(2, "unit_id", "duplicate unit_id '1-1' (also on lines 4, 5)"),
        RowError(4, "unit_id", "duplicate unit_id '1-1' (also on lines 2, 5)"),
        RowError(5, "unit_id", "duplicate unit_id '1-1' (also on lines 2, 4)"),
    )


def test_duplicate_unit_id_is_found_even_when_the_rows_have_other_errors() -> None:
    errors = import_errors(csv_text("1-1,A,50,O1,,no", "1-1,A,-1,O2,,no"))
    assert [(e.line, e.column) for e in errors] == [
        (2, "unit_id"),
        (3, "exclusive_area_m2"),
        (3, "unit_id"),
    ]


def test_developer_as_designated_voter_of_an_owners_unit() -> None:
    for flag in ("no", ""):
        error = only_error(csv_text(GOOD, f"1-1,A,50,O1,{DEVELOPER_OWNER_ID},{flag}"))
        assert (error.line, error.column) == (3, "designated_voter")
        assert "reserved for the developer's unsold units" in error.reason


def test_developer_as_owner_of_a_unit_not_marked_unsold() -> None:
    error = only_error(csv_text(GOOD, f"1-1,A,50,{DEVELOPER_OWNER_ID},,no"))
    assert (error.line, error.column) == (3, "owner_id")
    assert "reserved for the developer's unsold units" in error.reason


def test_developer_unit_voted_by_someone_else() -> None:
    for owner in ("", DEVELOPER_OWNER_ID):
        error = only_error(csv_text(GOOD, f"1-1,A,50,{owner},O1,yes"))
        assert error == RowError(
            3,
            "designated_voter",
            "a developer-unsold unit votes as the developer: designated_voter must be empty or "
            "'developer', got 'O1'",
        )


def test_developer_unit_with_another_owner() -> None:
    error = only_error(csv_text(GOOD, "1-1,A,50,O1,,yes"))
    assert (error.line, error.column) == (3, "owner_id")
    assert "'O1'" in error.reason


def test_developer_unit_forms_accepted() -> None:
    roll = parse_roll_csv(
        csv_text(
            "D-1,A,50,,,yes",
            f"D-2,A,60,{DEVELOPER_OWNER_ID},,yes",
            f"D-3,A,70,,{DEVELOPER_OWNER_ID},yes",
            f"D-4,A,80,{DEVELOPER_OWNER_ID},{DEVELOPER_OWNER_ID},yes",
        )
    )
    assert roll.total_owners == 1
    assert roll.weight_of(DEVELOPER_OWNER_ID) == 26000


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (" 1-1,A,50,O1,,no", "unit_id", "unit_id has surrounding whitespace"),
        ("1-1 ,A,50,O1,,no", "unit_id", "unit_id has surrounding whitespace"),
        ('"1-1\t",A,50,O1,,no', "unit_id", "unit_id has surrounding whitespace"),
        ("1-\x071,A,50,O1,,no", "unit_id", "unit_id contains a control or format character"),
        ("1-1\u200b2,A,50,O1,,no", "unit_id", "unit_id contains a control or format character"),
        ("1-1,A,50,O\x001,,no", "owner_id", "owner_id contains a control or format character"),
        ("1-1,A,50,O1 ,,no", "owner_id", "owner_id has surrounding whitespace"),
        ("1-1,A,50,O1, O2,no", "designated_voter", "designated_voter has surrounding whitespace"),
        (
            "1-1,A,50,O1,O\x1b2,no",
            "designated_voter",
            "designated_voter contains a control or format character",
        ),
        ("1-1, A,50,O1,,no", "building", "building has surrounding whitespace"),
        ("1-1,A\x7f,50,O1,,no", "building", "building contains a control or format character"),
        ("1-1,A,50,Ze\u0301,,no", "owner_id", "owner_id is not in Unicode NFC"),
        ("\ufeff1-1,A,50,O1,,no", "unit_id", "unit_id contains a control or format character"),
    ],
)
def test_bad_identifiers_are_mapped_to_their_row_and_column(
    row: str, column: str, reason: str
) -> None:
    assert only_error(csv_text(GOOD, row)) == RowError(3, column, reason)


def test_malformed_quoting() -> None:
    errors = import_errors(csv_text('"1-1"x,A,50,O1,,no', GOOD, "1-2,A,50,O2,,no"))
    assert len(errors) == 1
    assert (errors[0].line, errors[0].column) == (2, None)
    assert errors[0].reason.startswith("malformed CSV:")

    error = only_error(csv_text(GOOD, '1-2,"A,50,O2,,no', "1-3,A,50,O3,,no"))
    assert error == RowError(
        3, None, "malformed CSV: unterminated quoted field at the end of the file"
    )


def test_too_many_rows_stops_reading() -> None:
    rows = [f"1-{i},A,50,O{i},,no" for i in range(5)]
    text = csv_text(*rows, "this row is never read")
    assert roll_hash(parse_roll_csv(csv_text(*rows), max_rows=5)) is not None
    error = only_error(text, max_rows=5)
    assert error == RowError(7, None, "too many rows: more than 5 data rows")
    # the rows read before the limit are still reported, the limit error comes last
    bad = [f"1-{i},A,-1,O{i},,no" for i in range(4)]
    errors = import_errors(csv_text(*bad, *bad), max_rows=5)
    assert [e.line for e in errors] == [2, 2, 3, 4, 5, 6, 6, 7]
    assert errors[-1].reason == "too many rows: more than 5 data rows"


def test_default_row_limit() -> None:
    text = HEADER + "\n" + "\n" * 200_001  # blank lines: cheap rows, each an error
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(text)
    assert info.value.errors[-1] == RowError(
        200_002, None, "too many rows: more than 200000 data rows"
    )
    assert info.value.error_count == 200_001


def test_many_duplicates_name_a_bounded_number_of_lines() -> None:
    errors = import_errors(csv_text(*["1-1,A,50,O1,,no"] * 20_000))
    assert errors[0] == RowError(
        2, "unit_id", "duplicate unit_id '1-1' (also on lines 3, 4, 5, 6, 7 and 19994 more)"
    )
    assert errors[3] == RowError(
        5, "unit_id", "duplicate unit_id '1-1' (also on lines 2, 3, 4, 6, 7 and 19994 more)"
    )
    assert (
        errors[-1].reason == "duplicate unit_id '1-1' (also on lines 2, 3, 4, 5, 6 and 19994 more)"
    )


def test_error_cap() -> None:
    rows = [f"1-{i},A,1.001,O{i},,no" for i in range(150)]
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(csv_text(*rows))
    err = info.value
    assert len(err.errors) == DEFAULT_MAX_ERRORS
    assert [e.line for e in err.errors] == list(range(2, 2 + DEFAULT_MAX_ERRORS))
    assert err.error_count == 150 and err.truncated
    assert str(err).endswith("... and 50 more")
    with pytest.raises(RollImportError) as info:
        parse_roll_csv(csv_text(*rows), max_errors=3, max_rows=100)
    assert [e.line for e in info.value.errors] == [2, 3, 102]  # the limit error is kept
    assert info.value.error_count == 101


@pytest.mark.parametrize("text", ["", "\ufeff", []])
def test_empty_file(text) -> None:
    assert only_error(text) == RowError(1, None, "empty file: no header row")


@pytest.mark.parametrize("text", [HEADER, HEADER + "\n", HEADER + "\r\n", "\ufeff" + HEADER])
def test_header_without_data_rows(text: str) -> None:
    assert only_error(text) == RowError(1, None, "no data rows: the file has only the header")


def test_missing_columns_are_named() -> None:
    header = "unit_id,exclusive_area_m2,owner_id,designated_voter"
    error = only_error(csv_text("1-1,50,O1,", header=header))
    assert error == RowError(1, None, "missing column(s): building, developer_unsold")


def test_unknown_and_duplicate_columns() -> None:
    errors = import_errors(csv_text(GOOD + ",x", header=HEADER + ",phone"))
    assert errors == (RowError(1, "phone", "unknown column 'phone'"),)
    errors = import_errors(csv_text(GOOD + ",O1", header=HEADER + ",owner_id"))
    assert errors == (RowError(1, "owner_id", "duplicate column 'owner_id'"),)
    # names are exact: no case folding, no trimming
    errors = import_errors(csv_text(GOOD, header=HEADER.replace("unit_id", "Unit_ID")))
    assert errors == (
        RowError(1, "Unit_ID", "unknown column 'Unit_ID'"),
        RowError(1, None, "missing column(s): unit_id"),
    )
    errors = import_errors(csv_text(GOOD, header=HEADER.replace(",building", ", building")))
    assert errors[0] == RowError(1, " building", "unknown column ' building'")


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="decode"):
        parse_roll_csv(read("sample_roll.csv").encode("utf-8"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_roll_csv([HEADER.encode()])  # type: ignore[list-item]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            parse_roll_csv(csv_text(GOOD), max_rows=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            parse_roll_csv(csv_text(GOOD), max_errors=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Export and round trip


def test_roll_to_csv_format() -> None:
    units = [
        Unit.sole("1-101", "1号楼", 8950, "O001"),
        Unit("1-402", "Block A, east", 12025, "Zhang, Wei", 'Li "Lily" Na', False),
        Unit("1-403", "1号楼", 100, "O3", "O3", False),
        Unit.unsold("1-501", "1号楼", 12025),
    ]
    assert roll_to_csv(units) == (
        "unit_id,building,exclusive_area_m2,owner_id,designated_voter,developer_unsold\n"
        "1-101,1号楼,89.50,O001,,no\n"
        '1-402,"Block A, east",120.25,"Zhang, Wei","Li ""Lily"" Na",no\n'
        "1-403,1号楼,1.00,O3,,no\n"
        "1-501,1号楼,120.25,developer,,yes\n"
    )
    roll = compute_weights(units)
    assert roll_hash(parse_roll_csv(roll_to_csv(units))) == roll_hash(roll)
    # a Roll is written in unit_id order
    assert roll_to_csv(roll) == roll_to_csv(units)
    assert roll_to_csv(reversed(units)) != roll_to_csv(roll)


def test_roll_to_csv_rejects_what_would_not_import() -> None:
    with pytest.raises(RollError):
        roll_to_csv([])
    with pytest.raises(RollError):
        roll_to_csv([Unit.sole("1", "", 1, "a"), Unit.sole("1", "", 2, "b")])
    with pytest.raises(RollError):
        roll_to_csv(["1,,1,a,,no"])  # type: ignore[list-item]


def test_sample_round_trip() -> None:
    roll = parse_roll_csv(read("sample_roll.csv"))
    text = roll_to_csv(roll)
    assert roll_hash(parse_roll_csv(text)) == roll_hash(roll)
    assert roll_to_csv(parse_roll_csv(text)) == text


def _valid_id(s: str) -> bool:
    return s == s.strip() and unicodedata.normalize("NFC", s) == s and s != DEVELOPER_OWNER_ID


# Letters, digits, punctuation (commas, quotes), spaces inside, CJK, line/paragraph separators:
# everything Unit accepts in an identifier. Unit rejects control and format characters.
_chars = st.one_of(
    st.sampled_from("ABC-01,\"; '号楼栋单元\u2028\u00e9"),
    st.characters(exclude_categories=("Cc", "Cf", "Cs")),
)
ids = st.text(_chars, min_size=1, max_size=8).filter(_valid_id)
buildings = st.one_of(st.just(""), ids)
areas = st.one_of(st.integers(1, 100_000), st.integers(1, MAX_UNIT_AREA))


@st.composite
def unit_lists(draw) -> list[Unit]:
    unit_ids = draw(st.lists(ids, min_size=1, max_size=15, unique=True))
    owners = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
    units = []
    for unit_id in unit_ids:
        kind = draw(st.sampled_from(["sole", "co-owned", "developer"]))
        building = draw(buildings)
        area = draw(areas)
        if kind == "developer":
            units.append(Unit.unsold(unit_id, building, area))
        else:
            owner = draw(st.sampled_from(owners))
            voter = owner if kind == "sole" else draw(st.sampled_from(owners))
            units.append(Unit(unit_id, building, area, owner, voter, False))
    return units


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit_lists(), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_round_trip_property(units: list[Unit], newline: str, bom: bool) -> None:
    expected = compute_weights(units)
    text = roll_to_csv(units)
    if newline != "\n":
        text = text.replace("\n", newline)  # ids never contain "\n": Unit rejects controls
    if bom:
        text = "\ufeff" + text
    roll = parse_roll_csv(text)
    assert roll == expected
    assert roll_hash(roll) == roll_hash(expected)
    assert roll_to_csv(roll) == roll_to_csv(expected)
