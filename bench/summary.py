"""The one results table `make bench` ends with (and the README shows).

Each bench module's `main() -> int` keeps its contract (0 when its targets are met) and also calls
`record(...)` once per figure worth a row; `python -m bench` prints every recorded row at the end
as a Markdown table: what was measured, the figure, the target, and PASS / MISS (blank for rows
that are for information only).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    bench: str
    what: str
    figure: str
    target: str = ""
    ok: bool | None = None  # None: information only, no target

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


ROWS: list[Row] = []


def record(bench: str, what: str, figure: str, target: str = "", ok: bool | None = None) -> Row:
    row = Row(bench, what, figure, target, ok)
    ROWS.append(row)
    return row


def table(rows: list[Row]) -> str:
    """A Markdown table of `rows`, ready to paste into the README."""
    lines = ["| bench | what | measured | target | |", "|---|---|---|---|---|"]
    lines += [f"| {r.bench} | {r.what} | {r.figure} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


# -- memory -------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set so far (`ru_maxrss` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_status_mib(field: str, pid: int | str = "self") -> float | None:
    """A `VmRSS` / `VmHWM` line of /proc/<pid>/status in MiB, or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine() -> str:
    """Cores, memory and Python version, for the header of the results."""
    import platform

    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    memory = pages * os.sysconf("SC_PAGE_SIZE") / 2**30 if pages else 0
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
