"""Import and export the property roll as CSV, the way a housing bureau delivers it.

The file has a header row and one row per registered unit. The columns, with exactly these names
and in any order, are:

``unit_id``
    Unique on the roll, non-empty.
``building``
    Building label (may be empty).
``exclusive_area_m2``
    Registered exclusive area in m^2, decimal text with at most two decimals (``85.5``), parsed
    by :func:`rules.area.parse_area`.
``owner_id``
    The registered owner; for a unit with several co-owners, the co-owner the register lists
    first (such a unit appears ONCE). Empty or :data:`~rules.roll.DEVELOPER_OWNER_ID` for a
    developer-unsold unit, required otherwise.
``designated_voter``
    Empty for a sole owner (the owner votes); for a co-owned unit the co-owner who casts its vote.
    Empty or :data:`~rules.roll.DEVELOPER_OWNER_ID` for a developer-unsold unit.
``developer_unsold``
    ``yes`` or ``no`` (empty means ``no``): the unit is the developer's, unsold or not yet
    delivered; all such units vote together as the single developer owner.

Text is UTF-8 (the caller decodes it; a leading byte-order mark is ignored), fields follow RFC 4180
quoting (``"a, b"``; ``""`` for a quote inside a quoted field) and lines may end in LF, CRLF or CR.

The import is strict and all-or-nothing: :func:`parse_roll_csv` checks every row, collects every
problem as a :class:`RowError` (1-based line number in the file, the header being line 1; the
column when the problem is in one cell; the reason) and raises one :class:`RollImportError` if
there is any, so that a roll is either imported whole or not at all. A blank line is a row with
the wrong number of fields and is rejected too. The module does no I/O: the caller reads the file
and passes its text (or an iterable of its lines).

:func:`roll_to_csv` writes the same format, so ``parse_roll_csv(roll_to_csv(units))`` gives back
exactly the roll of ``units``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rules.area import format_area, parse_area
from rules.errors import AreaError, RollError
from rules.roll import DEVELOPER_OWNER_ID, Roll, Unit, compute_weights

__all__ = [
    "COLUMNS",
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_ROWS",
    "RollImportError",
    "RowError",
    "parse_roll_csv",
    "roll_to_csv",
]

#: The columns of a roll file, in the order :func:`roll_to_csv` writes them.
COLUMNS: tuple[str, ...] = (
    "unit_id",
    "building",
    "exclusive_area_m2",
    "owner_id",
    "designated_voter",
    "developer_unsold",
)

#: Default limit on the number of data rows (units) of one file.
DEFAULT_MAX_ROWS = 200_000

#: Default limit on the number of :class:`RowError` carried by one :class:`RollImportError`.
DEFAULT_MAX_ERRORS = 100

_BOM = "\ufeff"
_MAX_LINES_NAMED = 5  # other lines a duplicate-unit_id error names (the rest are counted)
_YES, _NO = "yes", "no"

# Unit's field names (the prefix of its RollError reasons) -> the CSV column holding the value.
_UNIT_FIELD_COLUMN = {
    "unit_id": "unit_id",
    "building": "building",
    "area": "exclusive_area_m2",
    "owner_id": "owner_id",
    "designated_voter": "designated_voter",
    "developer_unsold": "developer_unsold",
}


@dataclass(frozen=True)
class RowError:
    """One problem of a roll file.

    ``line`` is the 1-based line of the file where the offending row starts (the header is line
    1); ``column`` names the column when the problem is in one cell, else ``None``; ``reason``
    says what is wrong.
    """

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class RollImportError(RollError):
    """A roll file that cannot be imported; nothing of it was imported.

    ``errors`` are the problems found, sorted by line, at most ``max_errors`` of them;
    ``error_count`` is how many were found in all (``truncated`` tells whether some were left
    out). A problem that stopped the reading (too many rows) is always among ``errors``.
    """

    def __init__(self, errors: Iterable[RowError], *, error_count: int | None = None) -> None:
        self.errors: tuple[RowError, ...] = tuple(errors)
        if not self.errors:
            raise ValueError("RollImportError needs at least one RowError")
        self.error_count = len(self.errors) if error_count is None else error_count
        self.truncated = self.error_count > len(self.errors)
        noun = "error" if self.error_count == 1 else "errors"
        lines = [f"roll import failed with {self.error_count} {noun}:"]
        lines += [f"  {e}" for e in self.errors]
        if self.truncated:
            lines.append(f"  ... and {self.error_count - len(self.errors)} more")
        super().__init__("\n".join(lines))


def _lines(source: str | Iterable[str]) -> Iterator[str]:
    """The lines of ``source`` (a whole text or an iterable of lines), without a leading BOM."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise TypeError("roll CSV must be str (decode the file as UTF-8 first), not bytes")
    if isinstance(source, str):
        if source.startswith(_BOM):
            source = source[1:]
        # newline="": split on LF, CRLF and CR alike but leave the endings to the csv module,
        # so that a quoted field keeps its line breaks and line numbers match the file's.
        yield from io.StringIO(source, newline="")
        return
    first = True
    for line in source:
        if not isinstance(line, str):
            raise TypeError(f"roll CSV lines must be str, got {type(line).__name__}")
        if first and line.startswith(_BOM):
            line = line[1:]
        first = False
        yield line


