"""The property roll and each voting owner's weight under PRC Civil Code Art. 278.

Art. 278 counts every matter twice: by registered exclusive area and by headcount of owners. This
module turns the roll (one :class:`Unit` per registered unit) into a :class:`Roll` of voting
owners, each with an area weight and a headcount of one:

* an owner's area is the sum of the exclusive areas of the units they vote for, and they count
  once however many units that is;
* all units the developer has not sold (or sold but not yet delivered) count together as ONE
  owner, the synthetic owner :data:`DEVELOPER_OWNER_ID`, whose area is their sum;
* a unit with several co-owners casts one vote, through the co-owner the roll designates
  (``designated_voter``); its area goes to that co-owner, added to any other units they vote for.
  A co-owner who is designated for no unit is not a voting owner.

Areas are ``int`` in 0.01 m^2 (see :mod:`rules.area`). The roll is committed to by
:func:`roll_hash`, the SHA-256 of the unambiguous encoding :func:`roll_canonical_bytes`.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rules.area import MAX_UNIT_AREA, format_area, parse_area
from rules.errors import RollError, UnknownOwnerError

__all__ = [
    "DEVELOPER_OWNER_ID",
    "ROLL_ENCODING_TAG",
    "OwnerWeight",
    "Roll",
    "Unit",
    "WeightClass",
    "compute_weights",
    "format_area",
    "parse_area",
    "roll_canonical_bytes",
    "roll_hash",
]

#: The synthetic owner id under which all of the developer's unsold units vote as one owner.
#: It is reserved: only units with ``developer_unsold=True`` may use it, and they must.
DEVELOPER_OWNER_ID = "developer"

#: Domain-separation prefix of :func:`roll_canonical_bytes` (version 1 of the encoding).
ROLL_ENCODING_TAG = b"ownervote/roll/v1\x00"

_U64_LIMIT = 1 << 64
_U32_LIMIT = 1 << 32


def _text_problem(value: object, *, allow_empty: bool) -> str | None:
    """Why ``value`` is not an acceptable identifier, or ``None`` if it is.

    Identifiers must be ``str`` in Unicode NFC, without surrounding whitespace and without
    control or format characters, so that two spellings of one id cannot become two owners and
    the canonical encoding of the roll is well defined.
    """
    if not isinstance(value, str):
        return f"must be a str, got {type(value).__name__}"
    if value == "":
        return None if allow_empty else "must not be empty"
    if value != value.strip():
        return "has surrounding whitespace"
    if unicodedata.normalize("NFC", value) != value:
        return "is not in Unicode NFC"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        return "contains a control or format character"
    return None


@dataclass(frozen=True)
class Unit:
    """One registered unit of the roll.

    ``unit_id``
        Unique on the roll (non-empty).
    ``building``
        Building label, informational (may be empty).
    ``area``
        Registered exclusive area, ``int`` in 0.01 m^2, ``1 <= area <= MAX_UNIT_AREA``; use
        :func:`parse_area` for a decimal string such as ``"85.5"``.
    ``owner_id``
        The registered owner (for a co-owned unit, the co-owner the register lists first).
    ``designated_voter``
        The owner id that casts this unit's vote: for a sole owner equal to ``owner_id``, for a
        co-owned unit the co-owner the roll designates.
    ``developer_unsold``
        The unit is the developer's, unsold or not yet delivered. Such a unit must have
        ``owner_id == designated_voter == DEVELOPER_OWNER_ID``; no other unit may use that id.

    Construction raises :class:`~rules.errors.RollError` when a field is invalid.
    """

    unit_id: str
    building: str
    area: int
    owner_id: str
    designated_voter: str
    developer_unsold: bool = False

    def __post_init__(self) -> None:
        uid = self.unit_id if isinstance(self.unit_id, str) else None
        for name, allow_empty in (
            ("unit_id", False),
            ("building", True),
            ("owner_id", False),
            ("designated_voter", False),
        ):
            problem = _text_problem(getattr(self, name), allow_empty=allow_empty)
            if problem is not None:
                raise RollError(f"{name} {problem}", unit_id=uid)
        if isinstance(self.area, bool) or not isinstance(self.area, int):
            raise RollError(
                f"area must be an int of 0.01 m^2, got {type(self.area).__name__}", unit_id=uid
            )
        if self.area <= 0:
            raise RollError("area must be positive", unit_id=uid)
        if self.area > MAX_UNIT_AREA:
            raise RollError(
                f"area above the maximum of {format_area(MAX_UNIT_AREA)} m^2", unit_id=uid
            )
        if not isinstance(self.developer_unsold, bool):
            raise RollError("developer_unsold must be a bool", unit_id=uid)
        if self.developer_unsold:
            if self.owner_id != DEVELOPER_OWNER_ID:
                raise RollError(
                    f"developer's unsold unit must have owner_id {DEVELOPER_OWNER_ID!r}",
                    unit_id=uid,
                )
            if self.designated_voter != DEVELOPER_OWNER_ID:
                raise RollError(
                    "developer's unsold unit has a designated voter other than the developer "
                    f"({DEVELOPER_OWNER_ID!r})",
                    unit_id=uid,
                )
        else:
            for name in ("owner_id", "designated_voter"):
                if getattr(self, name) == DEVELOPER_OWNER_ID:
                    raise RollError(
                        f"{name} {DEVELOPER_OWNER_ID!r} is reserved for the developer's unsold "
                        "units (set developer_unsold)",
                        unit_id=uid,
                    )

    @classmethod
    def sole(cls, unit_id: str, building: str, area: int, owner_id: str) -> Unit:
        """A unit with a single owner, who votes for it."""
        return cls(unit_id, building, area, owner_id, owner_id, False)

    @classmethod
    def unsold(cls, unit_id: str, building: str, area: int) -> Unit:
        """One of the developer's unsold (or undelivered) units."""
        return cls(unit_id, building, area, DEVELOPER_OWNER_ID, DEVELOPER_OWNER_ID, True)


