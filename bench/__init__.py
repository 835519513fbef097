"""Benchmarks for the targets in BRIEF §8. Run them all with `python -m bench`.

Each `bench_*.py` module has a `main() -> int` that prints its figures and returns non-zero when a
target is missed.
"""
