"""Row-level rules of the edited sheets: one pandera model per modifier type, sharing a base.

`ModifierRowBase` holds the columns every modifier sheet has; each type's model adds its config
fields (`TextModifierRow` adds the length limits, `MultiLineTextModifierRow` inherits those and
adds the line limit, ...). `ValueRowBase` and its subclasses do the same for option values.
`MODIFIER_MODELS` and `VALUE_MODELS` map a type name to its model, so a sheet holding several
types validates each type's rows with that type's model.

Models validate the typed frames `read_sheets` returns, indexed by Excel row. Every check is
named, and `check_rows` turns pandera's lazy `failure_cases` into `Issue`s with a sentence written
for a catalog manager: pandera's own check names (`in_range(0, 524288)`) are not for them.
The sentence of a column rule is the column's `Field(description=...)`; a named check registers
its sentence with `column_rule` / `row_rule`.

Rows marked `delete` are only checked for what deleting needs (their ids and the action): the
rest of a row that is going away does not matter.
"""

from __future__ import annotations

import copy
import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines.pandas_engine import Engine
from pandera.errors import SchemaErrors
from pandera.typing import Series

from pipeline.modifier_types import (
    ADJUSTER_KINDS,
    ALL_CONFIG_FIELDS,
    DATE_LIMIT_MODES,
    FILE_MAX_SIZE_KB,
    FILE_TYPE_GROUPS,
    FILE_TYPES_MODES,
    INT32_MAX,
    INT32_MIN,
    MAX_SWATCH_COLORS,
    NUMBER_LIMIT_MODES,
    SHIPPING_CALC,
)
from pipeline.normalise import LIST_SEPARATOR
from pipeline.validate.issues import Issue, shown_value
from pipeline.workbook.layout import ACTION_DELETE

Int = Series[pd.Int64Dtype]
Num = Series[pd.Float64Dtype]
Str = Series[pd.StringDtype]
Bool = Series[pd.BooleanDtype]

# Columns a value row may carry only for some types (the rest of a value row is common to all).
VALUE_TYPE_COLUMNS: Final = ("is_default", "colors", "pattern_image_url", "linked_product_id", "checked_value")
# What a row marked delete is still checked for.
DELETE_COLUMNS: Final = frozenset({"action", "product_id", "modifier_id", "value_id"})

ISO_DATE_PATTERN: Final = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z))?"
HEX_COLOR_PATTERN: Final = r"#[0-9a-fA-F]{6}"
SHORT_HEX_PATTERN: Final = r"#[0-9a-fA-F]{3}"
EXTENSION_PATTERN: Final = r"\.?[A-Za-z0-9][A-Za-z0-9_-]*"

DATE_FORMS: Final = "YYYY-MM-DD (such as 2026-03-15) or 2026-03-15T00:00:00+00:00"

# --- vectorised helpers, shared with the cross-row checks -----------------------------------------


def is_delete(action: pd.Series) -> np.ndarray:
    """Rows whose action is `delete` (any case, spaces around allowed)."""
    return action.astype("string").str.strip().str.lower().eq(ACTION_DELETE).fillna(False).to_numpy(bool)


def parse_dates(texts: pd.Series) -> pd.Series:
    """ISO-8601 dates (date only, or date and time with an offset) as UTC timestamps; NaT if not one."""
    shaped = texts.str.fullmatch(ISO_DATE_PATTERN).fillna(False).astype(bool)
    return pd.to_datetime(texts.where(shaped), format="ISO8601", utc=True, errors="coerce")


def list_items(texts: pd.Series) -> pd.Series:
    """Comma-separated cells split into one item per entry, indexed like the cells they came from."""
    return texts.str.split(LIST_SEPARATOR, regex=False).explode()


def _all_items_match(texts: pd.Series, pattern: str) -> pd.Series:
    ok = list_items(texts).astype("string").str.fullmatch(pattern).fillna(False).astype(bool)
    return ok.groupby(level=0, sort=False).all().reindex(texts.index, fill_value=True)