def _check_header(header: list[str]) -> list[RowError]:
    errors: list[RowError] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(1, name, f"duplicate column {name!r}"))
        elif name not in COLUMNS:
            errors.append(RowError(1, name, f"unknown column {name!r}"))
        seen.add(name)
    missing = [c for c in COLUMNS if c not in seen]
    if missing:
        errors.append(RowError(1, None, "missing column(s): " + ", ".join(missing)))
    return errors


def _unit_error(line: int, err: RollError) -> RowError:
    """Map a :class:`~rules.errors.RollError` raised by :class:`~rules.roll.Unit` to its cell."""
    field = err.reason.split(" ", 1)[0]
    return RowError(line, _UNIT_FIELD_COLUMN.get(field), err.reason)


def _parse_row(line: int, cell: dict[str, str]) -> tuple[Unit | None, list[RowError]]:
    """The :class:`Unit` of one data row, or the problems of the row."""
    errors: list[RowError] = []
    unit_id = cell["unit_id"]
    owner_id = cell["owner_id"]
    voter = cell["designated_voter"]
    if unit_id == "":
        errors.append(RowError(line, "unit_id", "unit_id is empty"))

    area: int | None = None
    try:
        area = parse_area(cell["exclusive_area_m2"])
    except AreaError as err:
        errors.append(RowError(line, "exclusive_area_m2", str(err)))

    flag = cell["developer_unsold"]
    developer: bool | None = None
    if flag == _YES:
        developer = True
    elif flag in (_NO, ""):
        developer = False
    else:
        errors.append(
            RowError(
                line,
                "developer_unsold",
                f"invalid developer_unsold {flag!r}: expected 'yes', 'no' or empty",
            )
        )

    if developer is True:
        if owner_id not in ("", DEVELOPER_OWNER_ID):
            errors.append(
                RowError(
                    line,
                    "owner_id",
                    f"a developer-unsold unit is owned by the developer: owner_id must be empty "
                    f"or {DEVELOPER_OWNER_ID!r}, got {owner_id!r}",
                )
            )
        if voter not in ("", DEVELOPER_OWNER_ID):
            errors.append(
                RowError(
                    line,
                    "designated_voter",
                    f"a developer-unsold unit votes as the developer: designated_voter must be "
                    f"empty or {DEVELOPER_OWNER_ID!r}, got {voter!r}",
                )
            )
    elif developer is False and owner_id == "":
        errors.append(
            RowError(
                line, "owner_id", "owner_id is empty (required unless developer_unsold is yes)"
            )
        )

    if errors:
        return None, errors
    assert area is not None and developer is not None
    try:
        if developer:
            unit = Unit.unsold(unit_id, cell["building"], area)
        elif voter in ("", owner_id):
            unit = Unit.sole(unit_id, cell["building"], area, owner_id)
        else:
            unit = Unit(unit_id, cell["building"], area, owner_id, voter, False)
    except RollError as err:
        return None, [_unit_error(line, err)]
    return unit, []


