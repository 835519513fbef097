"""The writer in bounded memory: rows streamed in chunks, fingerprints taken in chunks, long columns of
mostly distinct text written as inline strings; the workbook reads back the same either way."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from pipeline.workbook import meta as meta_module
from pipeline.workbook import writer
from pipeline.workbook.meta import ExportMeta, fingerprint_table
from pipeline.workbook.reader import read_export, read_sheets
from pipeline.workbook.split import as_in_workbook, frames_to_sheets
from tests.helpers import assert_frames_equal, sample_frames

META = ExportMeta(store_hash="abc123", api_url="https://api.bigcommerce.com/stores/abc123/v3",
                  exported_at="2026-11-02T10:00:00+00:00")


@pytest.fixture(scope="module")
def frames():
    return sample_frames(40, seed=11)


def _meta_sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        parts = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        return archive.read(max(parts, key=lambda n: int(n.rsplit("sheet", 1)[1].split(".")[0]))).decode()


def test_small_chunks_and_inline_strings_read_back_as_the_default_write(tmp_path, frames, monkeypatch):
    plain = write_workbook_at(tmp_path / "plain.xlsx", frames)
    assert 'inlineStr' not in _meta_sheet_xml(plain)  # a small export keeps every text in the table
    monkeypatch.setattr(writer, "ROWS_PER_CHUNK", 7)
    monkeypatch.setattr(writer, "INLINE_MIN_ROWS", 10)
    monkeypatch.setattr(meta_module, "RECORD_CHUNK", 5)
    streamed = write_workbook_at(tmp_path / "streamed.xlsx", frames)
    assert 't="inlineStr"' in _meta_sheet_xml(streamed)  # the fingerprints, one distinct text per row
    sheets, meta = read_sheets(plain)
    again, meta_again = read_sheets(streamed)
    for name in sheets:
        pd.testing.assert_frame_equal(sheets[name], again[name])
    pd.testing.assert_frame_equal(meta.fingerprints, meta_again.fingerprints)
    read, _ = read_export(streamed)
    assert_frames_equal(read, as_in_workbook(frames))


def test_fingerprints_in_chunks_equal_one_pass(frames, monkeypatch):
    sheets = frames_to_sheets(frames)
    whole = fingerprint_table(sheets)
    monkeypatch.setattr(meta_module, "RECORD_CHUNK", 3)
    pd.testing.assert_frame_equal(fingerprint_table(sheets), whole)
    assert whole["fragile"].notna().any() and whole["cells"].notna().all()


def write_workbook_at(path, frames):
    return writer.write_workbook(frames, path, META)


def test_the_written_metadata_table_is_the_one_meta_to_frame_gives(frames, monkeypatch):
    sheets = frames_to_sheets(frames)
    expected = meta_module.meta_to_frame(META.with_fingerprints(sheets))
    monkeypatch.setattr(meta_module, "RECORD_CHUNK", 4)
    table = meta_module.export_table(META, sheets)
    assert list(table.columns) == list(expected.columns) and len(table) == len(expected)
    for name in table.columns:
        assert table[name].astype(expected[name].dtype).equals(expected[name]), name
    tiny = meta_module.export_table(META, {})  # no rows: the key/value pairs alone
    assert len(tiny) == 5 and tiny["sheet"].isna().all()
