"""A day shows as the day and reads back as the ATOM text exported; other dates are left alone."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pipeline.dates import same_instant
from pipeline.workbook.date_text import date_from_sheet, dates_for_sheet, dates_from_sheet


def test_midnight_utc_shows_as_the_day_and_anything_else_as_exported():
    exported = pd.Series(["2027-04-01T00:00:00+00:00", "2027-04-01T09:30:00+00:00", "2027-04-01T00:00:00+02:00",
                          "2027-04-01T00:00:00Z", None, "soon"], dtype="string")
    shown = dates_for_sheet(exported)
    assert shown.tolist()[:4] == ["2027-04-01", *exported.tolist()[1:4]] and shown.isna().tolist()[4]
    back = pd.Series(dates_from_sheet(shown.array))
    assert back.equals(exported)


@given(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)))
def test_every_atom_instant_reads_back_as_written_and_as_the_same_instant(moment):
    atom = moment.replace(microsecond=0).isoformat()
    shown = dates_for_sheet(pd.Series([atom], dtype="string")).iloc[0]
    assert date_from_sheet(shown) == atom and same_instant(shown, atom)


def test_a_typed_day_is_midnight_utc():
    assert date_from_sheet("2031-07-04") == "2031-07-04T00:00:00+00:00"
    assert date_from_sheet("04/07/2031") == "04/07/2031"  # not a day in ISO form: left for validation to report