def _blank(texts: pd.Series) -> pd.Series:
    return texts.isna() | texts.str.strip().eq("").fillna(False)


def _ordered(low: pd.Series, high: pd.Series) -> pd.Series:
    """True unless both are present and low > high."""
    return ~(low > high).fillna(False).astype(bool)


def _set_unless_known(frame: pd.DataFrame, id_column: str, column: str) -> pd.Series:
    """True where the row has its id (it exists in the store) or `column` is set."""
    return frame[id_column].notna() | frame[column].notna()


def _deletes_have_ids(frame: pd.DataFrame, id_column: str) -> pd.Series:
    """True unless the row is marked delete but has no id."""
    return ~pd.Series(is_delete(frame["action"]), index=frame.index) | frame[id_column].notna()


# --- messages -------------------------------------------------------------------------------------

Message = str | Callable[[Mapping[str, Any]], str]


CONTEXT_KEYS: Final = frozenset({"value", "column", "type"})


@dataclass(frozen=True)
class Rule:
    """The sentence for one named check. `column` is the cell the issue points at; None means the
    column pandera reports (a column check). `message` is a `str.format` template, or a callable
    taking the same mapping: `value` (the cell, shown as a person sees it), `column`, `type`, and
    the row's cells named in `fields` (a template's own placeholders are added to them)."""

    column: str | None
    message: Message
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.message):
            named = (f for _, f, _, _ in string.Formatter().parse(self.message) if f and f not in CONTEXT_KEYS)
            object.__setattr__(self, "fields", tuple(dict.fromkeys((*self.fields, *named))))

    def sentence(self, context: Mapping[str, Any]) -> str:
        return self.message(context) if callable(self.message) else self.message.format_map(context)


RULES: dict[str, Rule] = {}


def _register(fn: Callable, rule: Rule) -> None:
    # The check is known by its method's name: pandera 0.35 drops `name=` once a model has built
    # its schema, so a check inherited by a second model would lose it.
    if fn.__name__ in RULES:
        raise ValueError(f"two checks are named {fn.__name__}")
    RULES[fn.__name__] = rule


def column_rule(column: str, message: Message, fields: tuple[str, ...] = ()) -> Callable:
    """`@pa.check(column)` with the sentence shown when it fails."""

    def decorate(fn: Callable) -> Any:
        _register(fn, Rule(None, message, fields))
        return pa.check(column)(fn)

    return decorate


def row_rule(column: str, message: Message, fields: tuple[str, ...] = ()) -> Callable:
    """`@pa.dataframe_check` whose failures point at `column` of the failing rows.

    `ignore_na=False`: pandera would otherwise pass every row whose cells are all blank, at the
    price of a whole-frame `isna` per check (a third of the schemas' time on a big sheet); no
    such row reaches a model, since its `type` cell chose the model.
    """

    def decorate(fn: Callable) -> Any:
        _register(fn, Rule(column, message, fields))
        return pa.dataframe_check(fn, ignore_na=False)

    return decorate


def _bool_field(column: str) -> Any:
    return pa.Field(nullable=True, description=f"{column} must be TRUE or FALSE")


def _enum_field(column: str, choices: Iterable[str]) -> Any:
    choices = tuple(choices)
    return pa.Field(nullable=True, isin=choices, description=f"{column} must be one of: {', '.join(choices)} "
                    "(or blank)")


def _id_field(column: str, what: str, *, required: bool = False) -> Any:
    blank = "" if required else f", or blank on a new {what}"
    return pa.Field(gt=0, nullable=not required,
                    description=f"{column} must be a positive whole number from the store{blank}")


def _count_field(column: str) -> Any:
    return pa.Field(nullable=True, ge=0, le=INT32_MAX, description=f"{column} must be a whole number, 0 or more")


