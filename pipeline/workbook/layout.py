"""Which sheets the workbook has and which columns each one shows.

Modifiers and values are split by type family so that a row only carries the columns that apply
to it: a person editing a date modifier never sees `file_max_size`. The writer, the CSV files and
the reader (and later validation) all take their columns from here, so a sheet cannot gain a
column in one place and not the other.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Final, Literal

from pipeline.modifier_types import ADJUSTER_KINDS, MODIFIER_TYPES, FieldKind

ColumnKind = Literal["id", "text", "int", "number", "bool", "enum", "date", "list", "action"]
SheetKind = Literal["modifiers", "values"]

ACTION_DELETE: Final = "delete"
ACTIONS: Final = (ACTION_DELETE,)
META_SHEET: Final = "_bcmod"
README_SHEET: Final = "README"
FORMAT_VERSION: Final = 1
# What bcmod adds to copies of a workbook (validation report, apply results); reading such a copy
# back ignores them, so an annotated or results copy can be validated and planned again.
ERRORS_COLUMN: Final = "errors"
RESULT_COLUMN: Final = "result"
SUMMARY_SHEET: Final = "Validation summary"
RESULTS_SUMMARY_SHEET: Final = "Apply summary"
ERRORS_CSV: Final = "errors.csv"
RESULTS_CSV: Final = "results.csv"
ANNOTATION_COLUMNS: Final = frozenset({ERRORS_COLUMN, RESULT_COLUMN})
ANNOTATION_SHEETS: Final = frozenset({SUMMARY_SHEET, RESULTS_SUMMARY_SHEET})
ANNOTATION_FILES: Final = frozenset({ERRORS_CSV, RESULTS_CSV})


@dataclass(frozen=True)
class Column:
    """One column of a sheet. `name` is both the header text and the frame column: it stays the
    API's name, which readers match, while `title` is the plain-words name the header comment
    starts with. `width` is the width of a typical value, used when the sheet has no rows (the
    writer fits widths to the header and the rows it writes). `colour_preview`: cells are filled
    with the colours they list (swatch colours), which is formatting only, never read back."""

    name: str
    kind: ColumnKind
    comment: str
    choices: tuple[str, ...] = ()
    editable: bool = True
    width: int = 14
    title: str = ""
    colour_preview: bool = False

    @property
    def heading(self) -> str:
        """The plain-words name of the column (its `title`, or the API name in words)."""
        return self.title or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class SheetSpec:
    """One sheet: its rows' types and columns. The first `identity` columns say which row it is
    (product, modifier, value) and stay in view, frozen with the header, while the rest scroll."""

    name: str
    kind: SheetKind
    types: tuple[str, ...]
    columns: tuple[Column, ...]
    identity: int = 0

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_KIND_BY_FIELD: Final = {
    FieldKind.STRING: "text",
    FieldKind.BOOLEAN: "bool",
    FieldKind.INTEGER: "int",
    FieldKind.NUMBER: "number",
    FieldKind.DATE: "date",
    FieldKind.ENUM: "enum",
    FieldKind.STRING_LIST: "list",
    FieldKind.NUMBER_OR_STRING: "text",
}

ACTION = Column("action", "action", "Leave blank to keep or update the row. Type delete to delete it from the store.",
                ACTIONS, width=7, title="Action")
PRODUCT_ID = Column("product_id", "id", "BigCommerce product id. Required; identifies the product.", width=8,
                    title="Product id")
PRODUCT_SKU = Column("product_sku", "text", "Product SKU, for reference. Not sent to the store.", editable=False,
                     width=12, title="Product SKU")
PRODUCT_NAME = Column("product_name", "text", "Product name, for reference. Not sent to the store.",
                      editable=False, width=24, title="Product name")
MODIFIER_ID = Column("modifier_id", "id", "Modifier id from the store. Leave blank on a new modifier.", width=8,
                     title="Modifier id")
DISPLAY_NAME = Column("display_name", "text", "Name shown to shoppers. Unique per product; it links values to a "
                      "new modifier that has no id yet.", width=18, title="Modifier name (shown to shoppers)")
REQUIRED = Column("required", "bool", "TRUE if the shopper must fill this in before buying.", ("TRUE", "FALSE"),
                  width=6, title="Required")
MOD_SORT = Column("sort_order", "int", "Order of the modifier on the product page (whole number).", width=4,
                  title="Position")


def _type_column(types: tuple[str, ...]) -> Column:
    return Column("type", "enum", "Modifier type: " + ", ".join(types) + ". Cannot change after creation.",
                  types, width=max(map(len, types)), title="Modifier type")


def _value_type_column(types: tuple[str, ...]) -> Column:
    """A value's type is its modifier's: shown for reference, never changed on the value row."""
    return Column("type", "enum", "Type of this value's modifier: " + ", ".join(types) + ". It is the modifier's "
                  "type and cannot be changed here; on a new value row, copy it from the modifier.", types,
                  editable=False, width=max(map(len, types)), title="Modifier type")


# Plain-words names of the config columns, for the header comments (the header keeps the API name).
_CONFIG_TITLES: Final = {
    "default_value": "Default value",
    "text_characters_limited": "Limit the length?",
    "text_min_length": "Fewest characters",
    "text_max_length": "Most characters",
    "text_lines_limited": "Limit the lines?",
    "text_max_lines": "Most lines",
    "checked_by_default": "Ticked at first?",
    "checkbox_label": "Checkbox text",
    "date_limited": "Limit the dates?",
    "date_limit_mode": "Date limit",
    "date_earliest_value": "Earliest date",
    "date_latest_value": "Latest date",
    "file_types_mode": "File types allowed",
    "file_types_supported": "File type groups",
    "file_types_other": "Other file extensions",
    "file_max_size": "Largest file (KB)",
    "number_limited": "Limit the number?",
    "number_limit_mode": "Number limit",
    "number_lowest_value": "Smallest number",
    "number_highest_value": "Largest number",
    "number_integers_only": "Whole numbers only?",
    "product_list_adjusts_inventory": "Lowers the listed product's stock?",
    "product_list_adjusts_pricing": "Adds the listed product's price?",
    "product_list_shipping_calc": "Shipping of the listed product",
}
# Typical widths of config values (characters), where the header alone is not a good guess.
_CONFIG_WIDTHS: Final = {"date": 10, "bool": 6, "int": 6, "number": 8, "enum": 9, "list": 16, "text": 16}


def _config_columns(types: tuple[str, ...]) -> tuple[Column, ...]:
    columns: dict[str, Column] = {}
    for type_name in types:
        for field in MODIFIER_TYPES[type_name].config_fields:
            if field.name in columns:
                continue
            kind = _KIND_BY_FIELD[field.kind]
            choices = field.choices if kind == "enum" else (("TRUE", "FALSE") if kind == "bool" else ())
            comment = field.description
            if kind == "list":
                comment += " Separate several with commas."
            if kind == "date":
                comment += " Format YYYY-MM-DD (a day, as shown) or 2026-03-15T09:30:00+00:00 (a time)."
            columns[field.name] = Column(field.name, kind, comment, choices, width=_CONFIG_WIDTHS[kind],
                                         title=_CONFIG_TITLES.get(field.name, ""))
    return tuple(columns.values())


def _modifier_sheet(name: str, types: tuple[str, ...]) -> SheetSpec:
    columns = (ACTION, PRODUCT_ID, PRODUCT_SKU, PRODUCT_NAME, MODIFIER_ID, DISPLAY_NAME, _type_column(types),
               REQUIRED, MOD_SORT, *_config_columns(types))
    return SheetSpec(name, "modifiers", types, columns, identity=columns.index(DISPLAY_NAME) + 1)


_ADJUSTER_COLUMNS: Final = (
    Column("price_adjuster", "enum", "How the price changes when this value is chosen: relative (add an amount) "
           "or percentage. Blank for no price change.", ADJUSTER_KINDS, width=10, title="Price change"),
    Column("price_adjuster_value", "number", "Amount or percentage added to the price (may be negative).", width=8,
           title="Price change amount"),
    Column("weight_adjuster", "enum", "How the weight changes: relative or percentage. Blank for none.",
           ADJUSTER_KINDS, width=10, title="Weight change"),
    Column("weight_adjuster_value", "number", "Amount or percentage added to the weight.", width=8,
           title="Weight change amount"),
    Column("image_url", "text", "Image shown when this value is chosen: a URL, or a file path relative to "
           "this workbook's folder (uploaded on apply).", width=30, title="Image"),
    Column("purchasing_disabled", "bool", "TRUE to stop shoppers buying with this value.", ("TRUE", "FALSE"),
           width=6, title="Cannot be bought?"),
    Column("purchasing_disabled_message", "text", "Message shown when purchasing is disabled.", width=24,
           title="Message when it cannot be bought"),
)


def _value_sheet(name: str, types: tuple[str, ...], extra: tuple[Column, ...], *, has_default: bool = True,
                 labels_editable: bool = True) -> SheetSpec:
    default = (Column("is_default", "bool", "TRUE for the value selected by default (at most one per modifier).",
                      ("TRUE", "FALSE"), width=6, title="Selected by default?"),) if has_default else ()
    label = Column("label", "text", "Text shown to shoppers for this value. Unique within its modifier.",
                   editable=labels_editable, width=16, title="Value (shown to shoppers)")
    columns = (
        ACTION, PRODUCT_ID, PRODUCT_SKU, PRODUCT_NAME,
        Column("modifier_id", "id", "Id of the modifier this value belongs to. Blank when the modifier is new: "
               "then display_name links it.", width=8, title="Modifier id"),
        Column("display_name", "text", "Display name of the modifier this value belongs to.", width=16,
               title="Modifier name"),
        Column("value_id", "id", "Value id from the store. Leave blank on a new value.", width=8, title="Value id"),
        label,
        _value_type_column(types),
        Column("sort_order", "int", "Order of the value within its modifier (whole number).", width=4,
               title="Position"),
        *default, *extra, *_ADJUSTER_COLUMNS,
    )
    return SheetSpec(name, "values", types, columns, identity=columns.index(label) + 1)


SHEETS: Final[tuple[SheetSpec, ...]] = (
    _modifier_sheet("Choice modifiers", ("dropdown", "radio_buttons", "rectangles", "swatch")),
    _modifier_sheet("Checkbox modifiers", ("checkbox",)),
    _modifier_sheet("Date modifiers", ("date",)),
    _modifier_sheet("File modifiers", ("file",)),
    _modifier_sheet("Text modifiers", ("text",)),
    _modifier_sheet("Multi-line text modifiers", ("multi_line_text",)),
    _modifier_sheet("Number modifiers", ("numbers_only_text",)),
    _modifier_sheet("Product list modifiers", ("product_list", "product_list_with_images")),
    _value_sheet("Choice values", ("dropdown", "radio_buttons", "rectangles"), ()),
    _value_sheet("Swatch values", ("swatch",), (
        Column("colors", "list", "Up to 3 hex colours such as #ff0000, separated by commas. The cell is filled "
               "with the colours as exported, as a preview.", width=16, title="Swatch colours",
               colour_preview=True),
        Column("pattern_image_url", "text", "Pattern image instead of colours: a URL.", width=30,
               title="Swatch pattern image"),
    ), has_default=False),
    _value_sheet("Checkbox values", ("checkbox",), (
        Column("checked_value", "bool", "TRUE for the ticked state, FALSE for unticked. Set by the store.",
               ("TRUE", "FALSE"), editable=False, width=6, title="Ticked?"),
    ), labels_editable=False),
    _value_sheet("Product list values", ("product_list", "product_list_with_images"), (
        Column("linked_product_id", "id", "Id of the product offered by this value; it must exist in the store.",
               width=8, title="Listed product id"),
    )),
)

SHEET_BY_NAME: Final = {s.name: s for s in SHEETS}


def sheet_for(kind: SheetKind, type_name: str) -> SheetSpec:
    """The sheet that holds rows of `kind` for a modifier type."""
    return next(s for s in SHEETS if s.kind == kind and type_name in s.types)


def _check_layout() -> None:
    """Every type has exactly one modifier sheet, and one value sheet when it has values."""
    for type_name, spec in MODIFIER_TYPES.items():
        assert sum(type_name in s.types for s in SHEETS if s.kind == "modifiers") == 1, type_name
        assert sum(type_name in s.types for s in SHEETS if s.kind == "values") == int(spec.has_values), type_name
    assert all(len(s.name) <= 31 for s in SHEETS)
    # the frozen identity columns name the row: the product, the modifier and (on values) the value
    for s in SHEETS:
        assert {"product_id", "display_name", *(("label",) if s.kind == "values" else ())} <= \
            set(s.column_names[:s.identity]), s.name


_check_layout()


# --- past a spreadsheet's row limit ------------------------------------------------------------------
# A sheet holds 1,048,576 rows, the header and 1,048,575 data rows. A family with more rows (or the
# `_bcmod` table, one row per exported row) continues on numbered sheets: "Choice values",
# "Choice values (2)", ... CSV files have no such limit and are never split.
# Read back, the parts are one family frame again, so validation and the plan see one table: a row
# of part k is indexed by its *family row* `(k - 1) * PART_STRIDE + row`, which keeps part 1's rows
# as they are and sorts the parts in order. `Issue` and `RowRef` turn a family row back into the
# real sheet and row (`sheet_row`), so a person (and the results copy) sees where the row really is.
SHEET_ROW_LIMIT: Final = 1_048_575
SHEET_ROW_LIMIT_ENV: Final = "BCMOD_SHEET_ROW_LIMIT"  # a smaller limit, for tests
PART_STRIDE: Final = 10_000_000  # more than any sheet's rows
_PART: Final = re.compile(r"^(?P<family>.+?) \((?P<part>[2-9]|[1-9]\d+)\)$")


def sheet_row_limit() -> int:
    """Data rows one sheet holds: `SHEET_ROW_LIMIT`, or less when `BCMOD_SHEET_ROW_LIMIT` says so."""
    text = os.environ.get(SHEET_ROW_LIMIT_ENV, "").strip()
    if not text:
        return SHEET_ROW_LIMIT
    limit = int(text)
    if not 1 <= limit <= SHEET_ROW_LIMIT:
        raise ValueError(f"{SHEET_ROW_LIMIT_ENV}={text}: must be between 1 and {SHEET_ROW_LIMIT:,}")
    return limit


def part_name(family: str, part: int) -> str:
    """The sheet that holds part `part` (1-based) of `family`."""
    return family if part == 1 else f"{family} ({part})"


_FAMILIES: Final = frozenset({*(s.name for s in SHEETS), META_SHEET})


def split_part_name(name: str) -> tuple[str, int] | None:
    """("Choice values", 2) for "Choice values (2)", (family, 1) for a family's own name, and None for
    any other sheet. Names match exactly, as bcmod writes them."""
    if name in _FAMILIES:
        return name, 1
    match = _PART.match(name)
    if match and match["family"] in _FAMILIES:
        return match["family"], int(match["part"])
    return None


def family_row(part: int, row: int) -> int:
    """The family row of `row` (Excel row number) of part `part`."""
    return (part - 1) * PART_STRIDE + row


def sheet_row(sheet: str, row: int) -> tuple[str, int]:
    """The real sheet and Excel row of a family row (a row below `PART_STRIDE` is unchanged)."""
    if row < PART_STRIDE or split_part_name(sheet) != (sheet, 1):
        return sheet, row
    part, real = divmod(row, PART_STRIDE)
    return part_name(sheet, part + 1), real
