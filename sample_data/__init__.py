"""Deterministic sample catalogs for the sandbox store."""
