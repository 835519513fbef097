"""A big sheet is typed in chunks of rows: the result is the same as reading it whole."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

import pipeline.workbook.reader as reader
from pipeline.validate.reading import read_for_validation
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from tests.helpers import sample_frames
from tests.pipeline.validate.exports import edit_xlsx, find_issue, set_cell

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")


@pytest.fixture
def edited(tmp_path) -> tuple[Path, str]:
    """An export whose Choice values sheet has problems spread over many rows."""
    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)

    def edit(wb):
        ws = wb["Choice values"]
        assert ws.max_row > 12
        set_cell(ws, 3, "product_id", "abc")
        set_cell(ws, 9, "value_id", "1E5")
        set_cell(ws, 11, "sort_order", 2.5)
        for cell in ws[6]:
            cell.value = None  # a blank row between data rows
        set_cell(ws, 8, "label", "=1+1")
        stray = ws.max_column + 2
        ws.cell(4, stray).value = "stray"
        ws.cell(10, stray).value = "more"
        return get_column_letter(stray)

    return path, edit_xlsx(path, edit)


def test_a_sheet_read_in_chunks_of_two_rows_gives_the_same_issues_in_the_same_order_and_rows(edited, monkeypatch):
    path, letter = edited
    whole = read_for_validation(path, expected_store_hash=None)
    monkeypatch.setattr(reader, "CHUNK_ROWS", 2)
    chunked = read_for_validation(path, expected_store_hash=None)
    assert chunked.issues == whole.issues
    for name, frame in whole.sheets.items():
        pd.testing.assert_frame_equal(chunked.sheets[name], frame)
    issues = chunked.issues
    find_issue(issues, sheet="Choice values", row=3, column="product_id", words=("'abc'",))
    find_issue(issues, sheet="Choice values", row=9, column="value_id", words=("scientific notation",))
    find_issue(issues, sheet="Choice values", row=11, column="sort_order", words=("whole number",))
    find_issue(issues, sheet="Choice values", row=6, column=None, words=("row 6 is blank",))
    find_issue(issues, sheet="Choice values", row=8, column="label", words=("formula =1+1",))
    # the headerless column: its first cell and every cell of it, across chunks
    find_issue(issues, sheet="Choice values", row=4, column=f"column {letter}", words=("no header", "2 cells"))


def test_chunks_start_at_their_rows_and_a_sheet_with_only_a_header_gives_one_empty_chunk(tmp_path):
    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)

    def edit(wb):
        ws = wb["Text modifiers"]
        ws.delete_rows(2, ws.max_row)
        return wb["Choice values"].max_row
    rows = edit_xlsx(path, edit)
    with reader.XlsxSheets(path, ["Choice values", "Text modifiers"]) as sheets:
        seen = {name: [(chunk.first_row, len(chunk.columns[0])) for chunk in chunks]
                for name, chunks, _ in sheets.chunked(3)}
    data = rows - 1
    assert seen["Choice values"][0] == (2, 3) and seen["Choice values"][-1][0] == 2 + 3 * (len(seen["Choice values"]) - 1)
    assert sum(count for _, count in seen["Choice values"]) == data
    assert seen["Text modifiers"] == [(2, 0)]


def test_a_sheet_read_alone_has_no_sheet_parsed_beside_it(tmp_path) -> None:
    """The `_bcmod` sheet (and any big one) is used with no other sheet parsed ahead: the next
    sheet's guard, which runs just before its parse, is only called once the caller moves on."""
    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)
    guarded: list[str] = []
    order = ["_bcmod", "Choice values", "Choice modifiers"]
    with reader.XlsxSheets(path, order, guard=guarded.append, alone={"_bcmod"}) as sheets:
        seen = []
        for name, chunks, _ in sheets.chunked():
            if name == "_bcmod":
                assert sum(len(chunk.columns[0]) for chunk in chunks) > 0
                assert guarded == ["_bcmod"]  # nothing parsed beside it
            else:
                list(chunks)
            seen.append(name)
    assert seen == order
    assert guarded == order


def test_big_sheets_read_alone_give_the_same_result(tmp_path, monkeypatch) -> None:
    """Every sheet read alone (a limit of 0 bytes) reads as with the usual overlap."""
    import pipeline.validate.reading as reading

    path = write_workbook(sample_frames(14), tmp_path / "export.xlsx", META)
    usual = read_for_validation(path, expected_store_hash=None)
    monkeypatch.setattr(reading, "ALONE_BYTES", 0)
    alone = read_for_validation(path, expected_store_hash=None)
    assert [str(i) for i in alone.issues] == [str(i) for i in usual.issues]
    for name, frame in usual.sheets.items():
        pd.testing.assert_frame_equal(alone.sheets[name], frame)
    pd.testing.assert_frame_equal(alone.meta.fingerprints, usual.meta.fingerprints)
