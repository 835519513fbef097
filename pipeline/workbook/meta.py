"""What the hidden `_bcmod` sheet (or `_bcmod.csv`) records about an export.

The store, the time and the filters of the export, and a fingerprint of every exported row, so
the plan can tell a change the user made in the sheet from a change made in the store since.
The table is one frame with two blocks side by side: `key`/`value` rows on the left, and the
fingerprint table (`sheet`, `row`, `kind`, `id`, `fingerprint`) on the right, where `row` is the
spreadsheet row number (the header is row 1) in the xlsx and in the CSV file alike.
The API token is never written: it travels in a header, and `api_url` is stripped of any
credentials or query string before it is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from pipeline.normalise import fingerprint, modifier_payload, value_payload
from pipeline.workbook.layout import FORMAT_VERSION, SHEETS, Column

FINGERPRINT_DTYPES = {"sheet": "string", "row": "Int64", "kind": "string", "id": "Int64", "fingerprint": "string"}
META_DTYPES = {"key": "string", "value": "string", **FINGERPRINT_DTYPES}
# The table's columns, for the writers and the reader (read-only text and whole numbers).
META_COLUMNS = tuple(Column(name, "int" if dtype == "Int64" else "text", "", editable=False)
                     for name, dtype in META_DTYPES.items())
_KEYS = ("format_version", "store_hash", "api_url", "exported_at", "filters")
_ENTITY = {"modifiers": ("modifier", "modifier_id"), "values": ("value", "value_id")}


def empty_fingerprints() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in FINGERPRINT_DTYPES.items()})


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
    """One row per data row of every sheet: where it is, what it is and its content digest."""
    parts = []
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is None or not len(sheet):
            continue
        kind, id_column = _ENTITY[spec.kind]
        payload = modifier_payload if spec.kind == "modifiers" else value_payload
        parts.append(pd.DataFrame({
            "sheet": spec.name,
            "row": pd.RangeIndex(2, len(sheet) + 2),
            "kind": kind,
            "id": sheet[id_column].to_numpy(),
            "fingerprint": [fingerprint(payload(r)) for r in _records(sheet.drop(columns="action"))],
        }))
    if not parts:
        return empty_fingerprints()
    return pd.concat(parts, ignore_index=True).astype(FINGERPRINT_DTYPES)


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
    items = {
        "format_version": str(meta.format_version),
        "store_hash": meta.store_hash,
        "api_url": safe_url(meta.api_url),
        "exported_at": meta.exported_at,
        "filters": json.dumps(meta.filters, sort_keys=True, ensure_ascii=False, default=str),
    }
    table = meta.fingerprints.reset_index(drop=True)
    n_rows = max(len(items), len(table))
    frame = pd.DataFrame({
        "key": pd.Series(list(items), dtype="string"),
        "value": pd.Series(list(items.values()), dtype="string"),
    }).reindex(range(n_rows))
    for name in FINGERPRINT_DTYPES:
        frame[name] = table[name].reindex(range(n_rows)).to_numpy() if name in table else pd.NA
    return frame.astype(META_DTYPES)


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
    table = frame[list(FINGERPRINT_DTYPES)].dropna(how="all").reset_index(drop=True)
    return ExportMeta(
        store_hash=_text(items["store_hash"]),
        api_url=_text(items["api_url"]),
        exported_at=_text(items["exported_at"]),
        filters=filters,
        format_version=version,
        fingerprints=table.astype(FINGERPRINT_DTYPES),
    )


def _text(item: Any) -> str:
    return "" if item is None or item is pd.NA else str(item)
