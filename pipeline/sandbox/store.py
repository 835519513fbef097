"""The sandbox catalog in SQLite: products, modifiers and option values.

One file (`store.sqlite3` in the data dir, WAL mode) so a demo store survives restarts and a
crashed run can be inspected. Reads are batched by product id (three queries for a page of
products with their modifiers and values) because benchmarks page through 10k products.
Business rules that need the stored state (default clearing, generated checkbox values,
`date_modified` bumps) live here; body validation lives in `validation.py`.
Values returned are plain dicts in BigCommerce's field order, with image URLs still relative.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.modifier_types import MODIFIER_TYPES, FieldKind, checkbox_values
from pipeline.sandbox.validation import atom_datetime, empty_adjusters

DB_NAME = "store.sqlite3"
FIRST_MODIFIER_ID = 100
FIRST_VALUE_ID = 100
Json = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sku TEXT NOT NULL DEFAULT '',
    price REAL NOT NULL DEFAULT 0,
    weight REAL NOT NULL DEFAULT 0,
    option_set_id INTEGER,
    date_created INTEGER NOT NULL,
    date_modified INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS products_sku ON products (sku);
CREATE INDEX IF NOT EXISTS products_date_modified ON products (date_modified);
CREATE TABLE IF NOT EXISTS modifiers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id INTEGER NOT NULL REFERENCES products (id),
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    type TEXT NOT NULL,
    required INTEGER NOT NULL,
    sort_order INTEGER NOT NULL,
    config TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS modifiers_product ON modifiers (product_id);
CREATE TABLE IF NOT EXISTS option_values (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    option_id INTEGER NOT NULL REFERENCES modifiers (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    sort_order INTEGER NOT NULL,
    value_data TEXT,
    is_default INTEGER NOT NULL,
    adjusters TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS option_values_option ON option_values (option_id);
"""

_MODIFIER_COLUMNS = "id, product_id, name, display_name, type, required, sort_order, config"
_VALUE_COLUMNS = "id, option_id, label, sort_order, value_data, is_default, adjusters"
_PRODUCT_COLUMNS = "id, name, sku, price, weight, option_set_id, date_created, date_modified"


