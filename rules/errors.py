"""Typed errors raised by the election-rules package :mod:`rules`.

The rules implement PRC Civil Code Art. 278 (quorum and double-majority approval by exclusive
area and by headcount). Every rejection names what was wrong; nothing answers a silent default.
"""

from __future__ import annotations


class RulesError(Exception):
    """Base class of every error raised by :mod:`rules`."""


class AreaError(RulesError, ValueError):
    """A registered-area string that is not a positive decimal with at most two decimals.

    ``text`` is the offending input (``repr`` of it when it is not a string), ``reason`` says why.
    """

    def __init__(self, text: object, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid area {text!r}: {reason}")


class RollError(RulesError, ValueError):
    """The property roll is invalid.

    ``reason`` says why; ``unit_id`` names the unit concerned when there is one; ``line`` is the
    1-based position of the offending unit in the sequence given to
    :func:`rules.roll.compute_weights` (an importer reading one unit per line maps it to its own
    line numbers), or ``None`` when the error is not about one position.
    """

    def __init__(self, reason: str, *, unit_id: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.unit_id = unit_id
        self.line = line
        where = []
        if line is not None:
            where.append(f"line {line}")
        if unit_id is not None:
            where.append(f"unit {unit_id!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class UnknownOwnerError(RulesError, KeyError):
    """An owner id that is not a voting owner on the roll."""

    def __init__(self, owner_id: object) -> None:
        self.owner_id = owner_id
        super().__init__(owner_id)

    def __str__(self) -> str:
        return f"owner {self.owner_id!r} is not a voting owner on the roll"


class RuleError(RulesError, ValueError):
    """A voting rule (PRC Civil Code Art. 278 fractions) that is malformed or unknown."""


class TallyError(RulesError, ValueError):
    """A tally whose totals are inconsistent; ``option`` names the option concerned, if any."""

    def __init__(self, reason: str, *, option: str | None = None) -> None:
        self.reason = reason
        self.option = option
        super().__init__(f"option {option!r}: {reason}" if option is not None else reason)


class UnknownOptionError(RulesError, KeyError):
    """An option name that is not in the tally or result."""

    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"no option {self.name!r}"
