"""Cell references: "B7" <-> (row 7, column 2), column letters <-> numbers.

Apart from `pipeline.workbook.package` because the writer needs these and nothing of lxml: an
export does not load lxml at all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["MAX_COLUMN", "cell_ref", "column_letters", "column_number", "split_ref"]

MAX_COLUMN: Final = 16_384
_REF: Final = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")


@lru_cache(maxsize=4096)
def column_number(letters: str) -> int:
    """1-based column of "A", "xfd", ...; ValueError for anything else."""
    if not letters or not letters.isascii() or not letters.isalpha():
        raise ValueError(f"not a column: {letters!r}")
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


@lru_cache(maxsize=4096)
def column_letters(number: int) -> str:
    """"A" for 1, "XFD" for 16384."""
    if number < 1:
        raise ValueError(f"not a column number: {number}")
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def split_ref(ref: str) -> tuple[int, int]:
    """(row, column), both 1-based, of "B7" or "$B$7"; ValueError for anything else."""
    match = _REF.fullmatch(ref.strip())
    if match is None:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(match[2]), column_number(match[1])


def cell_ref(row: int, column: int) -> str:
    return f"{column_letters(column)}{row}"
