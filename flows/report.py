"""What an export run tells its operator: which file, on which host, for which window, at what cost.

The file's absolute path and the worker's host name go in the log and in two artifacts: a table
(`bcmod-export-<store>`, which `flows.agency` also reads back) and a link to the file. The link is
`file://<host>/<path>` unless BCMOD_EXPORT_URL_MAP maps a folder to a URL where the file is served
(`/mnt/exports=https://files.example/exports`; several pairs separated by `;`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flows.store import slug

SUMMARY_ARTIFACT_PREFIX = "bcmod-export-"
LINK_ARTIFACT_PREFIX = "bcmod-export-file-"
URL_MAP_ENV = "BCMOD_EXPORT_URL_MAP"


def host() -> str:
    return socket.gethostname()


def artifact_key(prefix: str, key: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return prefix + slug(key).replace("_", "-")


def file_link(path: Path, hostname: str | None = None) -> str:
    """Where the file can be opened: a mapped URL, else a file URL naming the worker's host."""
    absolute = path.resolve()
    for pair in filter(None, (os.environ.get(URL_MAP_ENV) or "").split(";")):
        folder, _, url = pair.partition("=")
        folder_path = Path(folder.strip()).expanduser().resolve()
        if url and absolute.is_relative_to(folder_path):
            return url.strip().rstrip("/") + "/" + quote(absolute.relative_to(folder_path).as_posix())
    return f"file://{hostname or host()}{quote(absolute.as_posix())}"


async def publish_export(summary: dict[str, Any], key: str) -> None:
    """The summary row as a table artifact and the file as a link artifact, both keyed by store."""
    from prefect.artifacts import acreate_link_artifact, acreate_table_artifact

    row = {k: v for k, v in summary.items() if k != "counts_by_type"}
    await acreate_table_artifact([row], key=artifact_key(SUMMARY_ARTIFACT_PREFIX, key),
                                 description="bcmod export: counts, window, file and host")
    path = Path(str(summary["path"]))
    await acreate_link_artifact(file_link(path, summary.get("host")), link_text=f"{path.name} on {summary.get('host')}",
                                key=artifact_key(LINK_ARTIFACT_PREFIX, key),
                                description=f"bcmod export of {key}: {summary.get('window')}")
