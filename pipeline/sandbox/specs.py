"""Where BigCommerce's official OpenAPI specs live, and which of their operations the sandbox serves.

The specs are public reference files kept outside the repository (`../shared/bigcommerce-openapi/`
next to a checkout, or `$BIGCOMMERCE_OPENAPI_DIR`); a user's install usually has none, and the
sandbox then keeps its own rules. Parsing the two catalog specs takes ~0.15 s, so a process does
it once however many sandboxes it starts.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import yaml

ENV_DIR = "BIGCOMMERCE_OPENAPI_DIR"
MODIFIERS_SPEC = "product-modifiers_catalog.v3.yml"
PRODUCTS_SPEC = "products_catalog.v3.yml"
SPEC_FILES = (MODIFIERS_SPEC, PRODUCTS_SPEC)
SERVER_PREFIX = "/stores/{store_hash}/v3"  # the specs' server URL path

Spec = dict[str, Any]

# (spec file, path template, method) of every operation the sandbox implements; the specs hold
# many more (images, videos, metafields...), which keep answering 404 here.
SERVED_OPERATIONS: frozenset[tuple[str, str, str]] = frozenset({
    (PRODUCTS_SPEC, "/catalog/products", "get"),
    (PRODUCTS_SPEC, "/catalog/products/{product_id}", "get"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers", "get"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers", "post"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}", "get"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}", "put"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}", "delete"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values", "get"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values", "post"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}", "get"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}", "put"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}", "delete"),
    (MODIFIERS_SPEC, "/catalog/products/{product_id}/modifiers/{modifier_id}/values/{value_id}/image", "post"),
})


def default_spec_dir() -> Path:
    """`$BIGCOMMERCE_OPENAPI_DIR`, else `shared/bigcommerce-openapi` beside the checkout."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "shared" / "bigcommerce-openapi"


def specs_present(directory: Path) -> bool:
    return all((directory / name).is_file() for name in SPEC_FILES)


@functools.cache
def _parsed(path: Path) -> Spec:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader


def load_spec(directory: Path, name: str) -> Spec:
    """The parsed spec file, shared and parsed once per process: copy it before changing it."""
    return _parsed((directory / name).resolve())


def spec_lines(directory: Path, name: str) -> list[str]:
    """The spec file's lines (1-based line n is item n-1), for checking the errata's citations."""
    return (directory / name).read_text(encoding="utf-8").splitlines()
