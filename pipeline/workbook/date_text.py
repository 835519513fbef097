"""How a date cell reads in the workbook: a day as `2027-04-01`, not `2027-04-01T00:00:00+00:00`.

BigCommerce answers every date of a date modifier in ISO-8601 ATOM form, and nearly all of them are
midnight UTC, that is a day. The workbook shows such a day as the day alone, which is what a person
reads and types, and reading the day back gives the ATOM text again, so an untouched workbook
holds exactly what was exported (the fingerprints, the plan's "who changed what", agree) and a day
typed by hand is that same instant. Any other date (a time of day, another offset, `Z`) is shown
as exported. CSV files keep the ATOM text: a spreadsheet opening a CSV turns `2027-04-01` into a
date of its own and saves it back in the computer's date format.
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

_MIDNIGHT_UTC: Final = "T00:00:00+00:00"
_A_DAY_AT_MIDNIGHT_UTC: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00\+00:00$")
_A_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def dates_for_sheet(column: pd.Series) -> pd.Series:
    """A date column as the workbook shows it: midnight UTC as the day alone, the rest unchanged."""
    return column.astype("string").str.replace(_A_DAY_AT_MIDNIGHT_UTC, r"\1", regex=True)


def date_from_sheet(text: str) -> str:
    """The inverse of `dates_for_sheet` for one cell: a day alone is midnight UTC in ATOM form."""
    return text + _MIDNIGHT_UTC if _A_DAY.fullmatch(text) else text


def dates_from_sheet(array: pd.api.extensions.ExtensionArray) -> pd.api.extensions.ExtensionArray:
    """`date_from_sheet` over a string array (missing stays missing)."""
    days = pd.Series(array, copy=False).str.fullmatch(_A_DAY).fillna(False).to_numpy(bool)
    if not days.any():
        return array
    out = pd.Series(array, copy=True)
    out[days] = out[days] + _MIDNIGHT_UTC
    return out.array