def _date_field(column: str, *, required: bool = False) -> Any:
    return pa.Field(nullable=not required, description=f"{column} must be an ISO-8601 date: {DATE_FORMS}")


def _text_field() -> Any:
    return pa.Field(nullable=True)


def _sort_order_field() -> Any:
    return pa.Field(nullable=True, in_range={"min_value": INT32_MIN, "max_value": INT32_MAX},
                    description=f"sort_order must be a whole number from {INT32_MIN} to {INT32_MAX}")


REQUIRED_MESSAGES: Final = {
    "product_id": "product_id is required: the id of the product this row belongs to",
    "display_name": "display_name is required: the name shoppers see for this modifier",
    "label": "label is required: the text shoppers see for this value",
    "type": "type is required",
    "default_value": "default_value is required on a date modifier: the date shown preselected, "
                     "such as 2026-03-15",
    "checked_value": "checked_value is required: TRUE for the ticked value, FALSE for the unticked one "
                     "(the store sets it; copy it back from the export)",
    "linked_product_id": "linked_product_id is required: the id of the product this value offers",
}


def show_cell(item: Any) -> str:
    """A cell as a person reads it in a sentence: 5 not 5.0, TRUE not True, blank as ''."""
    if item is None or item is pd.NA or (isinstance(item, float) and item != item):
        return ""
    if isinstance(item, (bool, np.bool_)):
        return "TRUE" if item else "FALSE"
    if isinstance(item, (float, np.floating)) and float(item).is_integer():
        return str(int(item))
    return str(item)


# --- the models -----------------------------------------------------------------------------------


def _limit_message(limited: str, mode: str, low: str, high: str,
                   modes: tuple[str, ...]) -> tuple[Message, tuple[str, ...]]:
    """The sentence for a limit switched on without what it needs (see `_limit_complete`), and the
    cells it reads."""

    def sentence(row: Mapping[str, Any]) -> str:
        if not row[mode]:
            return f"{limited} is TRUE but {mode} is blank: choose {', '.join(modes[:-1])} or {modes[-1]}"
        needed = {modes[0]: (low,), modes[-1]: (high,)}.get(row[mode], (low, high))
        missing = [c for c in needed if not row[c]]
        return f"{mode} {row[mode]} needs {' and '.join(missing)} (because {limited} is TRUE)"

    return sentence, (mode, low, high)


def _limit_complete(frame: pd.DataFrame, limited: str, mode: str, low: str, high: str,
                    modes: tuple[str, str, str]) -> pd.Series:
    """When `limited` is TRUE, the mode is set and the bounds it uses are present."""
    on = frame[limited].fillna(False).astype(bool)
    kind = frame[mode]
    needs_low = kind.isin(modes[:2]).fillna(False).astype(bool)
    needs_high = kind.isin(modes[1:]).fillna(False).astype(bool)
    broken = kind.isna() | (needs_low & frame[low].isna()) | (needs_high & frame[high].isna())
    return ~(on & broken)


class _RowBase(pa.DataFrameModel):
    """What modifier and value rows share: the action, the product and the type."""

    _type: str = ""  # the type this model checks; private names are not columns
    _type_columns: tuple[str, ...] = ()  # columns that only some types carry

    action: Str = pa.Field(nullable=True, description=f"action must be blank (keep or update the row) or "
                           f"{ACTION_DELETE}")
    product_id: Int = _id_field("product_id", "", required=True)
    type: Str = pa.Field()

    class Config:
        strict = False  # sheets carry reference columns (product_sku, product_name) nobody checks
        coerce = True

    @classmethod
    def type_name(cls) -> str:
        return cls._type

    @classmethod
    def own_columns(cls) -> tuple[str, ...]:
        return tuple(cls.to_schema().columns)

    @column_rule("action", "action must be blank (keep or update the row) or delete; "
                 "nothing else is understood")
    def action_known(cls, action: Str) -> Series[bool]:
        return action.str.strip().str.lower().isin(("", ACTION_DELETE))

    @column_rule("type", "this row's type must be {type}")
    def type_of_model(cls, types: Str) -> Series[bool]:
        return types.eq(cls._type)

    @row_rule("type", "")  # one sentence per cell, written in `_issues`
    def not_applicable(cls, frame: pd.DataFrame) -> Series[bool]:
        foreign = [c for c in cls._type_columns if c in frame.columns and c not in cls.own_columns()]
        if not foreign:
            return pd.Series(True, index=frame.index)
        return frame[foreign].isna().all(axis=1)


