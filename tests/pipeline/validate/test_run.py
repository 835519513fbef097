"""validate_sheets: a clean export has no issues; rows of unknown type; order; files read back."""

from __future__ import annotations

import openpyxl
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.normalise import products_to_frames
from pipeline.validate.issues import Issue
from pipeline.validate.run import issue_order, validate_sheets
from pipeline.workbook.csv_files import write_csv
from pipeline.workbook.layout import SHEETS
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import read_sheets
from pipeline.workbook.writer import write_workbook
from sample_data.generator import as_api_products, generate_catalog
from tests.pipeline.validate.support import FILE, clean_sheets, places, product_ids, row_where

META = ExportMeta("abc123", "https://api.bigcommerce.com/stores/abc123/v3")


def test_a_clean_catalog_has_no_issues():
    assert validate_sheets(clean_sheets(), file=FILE, known_product_ids=product_ids()) == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_products=st.integers(min_value=1, max_value=40), seed=st.integers(min_value=0, max_value=2**16))
def test_any_generated_catalog_has_no_issues(n_products, seed):
    sheets = clean_sheets(n_products, seed)
    assert validate_sheets(sheets, file=FILE, known_product_ids=product_ids(n_products)) == []


def test_an_untouched_export_read_back_has_no_issues(tmp_path):
    frames = products_to_frames(as_api_products(generate_catalog(30, seed=8)))
    for path in (write_workbook(frames, tmp_path / "export.xlsx", META), write_csv(frames, tmp_path / "csv", META)):
        sheets, _ = read_sheets(path)
        assert validate_sheets(sheets, file=path.name, known_product_ids=product_ids(30)) == []


def test_an_edited_cell_is_reported_at_its_excel_row(tmp_path):
    frames = products_to_frames(as_api_products(generate_catalog(30, seed=8)))
    path = write_workbook(frames, tmp_path / "export.xlsx", META)
    book = openpyxl.load_workbook(path)
    sheet = book["File modifiers"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=4, column=header.index("file_max_size") + 1, value=999_999)
    sheet.cell(row=6, column=header.index("display_name") + 1).value = None
    book.save(path)
    sheets, _ = read_sheets(path)
    issues = validate_sheets(sheets, file="export.xlsx")
    assert places(issues) == [("File modifiers", 4, "file_max_size"), ("File modifiers", 6, "display_name")]
    assert str(issues[0]) == ("export.xlsx, sheet 'File modifiers', row 4, column 'file_max_size': file_max_size "
                              "must be a whole number from 0 to 524288 (KB) (value '999999')")


def test_a_type_written_differently_gets_one_issue_and_no_other_check():
    sheets = clean_sheets()
    mods = sheets["Choice modifiers"]
    row = row_where(mods, type="dropdown")
    mods.loc[row, ["type", "display_name", "sort_order"]] = ["Dropdown", None, 2**40]
    issues = validate_sheets(sheets, file=FILE)
    assert places(issues) == [("Choice modifiers", row, "type")]
    assert issues[0].message == "type 'Dropdown' must be written exactly dropdown"
    assert issues[0].value == "Dropdown"


def test_a_type_of_another_sheet():
    sheets = clean_sheets()
    row = int(sheets["Choice modifiers"].index[0])
    sheets["Choice modifiers"].loc[row, "type"] = "checkbox"
    issues = validate_sheets(sheets, file=FILE)
    assert places(issues) == [("Choice modifiers", row, "type")]
    assert issues[0].message == ("checkbox rows belong on sheet 'Checkbox modifiers'; this sheet takes dropdown, "
                                 "radio_buttons, rectangles, swatch")


def test_an_unknown_or_blank_type():
    sheets = clean_sheets()
    values = sheets["Product list values"]
    first, second = values.index[:2]
    values.loc[first, "type"] = "upsell"
    values.loc[second, "type"] = None
    issues = validate_sheets(sheets, file=FILE)
    # a blank type on a value row is its modifier's (the column is read-only on value sheets)
    assert [(i.row, i.column, i.message) for i in issues] == [
        (first, "type", "'upsell' is not a type this sheet takes: use one of product_list, product_list_with_images"),
    ]


def test_issues_come_sorted_by_sheet_row_and_column():
    sheets = clean_sheets()
    swatch = sheets["Swatch values"]
    swatch.loc[swatch.index[3], ["label", "colors"]] = [None, "blue"]
    swatch.loc[swatch.index[1], "sort_order"] = -(2**40)
    text = sheets["Text modifiers"]
    text.loc[text.index[2], ["text_min_length", "text_max_length", "display_name"]] = [None, -1, " "]
    files = sheets["File modifiers"]
    files.loc[files.index[0], "file_max_size"] = 10**7
    issues = validate_sheets(sheets, file=FILE)
    assert places(issues) == [
        ("File modifiers", files.index[0], "file_max_size"),
        ("Text modifiers", text.index[2], "display_name"),
        ("Text modifiers", text.index[2], "text_max_length"),
        ("Swatch values", swatch.index[1], "sort_order"),
        ("Swatch values", swatch.index[3], "label"),
        ("Swatch values", swatch.index[3], "colors"),
    ]
    assert issues == sorted(issues, key=issue_order)


def test_every_issue_names_file_sheet_row_column_and_a_sentence():
    sheets = clean_sheets()
    for spec in SHEETS:
        sheet = sheets[spec.name]
        if len(sheet):
            sheet.loc[sheet.index[0], "product_id"] = -7
    issues = validate_sheets(sheets, file=FILE)
    assert {i.sheet for i in issues} == {s.name for s in SHEETS if len(sheets[s.name])}
    for issue in issues:
        assert isinstance(issue, Issue) and issue.file == FILE and issue.row is not None and issue.column
        assert issue.message[0].islower() and " " in issue.message and "(" not in issue.message.split()[0]


def test_sheets_left_out_count_as_empty_and_other_keys_are_ignored():
    sheets = clean_sheets()
    kept = {"Text modifiers": sheets["Text modifiers"], "_bcmod": pd.DataFrame({"x": [1]})}
    assert validate_sheets(kept, file=FILE) == []
    assert validate_sheets({}, file=FILE) == []


def test_an_empty_sheet_with_its_columns_is_fine():
    sheets = {name: sheet.iloc[0:0] for name, sheet in clean_sheets().items()}
    assert validate_sheets(sheets, file=FILE) == []


def test_a_sheet_without_its_type_column_is_reported_once():
    sheets = clean_sheets()
    sheets["Date modifiers"] = sheets["Date modifiers"].drop(columns="type")
    issues = validate_sheets(sheets, file=FILE)
    assert [(i.sheet, i.row, i.column, i.message) for i in issues] == [
        ("Date modifiers", None, "type", "column 'type' is missing")]
