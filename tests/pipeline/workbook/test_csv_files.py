"""CSV export: one file per sheet, BOM, formula injection neutralised, folder or zip."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.normalise import empty_frames
from pipeline.workbook.cells import neutralise, unneutralise
from pipeline.workbook.csv_files import csv_name, write_csv
from pipeline.workbook.layout import META_SHEET, SHEETS
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import read_export
from pipeline.workbook.split import as_in_workbook
from tests.helpers import assert_frames_equal, sample_frames

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
FILE_NAMES = sorted([csv_name(s.name) for s in SHEETS] + ["_bcmod.csv"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_csv(sample_frames(), tmp_path_factory.mktemp("csv") / "export", META)


def test_file_names_come_from_sheet_names():
    assert csv_name("Choice modifiers") == "choice_modifiers.csv"
    assert csv_name("Multi-line text modifiers") == "multi_line_text_modifiers.csv"
    assert csv_name(META_SHEET) == "_bcmod.csv"
    assert len(set(FILE_NAMES)) == len(SHEETS) + 1


def test_one_file_per_sheet_with_bom_and_header(folder):
    assert sorted(p.name for p in folder.iterdir()) == FILE_NAMES
    for spec in SHEETS:
        data = (folder / csv_name(spec.name)).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert data[3:].split(b"\r\n", 1)[0].decode() == ",".join(spec.column_names)


def test_text_a_spreadsheet_would_evaluate_gets_an_apostrophe_and_numbers_do_not(folder):
    text = (folder / "choice_values.csv").read_text("utf-8-sig")
    for written in ("'=SUM(A1)", "'+5 gift wrap", "'-10%", "'@home", "''=already quoted", "'-"):
        assert f",{written}," in text, written
    assert ",Café ☕," in text and ",2-8," in text and ",'apostrophe," in text
    assert ",-123456.789," in text  # a negative number is a number, not text to guard


@given(st.text())
def test_neutralising_round_trips_any_text(text):
    guarded = neutralise(text)
    assert unneutralise(guarded) == text
    assert guarded[:1] not in ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("zip_", [False, True])
def test_a_leading_tab_or_carriage_return_is_guarded_too_and_reads_back_as_written(tmp_path, zip_):
    # OWASP's CSV injection list: a spreadsheet may skip a leading tab or CR and evaluate what follows
    frames = sample_frames(12, extra_text=False)
    choice = frames.values.index[frames.values["type"].isin(["dropdown", "radio_buttons", "rectangles"])]
    labels = ["\t=1+1", "\r=HYPERLINK(\"http://x.test\")", "\tplain", "'\t=quoted", "x\t=inside"]
    frames.values.loc[choice[:len(labels)], "label"] = labels
    frames.values.loc[choice[len(labels)], "purchasing_disabled_message"] = "\r@SUM(1)"
    path = write_csv(frames, tmp_path / "export", META, zip_=zip_)
    data = zipfile.ZipFile(path).read("choice_values.csv") if zip_ else (path / "choice_values.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    cells = {cell for row in rows for cell in row}
    for written in ("'\t=1+1", "'\r=HYPERLINK(\"http://x.test\")", "'\tplain", "''\t=quoted", "x\t=inside",
                    "'\r@SUM(1)"):
        assert written in cells, repr(written)
    unguarded = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert all(float(c) < 0 for c in unguarded), unguarded  # only negative numbers, which are numbers
    back, _ = read_export(path)
    assert_frames_equal(back, as_in_workbook(frames))
    assert set(labels) <= set(back.values["label"])


def test_zip_holds_the_same_files_and_gets_a_zip_suffix(tmp_path):
    path = write_csv(sample_frames(12), tmp_path / "export", META, zip_=True)
    assert path == tmp_path / "export.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == FILE_NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.zip"]


def test_empty_catalog_writes_every_file_with_its_header(tmp_path):
    folder = write_csv(empty_frames(), tmp_path / "empty", META)
    assert sorted(p.name for p in folder.iterdir()) == FILE_NAMES
    for spec in SHEETS:
        assert (folder / csv_name(spec.name)).read_bytes().decode("utf-8-sig") == ",".join(spec.column_names) + "\r\n"