@dataclass(frozen=True)
class ProductFilter:
    """The `GET /catalog/products` filters the sandbox supports (all optional, combined with AND)."""

    ids: Sequence[int] | None = None
    skus: Sequence[str] | None = None
    modified_min: int | None = None
    modified_max: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(self.ids))})" if self.ids else "0")
            params += list(self.ids)
        if self.skus is not None:
            clauses.append(f"sku IN ({','.join('?' * len(self.skus))})" if self.skus else "0")
            params += list(self.skus)
        if self.modified_min is not None:
            clauses.append("date_modified >= ?")
            params.append(self.modified_min)
        if self.modified_max is not None:
            clauses.append("date_modified <= ?")
            params.append(self.modified_max)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def iso8601(epoch_seconds: int) -> str:
    """BigCommerce's timestamp format: `2018-08-15T14:48:46+00:00`."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="seconds")


def _epoch(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return int(value)
    parsed = datetime.fromisoformat(str(value))
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp())


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _modifier_row(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"], "product_id": row["product_id"], "name": row["name"],
        "display_name": row["display_name"], "type": row["type"], "required": bool(row["required"]),
        "sort_order": row["sort_order"], "config": json.loads(row["config"]), "option_values": [],
    }


def _value_row(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"], "option_id": row["option_id"], "label": row["label"], "sort_order": row["sort_order"],
        "value_data": json.loads(row["value_data"]) if row["value_data"] is not None else None,
        "is_default": bool(row["is_default"]), "adjusters": json.loads(row["adjusters"]),
    }


def _product_row(row: sqlite3.Row) -> Json:
    return {
        "id": row["id"], "name": row["name"], "type": "physical", "sku": row["sku"], "price": row["price"],
        "weight": row["weight"], "date_created": iso8601(row["date_created"]),
        "date_modified": iso8601(row["date_modified"]), "option_set_id": row["option_set_id"],
    }


def _atom_dates(type_name: str, config: Json) -> Json:
    """A seeded config with its ISO-8601 dates in ATOM, as a write through the API stores them."""
    spec = MODIFIER_TYPES[type_name]
    out = dict(config)
    for key, value in config.items():
        field = spec.config_field(key)
        if field is not None and field.kind is FieldKind.DATE and isinstance(value, str):
            try:
                out[key] = atom_datetime(value)
            except ValueError:
                pass  # seeded as given: seeding checks nothing
    return out


def _name_slug(display_name: str) -> str:
    return re.sub(r"\s+", "-", display_name.strip())


class Store:
    """Catalog persistence; every public method is one transaction and thread-safe."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        for table, first in (("modifiers", FIRST_MODIFIER_ID), ("option_values", FIRST_VALUE_ID)):
            if not self._db.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)).fetchone():
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, first - 1))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _now(self) -> int:
        return int(self._clock())

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    # --- products -----------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM products LIMIT 1").fetchone() is None

    def product_exists(self, product_id: int) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM products WHERE id = ?", (product_id,)).fetchone() is not None

    def get_product(self, product_id: int) -> Json | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,)).fetchone()
        return _product_row(row) if row else None

    def list_products(self, filters: ProductFilter, offset: int, limit: int) -> tuple[list[Json], int]:
        """One page of products ordered by id, and the total matching the filters."""
        where, params = filters.where()
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM products{where}", params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_PRODUCT_COLUMNS} FROM products{where} ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        return [_product_row(r) for r in rows], total

    def modifiers_by_product(self, product_ids: Sequence[int]) -> dict[int, list[Json]]:
        """Modifiers with their values for many products in two queries."""
        out: dict[int, list[Json]] = {pid: [] for pid in product_ids}
        if not product_ids:
            return out
        marks = ",".join("?" * len(product_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_MODIFIER_COLUMNS} FROM modifiers WHERE product_id IN ({marks}) ORDER BY sort_order, id",
                list(product_ids),
            ).fetchall()
            modifiers = [_modifier_row(r) for r in rows]
            self._attach_values(modifiers)
        for modifier in modifiers:
            out[modifier["product_id"]].append(modifier)
        return out

    def _attach_values(self, modifiers: list[Json]) -> None:
        by_id = {m["id"]: m for m in modifiers}
        if not by_id:
            return
        rows = self._db.execute(
            f"SELECT {_VALUE_COLUMNS} FROM option_values WHERE option_id IN ({','.join('?' * len(by_id))})"
            " ORDER BY sort_order, id",
            list(by_id),
        ).fetchall()
        for row in rows:
            by_id[row["option_id"]]["option_values"].append(_value_row(row))

    def _touch(self, product_id: int) -> None:
        self._db.execute("UPDATE products SET date_modified = MAX(date_modified, ?) WHERE id = ?",
                         (self._now(), product_id))

    # --- modifiers ----------------------------------------------------------------------

    def get_modifier(self, product_id: int, modifier_id: int) -> Json | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_MODIFIER_COLUMNS} FROM modifiers WHERE id = ? AND product_id = ?", (modifier_id, product_id)
            ).fetchone()
            if row is None:
                return None
            modifier = _modifier_row(row)
            self._attach_values([modifier])
        return modifier

    def list_modifiers(self, product_id: int, offset: int, limit: int) -> tuple[list[Json], int]:
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM modifiers WHERE product_id = ?", (product_id,)).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_MODIFIER_COLUMNS} FROM modifiers WHERE product_id = ? ORDER BY sort_order, id"
                " LIMIT ? OFFSET ?", (product_id, limit, offset)
            ).fetchall()
            modifiers = [_modifier_row(r) for r in rows]
            self._attach_values(modifiers)
        return modifiers, total

    def create_modifier(self, product_id: int, modifier: Json) -> Json:
        """Insert a validated modifier and its values (checkbox: the generated Yes/No)."""
        with self._tx():
            modifier_id = self._insert_modifier(product_id, modifier)
            values = checkbox_values() if MODIFIER_TYPES[modifier["type"]].generated_values else \
                modifier.get("option_values", [])
            for value in values:
                self._insert_value(modifier_id, value)
            self._touch(product_id)
        return self.get_modifier(product_id, modifier_id)  # type: ignore[return-value]

    def _unique_name(self, display_name: str, product_id: int) -> str:
        stamp = self._now()
        while True:
            name = f"{_name_slug(display_name)}{stamp}-{product_id}"
            if self._db.execute("SELECT 1 FROM modifiers WHERE name = ?", (name,)).fetchone() is None:
                return name
            stamp += 1

    def _insert_modifier(self, product_id: int, modifier: Json) -> int:
        cursor = self._db.execute(
            "INSERT INTO modifiers (product_id, name, display_name, type, required, sort_order, config)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (product_id, self._unique_name(modifier["display_name"], product_id), modifier["display_name"],
             modifier["type"], int(modifier["required"]), modifier.get("sort_order", 0),
             _dumps(modifier.get("config") or {})),
        )
        return int(cursor.lastrowid)  # type: ignore[arg-type]

    def update_modifier(self, product_id: int, modifier_id: int, changes: Json,
                        value_updates: dict[int, Json], value_creates: list[Json]) -> Json:
        """Apply validated changes (see `validation.check_modifier_update`)."""
        with self._tx():
            columns = {k: changes[k] for k in ("display_name", "required", "sort_order") if k in changes}
            if "config" in changes:
                columns["config"] = _dumps(changes["config"])
            if "required" in columns:
                columns["required"] = int(columns["required"])
            if columns:
                assignments = ", ".join(f"{k} = ?" for k in columns)
                self._db.execute(f"UPDATE modifiers SET {assignments} WHERE id = ?", [*columns.values(), modifier_id])
            for value_id, value in value_updates.items():
                self._write_value(modifier_id, value_id, value)
            for value in value_creates:
                self._insert_value(modifier_id, value)
            self._touch(product_id)
        return self.get_modifier(product_id, modifier_id)  # type: ignore[return-value]

    def delete_modifier(self, product_id: int, modifier_id: int) -> bool:
        with self._tx():
            deleted = self._db.execute(
                "DELETE FROM modifiers WHERE id = ? AND product_id = ?", (modifier_id, product_id)
            ).rowcount
            if deleted:
                self._touch(product_id)
        return bool(deleted)

    # --- option values ------------------------------------------------------------------

    def get_value(self, modifier_id: int, value_id: int) -> Json | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_VALUE_COLUMNS} FROM option_values WHERE id = ? AND option_id = ?", (value_id, modifier_id)
            ).fetchone()
        return _value_row(row) if row else None

    def list_values(self, modifier_id: int, offset: int, limit: int) -> tuple[list[Json], int]:
        with self._lock:
            total = self._db.execute(
                "SELECT COUNT(*) FROM option_values WHERE option_id = ?", (modifier_id,)).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_VALUE_COLUMNS} FROM option_values WHERE option_id = ? ORDER BY sort_order, id"
                " LIMIT ? OFFSET ?", (modifier_id, limit, offset)
            ).fetchall()
        return [_value_row(r) for r in rows], total

    def create_value(self, product_id: int, modifier_id: int, value: Json) -> Json:
        with self._tx():
            value_id = self._insert_value(modifier_id, value)
            self._touch(product_id)
        return self.get_value(modifier_id, value_id)  # type: ignore[return-value]

    def update_value(self, product_id: int, modifier_id: int, value_id: int, value: Json) -> Json:
        with self._tx():
            self._write_value(modifier_id, value_id, value)
            self._touch(product_id)
        return self.get_value(modifier_id, value_id)  # type: ignore[return-value]

    def delete_value(self, product_id: int, modifier_id: int, value_id: int) -> bool:
        with self._tx():
            deleted = self._db.execute(
                "DELETE FROM option_values WHERE id = ? AND option_id = ?", (value_id, modifier_id)).rowcount
            if deleted:
                self._touch(product_id)
        return bool(deleted)

    def _clear_other_defaults(self, modifier_id: int, keep: int) -> None:
        self._db.execute("UPDATE option_values SET is_default = 0 WHERE option_id = ? AND id != ? AND is_default = 1",
                         (modifier_id, keep))

    def _insert_value(self, modifier_id: int, value: Json) -> int:
        cursor = self._db.execute(
            "INSERT INTO option_values (option_id, label, sort_order, value_data, is_default, adjusters)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (modifier_id, value["label"], value["sort_order"], _dumps(value.get("value_data")),
             int(bool(value.get("is_default"))), _dumps(value.get("adjusters") or empty_adjusters())),
        )
        value_id = int(cursor.lastrowid)  # type: ignore[arg-type]
        if value.get("is_default"):
            self._clear_other_defaults(modifier_id, value_id)
        return value_id

    def _write_value(self, modifier_id: int, value_id: int, value: Json) -> None:
        self._db.execute(
            "UPDATE option_values SET label = ?, sort_order = ?, value_data = ?, is_default = ?, adjusters = ?"
            " WHERE id = ? AND option_id = ?",
            (value["label"], value["sort_order"], _dumps(value["value_data"]), int(value["is_default"]),
             _dumps(value["adjusters"]), value_id, modifier_id),
        )
        if value["is_default"]:
            self._clear_other_defaults(modifier_id, value_id)

    # --- seeding ------------------------------------------------------------------------

    def seed_catalog(self, products: Iterable[Json]) -> int:
        """Insert products with their modifiers and values directly (no HTTP, no validation).

        Ids of modifiers and values are assigned by the store from their own sequences.
        Checkbox modifiers keep the Yes/No values given in the seed, or get generated ones.
        Optional `date_created`/`date_modified` (ISO-8601 or epoch seconds) are honoured.
        Date config values are stored as ATOM, as an API write would store them.
        Returns the number of products inserted.
        """
        now = self._now()
        product_rows: list[tuple[Any, ...]] = []
        modifier_rows: list[tuple[Any, ...]] = []
        value_rows: list[tuple[Any, ...]] = []
        with self._tx():
            next_modifier = self._next_id("modifiers")
            next_value = self._next_id("option_values")
            for product in products:
                created = _epoch(product.get("date_created"), now)
                product_rows.append((
                    product["id"], product["name"], product.get("sku", ""), product.get("price", 0),
                    product.get("weight", 0), product.get("option_set_id"), created,
                    _epoch(product.get("date_modified"), created),
                ))
                for position, modifier in enumerate(product.get("modifiers", [])):
                    spec = MODIFIER_TYPES[modifier["type"]]
                    name = f"{_name_slug(modifier['display_name'])}{created + position}-{product['id']}"
                    modifier_rows.append((
                        next_modifier, product["id"], name, modifier["display_name"], modifier["type"],
                        int(bool(modifier.get("required"))), modifier.get("sort_order", 0),
                        _dumps(_atom_dates(modifier["type"], modifier.get("config") or {})),
                    ))
                    values = modifier.get("option_values") or (checkbox_values() if spec.generated_values else [])
                    for value in values:
                        adjusters = {**empty_adjusters(), **(value.get("adjusters") or {})}
                        value_rows.append((
                            next_value, next_modifier, value["label"], value.get("sort_order", 0),
                            _dumps(value.get("value_data") or None), int(bool(value.get("is_default"))),
                            _dumps(adjusters),
                        ))
                        next_value += 1
                    next_modifier += 1
            self._db.executemany(f"INSERT INTO products ({_PRODUCT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 product_rows)
            self._db.executemany(f"INSERT INTO modifiers ({_MODIFIER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 modifier_rows)
            self._db.executemany(f"INSERT INTO option_values ({_VALUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 value_rows)
        return len(product_rows)

    def _next_id(self, table: str) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        return int(row[0]) + 1


class _Transaction:
    """`with store._tx():` holds the lock and wraps the statements in BEGIN/COMMIT (or ROLLBACK)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
