"""What the hidden `_bcmod` sheet (or `_bcmod.csv`) records about an export.

The store, the time and the filters of the export, and a fingerprint of every exported row, so
the plan can tell a change the user made in the sheet from a change made in the store since.
The table is one frame with two blocks side by side: `key`/`value` rows on the left, and the
fingerprint table (`sheet`, `row`, `kind`, `id`, `fingerprint`) on the right, where `row` is the
spreadsheet row number (the header is row 1) in the xlsx and in the CSV file alike.

So that validation can tell, offline, which cell a person changed, each exported row also records
(`RECORD_COLUMNS`): its `type`; for a value, the `parent` modifier id; `cells`, a 4-hex digest of
each reference cell the plan ignores (`RECORDED_CELLS`: product SKU and name, a value's modifier
name, read-only value cells), "...." where not recorded; and `fragile`, the exported text of the
rare cells a spreadsheet program would rewrite (`fragile.is_fragile`) as a JSON object by column.
They travel in the fingerprint cell itself, `fingerprint|type|parent|cells|fragile`, so the sheet
keeps its columns and a workbook exported before them still reads (its record is blank: the checks
that need it are skipped).
The API token is never written: it travels in a header, and `api_url` is stripped of any
credentials or query string before it is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from pipeline.normalise import fingerprint, modifier_payload, value_payload
from pipeline.workbook.fragile import is_fragile
from pipeline.workbook.layout import FORMAT_VERSION, SHEETS, Column, SheetKind, SheetSpec

FINGERPRINT_DTYPES = {"sheet": "string", "row": "Int64", "kind": "string", "id": "Int64", "fingerprint": "string"}
META_DTYPES = {"key": "string", "value": "string", **FINGERPRINT_DTYPES}
# The table's columns, for the writers and the reader (read-only text and whole numbers).
META_COLUMNS = tuple(Column(name, "int" if dtype == "Int64" else "text", "", editable=False)
                     for name, dtype in META_DTYPES.items())
# What each exported row records besides its fingerprint (missing in workbooks exported before them).
RECORD_DTYPES = {"type": "string", "parent": "Int64", "cells": "string", "fragile": "string"}
RECORDED_CELLS: Final = {"modifiers": ("product_sku", "product_name"),
                         "values": ("product_sku", "product_name", "display_name", "checked_value", "label")}
ALWAYS_RECORDED: Final = {"values": ("display_name",)}  # editable on new rows, but it names an existing value's modifier
DIGEST_CHARS: Final = 4
NOT_RECORDED: Final = "." * DIGEST_CHARS
_SEPARATOR: Final = "|"
_FRAGILE_KINDS: Final = frozenset({"text", "list", "enum"})
_KEYS = ("format_version", "store_hash", "api_url", "exported_at", "filters")
_ENTITY = {"modifiers": ("modifier", "modifier_id"), "values": ("value", "value_id")}


def empty_fingerprints() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype)
                         for name, dtype in {**FINGERPRINT_DTYPES, **RECORD_DTYPES}.items()})


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def safe_url(url: str) -> str:
    """`url` without user, password, query or fragment: nothing secret ends up in a file."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class ExportMeta:
    """Provenance of one export; `fingerprints` is filled in by the writer."""

    store_hash: str
    api_url: str
    exported_at: str = field(default_factory=utc_now_iso)
    filters: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    fingerprints: pd.DataFrame = field(default_factory=empty_fingerprints, repr=False)

    def __post_init__(self) -> None:
        self.api_url = safe_url(self.api_url)

    def with_fingerprints(self, sheets: Mapping[str, pd.DataFrame]) -> ExportMeta:
        """A copy whose fingerprint table describes `sheets` (as `frames_to_sheets` gives them)."""
        return ExportMeta(self.store_hash, self.api_url, self.exported_at, dict(self.filters), self.format_version,
                          fingerprint_table(sheets))


