"""Split the normalised frames into the workbook's sheets, and join sheets back into frames.

Every writer (xlsx, CSV) starts from `frames_to_sheets` and every reader ends with
`sheets_to_frames`, so the two formats cannot disagree about which row goes where.

A sheet can only hold what a person sees in it, which is slightly less than the frames:
- a column the layout does not show for a sheet is not carried (the read-only, store-generated
  `name` of a modifier; `is_default` of swatch values, which have no default);
- a reference column a sheet shows but its frame does not hold (`product_name` on value sheets)
  is looked up from the modifier frame when written and dropped again when read;
- an empty string and a missing value are the same blank cell (neither Excel, LibreOffice nor
  CSV keeps them apart), and a blank cell reads back as missing. `products_to_frames` already
  stores blanks as missing; the split makes sure of it for frames from anywhere else.
`as_in_workbook` gives exactly what a round trip returns; the fingerprints in the metadata are
computed on the rows as written, so an untouched export re-imports with no changes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.normalise import MODIFIER_DTYPES, VALUE_DTYPES, ModifierFrames
from pipeline.workbook.layout import SHEETS, SheetSpec

ACTION_DTYPE = "string"
REFERENCE_DTYPE = "string"  # a reference column the frame does not hold (product_name on value sheets)


def frame_dtypes(kind: str) -> dict[str, str]:
    """The dtypes of the modifier or value frame."""
    return MODIFIER_DTYPES if kind == "modifiers" else VALUE_DTYPES


def sheet_dtypes(spec: SheetSpec) -> dict[str, str]:
    """Column -> pandas dtype for one sheet, in the layout's column order."""
    dtypes = frame_dtypes(spec.kind)
    return {c.name: ACTION_DTYPE if c.kind == "action" else dtypes.get(c.name, REFERENCE_DTYPE)
            for c in spec.columns}


def empty_sheet(spec: SheetSpec) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in sheet_dtypes(spec).items()})


def frames_to_sheets(frames: ModifierFrames) -> dict[str, pd.DataFrame]:
    """Sheet name -> its rows (in frame order), every sheet of the layout even when empty.

    Columns follow the layout; `action` is blank; empty strings become missing. A row whose type
    has no sheet is an error, not something to drop quietly.
    """
    check_types(frames)
    product_names = product_names_of(frames.modifiers)
    return {spec.name: sheet_of(frames, spec, product_names) for spec in SHEETS}


def check_types(frames: ModifierFrames) -> None:
    """`ValueError` when a row's type has no sheet (checked before any sheet is written)."""
    for kind, frame in (("modifiers", frames.modifiers), ("values", frames.values)):
        known = {t for s in SHEETS if s.kind == kind for t in s.types}
        placed = frame["type"].isin(known).fillna(False).to_numpy(bool)
        if not placed.all():
            unknown = sorted(set(frame["type"].dropna()) - known)
            raise ValueError(f"{int((~placed).sum())} {kind} rows have a type with no sheet: {unknown}")


def sheet_length(frames: ModifierFrames, spec: SheetSpec) -> int:
    """How many rows `sheet_of(frames, spec)` has, without building it."""
    source = frames.modifiers if spec.kind == "modifiers" else frames.values
    return int(source["type"].isin(spec.types).fillna(False).to_numpy(bool).sum())


