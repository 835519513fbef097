"""The deployments' pull step: where a flow run works on the worker that picked it up.

A process worker starts every run in a fresh temporary directory, deleted when the run ends, so a
relative `out` would vanish with it and `.env` would not be found. The step changes into bcmod's
home on that machine: `directory` when the deployment pins one, else $BCMOD_HOME, else the
checkout the running `flows` package was installed from (`pip install -e .`), so a worker started
as the README says needs no variable. The flows themselves are imported by module path
(`flows.export_flow.export_modifiers`), which works from any directory.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "BCMOD_HOME"


def checkout() -> Path | None:
    """The repository this package runs from, when it is an editable install (has pyproject.toml)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "flows").is_dir() else None


def bcmod_home(directory: str | None = None) -> Path:
    """`directory`, else $BCMOD_HOME, else the checkout; refuses a path that is not a directory."""
    chosen = directory or os.environ.get(HOME_ENV) or checkout()
    if not chosen:
        raise RuntimeError(f"bcmod is not installed from a checkout: set {HOME_ENV} on this worker to the "
                           "directory relative export paths and .env are read from")
    home = Path(chosen).expanduser().resolve()
    if not home.is_dir():
        source = "the deployment" if directory else HOME_ENV if os.environ.get(HOME_ENV) else "the checkout"
        raise FileNotFoundError(f"bcmod's home {home} (from {source}) is not a directory on this worker")
    return home


def enter_home(directory: str | None = None) -> dict[str, str]:
    """Pull step (`flows.home.enter_home` in prefect.yaml): change into bcmod's home; returns
    `{"directory": ...}` as Prefect's own `set_working_directory` does."""
    home = bcmod_home(directory)
    os.chdir(home)
    return {"directory": str(home)}