class ModifierRowBase(_RowBase):
    """The columns of every modifier sheet."""

    _type_columns = ALL_CONFIG_FIELDS

    modifier_id: Int = _id_field("modifier_id", "modifier")
    display_name: Str = pa.Field(description=REQUIRED_MESSAGES["display_name"])
    required: Bool = _bool_field("required")
    sort_order: Int = _sort_order_field()

    @column_rule("display_name", REQUIRED_MESSAGES["display_name"])
    def display_name_not_blank(cls, names: Str) -> Series[bool]:
        return ~_blank(names)

    @row_rule("required", "required must be TRUE or FALSE on a new modifier "
              "(one without modifier_id): TRUE if shoppers must fill it in")
    def required_on_new_modifier(cls, frame: pd.DataFrame) -> Series[bool]:
        return _set_unless_known(frame, "modifier_id", "required")

    @row_rule("action", "this row has no modifier_id, so there is nothing in the "
              "store to delete: remove the row instead")
    def delete_without_modifier_id(cls, frame: pd.DataFrame) -> Series[bool]:
        return _deletes_have_ids(frame, "modifier_id")


class _ChoiceModifierRow(ModifierRowBase):
    """Types whose modifier has no config; everything is in their values."""


class DropdownModifierRow(_ChoiceModifierRow):
    _type = "dropdown"


class RadioButtonsModifierRow(_ChoiceModifierRow):
    _type = "radio_buttons"


class RectanglesModifierRow(_ChoiceModifierRow):
    _type = "rectangles"


class SwatchModifierRow(_ChoiceModifierRow):
    _type = "swatch"


class CheckboxModifierRow(ModifierRowBase):
    _type = "checkbox"

    checked_by_default: Bool = _bool_field("checked_by_default")
    checkbox_label: Str = _text_field()


class DateModifierRow(ModifierRowBase):
    _type = "date"

    default_value: Str = _date_field("default_value", required=True)
    date_limited: Bool = _bool_field("date_limited")
    date_limit_mode: Str = _enum_field("date_limit_mode", DATE_LIMIT_MODES)
    date_earliest_value: Str = _date_field("date_earliest_value")
    date_latest_value: Str = _date_field("date_latest_value")

    @pa.check("default_value", "date_earliest_value", "date_latest_value")
    def iso_date(cls, texts: Str) -> Series[bool]:
        return parse_dates(texts).notna()

    @row_rule("date_earliest_value", "date_earliest_value {date_earliest_value} is after "
              "date_latest_value {date_latest_value}: the earliest date must not be later than the latest")
    def date_order(cls, frame: pd.DataFrame) -> Series[bool]:
        return _ordered(parse_dates(frame["date_earliest_value"]), parse_dates(frame["date_latest_value"]))

    @row_rule("date_limit_mode", *_limit_message("date_limited", "date_limit_mode", "date_earliest_value",
                                                 "date_latest_value", DATE_LIMIT_MODES))
    def date_limit_complete(cls, frame: pd.DataFrame) -> Series[bool]:
        return _limit_complete(frame, "date_limited", "date_limit_mode", "date_earliest_value", "date_latest_value",
                               ("earliest", "range", "latest"))


