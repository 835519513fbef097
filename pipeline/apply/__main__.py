"""`python -m pipeline.apply PLAN.json [--api-url URL]`: apply a saved plan (no CLI dependency).

The token comes from `BIGCOMMERCE_ACCESS_TOKEN` (never from the command line, where `ps` would
show it); the store from `--api-url`, else `BIGCOMMERCE_API_URL` / `BIGCOMMERCE_STORE_HASH`. The
journal lives beside the plan's workbook (beside the plan file when the workbook is not there), so
running the same command again after an interruption resumes. Exit code 0 when every operation
succeeded, 1 when some failed, 2 when nothing could be applied, 5 when another run holds the
journal's lock (`pipeline.apply.lock`; nothing was sent), 130 when Ctrl-C (or SIGTERM) stopped it
after the writes in flight (run the same command to resume; a second Ctrl-C stops at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.console import Console

from pipeline.apply.backup import BackupError
from pipeline.apply.executor import ApplyResult, apply_plan
from pipeline.apply.interrupt import StopRequest, stop_on_signals
from pipeline.apply.journal import Journal
from pipeline.apply.lock import LockHeld, journal_lock
from pipeline.apply.results import render_summary, write_results
from pipeline.client import BigCommerceClient, BigCommerceError
from pipeline.exit_codes import ExitCode
from pipeline.plan.operations import Plan
from pipeline.settings import Settings, TokenRefused


EXIT_LOCKED = int(ExitCode.LOCKED)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.apply", description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path, help="a plan saved as JSON")
    parser.add_argument("--api-url", help="the store's V3 API URL (default: from the environment)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--journal", type=Path, help="journal file (default: beside the workbook)")
    parser.add_argument("--no-backup", action="store_true", help="skip the backup export")
    parser.add_argument("--results", action="store_true", help="write the results copy of the workbook")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _folder(plan: Plan, plan_file: Path) -> tuple[Path, Path | None]:
    """The workbook's folder (for images and backups) and the workbook, when it is where the plan says."""
    workbook = Path(plan.workbook) if plan.workbook else None
    if workbook is not None and workbook.parent.is_dir():
        return workbook.parent, workbook if workbook.exists() else None
    return plan_file.resolve().parent, None


def _journal_file(args: argparse.Namespace, plan: Plan, workbook: Path | None) -> Path:
    return args.journal or (Journal.for_workbook(workbook).path if workbook else
                            args.plan.with_name(args.plan.name + ".journal.jsonl"))


async def _run(args: argparse.Namespace, plan: Plan, journal_file: Path) -> ApplyResult:
    settings = Settings(api_url=args.api_url) if args.api_url else Settings()
    folder, _ = _folder(plan, args.plan)
    with stop_on_signals(StopRequest()) as stop:
        async with BigCommerceClient(settings) as client:
            return await apply_plan(plan, client, workbook_dir=folder, journal=Journal(journal_file),
                                    concurrency=args.concurrency, backup=not args.no_backup, stop=stop)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=args.json)
    try:
        plan = Plan.load(args.plan)
    except (ValueError, OSError, KeyError, TypeError) as exc:
        console.print(f"[red]apply failed:[/red] cannot read the plan {args.plan}: {exc}", highlight=False)
        return 2
    workbook = _folder(plan, args.plan)[1]
    journal_file = _journal_file(args, plan, workbook)
    # one writer per journal: taken before anything is sent, held until the results are written
    try:
        lock = journal_lock(journal_file, "python -m pipeline.apply").acquire()
    except LockHeld as exc:
        console.print(f"[red]not applied:[/red] {exc}", highlight=False)
        return EXIT_LOCKED
    try:
        try:
            result = asyncio.run(_run(args, plan, journal_file))
        except (BackupError, BigCommerceError, TokenRefused, ValueError, OSError) as exc:
            console.print(f"[red]apply failed:[/red] {exc}", highlight=False)
            return 2
        except KeyboardInterrupt:
            console.print("stopped at once; run the same command to resume", highlight=False)
            return int(ExitCode.INTERRUPTED)
        if args.results and workbook is not None:
            console.print(f"results: {write_results(result, workbook)}")
    finally:
        lock.release()
    if args.json:
        print(json.dumps(result.as_dict(), default=str))
    else:
        render_summary(result, console)
    return int(ExitCode.INTERRUPTED) if result.interrupted else result.exit_code


if __name__ == "__main__":
    sys.exit(main())
