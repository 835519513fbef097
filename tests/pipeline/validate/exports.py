"""Real exports of an in-process sandbox store, and the edits a person or a spreadsheet makes to them."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from pipeline.export import export_store
from pipeline.validate.command import ValidationOutcome, validate_file
from pipeline.validate.issues import Issue
from pipeline.workbook.csv_files import csv_name
from tests.stores import SandboxStore, sandbox_store

WRITES = ("POST", "PUT", "DELETE")


@dataclass
class Export:
    """One sandbox store and its export as a workbook and as a folder of CSV files."""

    store: SandboxStore
    xlsx: Path
    csv: Path

    def copy_xlsx(self, tmp: Path, name: str = "edited.xlsx") -> Path:
        target = tmp / name
        shutil.copyfile(self.xlsx, target)
        return target

    def copy_csv(self, tmp: Path, name: str = "edited") -> Path:
        target = tmp / name
        shutil.copytree(self.csv, target)
        return target

    def validate(self, path: Path, **kwargs: Any) -> ValidationOutcome:
        """Validate against the store (product ids looked up there), checking nothing was written."""
        outcome = validate_file(path, settings=self.store.settings, transport=self.store.transport(), **kwargs)
        assert_no_writes(self.store)
        return outcome


def make_export(folder: Path, products: int = 30) -> Export:
    store = sandbox_store(folder / "store", products=products)
    xlsx = asyncio.run(export_store(store.settings, folder / "export.xlsx", transport=store.transport())).path
    csv_folder = asyncio.run(export_store(store.settings, folder / "csv" / "export", csv=True,
                                          transport=store.transport())).path
    return Export(store, xlsx, csv_folder)


def valid_frames(n_products: int = 14, seed: int = 5):
    """Frames of a generated catalog as a store would export them: image links are full URLs."""
    from pipeline.normalise import products_to_frames
    from sample_data.generator import as_api_products, generate_catalog

    return with_image_links(products_to_frames(as_api_products(generate_catalog(n_products, seed=seed))))


def with_image_links(frames):
    """The generator's image paths (on the sandbox server) as full URLs, as a store exports them."""
    for column in ("image_url", "pattern_image_url"):
        frames.values[column] = ("https://cdn.example.com" + frames.values[column]).astype("string")
    return frames


def assert_no_writes(store: SandboxStore) -> None:
    requests = store.stats()["requests"]
    assert all(requests[method] == 0 for method in WRITES), requests


# --- xlsx edits ------------------------------------------------------------------------------------------


def edit_xlsx(path: Path, edit: Callable[[openpyxl.Workbook], Any]) -> Any:
    """Open with openpyxl, edit, save in place; returns what `edit` returns."""
    workbook = openpyxl.load_workbook(path)
    result = edit(workbook)
    workbook.save(path)
    return result


def column_of(ws: Any, name: str) -> int:
    """1-based column of the header `name`."""
    return [c.value for c in ws[1]].index(name) + 1


def first_row(ws: Any, **equal: Any) -> int:
    """The first data row whose cells equal the given values."""
    columns = {name: column_of(ws, name) for name in equal}
    for row in range(2, ws.max_row + 1):
        if all(ws.cell(row, col).value == equal[name] for name, col in columns.items()):
            return row
    raise AssertionError(f"no row with {equal} in {ws.title}")


def set_cell(ws: Any, row: int, name: str, value: Any, *, data_type: str | None = None) -> None:
    cell = ws.cell(row, column_of(ws, name))
    cell.value = value
    if data_type is not None:
        cell.data_type = data_type


# --- CSV edits -------------------------------------------------------------------------------------------


def csv_rows(folder: Path, sheet: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((folder / csv_name(sheet)).read_bytes().decode("utf-8-sig"), newline="")))


def write_csv_rows(folder: Path, sheet: str, rows: Iterable[list[str]], *, encoding: str = "utf-8",
                   bom: bool = True, delimiter: str = ",") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n", delimiter=delimiter).writerows(rows)
    data = buffer.getvalue().encode(encoding, errors="replace")  # as a spreadsheet saves what it cannot encode
    (folder / csv_name(sheet)).write_bytes((b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"") + data)


def edit_csv(folder: Path, sheet: str, edit: Callable[[list[list[str]]], Any], **write: Any) -> Any:
    rows = csv_rows(folder, sheet)
    result = edit(rows)
    write_csv_rows(folder, sheet, rows, **write)
    return result


def csv_column(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


# --- finding issues --------------------------------------------------------------------------------------


def find_issue(issues: Iterable[Issue], *, sheet: str | None, row: int | None, column: str | None,
               words: Iterable[str], file: str | None = None) -> Issue:
    """The issue at that place whose message holds every word (case-insensitive); fails listing them all."""
    issues = list(issues)
    for issue in issues:
        if (issue.sheet, issue.row, issue.column) == (sheet, row, column) and \
                all(w.lower() in issue.message.lower() for w in words) and (file is None or issue.file == file):
            return issue
    shown = "\n".join(str(i) for i in issues) or "(no issues)"
    raise AssertionError(f"no issue at {(file, sheet, row, column)} with {list(words)}; found:\n{shown}")