class TextModifierRow(ModifierRowBase):
    _type = "text"

    default_value: Str = _text_field()
    text_characters_limited: Bool = _bool_field("text_characters_limited")
    text_min_length: Int = _count_field("text_min_length")
    text_max_length: Int = _count_field("text_max_length")

    @row_rule("text_min_length", "min length {text_min_length} is greater than max length "
              "{text_max_length}: text_min_length must not exceed text_max_length")
    def length_order(cls, frame: pd.DataFrame) -> Series[bool]:
        return _ordered(frame["text_min_length"], frame["text_max_length"])


class MultiLineTextModifierRow(TextModifierRow):
    _type = "multi_line_text"

    text_lines_limited: Bool = _bool_field("text_lines_limited")
    text_max_lines: Int = _count_field("text_max_lines")


class NumbersOnlyTextModifierRow(ModifierRowBase):
    _type = "numbers_only_text"

    default_value: Str = pa.Field(nullable=True, description="default_value of a number modifier must be a "
                                  "number, such as 5 or 2.5")
    number_limited: Bool = _bool_field("number_limited")
    number_limit_mode: Str = _enum_field("number_limit_mode", NUMBER_LIMIT_MODES)
    number_lowest_value: Num = pa.Field(nullable=True, description="number_lowest_value must be a number")
    number_highest_value: Num = pa.Field(nullable=True, description="number_highest_value must be a number")
    number_integers_only: Bool = _bool_field("number_integers_only")

    @pa.check("default_value")
    def numeric_text(cls, texts: Str) -> Series[bool]:
        numbers = pd.to_numeric(texts.str.strip(), errors="coerce")
        return pd.Series(np.isfinite(numbers.to_numpy(float, na_value=np.nan)), index=texts.index)

    @row_rule("number_lowest_value", "lowest value {number_lowest_value} is greater than highest "
              "value {number_highest_value}: number_lowest_value must not exceed number_highest_value")
    def number_order(cls, frame: pd.DataFrame) -> Series[bool]:
        return _ordered(frame["number_lowest_value"], frame["number_highest_value"])

    @row_rule("number_limit_mode", *_limit_message("number_limited", "number_limit_mode", "number_lowest_value",
                                                   "number_highest_value", NUMBER_LIMIT_MODES))
    def number_limit_complete(cls, frame: pd.DataFrame) -> Series[bool]:
        return _limit_complete(frame, "number_limited", "number_limit_mode", "number_lowest_value",
                               "number_highest_value", ("lowest", "range", "highest"))


class FileModifierRow(ModifierRowBase):
    _type = "file"

    file_types_mode: Str = _enum_field("file_types_mode", FILE_TYPES_MODES)
    file_types_supported: Str = pa.Field(nullable=True, description="file_types_supported must list some of "
                                         f"{', '.join(FILE_TYPE_GROUPS)}, separated by commas without spaces, "
                                         "such as images,documents")
    file_types_other: Str = pa.Field(nullable=True, description="file_types_other must be file extensions "
                                     "separated by commas without spaces, such as stl,svg")
    file_max_size: Int = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": FILE_MAX_SIZE_KB},
                                  description=f"file_max_size must be a whole number from 0 to {FILE_MAX_SIZE_KB} "
                                  "(KB)")

    @pa.check("file_types_supported")
    def file_type_groups(cls, texts: Str) -> Series[bool]:
        return _all_items_match(texts, "|".join(FILE_TYPE_GROUPS))

    @pa.check("file_types_other")
    def file_extensions(cls, texts: Str) -> Series[bool]:
        return _all_items_match(texts, EXTENSION_PATTERN)


class ProductListModifierRow(ModifierRowBase):
    _type = "product_list"

    product_list_adjusts_inventory: Bool = _bool_field("product_list_adjusts_inventory")
    product_list_adjusts_pricing: Bool = _bool_field("product_list_adjusts_pricing")
    product_list_shipping_calc: Str = _enum_field("product_list_shipping_calc", SHIPPING_CALC)


class ProductListWithImagesModifierRow(ProductListModifierRow):
    _type = "product_list_with_images"


