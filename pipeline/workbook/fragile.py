"""Text a spreadsheet program rewrites on its own, and how to recognise the rewrite afterwards.

Excel and LibreOffice read what looks like a number, a date or a truth value as one: `0017`
becomes 17, `1/2` and `2-8` become dates, `22E1` becomes 220, a long digit string becomes a
rounded number shown in scientific notation, `true` becomes TRUE. In a workbook the exported text
cells are safe until someone retypes them; a CSV file opened and saved again loses them all.

The export records the exported text of the (rare) cells that such a program would read as
something else (`is_fragile`), and validation compares: a cell whose new value differs from that
text and is what a spreadsheet makes of it (`damage_cause`) was not edited by the person, and is
refused unless they accept it.
"""

from __future__ import annotations

import math
import re
from typing import Final

# What a spreadsheet reads as a number: a sign, digits (with thousands separators), a decimal part,
# an exponent, a percent sign.
_NUMBER: Final = re.compile(r"^\s*[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?%?\s*$")
_DIGITS: Final = re.compile(r"\d")
# Two or three numbers joined by / - or . : a fraction, a range, a day or a version.
_DATE_LIKE: Final = re.compile(r"^\s*(\d{1,4})\s*([/.-])\s*(\d{1,4})(?:\s*\2\s*(\d{1,4}))?\s*$")
_TRUTH: Final = ("TRUE", "FALSE")
# A date as our reader gives a date cell (ISO, from the workbook) or as a spreadsheet writes it into CSV.
_ISO_DATE: Final = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_LOCAL_DATE: Final = re.compile(r"^(\d{1,4})[./-](\d{1,2})[./-](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?: ?[AP]M)?)?$",
                                re.I)
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_DATE: Final = re.compile(r"^(?:(\d{1,2})[ -]([a-z]{3})[a-z]*(?:[ -](\d{2,4}))?|([a-z]{3})[a-z]*[ -](\d{1,4}))$",
                                re.I)
LONG_DIGITS: Final = 12  # from 12 digits Excel shows a number in scientific notation (1.23457E+11)
MAX_RECORDED: Final = 255  # longer text is not a number or a date to any spreadsheet


def spreadsheet_number(text: str) -> float | None:
    """The number a spreadsheet reads `text` as, or None when it reads it as text."""
    if len(text) > MAX_RECORDED or not _NUMBER.match(text) or not _DIGITS.search(text):
        return None
    body = text.strip().replace(",", "")
    percent = body.endswith("%")
    try:
        number = float(body.rstrip("%"))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return number / 100 if percent else number


def _number_text(number: float) -> str:
    """A number as the reader gives a number cell back (15 significant digits, as a spreadsheet keeps)."""
    kept = float(f"{number:.15g}")
    return str(int(kept)) if kept.is_integer() else repr(kept)


def is_fragile(text: str) -> bool:
    """Whether a spreadsheet program would read this exported text as something else."""
    if len(text) > MAX_RECORDED:
        return False
    number = spreadsheet_number(text)
    if number is not None:
        digits = len(_DIGITS.findall(text))
        return _number_text(number) != text or digits >= LONG_DIGITS
    if _DATE_LIKE.match(text):
        return True
    return text.strip().upper() in _TRUTH and text != text.strip().upper()


def damage_cause(exported: str, now: str | None) -> str | None:
    """Why `now` is what a spreadsheet program made of the exported text `exported`, or None when
    it is not (the person changed it, or it is unchanged)."""
    if now is None or now == exported:
        return None
    number = spreadsheet_number(exported)
    if number is not None and _same_number(number, now, rounded=len(_DIGITS.findall(exported)) >= LONG_DIGITS):
        stripped = exported.strip().lstrip("+-")
        if re.match(r"^0\d", stripped):
            return "a spreadsheet program dropped the leading zeros (it read the text as a number)"
        if re.search(r"[eE]", exported):
            return f"a spreadsheet program read {exported!r} as scientific notation, the number {_number_text(number)}"
        if len(_DIGITS.findall(exported)) >= LONG_DIGITS:
            return ("a spreadsheet program turned the long number into a rounded number in scientific notation "
                    "(it keeps 15 digits)")
        return f"a spreadsheet program read the text {exported!r} as the number {_number_text(number)}"
    parts = _DATE_LIKE.match(exported)
    if parts and _date_with(now, {int(g) for g in (parts.group(1), parts.group(3), parts.group(4)) if g}):
        what = "fraction" if parts.group(2) == "/" and not parts.group(4) else \
            "range" if parts.group(2) == "-" and not parts.group(4) else "text"
        return f"a spreadsheet program turned the {what} {exported!r} into a date"
    if exported.strip().upper() in _TRUTH and now.strip().upper() == exported.strip().upper():
        return f"a spreadsheet program turned the text {exported!r} into the truth value {now.strip().upper()}"
    return None


def _same_number(number: float, now: str, *, rounded: bool) -> bool:
    """`now` is the number (as a cell's value or as a spreadsheet writes it: 1.23457E+15, 1,000);
    `rounded`: the number is too long for a spreadsheet to keep every digit."""
    text = now.strip().replace(",", "")
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        return False
    if not math.isfinite(value):
        return False
    if value == number:
        return True
    # written rounded (scientific notation with 6 significant digits, or 15 kept digits)
    return (rounded or "e" in text.lower()) and math.isclose(value, number, rel_tol=5e-6)


def _date_with(now: str, numbers: set[int]) -> bool:
    """`now` is a date (as the reader gives a date cell, or as a spreadsheet writes one into CSV)
    whose day, month and year hold every number of `numbers`."""
    text = now.strip()
    found: tuple[int, ...] | None = None
    if match := _ISO_DATE.match(text):
        found = tuple(int(g) for g in match.groups())
    elif match := _LOCAL_DATE.match(text):
        found = tuple(int(g) for g in match.groups())
    elif match := _MONTH_DATE.match(text):
        day, month, year, month2, other = match.groups()
        name = (month or month2 or "").lower()[:3]
        if name not in _MONTHS:
            return False
        found = (_MONTHS.index(name) + 1, *(int(g) for g in (day, year, other) if g))
    if found is None:
        return False
    candidates = set(found) | {n % 100 for n in found if n >= 1000}  # 2026 is also written 26
    return bool(numbers) and numbers <= candidates
