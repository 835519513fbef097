"""Prefect flows: a thin layer over `pipeline`.

Prefect is the extra `.[flows]` (part of `.[dev]`): bcmod's CLI runs without it, so a machine set up
with `make demo` or `pip install -e .` gets this hint instead of a bare ImportError from deep inside a flow.
"""

try:
    import prefect  # noqa: F401  (every flow needs it)
except ImportError as missing:
    raise ImportError("bcmod's Prefect flows need Prefect: install bcmod[flows] (pip install -e '.[flows]')") \
        from missing
