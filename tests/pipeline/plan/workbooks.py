"""Sandbox exports edited with openpyxl, planned, and applied by a minimal test applier."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pipeline.client import BigCommerceClient
from pipeline.export import export_store
from pipeline.plan.build import plan_workbook
from pipeline.plan.operations import Operation, OpKind, Plan
from pipeline.validate.command import ValidationOutcome
from sample_data.generator import png_bytes
from tests.pipeline.validate.exports import WRITES, column_of, edit_xlsx  # noqa: F401  (edit_xlsx re-exported)
from tests.stores import SandboxStore, sandbox_store

PRODUCTS = 14  # enough for every modifier type


@dataclass
class Exported:
    store: SandboxStore
    path: Path

    def requests(self) -> dict[str, int]:
        return dict(self.store.stats()["requests"])

    def plan(self, path: Path | None = None, **options: Any) -> tuple[Plan, ValidationOutcome]:
        """Plan `path` (the export by default), checking that planning wrote nothing."""
        before = self.requests()
        result = asyncio.run(_plan(self.store, path or self.path, **options))
        after = self.requests()
        assert all(after[m] == before[m] for m in WRITES), (before, after)
        return result

    def apply(self, plan: Plan) -> None:
        asyncio.run(_apply(self.store, plan, self.path.parent))

    def export_again(self, name: str = "again.xlsx") -> Path:
        return asyncio.run(export_store(self.store.settings, self.path.parent / name,
                                        transport=self.store.transport())).path

    def put(self, path: str, body: dict[str, Any]) -> Any:
        """Change the store behind the export's back, as another app would: with the fields the spec
        requires in a PUT (a modifier's type and required, a value's label and sort_order) read first."""
        current = asyncio.run(_send(self.store, "get_json", path))["data"]
        required = ("label", "sort_order") if "/values/" in path else ("type", "required")
        return asyncio.run(_send(self.store, "put_json", path, {**{k: current[k] for k in required}, **body}))

    def delete(self, path: str) -> Any:
        return asyncio.run(_send(self.store, "delete", path))


def export(tmp: Path, products: int = PRODUCTS, csv: bool = False) -> Exported:
    store = sandbox_store(tmp / "store", products=products)
    out = tmp / "work" / ("export" if csv else "export.xlsx")
    path = asyncio.run(export_store(store.settings, out, csv=csv, transport=store.transport())).path
    return Exported(store, path)


async def _plan(store: SandboxStore, path: Path, **options: Any) -> tuple[Plan, ValidationOutcome]:
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        return await plan_workbook(path, client, **options)


async def _send(store: SandboxStore, method: str, *args: Any) -> Any:
    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        return await getattr(client, method)(*args)


# --- a minimal applier: the plan's operations in order, one request each ----------------------------------


def modifiers_path(product_id: int) -> str:
    return f"/catalog/products/{product_id}/modifiers"


async def _apply(store: SandboxStore, plan: Plan, folder: Path) -> None:
    created: dict[str, dict[str, Any]] = {}

    def ids(op: Operation) -> tuple[int, int | None]:
        if op.depends_on is None:
            return op.modifier_id, op.value_id  # type: ignore[return-value]
        made = created[op.depends_on]
        if "option_values" in made:  # a new modifier: its value by label
            return made["id"], next(v["id"] for v in made["option_values"] if v["label"] == op.label)
        return made["option_id"], made["id"]

    async with BigCommerceClient(store.settings, transport=store.transport()) as client:
        for op in plan.operations:
            base = modifiers_path(op.product_id)
            if op.kind is OpKind.DELETE_VALUE:
                await client.delete(f"{base}/{op.modifier_id}/values/{op.value_id}")
            elif op.kind is OpKind.DELETE_MODIFIER:
                await client.delete(f"{base}/{op.modifier_id}")
            elif op.kind is OpKind.UPDATE_MODIFIER:
                await client.put_json(f"{base}/{op.modifier_id}", op.payload)
            elif op.kind is OpKind.CREATE_MODIFIER:
                created[op.op_id] = await client.post_json(base, op.payload)
            elif op.kind is OpKind.CREATE_VALUE:
                created[op.op_id] = await client.post_json(f"{base}/{op.modifier_id}/values", op.payload)
            elif op.kind is OpKind.UPDATE_VALUE:
                modifier_id, value_id = ids(op)
                await client.put_json(f"{base}/{modifier_id}/values/{value_id}", op.payload)
            else:
                modifier_id, value_id = ids(op)
                data = await _image_bytes(store, folder, op.image or "")
                await client.request("POST", f"{base}/{modifier_id}/values/{value_id}/image",
                                     files={"image_file": ("image.png", data, "image/png")})


async def _image_bytes(store: SandboxStore, folder: Path, image: str) -> bytes:
    """A file of the workbook's folder, or a web image, here one the sandbox serves (in process)."""
    if not image.startswith(("http://", "https://")):
        return (folder / image).read_bytes()
    async with httpx.AsyncClient(transport=store.transport()) as web:
        response = await web.get(image)
        response.raise_for_status()
        return response.content


# --- xlsx edits -------------------------------------------------------------------------------------------


def rows_where(ws: Any, **equal: Any) -> list[int]:
    columns = {name: column_of(ws, name) for name in equal}
    return [row for row in range(2, ws.max_row + 1)
            if all(ws.cell(row, col).value == equal[name] for name, col in columns.items())]


def row_where(ws: Any, **equal: Any) -> int:
    rows = rows_where(ws, **equal)
    assert rows, f"no row with {equal} in {ws.title}"
    return rows[0]


def get(ws: Any, row: int, name: str) -> Any:
    return ws.cell(row, column_of(ws, name)).value


def put(ws: Any, row: int, **cells: Any) -> None:
    for name, item in cells.items():
        ws.cell(row, column_of(ws, name)).value = item


def append(ws: Any, **cells: Any) -> int:
    row = ws.max_row + 1
    put(ws, row, **cells)
    return row


def write_png(folder: Path, name: str, rgb: bytes = b"\x10\x80\xf0") -> str:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png_bytes(rgb))
    return name
