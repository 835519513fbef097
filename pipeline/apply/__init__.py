"""Apply a plan to the store: concurrent writes, natural-key reconciliation, journal, backup, results."""

from pipeline.apply.backup import BackupError, backup_products, touched_products
from pipeline.apply.executor import (
    FAILED,
    OK,
    SKIPPED,
    ApplyResult,
    OpOutcome,
    apply_plan,
    describe_error,
)
from pipeline.apply.images import ImageError, ImageFile, load_image
from pipeline.apply.journal import Journal, journal_path
from pipeline.apply.results import (
    RESULT_COLUMN,
    RESULTS_CSV,
    RESULTS_SUMMARY_SHEET,
    render_summary,
    results_path,
    row_results,
    write_results,
)

__all__ = [
    "FAILED",
    "OK",
    "RESULTS_CSV",
    "RESULTS_SUMMARY_SHEET",
    "RESULT_COLUMN",
    "SKIPPED",
    "ApplyResult",
    "BackupError",
    "ImageError",
    "ImageFile",
    "Journal",
    "OpOutcome",
    "apply_plan",
    "backup_products",
    "describe_error",
    "journal_path",
    "load_image",
    "render_summary",
    "results_path",
    "row_results",
    "touched_products",
    "write_results",
]
