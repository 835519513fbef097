"""A sheet read streamed from its XML gives the rows, issues and typed frames python-calamine gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

import pipeline.validate.reading as reading
import pipeline.workbook.reader as reader
from pipeline.validate.reading import read_for_validation
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.stream_reader import NotPlain
from pipeline.workbook.writer import write_workbook
from tests.helpers import sample_frames
from tests.pipeline.validate.exports import edit_xlsx, set_cell

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")
FIXTURES = Path(__file__).parent / "fixtures"


def _rows(path: Path, name: str, stream: bool, size: int) -> tuple[list[list[Any]], list[Any]]:
    """The sheet's rows (header first) as the chunks give them, each padded to the widest, and its merged ranges."""
    with reader.XlsxSheets(path, [name], stream=[name] if stream else ()) as sheets:
        rows: list[list[Any]] = []
        merged: list[Any] = []
        for _, chunks, ranges in sheets.chunked(size):
            for index, chunk in enumerate(chunks):
                if index == 0:
                    rows.append(list(chunk.header))
                assert chunk.first_row == len(rows) + 1 or not chunk.columns or not chunk.columns[0]
                rows += [list(row) for row in zip(*chunk.columns, strict=True)]
            merged = list(ranges)
    width = max((len(row) for row in rows), default=0)
    return [[*row, *([""] * (width - len(row)))] for row in rows], merged


def _typed(rows: list[list[Any]]) -> list[list[tuple[type, Any]]]:
    return [[(type(value), value) for value in row] for row in rows]


def _fixture_workbooks() -> list[Path]:
    return sorted(FIXTURES.glob("*.xlsx"))


def _edited_export(tmp_path: Path) -> Path:
    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)

    def edit(wb):
        ws = wb["Choice values"]
        set_cell(ws, 3, "product_id", "abc")
        set_cell(ws, 9, "value_id", "1E5")
        set_cell(ws, 11, "sort_order", 2.5)
        for cell in ws[6]:
            cell.value = None
        set_cell(ws, 8, "label", "=1+1")
        ws.cell(10, ws.max_column + 2).value = "stray"
        ws.merge_cells("A12:B12")
        meta = wb["_bcmod"]
        meta.cell(meta.max_row, 1).value = "a_x000D_b"
        meta.cell(meta.max_row + 3, 2).value = True
    edit_xlsx(path, edit)
    return path


@pytest.mark.parametrize("size", [3, 20_000])
def test_every_sheet_of_the_fixtures_and_an_edited_export_streams_as_calamine_reads_it(tmp_path, size) -> None:
    for path in [*_fixture_workbooks(), write_workbook(sample_frames(14), tmp_path / "plain.xlsx", META),
                 _edited_export(tmp_path)]:
        for name in CalamineWorkbook.from_path(path).sheet_names:
            calamine, calamine_merged = _rows(path, name, False, size)
            streamed, streamed_merged = _rows(path, name, True, size)
            assert _typed(streamed) == _typed(calamine), (path.name, name)
            assert sorted(streamed_merged) == sorted(calamine_merged), (path.name, name)


def test_a_date_cell_hands_the_rest_of_the_sheet_to_calamine_with_the_same_rows(tmp_path) -> None:
    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)

    def edit(wb):
        ws = wb["_bcmod"]
        ws.cell(ws.max_row - 1, 2).value = dt.date(2024, 5, 6)
        ws.cell(ws.max_row, 3).value = dt.datetime(2024, 5, 6, 7, 8)
    edit_xlsx(path, edit)
    calamine, _ = _rows(path, "_bcmod", False, 4)
    streamed, _ = _rows(path, "_bcmod", True, 4)
    assert _typed(streamed) == _typed(calamine)
    assert any(isinstance(value, dt.date) for row in streamed for value in row)


def _calamine_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise NotPlain("read it with calamine")
        yield  # pragma: no cover
    monkeypatch.setattr(reader, "sheet_rows", refuse)


@pytest.mark.parametrize("alone_bytes", [0, reading.ALONE_BYTES])
def test_validation_streamed_gives_the_issues_and_frames_of_the_calamine_read(tmp_path, monkeypatch,
                                                                                alone_bytes) -> None:
    """Every sheet streamed (a limit of 0 bytes) or only `_bcmod`: the same issues, frames and metadata."""
    for path in [_edited_export(tmp_path), write_workbook(sample_frames(20), tmp_path / "clean.xlsx", META),
                 FIXTURES / "libreoffice.xlsx", FIXTURES / "openpyxl_lxml.xlsx"]:
        monkeypatch.setattr(reading, "ALONE_BYTES", alone_bytes)
        monkeypatch.setattr(reading, "STREAM_ALONE", True)
        monkeypatch.setattr(reader, "CHUNK_ROWS", 5)
        streamed = read_for_validation(path, expected_store_hash=None)
        with monkeypatch.context() as patch:
            _calamine_only(patch)
            calamine = read_for_validation(path, expected_store_hash=None)
        assert [str(i) for i in streamed.issues] == [str(i) for i in calamine.issues], path.name
        assert streamed.sheets.keys() == calamine.sheets.keys()
        for name, frame in calamine.sheets.items():
            pd.testing.assert_frame_equal(streamed.sheets[name], frame)
        if calamine.meta is not None:
            pd.testing.assert_frame_equal(streamed.meta.fingerprints, calamine.meta.fingerprints)
