"""Start-up: `bcmod --help` against `python -c "import pandas"`, and a small export as a whole process.

Nightly incremental exports are small, so the process's start-up is most of what they cost. Two
figures, each timed as whole processes, the two sides alternating (A B A B ...) so a drift of the
machine's speed hits both, the ratio taken pair by pair and its median quoted:

- `bcmod --help` (and `--version`) vs `python -c "import pandas"`: the CLI must not import the
  library to list its commands. Target <= 0.75x.
- `bcmod export` of 300 products from a sandbox store answering every request after 40 ms (its own
  process, no quota) vs the per-product way with BigCommerce's own Python client (`bigcommerce`,
  the `bench` extra; as in bench_export_10k: list 250 a page, then one `/modifiers` GET per
  product, one after the other), also as a whole process. The request counts alone (30 against
  302) allow 0.10x; start-up must not eat that. Target <= 0.10x.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.sandbox_process import TOKEN, SandboxProcess, sandbox
from bench.summary import record

HELP_RUNS = 9
EXPORT_RUNS = 3
PRODUCTS = 300
LATENCY_MS = 40
HELP_TARGET = 0.75
EXPORT_TARGET = 0.10


def bcmod() -> list[str]:
    """The installed `bcmod` script next to this interpreter (what a user runs), else `-m`."""
    script = Path(sys.executable).with_name("bcmod")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.cli.main"]


def timed(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def paired(a: Sequence[str], b: Sequence[str], runs: int, *, env_a: dict[str, str] | None = None,
           env_b: dict[str, str] | None = None) -> dict[str, float]:
    """Medians of A and B and of the pairwise ratio A/B over `runs` alternating pairs, after one warm-up each."""
    timed(a, env_a)
    timed(b, env_b)
    pairs = [(timed(a, env_a)[0], timed(b, env_b)[0]) for _ in range(runs)]
    return {"a": statistics.median(p[0] for p in pairs), "b": statistics.median(p[1] for p in pairs),
            "ratio": statistics.median(p[0] / p[1] for p in pairs),
            "ratio_min": min(p[0] / p[1] for p in pairs), "ratio_max": max(p[0] / p[1] for p in pairs)}


def per_product_main(port: int) -> None:
    """The baseline's process: drain every product's modifiers with BigCommerce's client; prints JSON."""
    from bench.bench_export_10k import official_client, per_product_drain

    connection, label = official_client(SandboxProcess(None, port))  # type: ignore[arg-type]
    out = per_product_drain(connection, budget_s=600)
    print(json.dumps({"label": label, "requests": out["requests"], "modifiers": out["modifiers"],
                      "products": out["products"]}))


def main() -> int:
    pandas = [sys.executable, "-c", "import pandas"]
    helped = paired([*bcmod(), "--help"], pandas, HELP_RUNS)
    version = paired([*bcmod(), "--version"], pandas, HELP_RUNS)
    help_ok = helped["ratio"] <= HELP_TARGET
    print(f"bcmod --help {helped['a']:.3f} s vs import pandas {helped['b']:.3f} s (medians of {HELP_RUNS} pairs): "
          f"{helped['ratio']:.3f}x (pairs {helped['ratio_min']:.3f}-{helped['ratio_max']:.3f}x); "
          f"--version {version['ratio']:.3f}x: {'PASS' if help_ok else 'MISS'}")

    with tempfile.TemporaryDirectory() as tmp, sandbox(products=PRODUCTS, latency_ms=LATENCY_MS) as store:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIGCOMMERCE_")}
        ours_env = {**env, "BIGCOMMERCE_API_URL": f"{store.root}/stores/sandbox/v3",
                    "BIGCOMMERCE_ACCESS_TOKEN": TOKEN}
        out = Path(tmp) / "export.xlsx"
        ours = [*bcmod(), "export", "--out", str(out), "--json"]
        theirs = [sys.executable, "-m", "bench.bench_startup", "per-product", str(store.port)]
        store.reset()
        _, printed = timed(ours, ours_env)
        requests = store.stats()["requests"]["total"]
        exported = json.loads(printed)
        store.reset()
        _, printed = timed(theirs, env)
        baseline = json.loads(printed)
        base_requests = store.stats()["requests"]["total"]
        exported_pair = paired(ours, theirs, EXPORT_RUNS, env_a=ours_env, env_b=env)
    export_ok = (exported_pair["ratio"] <= EXPORT_TARGET and exported["products"] == PRODUCTS
                 and baseline["products"] == PRODUCTS and baseline["modifiers"] == exported["modifiers"])
    print(f"bcmod export of {PRODUCTS} products at {LATENCY_MS} ms latency: {exported_pair['a']:.2f} s, "
          f"{requests} requests; per-product with {baseline['label']}: {exported_pair['b']:.2f} s, "
          f"{base_requests} requests (medians of {EXPORT_RUNS} pairs): {exported_pair['ratio']:.3f}x "
          f"(pairs {exported_pair['ratio_min']:.3f}-{exported_pair['ratio_max']:.3f}x): "
          f"{'PASS' if export_ok else 'MISS'}")

    record("startup", "`bcmod --help` vs `python -c \"import pandas\"`, whole processes, medians of "
           f"{HELP_RUNS} alternating pairs", f"{helped['a']:.2f} s vs {helped['b']:.2f} s: **{helped['ratio']:.2f}x**; "
           f"`bcmod --version` {version['ratio']:.2f}x", f"≤ {HELP_TARGET}x", help_ok)
    record("startup", f"`bcmod export` of {PRODUCTS} products, store latency {LATENCY_MS} ms, whole process vs the "
           "per-product way with BigCommerce's client `bigcommerce` (list 250 a page, one `/modifiers` GET per "
           f"product, sequential), medians of {EXPORT_RUNS} alternating pairs",
           f"{exported_pair['a']:.2f} s, {requests} requests vs {exported_pair['b']:.2f} s, {base_requests} requests: "
           f"**{exported_pair['ratio']:.3f}x**", f"≤ {EXPORT_TARGET}x", export_ok)
    return 0 if help_ok and export_ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["per-product"]:
        per_product_main(int(sys.argv[2]))
    else:
        sys.exit(main())