def _adjuster_rules(what: str) -> tuple[Any, Any]:
    """Row checks for an adjuster (`price` or `weight`) whose kind and amount are not both set or both blank."""
    kind, amount = f"{what}_adjuster", f"{what}_adjuster_value"

    def amount_missing(cls: Any, frame: pd.DataFrame) -> pd.Series:
        return ~(~_blank(frame[kind]) & frame[amount].isna())

    def kind_missing(cls: Any, frame: pd.DataFrame) -> pd.Series:
        return ~(_blank(frame[kind]) & frame[amount].notna())

    amount_missing.__name__ = f"{what}_amount_missing"
    kind_missing.__name__ = f"{what}_kind_missing"
    return (row_rule(amount, f"{kind} is {{{kind}}} but {amount} is blank: give the amount, or clear {kind}")(
                amount_missing),
            row_rule(kind, f"{amount} is {{{amount}}} but {kind} is blank: choose relative or percentage, or clear "
                     "the amount")(kind_missing))


class ValueRowBase(_RowBase):
    """The columns of every value sheet."""

    _type_columns = VALUE_TYPE_COLUMNS

    modifier_id: Int = _id_field("modifier_id", "modifier (then display_name links the value to it)")
    display_name: Str = pa.Field(nullable=True)
    value_id: Int = _id_field("value_id", "value")
    label: Str = pa.Field(description=REQUIRED_MESSAGES["label"])
    sort_order: Int = _sort_order_field()
    price_adjuster: Str = _enum_field("price_adjuster", ADJUSTER_KINDS)
    price_adjuster_value: Num = pa.Field(nullable=True, description="price_adjuster_value must be a number "
                                         "(it may be negative)")
    weight_adjuster: Str = _enum_field("weight_adjuster", ADJUSTER_KINDS)
    weight_adjuster_value: Num = pa.Field(nullable=True, description="weight_adjuster_value must be a number "
                                          "(it may be negative)")
    image_url: Str = _text_field()
    purchasing_disabled: Bool = _bool_field("purchasing_disabled")
    purchasing_disabled_message: Str = _text_field()

    @column_rule("label", REQUIRED_MESSAGES["label"])
    def label_not_blank(cls, labels: Str) -> Series[bool]:
        return ~_blank(labels)

    @row_rule("sort_order", "sort_order is required on a new value (one without "
              "value_id): a whole number giving its position")
    def sort_order_on_new_value(cls, frame: pd.DataFrame) -> Series[bool]:
        return _set_unless_known(frame, "value_id", "sort_order")

    @row_rule("action", "this row has no value_id, so there is nothing in the store "
              "to delete: remove the row instead")
    def delete_without_value_id(cls, frame: pd.DataFrame) -> Series[bool]:
        return _deletes_have_ids(frame, "value_id")

    price_amount_missing, price_kind_missing = _adjuster_rules("price")
    weight_amount_missing, weight_kind_missing = _adjuster_rules("weight")


class _DefaultableValueRow(ValueRowBase):
    """Values that can be the one selected by default."""

    is_default: Bool = _bool_field("is_default")


class DropdownValueRow(_DefaultableValueRow):
    _type = "dropdown"


class RadioButtonsValueRow(_DefaultableValueRow):
    _type = "radio_buttons"


class RectanglesValueRow(_DefaultableValueRow):
    _type = "rectangles"


class CheckboxValueRow(_DefaultableValueRow):
    _type = "checkbox"

    checked_value: Bool = pa.Field(description="checked_value must be TRUE or FALSE")


class ProductListValueRow(_DefaultableValueRow):
    _type = "product_list"

    linked_product_id: Int = _id_field("linked_product_id", "", required=True)

    @row_rule("linked_product_id", "linked_product_id {linked_product_id} is the product "
              "itself: a product list offers other products")
    def linked_to_itself(cls, frame: pd.DataFrame) -> Series[bool]:
        return frame["linked_product_id"].ne(frame["product_id"]).fillna(True).astype(bool)


