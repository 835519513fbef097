"""Prefect is an extra (`.[flows]`, part of `.[dev]`): the library and the CLI never need it.

`make demo` installs bcmod without extras, so a library or CLI module that imported `prefect` or
`flows` would break the demo on a fresh machine while every test here (which has Prefect) passed.
The round trip is therefore run once in an interpreter that refuses to import Prefect.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NO_PREFECT = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("prefect", "flows"):
            raise ModuleNotFoundError(f"No module named {name!r} (refused: bcmod installed without extras)")
        return None

sys.meta_path.insert(0, Refuse())
from pipeline.cli.main import main
sys.argv = ["bcmod", *sys.argv[1:]]
sys.exit(main())
"""


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every import in `path`, the ones inside functions (lazy imports) included."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_library_module_imports_prefect_or_the_flows():
    offenders = {str(path.relative_to(REPO)): sorted(found) for path in (REPO / "pipeline").rglob("*.py")
                 if (found := imported_roots(path) & {"prefect", "flows"})}
    assert offenders == {}


def test_prefect_is_the_flows_extra_and_part_of_dev():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("prefect")]
    extras = project["optional-dependencies"]
    assert [d for d in extras["flows"] if d.startswith("prefect")] and "bcmod[flows]" in extras["dev"]


def test_the_demo_round_trip_runs_without_prefect(tmp_path):
    done = subprocess.run([sys.executable, "-c", NO_PREFECT, "demo", "--workdir", str(tmp_path / "demo"),
                           "--products", "12"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "demo passed" in done.stdout and "bcmod installed without extras" not in done.stdout + done.stderr


def test_the_flows_without_prefect_say_which_extra_to_install(tmp_path):
    refuse = NO_PREFECT.split("from pipeline.cli.main")[0].replace('("prefect", "flows")', '("prefect",)')
    done = subprocess.run([sys.executable, "-c", refuse + "import flows.export_flow"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode != 0 and "install bcmod[flows] (pip install -e '.[flows]')" in done.stderr