def parse_roll_csv(
    text: str | Iterable[str],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> Roll:
    """Import a property roll from CSV (see the module docstring for the format).

    ``text`` is the whole file as ``str`` or an iterable of its lines (``str``, with or without
    their line endings), e.g. an open text file. Returns the :class:`~rules.roll.Roll` computed by
    :func:`~rules.roll.compute_weights` from the units of the rows.

    Raises :class:`RollImportError` listing every problem (up to ``max_errors``, sorted by line):
    a malformed, missing or unknown header column; a row with the wrong number of fields
    (including a blank line) or broken CSV quoting; an empty ``unit_id``, or ``owner_id`` of a
    unit that is not developer-unsold; an invalid area; an invalid ``developer_unsold``; a
    developer-unsold unit with another owner or designated voter than the developer; the
    developer as owner or designated voter of a unit that is not developer-unsold; an identifier
    that :class:`~rules.roll.Unit` rejects (surrounding whitespace, control characters, not NFC);
    a ``unit_id`` on several rows (each of those lines is reported, naming the others); more than
    ``max_rows`` data rows (reading stops there); an empty file or one with no data row.
    Raises :class:`TypeError` for ``bytes`` or non-``str`` lines.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive int, got {max_rows!r}")
    if isinstance(max_errors, bool) or not isinstance(max_errors, int) or max_errors < 1:
        raise ValueError(f"max_errors must be a positive int, got {max_errors!r}")

    reader = csv.reader(_lines(text), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise RollImportError([RowError(1, None, "empty file: no header row")]) from None
    except csv.Error as err:
        raise RollImportError([RowError(1, None, f"malformed header row: {err}")]) from None
    header_errors = _check_header(header)
    if header_errors:
        raise RollImportError(header_errors)
    width = len(header)

    errors: list[RowError] = []
    fatal: RowError | None = None
    units: list[Unit] = []
    unit_lines: list[int] = []
    lines_of_id: dict[str, list[int]] = {}
    rows = 0
    end = reader.line_num  # last line consumed so far
    while True:
        line = end + 1  # a record starts on the line after the previous one ended
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            rows += 1
            end = reader.line_num
            if rows > max_rows:
                fatal = RowError(line, None, f"too many rows: more than {max_rows} data rows")
                break
            reason = str(err)
            if reason == "unexpected end of data":
                reason = "unterminated quoted field at the end of the file"
            errors.append(RowError(line, None, f"malformed CSV: {reason}"))
            continue
        rows += 1
        end = reader.line_num
        if rows > max_rows:
            fatal = RowError(line, None, f"too many rows: more than {max_rows} data rows")
            break
        if len(fields) != width:
            what = "blank line" if not fields else f"row has {len(fields)} fields"
            errors.append(RowError(line, None, f"{what}, expected {width} (one per column)"))
            continue
        cell = dict(zip(header, fields, strict=True))
        if cell["unit_id"] != "":
            lines_of_id.setdefault(cell["unit_id"], []).append(line)
        unit, row_errors = _parse_row(line, cell)
        if unit is not None:
            units.append(unit)
            unit_lines.append(line)
        errors += row_errors

    if rows == 0:
        raise RollImportError([RowError(1, None, "no data rows: the file has only the header")])
    for unit_id, id_lines in lines_of_id.items():
        if len(id_lines) > 1:
            for line in id_lines:
                # the first few other lines (bounded work per line, however many duplicates)
                named = [n for n in id_lines[: _MAX_LINES_NAMED + 1] if n != line]
                named = named[:_MAX_LINES_NAMED]
                more = len(id_lines) - 1 - len(named)
                where = f"line{'s' if len(id_lines) > 2 else ''} "
                where += ", ".join(str(n) for n in named)
                if more:
                    where += f" and {more} more"
                errors.append(
                    RowError(line, "unit_id", f"duplicate unit_id {unit_id!r} (also on {where})")
                )

    if not errors and fatal is None:
        try:
            return compute_weights(units)
        except RollError as err:  # not expected after the checks above; never half-import
            line = unit_lines[err.line - 1] if err.line is not None else 1
            errors.append(RowError(line, None, err.reason))

    errors.sort(key=lambda e: e.line)  # stable: a row's errors stay in the order found
    total = len(errors) + (fatal is not None)
    if fatal is not None:
        shown = errors[: max_errors - 1] + [fatal]
    else:
        shown = errors[:max_errors]
    raise RollImportError(shown, error_count=total)


def roll_to_csv(units: Iterable[Unit] | Roll) -> str:
    """Write units in the roll CSV format read by :func:`parse_roll_csv`.

    ``units`` are :class:`~rules.roll.Unit` instances, written in the given order, or a
    :class:`~rules.roll.Roll`, whose units are written in ``unit_id`` order. The header comes
    first, in :data:`COLUMNS` order; areas are written with two decimals; ``designated_voter`` is
    left empty when the owner votes; developer-unsold units are written with ``owner_id``
    :data:`~rules.roll.DEVELOPER_OWNER_ID`, an empty ``designated_voter`` and ``yes``. Lines end
    in LF and fields are quoted only when needed (RFC 4180), with no byte-order mark.

    The units are checked with :func:`~rules.roll.compute_weights` first (so an empty list or a
    duplicate ``unit_id`` raises :class:`~rules.errors.RollError`), so the output always imports
    to exactly their roll: ``roll_hash(parse_roll_csv(roll_to_csv(us))) ==
    roll_hash(compute_weights(us))``.

    Identifiers are written verbatim; a spreadsheet may interpret one beginning with ``=``, ``+``,
    ``-`` or ``@`` as a formula, so open such files as text.
    """
    if isinstance(units, Roll):
        unit_list = sorted((u for o in units.owners for u in o.units), key=lambda u: u.unit_id)
    else:
        unit_list = list(units)
    compute_weights(unit_list)  # validates: Unit instances, non-empty, unique unit_id

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for unit in unit_list:
        writer.writerow(
            (
                unit.unit_id,
                unit.building,
                format_area(unit.area),
                unit.owner_id,
                "" if unit.designated_voter == unit.owner_id else unit.designated_voter,
                _YES if unit.developer_unsold else _NO,
            )
        )
    return out.getvalue()
