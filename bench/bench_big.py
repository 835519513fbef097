"""Big catalogs (BRIEF §8, issue 15): each stage's time and peak memory at 10k, 30k and 100k products.

Not part of the default `make bench` (it takes long): `make bench-big`, or `python -m bench big`.
`BENCH_BIG_SIZES=10000,30000` picks the catalog sizes (the first is the baseline of the slope).

For each size, a sandbox store (`bcmod sandbox serve`, its own process, no quota) is seeded with
the catalog, then each stage runs as a process of its own, so its peak resident set is its own
(`os.wait4`'s `ru_maxrss` of that child):

1. export: `export_store` to a workbook;
2. validate: `validate_file` offline (no store lookups), which must find 0 issues;
3. plan: `plan_workbook` of the untouched export, which must hold 0 operations;
4. (not bcmod) edit: 1% of the value rows get a new `sort_order`, edited in the sheet XML as it
   streams (openpyxl cannot load a workbook of a million rows in reasonable memory);
5. apply: plan and apply of that edit, for the results copy (information only);
6. results: `write_results`, the results copy of the edited workbook.

Targets (BRIEF §8): each stage below 1.5 GiB peak, and at most 12x its time at the smallest size.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import bench.sandbox_process as sandbox_process
from bench.sandbox_process import TOKEN, sandbox
from bench.summary import record

SIZES = (10_000, 30_000, 100_000)
STAGES = ("export", "validate", "plan", "edit", "apply", "results")
MEASURED = ("export", "validate", "plan", "results")  # the stages with targets
PEAK_BUDGET_MIB = 1536
SLOPE_BUDGET = 12.0
EDIT_SHARE = 0.01
EDIT_SHEET = "Choice values"


# -- one stage, in a child process --------------------------------------------------------------------------


def _settings(root: str) -> Any:
    from pipeline.settings import Settings

    return Settings.for_sandbox(f"{root}/stores/sandbox/v3", TOKEN)


async def _stage(name: str, root: str, folder: Path) -> dict[str, Any]:
    from pipeline.client import BigCommerceClient

    export, edited = folder / "export.xlsx", folder / "edited.xlsx"
    if name == "export":
        from pipeline.export import export_store

        result = await export_store(_settings(root), export)
        return {"bytes": result.path.stat().st_size}
    if name == "validate":
        from pipeline.validate.command import validate_file_async

        outcome = await validate_file_async(export)
        return {"issues": len(outcome.issues), "first": [str(i) for i in outcome.issues[:3]]}
    if name == "plan":
        from pipeline.plan.build import plan_workbook

        async with BigCommerceClient(_settings(root)) as client:
            plan, _ = await plan_workbook(export, client)
        return {"operations": len(plan.operations)}
    if name == "edit":
        return {"edited": edit_sort_orders(export, edited, EDIT_SHEET, EDIT_SHARE)}
    if name == "apply":
        from pipeline.apply import apply_plan
        from pipeline.plan.build import plan_workbook

        async with BigCommerceClient(_settings(root)) as client:
            plan, _ = await plan_workbook(edited, client)
            result = await apply_plan(plan, client, workbook_dir=folder, journal=None, backup=False)
        (folder / "apply.pickle").write_bytes(pickle.dumps(result))
        return {"operations": len(plan.operations), "failed": len(result.failed)}
    if name == "results":
        from pipeline.apply import write_results

        result = pickle.loads((folder / "apply.pickle").read_bytes())
        out = write_results(result, edited)
        return {"bytes": out.stat().st_size}
    raise ValueError(name)


def run_stage(name: str, root: str, folder: Path) -> dict[str, Any]:
    """Run one stage in a child process: its seconds, peak RSS (MiB) and what it reports."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bench.bench_big", "--stage", name, root, str(folder)],
                               stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"stage {name} exited with {process.returncode}")
    report = json.loads(output.decode().strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, **report}


# -- the edit: a person's 1% of one sheet, as the sheet XML streams ----------------------------------------


