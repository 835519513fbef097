"""Run every `bench_*` module in this package; exit non-zero if any target is missed."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    failed = []
    for module in sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")):
        print(f"== {module}", flush=True)
        if importlib.import_module(f"bench.{module}").main() != 0:
            failed.append(module)
        print()
    if failed:
        print("targets missed: " + ", ".join(failed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