def sheet_of(frames: ModifierFrames, spec: SheetSpec, product_names: pd.Series | None = None) -> pd.DataFrame:
    """One sheet of `frames_to_sheets`, built alone so a writer holds one sheet at a time.

    `product_names` (`product_names_of(frames.modifiers)`) saves looking them up again per sheet.
    Each column is taken once with its rows and typed, and the frame built in one go from the arrays:
    a column already of its sheet dtype is not copied twice, and an empty text only costs a pass
    when there is one."""
    source = frames.modifiers if spec.kind == "modifiers" else frames.values
    positions = np.flatnonzero(source["type"].isin(spec.types).fillna(False).to_numpy(bool))
    n = len(positions)
    columns: dict[str, pd.api.extensions.ExtensionArray | np.ndarray] = {}
    for name, dtype in sheet_dtypes(spec).items():
        if name == "action":
            columns[name] = pd.array([pd.NA] * n, dtype=dtype)
            continue
        if name in source.columns:
            column = source[name]
        elif name == "product_name":
            if product_names is None:
                product_names = product_names_of(frames.modifiers)
            column = source["product_id"].map(product_names)
        else:
            raise AssertionError(f"sheet {spec.name!r} shows {name!r}, which its frame does not hold")
        array = column.array.take(positions) if n != len(source) else column.array
        if str(array.dtype) != dtype:
            array = pd.array(array, dtype=dtype) if n else pd.array([], dtype=dtype)
        elif array is column.array:
            array = array.copy()
        if dtype == "string" and n:
            empty = (array == "").to_numpy(dtype=bool, na_value=False)
            if empty.any():
                array = array.copy()
                array[empty] = pd.NA
        columns[name] = array
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


def product_names_of(modifiers: pd.DataFrame) -> pd.Series:
    """Product id -> product name, as the modifier rows give it (for the value sheets)."""
    named = modifiers.loc[modifiers["product_id"].notna(), ["product_id", "product_name"]]
    named = named.drop_duplicates("product_id")
    return pd.Series(named["product_name"].to_numpy(), index=named["product_id"].astype("int64").to_numpy())


def sheets_to_frames(sheets: Mapping[str, pd.DataFrame]) -> ModifierFrames:
    """The inverse of `frames_to_sheets`; a sheet missing from `sheets` counts as empty.

    Modifiers are ordered stably by product_id then sort_order; values follow their modifier
    (matched by modifier_id, or by product and display_name for a new modifier) and keep their
    order within it, which is the order they were exported in.
    """
    parts: dict[str, list[pd.DataFrame]] = {"modifiers": [], "values": []}
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is not None and len(sheet):
            parts[spec.kind].append(sheet.drop(columns=["action"], errors="ignore"))
    modifiers = _typed(parts["modifiers"], MODIFIER_DTYPES)
    modifiers = modifiers.sort_values(["product_id", "sort_order"], kind="stable", na_position="last")
    modifiers = modifiers.reset_index(drop=True)
    values = _typed(parts["values"], VALUE_DTYPES)
    if len(values):
        rank = _modifier_rank(modifiers, values)
        values = values.assign(_rank=rank).sort_values(["product_id", "_rank"], kind="stable", na_position="last")
        values = values.drop(columns="_rank").reset_index(drop=True)
    return ModifierFrames(modifiers, values)


def as_in_workbook(frames: ModifierFrames) -> ModifierFrames:
    """The frames as a workbook or CSV export gives them back (see the module docstring)."""
    return sheets_to_frames(frames_to_sheets(frames))


def _typed(parts: list[pd.DataFrame], dtypes: Mapping[str, str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return frame.reindex(columns=list(dtypes)).astype(dict(dtypes))


def _modifier_rank(modifiers: pd.DataFrame, values: pd.DataFrame) -> pd.Series:
    """Position of each value's modifier in `modifiers`; missing when it has none."""
    position = pd.Series(range(len(modifiers)), index=modifiers.index, dtype="Int64")
    by_id = pd.Series(position.to_numpy(), index=modifiers["modifier_id"].astype("Int64"))
    by_id = by_id[by_id.index.notna() & ~by_id.index.duplicated()]
    rank = values["modifier_id"].map(by_id).astype("Int64")
    missing = rank.isna()
    if missing.any():
        by_name = pd.Series(position.to_numpy(), index=pd.MultiIndex.from_frame(
            modifiers[["product_id", "display_name"]].astype(object)))
        by_name = by_name[~by_name.index.duplicated()]
        keys = pd.MultiIndex.from_frame(values.loc[missing, ["product_id", "display_name"]].astype(object))
        rank[missing] = by_name.reindex(keys).to_numpy()
    return rank
