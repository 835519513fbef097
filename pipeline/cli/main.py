"""The `bcmod` command line: export, validate, plan, apply, restore, migrate, doctor, sandbox, demo.

Commands talk to the configured store (BIGCOMMERCE_STORE_HASH / BIGCOMMERCE_API_URL and
BIGCOMMERCE_ACCESS_TOKEN, from the environment or .env) or, when none is configured, to the
embedded sandbox store. Exit codes: 0 success, 1 a request or file failed, 2 bad usage.

This module imports typer and nothing of the library: each command's module is imported when the
command runs (`pipeline.cli.lazy`), so `bcmod --help` and `bcmod --version` answer at once and
`bcmod export` loads only the export's stack. A new command is one row of `COMMANDS`.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import typer

from pipeline.cli.lazy import LazyCommand, LazyGroup

COMMANDS = (
    LazyCommand("export", "pipeline.cli.export_cmd:export",
                "Export every product's modifiers to an editable workbook (or CSV files)."),
    LazyCommand("validate", "pipeline.cli.validate_cmd:register",
                "Check an edited export and list every problem at once; nothing is sent to the store."),
    LazyCommand("plan", "pipeline.cli.apply_cmd:plan",
                "Show what applying the edited file would change in the store; sends no writes."),
    LazyCommand("apply", "pipeline.cli.apply_cmd:apply",
                "Apply the edited file to the store: validate, plan, confirm, back up, write, report."),
    LazyCommand("restore", "pipeline.cli.restore_cmd:restore",
                "Put every product of BACKUP back exactly as the backup shows it: undo an apply."),
    LazyCommand("migrate", "pipeline.cli.migrate_cmd:migrate",
                "Migrate modifiers from one store to another: products matched by SKU, a dry run unless --apply."),
    LazyCommand("doctor", "pipeline.cli.doctor_cmd:doctor",
                "Check the configured store, reading only: token, rate limits, modifiers, include_fields, shapes, "
                "images."),
    LazyCommand("sandbox", "pipeline.cli.sandbox_cmd:app", "The local BigCommerce-compatible sandbox store."),
    LazyCommand("demo", "pipeline.cli.main:demo",
                "Run the main job against a fresh embedded sandbox store and print what happened."),
)


class Commands(LazyGroup):
    LAZY = COMMANDS


app = typer.Typer(cls=Commands, no_args_is_help=True, add_completion=False,
                  help="Round-trip BigCommerce product modifiers through Excel and CSV.")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"bcmod {version('bcmod')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("bcmod (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Round-trip BigCommerce product modifiers through Excel and CSV."""


def demo(
    workdir: Path = typer.Option(Path("out/demo"), help="Folder for the demo's sandbox and files."),
    products: int = typer.Option(300, help="Products in the demo catalog."),
) -> None:
    """Run the main job against a fresh embedded sandbox store and print what happened."""
    from rich.console import Console

    from pipeline.cli.demo import run_demo

    raise typer.Exit(run_demo(Console(), workdir, products))


def main() -> None:
    """The `bcmod` script.

    Two things only a whole process can do, both for start-up and shut-down time:
    - `h2` is kept out. httpcore imports it whenever it is installed (Prefect's extra installs it)
      although bcmod's client speaks HTTP/1.1 only; that import costs ~60 ms of every command.
    - `gc.freeze()` on the way out. Interpreter shut-down runs a full collection over every object
      the imports made (pandas alone is most of 100k); frozen, they are skipped: ~0.15 s of a
      small export. Nothing is left unflushed: the commands close their files, and logging and
      the standard streams are flushed at exit as always.
    """
    sys.modules.setdefault("h2", None)  # type: ignore[arg-type]  # None: `import h2` raises ImportError
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
