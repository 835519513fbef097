"""Test data shared by several test modules."""

from __future__ import annotations

import copy
import itertools
from typing import Any


def as_api_products(catalog: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give the generator's seed shape the ids and names the API adds, as the store would."""
    ids = itertools.count(1000)
    products = copy.deepcopy(catalog)
    for product in products:
        for modifier in product["modifiers"]:
            modifier["id"] = next(ids)
            modifier["product_id"] = product["id"]
            modifier["name"] = f"{modifier['display_name']}{modifier['id']}-{product['id']}"
            for value in modifier["option_values"]:
                value["id"] = next(ids)
                value["option_id"] = modifier["id"]
    return products