@dataclass(frozen=True)
class OwnerWeight:
    """One voting owner: headcount one, area ``area`` (0.01 m^2) from ``units``.

    ``units`` are the units this owner votes for (every unit with ``designated_voter ==
    owner_id``), sorted by ``unit_id``; ``area`` is the sum of their areas. Construction checks
    both invariants and raises :class:`~rules.errors.RollError` if they do not hold.
    """

    owner_id: str
    area: int
    units: tuple[Unit, ...]

    def __post_init__(self) -> None:
        problem = _text_problem(self.owner_id, allow_empty=False)
        if problem is not None:
            raise RollError(f"owner_id {problem}")
        if not isinstance(self.units, tuple) or not self.units:
            raise RollError(f"owner {self.owner_id!r} must have a non-empty tuple of units")
        previous: str | None = None
        for unit in self.units:
            if not isinstance(unit, Unit):
                raise RollError(f"owner {self.owner_id!r}: units must be Unit instances")
            if unit.designated_voter != self.owner_id:
                raise RollError(
                    f"unit is voted by {unit.designated_voter!r}, not by owner {self.owner_id!r}",
                    unit_id=unit.unit_id,
                )
            if previous is not None and unit.unit_id <= previous:
                raise RollError(
                    f"owner {self.owner_id!r}: units not strictly sorted by unit_id",
                    unit_id=unit.unit_id,
                )
            previous = unit.unit_id
        if isinstance(self.area, bool) or self.area != sum(u.area for u in self.units):
            raise RollError(f"owner {self.owner_id!r}: area is not the sum of the unit areas")

    @property
    def is_developer(self) -> bool:
        """Whether this is the synthetic owner of the developer's unsold units."""
        return self.owner_id == DEVELOPER_OWNER_ID


@dataclass(frozen=True, order=True)
class WeightClass:
    """A weight class: the exact area ``area`` (0.01 m^2) and how many ``owners`` hold it."""

    area: int
    owners: int


@dataclass(frozen=True)
class Roll:
    """The voting owners of one community, as PRC Civil Code Art. 278 weighs them.

    ``owners`` is sorted strictly by ``owner_id`` (code-point order, which is also the order of
    the UTF-8 bytes); ``total_area`` is the sum of their areas (0.01 m^2) and ``total_owners`` the
    headcount, ``len(owners)``. No unit appears twice. Build it with :func:`compute_weights`;
    direct construction checks the same invariants and raises :class:`~rules.errors.RollError`.
    """

    owners: tuple[OwnerWeight, ...]
    total_area: int
    total_owners: int

    def __post_init__(self) -> None:
        if not isinstance(self.owners, tuple) or not self.owners:
            raise RollError("roll must have a non-empty tuple of owners")
        previous: str | None = None
        seen_units: set[str] = set()
        for owner in self.owners:
            if not isinstance(owner, OwnerWeight):
                raise RollError("roll owners must be OwnerWeight instances")
            if previous is not None and owner.owner_id <= previous:
                raise RollError(f"owners not strictly sorted by owner_id at {owner.owner_id!r}")
            previous = owner.owner_id
            for unit in owner.units:
                if unit.unit_id in seen_units:
                    raise RollError("duplicate unit id", unit_id=unit.unit_id)
                seen_units.add(unit.unit_id)
        if isinstance(self.total_area, bool) or self.total_area != sum(o.area for o in self.owners):
            raise RollError("total_area is not the sum of the owners' areas")
        if self.total_area >= _U64_LIMIT:
            raise RollError("total area does not fit in 64 bits")
        if isinstance(self.total_owners, bool) or self.total_owners != len(self.owners):
            raise RollError("total_owners is not the number of owners")

    def owner(self, owner_id: str) -> OwnerWeight:
        """The :class:`OwnerWeight` of ``owner_id``; :class:`~rules.errors.UnknownOwnerError`
        (a ``KeyError``) if ``owner_id`` is not a voting owner."""
        if isinstance(owner_id, str):
            i = bisect.bisect_left(self.owners, owner_id, key=lambda o: o.owner_id)
            if i < len(self.owners) and self.owners[i].owner_id == owner_id:
                return self.owners[i]
        raise UnknownOwnerError(owner_id)

    def weight_of(self, owner_id: str) -> int:
        """The area weight (0.01 m^2) of voting owner ``owner_id``.

        Raises :class:`~rules.errors.UnknownOwnerError` (a ``KeyError``) for an id that is not a
        voting owner, e.g. a co-owner who is nobody's designated voter.
        """
        return self.owner(owner_id).area

    def weight_classes(self) -> tuple[WeightClass, ...]:
        """The distinct owner areas, ascending, each with the number of owners holding it.

        An owner's weight class is their exact area; the counts add up to ``total_owners``.
        """
        counts: dict[int, int] = {}
        for owner in self.owners:
            counts[owner.area] = counts.get(owner.area, 0) + 1
        return tuple(WeightClass(area, n) for area, n in sorted(counts.items()))


