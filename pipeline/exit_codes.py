"""The exit codes bcmod's commands share, so a script can tell a clean run from one that left rows behind.

| code | meaning                                                                                   |
|------|-------------------------------------------------------------------------------------------|
| 0    | every edited row is in the store (`plan`: every edit would be applied)                    |
| 1    | problems in the file, a store that cannot be reached, or rows whose requests failed       |
| 2    | bad usage (unknown option, missing store or token)                                        |
| 3    | the run finished but rows were not applied: conflicts with the store's changes, refusals |
|      | (`plan`: the plan has such rows; it is still printed and saved)                          |
| 4    | cancelled at the confirmation prompt; nothing was sent                                    |
| 5    | another run holds the lock (the same workbook's apply or restore, or the embedded         |
|      | sandbox store): nothing was planned or sent; run it again when that one is done           |
| 130  | interrupted (Ctrl-C) after the writes in flight; the results so far are written, and the  |
|      | same command resumes the run from its journal (128 + SIGINT, as shells report Ctrl-C)     |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1
    USAGE = 2
    NOT_APPLIED = 3
    CANCELLED = 4
    LOCKED = 5
    INTERRUPTED = 130
