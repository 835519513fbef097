"""Prefect flows: a thin layer over `pipeline`."""