def compute_weights(units: Iterable[Unit]) -> Roll:
    """Compute the :class:`Roll` of voting owners from the units of the roll.

    Each unit's area goes to its ``designated_voter`` (the owner themself for a sole owner, the
    designated co-owner for a co-owned unit, :data:`DEVELOPER_OWNER_ID` for all of the
    developer's unsold units); each distinct voter is one owner whose area is the sum. The input
    order does not matter.

    Raises :class:`~rules.errors.RollError` with ``line`` (1-based position in ``units``) for an
    element that is not a :class:`Unit` or a unit id already seen, and for an empty roll.
    """
    first_line: dict[str, int] = {}
    by_voter: dict[str, list[Unit]] = {}
    for line, unit in enumerate(units, start=1):
        if not isinstance(unit, Unit):
            raise RollError(f"expected a Unit, got {type(unit).__name__}", line=line)
        if unit.unit_id in first_line:
            raise RollError(
                f"duplicate unit id (first at line {first_line[unit.unit_id]})",
                unit_id=unit.unit_id,
                line=line,
            )
        first_line[unit.unit_id] = line
        by_voter.setdefault(unit.designated_voter, []).append(unit)
    if not by_voter:
        raise RollError("the roll has no units")
    owners = tuple(
        OwnerWeight(
            owner_id=voter,
            area=sum(u.area for u in voter_units),
            units=tuple(sorted(voter_units, key=lambda u: u.unit_id)),
        )
        for voter, voter_units in sorted(by_voter.items())
    )
    return Roll(
        owners=owners,
        total_area=sum(o.area for o in owners),
        total_owners=len(owners),
    )


def _u32(n: int) -> bytes:
    if not 0 <= n < _U32_LIMIT:
        raise RollError(f"count {n} does not fit the canonical encoding")
    return struct.pack(">I", n)


def _u64(n: int) -> bytes:
    if not 0 <= n < _U64_LIMIT:
        raise RollError(f"value {n} does not fit the canonical encoding")
    return struct.pack(">Q", n)


def _str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _u32(len(raw)) + raw


def roll_canonical_bytes(roll: Roll) -> bytes:
    """The canonical, unambiguous byte encoding of ``roll`` (version 1), for hashing.

    Every integer is unsigned big-endian: ``u8`` (1 byte), ``u32`` (4 bytes), ``u64`` (8 bytes).
    A string is ``u32(len(b)) || b`` with ``b`` its UTF-8 bytes. The encoding is::

        ROLL_ENCODING_TAG                      b"ownervote/roll/v1\\x00"
        u64(total_area) || u32(total_owners)
        then for each owner, in ascending owner_id order:
            str(owner_id) || u64(area) || u32(number of units)
            then for each of the owner's units, in ascending unit_id order:
                str(unit_id) || str(building) || u64(area)
                || str(owner_id) || str(designated_voter) || u8(developer_unsold)

    Every field is length-prefixed or fixed-width, so distinct rolls never share an encoding.
    Ordering is fixed by the sorted owners and units of :class:`Roll`, so the bytes do not depend
    on the order in which units were given to :func:`compute_weights`.
    """
    parts = [ROLL_ENCODING_TAG, _u64(roll.total_area), _u32(roll.total_owners)]
    for owner in roll.owners:
        parts += [_str(owner.owner_id), _u64(owner.area), _u32(len(owner.units))]
        for unit in owner.units:
            parts += [
                _str(unit.unit_id),
                _str(unit.building),
                _u64(unit.area),
                _str(unit.owner_id),
                _str(unit.designated_voter),
                b"\x01" if unit.developer_unsold else b"\x00",
            ]
    return b"".join(parts)


def roll_hash(roll: Roll) -> bytes:
    """SHA-256 of :func:`roll_canonical_bytes` (32 bytes): the roll commitment."""
    return hashlib.sha256(roll_canonical_bytes(roll)).digest()
