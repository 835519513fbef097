"""bcmod's library: client, extract, normalise, workbook, validate, plan, apply.

Nothing here imports Prefect; `flows/` wraps these functions for scheduling and retries.
"""
