"""Run every `bench_*` module in this package; print one results table; exit non-zero if any target is missed.

`python -m bench` runs them all but the long ones in `OPT_IN` (`python -m bench big`, `make bench-big`);
`python -m bench export_10k large` runs the named ones only.
Each module's `main() -> int` returns 0 when its targets are met and records its figures with
`bench.summary.record`; the table at the end (Markdown, as the README shows it) lists them all.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from datetime import date

import bench
from bench.summary import ROWS, machine, record, table


OPT_IN = frozenset({"big"})  # run only when named: they take long (bench_big: 10k-100k products, ~an hour)


def main(argv: list[str] | None = None) -> int:
    wanted = {name.removeprefix("bench_") for name in (argv if argv is not None else sys.argv[1:])}
    modules = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if wanted:
        modules = [m for m in modules if m.removeprefix("bench_") in wanted]
    else:
        modules = [m for m in modules if m.removeprefix("bench_") not in OPT_IN]
    failed = []
    started = time.perf_counter()
    for module in modules:
        print(f"== {module}", flush=True)
        begun, recorded = time.perf_counter(), len(ROWS)
        try:
            code = importlib.import_module(f"bench.{module}").main()
        except Exception as exc:  # noqa: BLE001 - one broken bench must not hide the others' figures
            print(f"{module} raised {type(exc).__name__}: {exc}")
            code = 1
        if code != 0:
            failed.append(module)
            if len(ROWS) == recorded:
                record(module.removeprefix("bench_"), "(the bench failed before recording a figure)", "", "", False)
        print(f"({module}: {time.perf_counter() - begun:.0f} s)\n", flush=True)
    print(f"== results: {date.today().isoformat()}, {machine()}, {time.perf_counter() - started:.0f} s in all\n")
    print(table(ROWS))
    print()
    if failed:
        print("targets missed: " + ", ".join(failed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
