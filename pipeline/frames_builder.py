"""`products_to_frames` over pages as they arrive (`FramesBuilder`), for `pipeline.extract_frames`.

Pages are flattened into plain row dicts (`pipeline.payload_rows`) as they come; numpy, pandas and
`pipeline.normalise` are imported only when rows become a frame, at `BATCH_ROWS` rows or at the
end. So a small export reads every page before it needs pandas, and the export imports pandas in
a thread meanwhile (`pipeline.export`) instead of before its first request.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pipeline.extras import modifier_extras, value_extras
from pipeline.payload_rows import MODIFIER_DTYPES, VALUE_DTYPES, Extras, modifier_row, value_row

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipeline.normalise import ModifierFrames


class FramesBuilder:
    """`products_to_frames` over pages as they arrive, so that the raw payloads of a big catalog are
    never held together: each page is flattened into rows at once, and every `BATCH_ROWS` rows become
    a small typed frame (columnar, strings in Arrow buffers) while the page's dicts are dropped.

    A product read twice (an id and a SKU filter both match it, or a chain read again without
    include_fields) keeps its latest reading only, and `frames()` orders rows by product id, so the
    result equals `products_to_frames` of the products `extract_products` returns.
    """

    BATCH_ROWS = 5_000

    def __init__(self) -> None:
        # Bookkeeping in typed arrays, not lists of ints: a Python object per product or row living
        # through the whole read would pin the memory of every page's freed dicts around it.
        self._readings = array("q")  # reading -> product id
        self._rows: dict[str, list[dict[str, Any]]] = {"modifiers": [], "values": []}
        self._owners: dict[str, array[int]] = {"modifiers": array("q"), "values": array("q")}  # reading of each row
        self._parts: dict[str, list[tuple[pd.DataFrame, np.ndarray]]] = {"modifiers": [], "values": []}
        self._extras: list[tuple[int, tuple[str, int], dict[str, dict[str, Any]]]] = []

    def product_ids(self) -> list[int]:
        """The ids of the products added (with or without modifiers), in order, each once."""
        import numpy as np

        return np.unique(np.frombuffer(self._readings, dtype=np.int64)).tolist() if self._readings else []

    def add(self, products: Iterable[Mapping[str, Any]]) -> None:
        """Normalise one page of products (as `GET /catalog/products?include=modifiers` returns them)."""
        modifier_rows, value_rows = self._rows["modifiers"], self._rows["values"]
        modifier_owners, value_owners = self._owners["modifiers"], self._owners["values"]
        for product in products:
            reading = len(self._readings)
            self._readings.append(int(product["id"]))
            for modifier in product.get("modifiers") or ():
                modifier_rows.append(modifier_row(product, modifier))
                modifier_owners.append(reading)
                self._keep(reading, "modifier", modifier, modifier_extras(modifier))
                for value in modifier.get("option_values") or ():
                    value_rows.append(value_row(product, modifier, value))
                    value_owners.append(reading)
                    self._keep(reading, "value", value, value_extras(value, str(modifier.get("type"))))
        for kind in ("modifiers", "values"):
            if len(self._rows[kind]) >= self.BATCH_ROWS:
                self._flush(kind)

    def _keep(self, reading: int, kind: str, item: Mapping[str, Any], parts: dict[str, dict[str, Any]]) -> None:
        if parts and item.get("id") is not None:
            self._extras.append((reading, (kind, int(item["id"])), parts))

    def _flush(self, kind: str) -> None:
        import numpy as np

        from pipeline.normalise import typed_frame

        rows = self._rows[kind]
        if rows:
            dtypes = MODIFIER_DTYPES if kind == "modifiers" else VALUE_DTYPES
            owners = np.frombuffer(self._owners[kind], dtype=np.int64).copy()
            self._parts[kind].append((typed_frame(rows, dtypes), owners))
        self._rows[kind], self._owners[kind] = [], array("q")

    def frames(self) -> ModifierFrames:
        """The frames of every product added, each by its latest reading, ordered by product id."""
        import numpy as np
        import pandas as pd

        from pipeline.normalise import ModifierFrames, typed_frame

        for kind in ("modifiers", "values"):
            self._flush(kind)
        readings = np.frombuffer(self._readings, dtype=np.int64) if self._readings else np.zeros(0, np.int64)
        latest = np.zeros(len(readings), dtype=bool)
        if len(readings):  # the last reading of each product: its first in the reversed order
            _, first_from_end = np.unique(readings[::-1], return_index=True)
            latest[len(readings) - 1 - first_from_end] = True
        out = {}
        for kind, dtypes in (("modifiers", MODIFIER_DTYPES), ("values", VALUE_DTYPES)):
            parts, self._parts[kind] = self._parts[kind], []
            if not parts:
                out[kind] = typed_frame([], dtypes)
                continue
            owners = np.concatenate([o for _, o in parts])
            frame = pd.concat([f for f, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
            del parts
            keep = latest[owners]
            order = np.argsort(readings[owners[keep]], kind="stable")
            if keep.all() and (order == np.arange(len(order))).all():
                out[kind] = frame.reset_index(drop=True)
            else:
                out[kind] = frame.iloc[np.flatnonzero(keep)[order]].reset_index(drop=True)
            del frame
        extras: Extras = {}
        for reading, key, parts_of in sorted((e for e in self._extras if latest[e[0]]),
                                             key=lambda e: readings[e[0]]):
            extras[key] = parts_of
        return ModifierFrames(out["modifiers"], out["values"], extras)
