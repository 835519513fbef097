"""Validation of edited workbooks and CSV files: every problem at once, each pinned to a cell."""
