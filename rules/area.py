"""Registered exclusive areas as exact integers.

PRC Civil Code Art. 278 weighs owners by the registered exclusive area of their units. Property
registers state areas in square metres with at most two decimals, so every area in :mod:`rules`
is an ``int`` counted in hundredths of a square metre ("centiares", 0.01 m^2): ``85.5`` m^2 is
``8550``. No float is ever involved: the decimal text is parsed digit by digit.
"""

from __future__ import annotations

import re

from rules.errors import AreaError

__all__ = ["CENTIARES_PER_M2", "MAX_UNIT_AREA", "format_area", "parse_area"]

#: Hundredths of a square metre per square metre.
CENTIARES_PER_M2 = 100

#: Largest exclusive area accepted for one unit: 10,000,000 m^2 (10 km^2), in 0.01 m^2. Anything
#: larger is a data-entry error, and the bound keeps every roll total far inside 64 bits.
MAX_UNIT_AREA = 10_000_000 * CENTIARES_PER_M2

# Non-negative decimal, no sign, no leading zeros, optional one or two decimals. ASCII digits
# only: ``str.isdigit`` would also accept e.g. Arabic-Indic or full-width digits.
_AREA_RE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?", re.ASCII)
_MAX_TEXT_LEN = 32


def parse_area(text: str) -> int:
    """Parse a registered area in square metres into an ``int`` of 0.01 m^2.

    Accepted: ASCII digits, no leading zeros (``0.5`` is fine, ``05`` is not), optionally a dot
    followed by one or two digits: ``"85"`` -> 8500, ``"85.5"`` -> 8550, ``"120.25"`` -> 12025.

    Rejected with :class:`~rules.errors.AreaError`: anything that is not a ``str`` (in particular
    floats, which cannot represent most decimal areas exactly), the empty string, surrounding
    whitespace, signs (``+``/``-``), exponents (``1e2``), ``nan``/``inf``, a bare or trailing dot
    (``.5``, ``5.``), more than two decimals (``1.005``, even ``1.000``), thousands separators,
    non-ASCII digits, zero (an owner must hold a positive area) and areas above
    :data:`MAX_UNIT_AREA`.
    """
    if not isinstance(text, str):
        raise AreaError(text, f"expected a decimal string, got {type(text).__name__}")
    if text == "":
        raise AreaError(text, "empty")
    if len(text) > _MAX_TEXT_LEN:
        raise AreaError(text, "too long")
    if text != text.strip():
        raise AreaError(text, "surrounding whitespace")
    match = _AREA_RE.fullmatch(text)
    if match is None:
        lowered = text.lower()
        if text[0] == "-":
            reason = "negative"
        elif text[0] == "+":
            reason = "explicit sign"
        elif "nan" in lowered or "inf" in lowered:
            reason = "not a finite number"
        elif "e" in lowered:
            reason = "exponent notation"
        elif re.fullmatch(r"[0-9]+\.[0-9]{3,}", text, re.ASCII):
            reason = "more than two decimals"
        elif re.fullmatch(r"0[0-9]+(\.[0-9]*)?", text, re.ASCII):
            reason = "leading zero"
        else:
            reason = "not a decimal number of square metres with at most two decimals"
        raise AreaError(text, reason)
    whole, decimals = match.group(1), match.group(2) or ""
    value = int(whole) * CENTIARES_PER_M2 + int(decimals.ljust(2, "0") or "0")
    if value == 0:
        raise AreaError(text, "zero")
    if value > MAX_UNIT_AREA:
        raise AreaError(text, f"above the maximum of {format_area(MAX_UNIT_AREA)} m^2")
    return value


def format_area(area: int) -> str:
    """Format an area in 0.01 m^2 as m^2 with exactly two decimals: ``8550`` -> ``"85.50"``.

    ``parse_area(format_area(a)) == a`` for every valid unit area ``a``.
    """
    if isinstance(area, bool) or not isinstance(area, int) or area < 0:
        raise AreaError(area, "expected a non-negative int of 0.01 m^2")
    whole, cents = divmod(area, CENTIARES_PER_M2)
    return f"{whole}.{cents:02d}"