class ProductListWithImagesValueRow(ProductListValueRow):
    _type = "product_list_with_images"


def _colors_message(row: Mapping[str, Any]) -> str:
    items = str(row["value"]).split(LIST_SEPARATOR)
    bad = next(i for i in items if not re.fullmatch(HEX_COLOR_PATTERN, i))
    expected = "colors must be hex colours written #rrggbb, such as #ff0000 or #ff0000,#00ff00 (commas, no spaces)"
    if re.fullmatch(SHORT_HEX_PATTERN, bad):
        return f"{expected}; write the short form {bad} with six digits: #{''.join(c * 2 for c in bad[1:])}"
    if bad != bad.strip():
        return f"{expected}; {bad!r} has spaces around it"
    return f"{expected}; {bad!r} is not one" if bad else f"{expected}; there is an empty entry"


class SwatchValueRow(ValueRowBase):
    _type = "swatch"

    colors: Str = pa.Field(nullable=True)
    pattern_image_url: Str = _text_field()

    @column_rule("colors", _colors_message)
    def hex_colors(cls, texts: Str) -> Series[bool]:
        return _all_items_match(texts, HEX_COLOR_PATTERN)

    @column_rule("colors", lambda row: f"a swatch has at most {MAX_SWATCH_COLORS} colours; this "
                 f"one has {len(str(row['value']).split(LIST_SEPARATOR))}")
    def color_count(cls, texts: Str) -> Series[bool]:
        return texts.str.count(LIST_SEPARATOR) < MAX_SWATCH_COLORS


RowModel = type[_RowBase]

MODIFIER_MODELS: Final[dict[str, type[ModifierRowBase]]] = {
    m.type_name(): m
    for m in (DateModifierRow, CheckboxModifierRow, FileModifierRow, TextModifierRow, MultiLineTextModifierRow,
              NumbersOnlyTextModifierRow, RadioButtonsModifierRow, RectanglesModifierRow, DropdownModifierRow,
              SwatchModifierRow, ProductListModifierRow, ProductListWithImagesModifierRow)
}
VALUE_MODELS: Final[dict[str, type[ValueRowBase]]] = {
    m.type_name(): m
    for m in (CheckboxValueRow, RadioButtonsValueRow, RectanglesValueRow, DropdownValueRow, SwatchValueRow,
              ProductListValueRow, ProductListWithImagesValueRow)
}


# --- from pandera's failure cases to issues -------------------------------------------------------


def check_rows(frame: pd.DataFrame, model: RowModel, *, file: str, sheet: str) -> list[Issue]:
    """Every problem of `frame` (rows of one type, indexed by Excel row) under `model`, as issues."""
    schema = model.to_schema()
    if _has_dtypes(frame, schema):
        schema = _without_coercion(model)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return _issues(errors.failure_cases, frame, model, file=file, sheet=sheet)
    return []


