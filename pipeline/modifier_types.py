"""The twelve BigCommerce modifier types and what each one may carry.

One table serves the sandbox (which refuses what does not belong to a type), the sample-data
generator (which must cover every field), normalisation and validation. Keeping it in one place
means a type's rules cannot drift between the store we test against and the code we ship.
Source: the "Option Values" and "Configs" tables of product-modifiers_catalog.v3.yml.
The values the store generates for a checkbox live here too: the planner and the migration must
know them without importing the sandbox, and the sandbox generates exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final


class FieldKind(str, Enum):
    """How a config field is typed on the wire."""

    STRING = "string"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"  # ISO-8601 ATOM string
    ENUM = "enum"
    STRING_LIST = "string_list"
    NUMBER_OR_STRING = "number_or_string"  # numbers_only_text default_value


@dataclass(frozen=True)
class ConfigField:
    name: str
    kind: FieldKind
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


DATE_LIMIT_MODES: Final = ("earliest", "range", "latest")
NUMBER_LIMIT_MODES: Final = ("lowest", "range", "highest")
FILE_TYPES_MODES: Final = ("specific", "all")
FILE_TYPE_GROUPS: Final = ("images", "documents", "other")
SHIPPING_CALC: Final = ("none", "weight", "package")
ADJUSTER_KINDS: Final = ("relative", "percentage")
FILE_MAX_SIZE_KB: Final = 524_288
MAX_VALUES_PER_MODIFIER: Final = 250
MAX_SWATCH_COLORS: Final = 3
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
IMAGE_MAX_BYTES: Final = 8 * 1024 * 1024

_F = ConfigField
_K = FieldKind

_TEXT_FIELDS = (
    _F("default_value", _K.STRING, description="Text shown in the box before the shopper types."),
    _F("text_characters_limited", _K.BOOLEAN, description="Whether the length is checked."),
    _F("text_min_length", _K.INTEGER, minimum=0, description="Fewest characters allowed."),
    _F("text_max_length", _K.INTEGER, minimum=0, description="Most characters allowed."),
)
_PRODUCT_LIST_FIELDS = (
    _F("product_list_adjusts_inventory", _K.BOOLEAN, description="Buying the listed product lowers its stock."),
    _F("product_list_adjusts_pricing", _K.BOOLEAN, description="The listed product's price is added."),
    _F("product_list_shipping_calc", _K.ENUM, SHIPPING_CALC, description="none, weight or package."),
)


@dataclass(frozen=True)
class ModifierType:
    """What one modifier type accepts.

    `has_values`: the type carries option values. `value_data_fields`: keys allowed in a value's
    `value_data`. `generated_values`: the store makes the values itself (checkbox: Yes/No) and
    refuses creating or deleting them; only their adjusters and defaults can be edited.
    """

    name: str
    config_fields: tuple[ConfigField, ...]
    has_values: bool
    value_data_fields: tuple[str, ...] = ()
    generated_values: bool = False
    supports_default_value: bool = True  # swatch values have no is_default

    @property
    def config_field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.config_fields)

    def config_field(self, name: str) -> ConfigField | None:
        return next((f for f in self.config_fields if f.name == name), None)


MODIFIER_TYPES: Final[dict[str, ModifierType]] = {
    t.name: t
    for t in (
        ModifierType(
            "date",
            (
                _F("default_value", _K.DATE, description="Date shown preselected (ISO-8601)."),
                _F("date_limited", _K.BOOLEAN, description="Whether the allowed dates are limited."),
                _F("date_limit_mode", _K.ENUM, DATE_LIMIT_MODES, description="earliest, range or latest."),
                _F("date_earliest_value", _K.DATE, description="Earliest date allowed (ISO-8601)."),
                _F("date_latest_value", _K.DATE, description="Latest date allowed (ISO-8601)."),
            ),
            has_values=False,
        ),
        ModifierType(
            "checkbox",
            (
                _F("checked_by_default", _K.BOOLEAN, description="Whether the box starts ticked."),
                _F("checkbox_label", _K.STRING, description="Text beside the checkbox."),
            ),
            has_values=True,
            value_data_fields=("checked_value",),
            generated_values=True,
        ),
        ModifierType(
            "file",
            (
                _F("file_types_mode", _K.ENUM, FILE_TYPES_MODES, description="specific or all."),
                _F("file_types_supported", _K.STRING_LIST, FILE_TYPE_GROUPS,
                   description="Groups accepted when mode is specific: images, documents, other."),
                _F("file_types_other", _K.STRING_LIST, description="Extra file extensions, e.g. stl."),
                _F("file_max_size", _K.INTEGER, minimum=0, maximum=FILE_MAX_SIZE_KB,
                   description="Largest upload in KB (at most 524288)."),
            ),
            has_values=False,
        ),
        ModifierType("text", _TEXT_FIELDS, has_values=False),
        ModifierType(
            "multi_line_text",
            _TEXT_FIELDS
            + (
                _F("text_lines_limited", _K.BOOLEAN, description="Whether the number of lines is limited."),
                _F("text_max_lines", _K.INTEGER, minimum=0, description="Most lines allowed."),
            ),
            has_values=False,
        ),
        ModifierType(
            "numbers_only_text",
            (
                _F("default_value", _K.NUMBER_OR_STRING, description="Number shown in the box."),
                _F("number_limited", _K.BOOLEAN, description="Whether the number is limited."),
                _F("number_limit_mode", _K.ENUM, NUMBER_LIMIT_MODES, description="lowest, range or highest."),
                _F("number_lowest_value", _K.NUMBER, description="Smallest number allowed."),
                _F("number_highest_value", _K.NUMBER, description="Largest number allowed."),
                _F("number_integers_only", _K.BOOLEAN, description="Whether only whole numbers are accepted."),
            ),
            has_values=False,
        ),
        ModifierType("radio_buttons", (), has_values=True),
        ModifierType("rectangles", (), has_values=True),
        ModifierType("dropdown", (), has_values=True),
        ModifierType(
            "swatch", (), has_values=True, value_data_fields=("colors", "image_url"),
            supports_default_value=False,
        ),
        ModifierType("product_list", _PRODUCT_LIST_FIELDS, has_values=True, value_data_fields=("product_id",)),
        ModifierType(
            "product_list_with_images", _PRODUCT_LIST_FIELDS, has_values=True, value_data_fields=("product_id",)
        ),
    )
}

TYPE_NAMES: Final[tuple[str, ...]] = tuple(MODIFIER_TYPES)
ALL_CONFIG_FIELDS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(f.name for t in MODIFIER_TYPES.values() for f in t.config_fields)
)


def modifier_type(name: str) -> ModifierType:
    """Look a type up by its API name; KeyError names the valid ones."""
    try:
        return MODIFIER_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown modifier type {name!r}; expected one of {', '.join(TYPE_NAMES)}") from None


def empty_adjusters() -> dict[str, Any]:
    """What a value carries when no adjuster was ever set."""
    return {"price": {}, "weight": {}, "image_url": "", "purchasing_disabled": {"status": False, "message": ""}}


def checkbox_values() -> list[dict[str, Any]]:
    """The Yes/No values BigCommerce generates for a new checkbox modifier (a fresh copy each call)."""
    return [
        {"label": "Yes", "sort_order": 0, "is_default": False, "value_data": {"checked_value": True},
         "adjusters": empty_adjusters()},
        {"label": "No", "sort_order": 1, "is_default": True, "value_data": {"checked_value": False},
         "adjusters": empty_adjusters()},
    ]
