"""Workbook writing speed (BRIEF §8): 100k value rows, `write_workbook` <= 0.5x `DataFrame.to_excel`.

The catalog is 10,000 generated products (about 104k option values and 28k modifiers), built once
and kept in memory. `write_workbook` writes the full workbook (README, all 12 sheets with
comments, drop-downs and formats, the hidden metadata sheet with a fingerprint per row);
the baseline is pandas + openpyxl writing the value rows alone. Each is timed best-of-n in the
same run. CSV writing and reading back are reported for information.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.summary import record
from pipeline.normalise import ModifierFrames, products_to_frames
from pipeline.workbook.csv_files import write_csv
from pipeline.workbook.meta import ExportMeta
from pipeline.workbook.reader import read_export
from pipeline.workbook.writer import write_workbook
from sample_data.generator import as_api_products, generate_catalog

N_PRODUCTS = 10_000
TARGET_RATIO = 0.5


def build_frames(n_products: int = N_PRODUCTS) -> ModifierFrames:
    return products_to_frames(as_api_products(generate_catalog(n_products, seed=0)))


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    start = time.perf_counter()
    frames = build_frames()
    print(f"catalog: {N_PRODUCTS:,} products, {len(frames.modifiers):,} modifier rows, "
          f"{len(frames.values):,} value rows (built in {time.perf_counter() - start:.1f}s)")
    meta = ExportMeta("benchstore", "https://api.bigcommerce.com/stores/benchstore/v3")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours = best_of(3, lambda: write_workbook(frames, folder / "bcmod.xlsx", meta))
        baseline = best_of(2, lambda: frames.values.to_excel(folder / "baseline.xlsx", engine="openpyxl", index=False))
        csv_time = best_of(3, lambda: write_csv(frames, folder / "csv", meta))
        read_time = best_of(1, lambda: read_export(folder / "bcmod.xlsx"))
        size_mb = (folder / "bcmod.xlsx").stat().st_size / 1e6
    ratio = ours / baseline
    rows = [
        ("write_workbook (full workbook, all sheets)", 3, ours),
        ("DataFrame.to_excel, openpyxl (value rows only)", 2, baseline),
        ("write_csv (folder, all sheets)", 3, csv_time),
        ("read_export (xlsx, for information)", 1, read_time),
    ]
    print(f"{'':48} {'best of':>7} {'seconds':>8}")
    for label, runs, seconds in rows:
        print(f"{label:48} {runs:>7} {seconds:>8.2f}")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio write_workbook / to_excel: {ratio:.3f} (target <= {TARGET_RATIO}) {verdict}; "
          f"workbook {size_mb:.1f} MB")
    record("workbook", f"workbook write, {N_PRODUCTS // 1000}k products / {len(frames.values):,} value rows (all 12 "
           "sheets, comments, drop-downs, fingerprints) vs `DataFrame.to_excel(engine=\"openpyxl\")` of the value "
           "rows alone", f"{ours:.2f} s vs {baseline:.2f} s: **{ratio:.3f}x**", f"≤ {TARGET_RATIO}x",
           ratio <= TARGET_RATIO)
    record("workbook", "CSV write, same catalog (all sheets)", f"{csv_time:.2f} s")
    record("workbook", "read back of that workbook (python-calamine)", f"{read_time:.2f} s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