def _has_dtypes(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> bool:
    """Every column of `schema` that `frame` has is already of the schema's dtype as pandera sees it
    (the reader's `string` columns are pandera's STRING, which pandas 3 makes the NaN-semantics `str`)."""
    dtypes = frame.dtypes
    return all(Engine.dtype(dtypes[name]) == column.dtype for name, column in schema.columns.items()
               if name in dtypes)


@functools.cache
def _without_coercion(model: RowModel) -> pa.DataFrameSchema:
    """`model`'s schema, minus coercing columns to their dtypes: for frames already of those dtypes
    (pandera would turn every `string` column into `str` and back, a quarter of the checks' time;
    every check reads blanks the same under both). A frame of other dtypes goes through the
    model's own schema, whose coercion reports each cell that does not fit."""
    schema = copy.deepcopy(model.to_schema())
    schema.coerce = False
    assert not any(column.coerce for column in schema.columns.values())
    return schema


def _issues(cases: pd.DataFrame, frame: pd.DataFrame, model: RowModel, *, file: str, sheet: str) -> list[Issue]:
    """pandera's failure cases as issues: one per cell at fault, with the sentence of its rule."""
    columns = model.to_schema().columns
    deleted = set(frame.index[is_delete(frame["action"])].tolist()) if "action" in frame.columns else set()
    found: dict[tuple[int | None, str | None], Issue] = {}

    def add(row: Any, column: str | None, value: Any, message: str) -> None:
        if row in deleted and column not in DELETE_COLUMNS:
            return
        found.setdefault((row, column), Issue(file, sheet, row, column, shown_value(value), message))

    rows = [None if r is None or pd.isna(r) else int(r) for r in cases["index"].tolist()]
    cases = cases.assign(index=pd.Series(rows, index=cases.index, dtype=object))
    coerce_failed = set(cases.loc[cases["check"].str.startswith("coerce_dtype"), "column"])
    for check, group in cases.groupby("check", sort=False):
        rule = RULES.get(str(check))
        if rule is not None and rule.column is not None:  # a row check: pandera lists every cell of the row
            failing = [r for r in dict.fromkeys(group["index"].tolist()) if r is not None]
            for row, column, value, message in _row_rule_issues(str(check), rule, frame, failing, model):
                add(row, column, value, message)
            continue
        contexts = _contexts(frame, [r for r in group["index"].tolist() if r is not None], rule)
        for column, row, value in zip(group["column"].tolist(), group["index"].tolist(),
                                      group["failure_case"].tolist(), strict=True):
            if check == "column_in_dataframe":
                add(None, str(value), None, f"column {value!r} is missing")
            elif row is None:  # a check that could not run because a cell failed to convert: reported there
                if column not in coerce_failed:
                    add(None, column, None, f"column {column!r} could not be checked ({check})")
            elif rule is not None:  # a named column check
                add(row, column, value, rule.sentence(_context(contexts, row, value, column, model)))
            elif check == "not_nullable":
                add(row, column, None, REQUIRED_MESSAGES.get(column, f"{column} is required"))
            else:  # a Field check or the dtype: the column's own sentence
                described = columns[column].description if column in columns else None
                add(row, column, value, described or f"{column} is not valid ({check})")
    return list(found.values())


def _row_rule_issues(check: str, rule: Rule, frame: pd.DataFrame, rows: list[int],
                     model: RowModel) -> Iterable[tuple[int, str, Any, str]]:
    if check == "not_applicable":  # one issue per filled cell that the type does not have
        own = set(model.own_columns())
        for column in (c for c in model._type_columns if c in frame.columns and c not in own):
            cells = frame.loc[rows, column]
            for row, value in cells[cells.notna()].items():
                yield row, column, value, f"{column} does not apply to type {model.type_name()}: leave it blank"
        return
    contexts = _contexts(frame, rows, rule)
    for row, value in zip(rows, frame.loc[rows, rule.column].tolist(), strict=True):
        yield row, rule.column, value, rule.sentence(_context(contexts, row, value, rule.column, model))


def _contexts(frame: pd.DataFrame, rows: list[int], rule: Rule | None) -> dict[int, dict[str, str]]:
    """Row -> the cells `rule`'s sentence reads, shown as a person sees them."""
    fields = [f for f in (rule.fields if rule else ()) if f in frame.columns]
    if not fields or not rows:
        return {}
    rows = list(dict.fromkeys(rows))
    cells = frame.loc[rows, fields]
    shown = {f: [show_cell(v) for v in cells[f].tolist()] for f in fields}
    return {row: {f: shown[f][i] for f in fields} for i, row in enumerate(rows)}


def _context(contexts: Mapping[int, Mapping[str, str]], row: int, value: Any, column: str | None,
             model: RowModel) -> dict[str, Any]:
    return {**contexts.get(row, {}), "value": show_cell(value), "column": column, "type": model.type_name()}