def edit_sort_orders(source: Path, target: Path, sheet: str, share: float) -> int:
    """Copy `source` to `target` with `sort_order` + 1000 on every 1/share-th data row of `sheet`
    (and its continuation sheets); returns the rows edited. Cells stay as the writer wrote them."""
    every = max(1, round(1 / share))
    edited = 0
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        parts = _sheet_parts(src)
        continuation = re.compile(re.escape(sheet) + r" \(\d+\)")
        wanted = {part for name, part in parts.items() if name == sheet or continuation.fullmatch(name)}
        for info in src.infolist():
            if info.filename not in wanted:
                out.writestr(info, src.read(info.filename))
                continue
            xml = src.read(info.filename).decode()
            letter = _column_letter(src, xml, "sort_order")

            def bump(match: re.Match[str]) -> str:
                nonlocal edited
                row = int(match["row"])
                if row < 2 or row % every:
                    return match.group()
                edited += 1
                return f'{match["head"]}{int(match["value"]) + 1000}</v>'

            xml = re.sub(rf'(?P<head><c r="{letter}(?P<row>\d+)"[^>]*><v>)(?P<value>-?\d+)</v>', bump, xml)
            out.writestr(info, xml.encode())
    return edited


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    workbook = archive.read("xl/workbook.xml").decode()
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    targets = {}
    for element in re.findall(r"<Relationship\b[^>]*>", rels):
        attributes = dict(re.findall(r'(\w+)="([^"]*)"', element))
        targets[attributes["Id"]] = attributes["Target"]
    out = {}
    for m in re.finditer(r'<sheet [^>]*?name="(?P<name>[^"]+)"[^>]*?r:id="(?P<id>[^"]+)"', workbook):
        target = targets[m["id"]].lstrip("/")
        out[m["name"]] = target if target.startswith("xl/") else f"xl/{target}"
    return out


def _column_letter(archive: zipfile.ZipFile, xml: str, header: str) -> str:
    """The column of `header` in row 1 (header cells are shared strings)."""
    strings = re.findall(r"<t[^>]*>([^<]*)</t>", archive.read("xl/sharedStrings.xml").decode())
    row = re.search(r'<row r="1"[^>]*>(.*?)</row>', xml, re.S)
    assert row is not None
    for cell in re.finditer(r'<c r="(?P<letter>[A-Z]+)1"[^>]*t="s"[^>]*><v>(?P<index>\d+)</v>', row.group(1)):
        if strings[int(cell["index"])] == header:
            return cell["letter"]
    raise ValueError(f"no {header!r} column")


# -- the bench ----------------------------------------------------------------------------------------------


def sizes() -> tuple[int, ...]:
    text = os.environ.get("BENCH_BIG_SIZES", "")
    return tuple(int(s) for s in text.split(",") if s.strip()) or SIZES


def main() -> int:
    sandbox_process.STARTUP_TIMEOUT_S = 1800  # seeding 100k products takes minutes
    figures: dict[int, dict[str, dict[str, Any]]] = {}
    ok = True
    for n in sizes():
        with tempfile.TemporaryDirectory(prefix=f"bench-big-{n}-") as tmp:
            started = time.perf_counter()
            with sandbox(products=n) as store:
                seeded = time.perf_counter() - started
                print(f"{n:,} products: sandbox seeded and serving in {seeded:.0f} s", flush=True)
                record("big", f"{n:,} products: sandbox seeding (generator + store)", f"{seeded:.0f} s")
                figures[n] = {}
                for stage in STAGES:
                    figure = run_stage(stage, store.root, Path(tmp))
                    figures[n][stage] = figure
                    print(f"  {stage:9} {figure['seconds']:7.1f} s  peak {figure['peak_mib']:6.0f} MiB  "
                          f"{ {k: v for k, v in figure.items() if k not in ('seconds', 'peak_mib')} }", flush=True)
        ok &= report(n, figures)
    print(json.dumps(figures, indent=1))
    return 0 if ok else 1


def report(n: int, figures: dict[int, dict[str, dict[str, Any]]]) -> bool:
    """Record this size's rows; True when its targets are met."""
    base = min(figures)
    ok = True
    checks = {"validate": figures[n]["validate"].get("issues") == 0, "plan": figures[n]["plan"].get("operations") == 0}
    for stage in MEASURED:
        figure = figures[n][stage]
        slope = figure["seconds"] / figures[base][stage]["seconds"]
        within = (figure["peak_mib"] < PEAK_BUDGET_MIB and (n == base or slope <= SLOPE_BUDGET)
                  and checks.get(stage, True))
        ok &= within
        extra = {"validate": f", {figure.get('issues')} issues", "plan": f", {figure.get('operations')} operations"}
        record("big", f"{n:,} products: {stage}",
               f"{figure['seconds']:.1f} s ({slope:.1f}x {base:,}), peak {figure['peak_mib']:.0f} MiB"
               f"{extra.get(stage, '')}", f"< {PEAK_BUDGET_MIB} MiB, <= {SLOPE_BUDGET:.0f}x {base:,}", within)
    apply = figures[n]["apply"]
    record("big", f"{n:,} products: apply of a 1% edit (for the results copy)",
           f"{apply.get('operations')} operations, {apply['seconds']:.1f} s, peak {apply['peak_mib']:.0f} MiB")
    return ok


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--stage":
        report_ = asyncio.run(_stage(sys.argv[2], sys.argv[3], Path(sys.argv[4])))
        print(json.dumps(report_))
        sys.exit(0)
    sys.exit(main())