def fingerprint_table(sheets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per data row of every sheet: where it is, what it is, its content digest and its record."""
    parts = [fingerprint_part(sheet, spec) for spec in SHEETS
             if (sheet := sheets.get(spec.name)) is not None and len(sheet)]
    return concat_fingerprints(parts)


def concat_fingerprints(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The fingerprint table of sheets whose `fingerprint_part`s are `parts`, in order."""
    parts = [part for part in parts if len(part)]
    if not parts:
        return empty_fingerprints()
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


RECORD_CHUNK: Final = 20_000  # rows whose payloads are built at once: per-row dicts never exist for a whole sheet


def fingerprint_part(sheet: pd.DataFrame, spec: SheetSpec) -> pd.DataFrame:
    """The fingerprint table's rows of one sheet (`fingerprint_table` of that sheet alone), typed."""
    chunks = list(_fingerprint_chunks(sheet, spec))
    if not chunks:
        return empty_fingerprints()
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _fingerprint_chunks(sheet: pd.DataFrame, spec: SheetSpec) -> Iterator[pd.DataFrame]:
    """The fingerprint rows of `sheet`, `RECORD_CHUNK` rows at a time, each chunk typed (strings in
    Arrow buffers) before the next, so that a sheet of a million rows never has a Python object per
    cell (or a payload dict per row) alive at once."""
    if not len(sheet):
        return
    kind, id_column = _ENTITY[spec.kind]
    payload = modifier_payload if spec.kind == "modifiers" else value_payload
    body = sheet.drop(columns="action")
    for start in range(0, len(sheet), RECORD_CHUNK):
        rows = sheet.iloc[start:start + RECORD_CHUNK]
        yield pd.DataFrame({
            "sheet": spec.name,
            "row": pd.RangeIndex(start + 2, start + len(rows) + 2),
            "kind": kind,
            "id": rows[id_column].to_numpy(),
            "fingerprint": [fingerprint(payload(r)) for r in _records(body.iloc[start:start + RECORD_CHUNK])],
            "type": rows["type"].to_numpy(),
            "parent": rows["modifier_id"].to_numpy() if spec.kind == "values" else pd.NA,
            "cells": recorded_cells(rows, spec),
            "fragile": fragile_cells(rows, spec),
        }).astype({**FINGERPRINT_DTYPES, **RECORD_DTYPES})


_SHEET_NAMES: Final = tuple(spec.name for spec in SHEETS)
_KINDS: Final = tuple(kind for kind, _ in _ENTITY.values())


def export_table(meta: ExportMeta, sheets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The `_bcmod` table of `sheets` as written: `meta_to_frame(meta.with_fingerprints(sheets))`
    (`meta.fingerprints` ignored) with the same cells, built a chunk of rows at a time and keeping
    only the columns written, `sheet` and `kind` as categories (a byte a row, not a string).

    A handful of array operations per chunk and plain Python per row, so a small export does not
    pay pandas' cost per operation many times over, and a big one holds one chunk's objects at a time."""
    table = ExportTable()
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is not None:
            table.add(spec, sheet)
    return table.frame(meta)


class ExportTable:
    """`export_table` a sheet at a time: `add` each sheet (in layout order) as it is written, so the
    writer need not hold every sheet at once; `frame` gives the table of the sheets added."""

    def __init__(self) -> None:
        self.sheet_codes: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.kind_codes: list[np.ndarray] = []
        self.ids: list[Any] = []
        self.cells: list[Any] = []

    def add(self, spec: SheetSpec, sheet: pd.DataFrame) -> None:
        if not len(sheet):
            return
        code = _SHEET_NAMES.index(spec.name)
        kind, id_column = _ENTITY[spec.kind]
        payload = modifier_payload if spec.kind == "modifiers" else value_payload
        body = sheet.drop(columns="action")
        for start in range(0, len(sheet), RECORD_CHUNK):
            chunk = sheet.iloc[start:start + RECORD_CHUNK]
            n = len(chunk)
            self.sheet_codes.append(np.full(n, code, dtype=np.int8))
            self.kind_codes.append(np.full(n, _KINDS.index(kind), dtype=np.int8))
            self.rows.append(np.arange(start + 2, start + n + 2, dtype=np.int64))
            self.ids.append(chunk[id_column].astype("Int64").array)
            prints = [fingerprint(payload(r)) for r in _records(body.iloc[start:start + RECORD_CHUNK])]
            types = chunk["type"].astype("string").to_numpy(dtype=object, na_value="").tolist()
            parents = (chunk["modifier_id"].astype("Int64").astype("string").to_numpy(dtype=object, na_value="")
                       .tolist() if spec.kind == "values" else [""] * n)
            fragile = fragile_cells(chunk, spec).tolist()
            self.cells.append(pd.array([f"{p}{_SEPARATOR}{t}{_SEPARATOR}{m}{_SEPARATOR}{c}{_SEPARATOR}"
                                        f"{'' if g is None or g is pd.NA else g}"
                                        for p, t, m, c, g in zip(prints, types, parents,
                                                                 recorded_cells(chunk, spec).tolist(), fragile)],
                                       dtype="string"))

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows)

    def frame(self, meta: ExportMeta) -> pd.DataFrame:
        """The table (the added chunks are let go)."""
        if not self.rows:
            return _with_items(meta, empty_fingerprints()[list(FINGERPRINT_DTYPES)])
        table = pd.DataFrame({
            "sheet": pd.Categorical.from_codes(np.concatenate(self.sheet_codes), categories=_SHEET_NAMES),
            "row": pd.array(np.concatenate(self.rows), dtype="Int64"),
            "kind": pd.Categorical.from_codes(np.concatenate(self.kind_codes), categories=_KINDS),
            "id": pd.concat([pd.Series(a) for a in self.ids], ignore_index=True),
            "fingerprint": pd.concat([pd.Series(a) for a in self.cells], ignore_index=True),
        })
        self.__init__()  # type: ignore[misc]
        return _with_items(meta, table)


def meta_rows(data_rows: int) -> int:
    """The `_bcmod` table's row count for an export of `data_rows` rows (the key/value pairs beside them)."""
    return max(len(_KEYS), data_rows)


def recorded_columns(spec: SheetSpec) -> list[tuple[int, str]]:
    """(position in the `cells` record, column) of the reference cells `spec` records."""
    always = ALWAYS_RECORDED.get(spec.kind, ())
    return [(position, name) for position, name in enumerate(RECORDED_CELLS[spec.kind])
            if name in spec.column_names and (name in always or not spec.column(name).editable)]


def cell_digests(column: pd.Series) -> np.ndarray:
    """A short digest of each cell's text as read back (blank, TRUE/FALSE, whole numbers, text)."""
    codes, uniques = pd.factorize(column.astype("string"), use_na_sentinel=True)
    digests = np.array([_digest(str(u)) for u in uniques] + [_digest("")], dtype=object)
    return digests[codes]  # code -1 (blank) takes the last one


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_CHARS // 2).hexdigest()


def recorded_cells(sheet: pd.DataFrame, spec: SheetSpec) -> np.ndarray:
    """Each row's `cells` record."""
    parts = [np.full(len(sheet), NOT_RECORDED, dtype=object) for _ in RECORDED_CELLS[spec.kind]]
    for position, name in recorded_columns(spec):
        parts[position] = cell_digests(sheet[name])
    return np.array(["".join(cells) for cells in zip(*parts)], dtype=object) if parts else \
        np.full(len(sheet), "", dtype=object)


def fragile_cells(sheet: pd.DataFrame, spec: SheetSpec) -> np.ndarray:
    """Each row's `fragile` record: {column: exported text} of its text cells a spreadsheet would rewrite."""
    found: dict[int, dict[str, str]] = {}
    for column in spec.columns:
        if column.kind not in _FRAGILE_KINDS or column.name not in sheet.columns:
            continue
        texts = sheet[column.name].astype("string").to_numpy(dtype=object, na_value=None)
        fragile = {text for text in set(texts.tolist()) if text is not None and is_fragile(text)}
        if not fragile:
            continue
        for position, text in enumerate(texts.tolist()):
            if text in fragile:
                found.setdefault(position, {})[column.name] = text
    out = np.full(len(sheet), pd.NA, dtype=object)
    for position, cells in sorted(found.items()):
        out[position] = json.dumps(cells, ensure_ascii=False, separators=(",", ":"))
    return out


def record_of(kind: SheetKind, fingerprints: pd.DataFrame) -> pd.DataFrame:
    """The exported rows of one kind (modifiers or values) that carry a record, indexed by id."""
    entity = _ENTITY[kind][0]
    if "cells" not in fingerprints.columns:
        return pd.DataFrame(columns=[*RECORD_DTYPES, "fingerprint"]).astype({**RECORD_DTYPES, "fingerprint": "string"})
    table = fingerprints[(fingerprints["kind"] == entity).fillna(False).to_numpy(bool)
                         & fingerprints["id"].notna().to_numpy(bool) & fingerprints["cells"].notna().to_numpy(bool)]
    table = table.drop_duplicates("id")
    return table.set_index(table["id"].astype("int64"))[[*RECORD_DTYPES, "fingerprint"]]


def _composed(table: pd.DataFrame) -> pd.Series:
    """The fingerprint cell as written: `fingerprint|type|parent|cells|fragile` where recorded."""
    prints = table["fingerprint"].astype("string")
    if "cells" not in table.columns or not len(table):
        return prints
    recorded = table["cells"].notna() & prints.notna()
    if not recorded.any():
        return prints
    parent = table["parent"].astype("Int64").astype("string").fillna("")
    composed = (prints + _SEPARATOR + table["type"].astype("string").fillna("") + _SEPARATOR + parent + _SEPARATOR
                + table["cells"].astype("string") + _SEPARATOR + table["fragile"].astype("string").fillna(""))
    return composed.where(recorded, prints)


def _decomposed(prints: pd.Series) -> pd.DataFrame:
    """The fingerprint and the record from the fingerprint cells as read (no record: blank).

    Split in Arrow (`_split_parts`): pandas' `str.split(expand=True)` makes a Python string per
    part, five per exported row, which was the peak of validating a 100k-product export.
    """
    parts = _split_parts(prints, 5)
    recorded = parts[3].notna()
    out = pd.DataFrame({"fingerprint": parts[0]}, index=prints.index)
    out["type"] = parts[1].where(recorded).replace("", pd.NA)
    out["parent"] = pd.to_numeric(parts[2].where(recorded).replace("", pd.NA), errors="coerce")
    out["cells"] = parts[3]
    out["fragile"] = parts[4].where(recorded).replace("", pd.NA)
    return out.astype({"fingerprint": "string", **RECORD_DTYPES})


def _split_parts(texts: pd.Series, count: int) -> list[pd.Series]:
    """`texts.str.split(_SEPARATOR, n=count - 1, expand=True)` as `count` string columns (missing
    part: NA), computed on Arrow buffers without a Python object per part."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(texts.astype("string"), type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):  # a long column comes in chunks
        array = array.combine_chunks()
    lists = pc.split_pattern(array, pattern=_SEPARATOR, max_splits=count - 1)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = lists.offsets.to_numpy()[:-1]
    flat = lists.flatten()
    columns = []
    for i in range(count):
        present = lengths > i
        taken = flat.take(pa.array(np.where(present, starts + i, 0), type=pa.int64())) if len(flat) else \
            pa.nulls(len(texts), pa.large_string())
        part = pc.if_else(pa.array(present), taken, pa.scalar(None, pa.large_string()))
        columns.append(pd.Series(part.to_pandas(types_mapper=lambda _: pd.StringDtype()).array, index=texts.index,
                                 dtype="string", copy=False))
    return columns


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`frame.to_dict("records")` with plain Python values, several times faster on nullable dtypes.

    The payload builders treat pd.NA and numpy scalars alike, so the fingerprints are the same as
    `normalise.value_fingerprints` gives (a test checks it).
    """
    names = list(frame.columns)
    columns = [frame[name].to_numpy(dtype=object) for name in names]
    return [dict(zip(names, row)) for row in zip(*columns)]


def meta_to_frame(meta: ExportMeta) -> pd.DataFrame:
    """The `_bcmod` table: key/value pairs beside the fingerprint table."""
    table = meta.fingerprints.reset_index(drop=True)
    table = table.assign(fingerprint=_composed(table))
    return _with_items(meta, table[[name for name in FINGERPRINT_DTYPES if name in table]])


def _with_items(meta: ExportMeta, table: pd.DataFrame) -> pd.DataFrame:
    """The key/value pairs of `meta` beside `table` (the fingerprint columns as written)."""
    items = {
        "format_version": str(meta.format_version),
        "store_hash": meta.store_hash,
        "api_url": safe_url(meta.api_url),
        "exported_at": meta.exported_at,
        "filters": json.dumps(meta.filters, sort_keys=True, ensure_ascii=False, default=str),
    }
    n_rows = max(len(items), len(table))
    frame = pd.DataFrame({
        "key": pd.Series(list(items), dtype="string"),
        "value": pd.Series(list(items.values()), dtype="string"),
    }).reindex(range(n_rows))
    for name, dtype in FINGERPRINT_DTYPES.items():
        if name not in table:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
            continue
        column = table[name].reset_index(drop=True)
        column = column.reindex(range(n_rows)) if len(column) < n_rows else column
        frame[name] = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype(dtype)
    return frame


def meta_from_frame(frame: pd.DataFrame, where: str) -> ExportMeta:
    """Parse a `_bcmod` table read back from `where` (named in errors)."""
    missing = [name for name in META_DTYPES if name not in frame.columns]
    if missing:
        raise ValueError(f"{where}: metadata is missing column(s) {', '.join(missing)}")
    pairs = frame[["key", "value"]].dropna(subset=["key"])
    items = dict(zip(pairs["key"].astype(str), pairs["value"], strict=True))
    absent = [key for key in _KEYS if key not in items]
    if absent:
        raise ValueError(f"{where}: metadata is missing key(s) {', '.join(absent)}")
    try:
        version = int(str(items["format_version"]))
    except ValueError:
        raise ValueError(f"{where}: format_version {items['format_version']!r} is not a whole number") from None
    if version > FORMAT_VERSION:
        raise ValueError(f"{where}: written by a newer bcmod (format {version}; this one reads {FORMAT_VERSION})")
    raw_filters = items["filters"]
    try:
        filters = json.loads(raw_filters) if isinstance(raw_filters, str) and raw_filters else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: filters are not valid JSON: {exc}") from None
    table = frame[list(FINGERPRINT_DTYPES)].dropna(how="all").reset_index(drop=True).astype(FINGERPRINT_DTYPES)
    record = _decomposed(table["fingerprint"])
    table = table.assign(**{name: record[name] for name in record.columns})
    return ExportMeta(
        store_hash=_text(items["store_hash"]),
        api_url=_text(items["api_url"]),
        exported_at=_text(items["exported_at"]),
        filters=filters,
        format_version=version,
        fingerprints=table,
    )


def _text(item: Any) -> str:
    return "" if item is None or item is pd.NA else str(item)
