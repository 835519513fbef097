"""Which sheets the workbook has and which columns each one shows.

Modifiers and values are split by type family so that a row only carries the columns that apply
to it: a person editing a date modifier never sees `file_max_size`. The writer, the CSV files and
the reader (and later validation) all take their columns from here, so a sheet cannot gain a
column in one place and not the other.
"""

from __future__ import annotations

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
    """One column of a sheet. `name` is both the header text and the frame column."""

    name: str
    kind: ColumnKind
    comment: str
    choices: tuple[str, ...] = ()
    editable: bool = True
    width: int = 14


@dataclass(frozen=True)
class SheetSpec:
    name: str
    kind: SheetKind
    types: tuple[str, ...]
    columns: tuple[Column, ...]

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
                ACTIONS, width=9)
PRODUCT_ID = Column("product_id", "id", "BigCommerce product id. Required; identifies the product.", width=11)
PRODUCT_SKU = Column("product_sku", "text", "Product SKU, for reference. Not sent to the store.", editable=False,
                     width=16)
PRODUCT_NAME = Column("product_name", "text", "Product name, for reference. Not sent to the store.",
                      editable=False, width=28)
MODIFIER_ID = Column("modifier_id", "id", "Modifier id from the store. Leave blank on a new modifier.", width=11)
DISPLAY_NAME = Column("display_name", "text", "Name shown to shoppers. Unique per product; it links values to a "
                      "new modifier that has no id yet.", width=24)
REQUIRED = Column("required", "bool", "TRUE if the shopper must fill this in before buying.", ("TRUE", "FALSE"),
                  width=10)
MOD_SORT = Column("sort_order", "int", "Order of the modifier on the product page (whole number).", width=10)


def _type_column(types: tuple[str, ...]) -> Column:
    return Column("type", "enum", "Modifier type: " + ", ".join(types) + ". Cannot change after creation.",
                  types, width=16)


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
                comment += " Format YYYY-MM-DD or 2026-03-15T00:00:00+00:00."
            columns[field.name] = Column(field.name, kind, comment, choices, width=max(12, min(24, len(field.name) + 2)))
    return tuple(columns.values())


def _modifier_sheet(name: str, types: tuple[str, ...]) -> SheetSpec:
    return SheetSpec(name, "modifiers", types, (
        ACTION, PRODUCT_ID, PRODUCT_SKU, PRODUCT_NAME, MODIFIER_ID, DISPLAY_NAME, _type_column(types), REQUIRED,
        MOD_SORT, *_config_columns(types),
    ))


_ADJUSTER_COLUMNS: Final = (
    Column("price_adjuster", "enum", "How the price changes when this value is chosen: relative (add an amount) "
           "or percentage. Blank for no price change.", ADJUSTER_KINDS, width=14),
    Column("price_adjuster_value", "number", "Amount or percentage added to the price (may be negative).", width=12),
    Column("weight_adjuster", "enum", "How the weight changes: relative or percentage. Blank for none.",
           ADJUSTER_KINDS, width=14),
    Column("weight_adjuster_value", "number", "Amount or percentage added to the weight.", width=12),
    Column("image_url", "text", "Image shown when this value is chosen: a URL, or a file path relative to "
           "this workbook's folder (uploaded on apply).", width=30),
    Column("purchasing_disabled", "bool", "TRUE to stop shoppers buying with this value.", ("TRUE", "FALSE"),
           width=11),
    Column("purchasing_disabled_message", "text", "Message shown when purchasing is disabled.", width=24),
)


def _value_sheet(name: str, types: tuple[str, ...], extra: tuple[Column, ...], *, has_default: bool = True,
                 labels_editable: bool = True) -> SheetSpec:
    default = (Column("is_default", "bool", "TRUE for the value selected by default (at most one per modifier).",
                      ("TRUE", "FALSE"), width=10),) if has_default else ()
    return SheetSpec(name, "values", types, (
        ACTION, PRODUCT_ID, PRODUCT_SKU,
        Column("modifier_id", "id", "Id of the modifier this value belongs to. Blank when the modifier is new: "
               "then display_name links it.", width=11),
        Column("display_name", "text", "Display name of the modifier this value belongs to.", width=20),
        _type_column(types),
        Column("value_id", "id", "Value id from the store. Leave blank on a new value.", width=11),
        Column("label", "text", "Text shown to shoppers for this value. Unique within its modifier.",
               editable=labels_editable, width=22),
        Column("sort_order", "int", "Order of the value within its modifier (whole number).", width=10),
        *default, *extra, *_ADJUSTER_COLUMNS,
    ))


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
        Column("colors", "list", "Up to 3 hex colours such as #ff0000, separated by commas.", width=24),
        Column("pattern_image_url", "text", "Pattern image instead of colours: a URL.", width=30),
    ), has_default=False),
    _value_sheet("Checkbox values", ("checkbox",), (
        Column("checked_value", "bool", "TRUE for the ticked state, FALSE for unticked. Set by the store.",
               ("TRUE", "FALSE"), editable=False, width=12),
    ), labels_editable=False),
    _value_sheet("Product list values", ("product_list", "product_list_with_images"), (
        Column("linked_product_id", "id", "Id of the product offered by this value; it must exist in the store.",
               width=14),
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


_check_layout()
