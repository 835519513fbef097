"""Store-to-store migration of modifiers: match products by SKU, re-map product lists, carry images."""

from pipeline.migrate.catalog import ProductRef, SkuMap, Unmatched, match_by_sku
from pipeline.migrate.run import (
    MigrationError,
    MigrationPlan,
    MigrationResult,
    apply_migration,
    migrate,
    plan_migration,
    workbook_path,
)
from pipeline.migrate.stores import (
    SOURCE_TOKEN_ENV,
    TARGET_TOKEN_ENV,
    StoreConfigError,
    source_settings,
    target_settings,
)
from pipeline.migrate.translate import Desired, ImageCarry, LeftOut, desired_state

__all__ = [
    "SOURCE_TOKEN_ENV",
    "TARGET_TOKEN_ENV",
    "Desired",
    "ImageCarry",
    "LeftOut",
    "MigrationError",
    "MigrationPlan",
    "MigrationResult",
    "ProductRef",
    "SkuMap",
    "StoreConfigError",
    "Unmatched",
    "apply_migration",
    "desired_state",
    "match_by_sku",
    "migrate",
    "plan_migration",
    "source_settings",
    "target_settings",
    "workbook_path",
]
