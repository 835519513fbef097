"""The package's layout holds: the data path never reaches the sandbox, and start-up stays light.

The sandbox (`pipeline.sandbox`) is the test double of a store: only the embedded-store connection
(`pipeline.connection`) and the CLI's `sandbox` command start it. A library module that imported it
would drag Starlette, SQLite and the OpenAPI checker into every export and every notebook. Each
check runs in a fresh interpreter, so modules other tests imported do not hide an import.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline

ROOT = Path(pipeline.__file__).resolve().parent
# the data path: every stage from the client to the results, and the helpers they share
DATA_PATH = ("client", "extract", "extract_frames", "payload_rows", "frames_builder", "normalise", "workbook",
             "validate", "plan", "apply", "migrate", "export", "import_ahead", "dates", "extras", "image_kinds",
             "image_fetch", "restore", "modifier_types", "settings", "catalog_state", "gc_pause", "exit_codes", "api")
SANDBOX = "pipeline.sandbox"
# what `bcmod --help` and `import pipeline` must not load: each costs tenths of a second
HEAVY = ("pandas", "pandera", "openpyxl", "numpy", "python_calamine", "pipeline.sandbox", "starlette", "uvicorn",
         "httpx", "pydantic", "pipeline.workbook", "pipeline.validate", "pipeline.apply")
# what an export needs before its first request; the rest (`pipeline.export.WRITER_MODULES`) loads in a
# thread while the requests are in flight, so none of these may be imported by the modules that send them
BEFORE_THE_READS = ("pipeline.cli.export_cmd", "pipeline.cli.render", "pipeline.connection", "pipeline.export",
                    "pipeline.extract_frames", "pipeline.settings", "pipeline.client")
NOT_BEFORE_THE_READS = ("pandas", "numpy", "pyarrow", "pydantic", "lxml", "openpyxl", "pandera", "pipeline.normalise",
                        "pipeline.workbook", "pipeline.sandbox")


def data_path_modules() -> list[str]:
    """Every module of the data path that exists in this checkout, packages walked."""
    names = []
    for info in pkgutil.iter_modules([str(ROOT)]):
        if info.name not in DATA_PATH:
            continue
        name = f"pipeline.{info.name}"
        names.append(name)
        if info.ispkg:
            names += [m.name for m in pkgutil.walk_packages([str(ROOT / info.name)], prefix=f"{name}.")]
    return sorted(names)


def run_python(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_data_path_is_walked() -> None:
    modules = data_path_modules()
    for expected in ("pipeline.client.http", "pipeline.plan.diff", "pipeline.migrate.translate",
                     "pipeline.apply.executor", "pipeline.validate.reading", "pipeline.workbook.writer"):
        assert expected in modules


def test_no_data_path_module_imports_the_sandbox_when_imported() -> None:
    """Import every data-path module in a fresh interpreter; a finder names the module that pulled
    the sandbox in, with the import chain that led there."""
    code = f"""
import importlib, json, sys, traceback

class Spy:
    def __init__(self):
        self.seen = {{}}
    def find_spec(self, name, path=None, target=None):
        if (name == {SANDBOX!r} or name.startswith({SANDBOX!r} + ".")) and name not in self.seen:
            self.seen[name] = [f"{{f.filename}}:{{f.lineno}}" for f in traceback.extract_stack()
                               if "/pipeline/" in f.filename and "/pipeline/sandbox/" not in f.filename]
        return None

spy = Spy()
sys.meta_path.insert(0, spy)
culprits = {{}}
for name in {data_path_modules()!r}:
    before = set(spy.seen)
    importlib.import_module(name)
    if set(spy.seen) - before:
        culprits[name] = spy.seen[sorted(set(spy.seen) - before)[0]]
print(json.dumps({{"culprits": culprits, "loaded": sorted(m for m in sys.modules if m.startswith({SANDBOX!r}))}}))
"""
    found = run_python(code)
    assert found["culprits"] == {}, json.dumps(found["culprits"], indent=2)
    assert found["loaded"] == []


def _sandbox_imports(path: Path) -> list[str]:
    """Lines of `path` that import the sandbox, at module level or inside a function."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(n == SANDBOX or n.startswith(SANDBOX + ".") for n in names):
            lines.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    return lines


def test_no_data_path_module_imports_the_sandbox_even_lazily() -> None:
    """An import inside a function escapes the import-time check but still runs on the data path."""
    offending = []
    for name in data_path_modules():
        spec_path = ROOT.parent / Path(*name.split("."))
        path = spec_path / "__init__.py" if spec_path.is_dir() else spec_path.with_suffix(".py")
        offending += _sandbox_imports(path)
    assert offending == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_load_no_heavy_stack(argv: list[str]) -> None:
    """`bcmod --help` and `bcmod --version` answer without pandas, the sandbox or the apply stack."""
    code = f"""
import json, sys
sys.argv = ["bcmod", *{argv!r}]
from pipeline.cli.main import main
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = sorted({{h for h in {HEAVY!r} for m in list(sys.modules) if m == h or m.startswith(h + ".")}})
print(json.dumps({{"code": code, "heavy": heavy}}))
"""
    found = run_python(code)
    assert found["code"] in (0, None)
    assert found["heavy"] == []


def test_import_pipeline_is_cheap_and_the_api_is_lazy() -> None:
    """`import pipeline` loads none of the stack; naming an API function loads only what it needs."""
    code = f"""
import json, sys
import pipeline
cheap = sorted({{h for h in {HEAVY!r} for m in list(sys.modules) if m == h or m.startswith(h + ".")}})
assert callable(pipeline.export_frames)
after = sorted(m for m in sys.modules if m == {SANDBOX!r} or m.startswith({SANDBOX!r} + "."))
print(json.dumps({{"cheap": cheap, "sandbox_after_api": after}}))
"""
    found = run_python(code)
    assert found["cheap"] == []
    assert found["sandbox_after_api"] == []


def test_an_export_reaches_its_first_request_without_pandas_pydantic_or_lxml() -> None:
    """A small export's start-up is most of its time: what it imports before the first request runs
    alone, what it imports after runs beside the requests (`pipeline.import_ahead`)."""
    code = f"""
import importlib, json, sys
for name in {BEFORE_THE_READS!r}:
    importlib.import_module(name)
print(json.dumps(sorted({{h for h in {NOT_BEFORE_THE_READS!r} for m in list(sys.modules)
                          if m == h or m.startswith(h + ".")}})))
"""
    assert run_python(code) == []


def test_what_the_export_imports_ahead_is_what_it_writes_with() -> None:
    """`WRITER_MODULES` stays in step with the writer: after importing them, writing a workbook and
    building frames import nothing more of bcmod, pandas or numpy."""
    code = """
import asyncio, importlib, json, sys, tempfile
from pathlib import Path
from pipeline.export import WRITER_MODULES, export_meta
from pipeline.extract import ExtractFilters
from pipeline.frames_builder import FramesBuilder
from pipeline.settings import Settings
for name in WRITER_MODULES:
    importlib.import_module(name)
before = set(sys.modules)
from datetime import datetime, timezone
builder = FramesBuilder()
builder.add([{"id": 1, "sku": "S1", "name": "One", "modifiers": [
    {"id": 5, "product_id": 1, "display_name": "Size", "type": "dropdown", "required": True, "sort_order": 0,
     "config": {}, "option_values": [{"id": 9, "option_id": 5, "label": "Small", "sort_order": 0,
                                      "is_default": False, "value_data": None, "adjusters": {}}]}]}])
frames = builder.frames()
now = datetime.now(timezone.utc)
settings = Settings.model_construct(api_url="http://127.0.0.1:9/stores/abc/v3")
from pipeline.workbook.writer import write_workbook
with tempfile.TemporaryDirectory() as tmp:
    write_workbook(frames, Path(tmp) / "x.xlsx", export_meta(settings, ExtractFilters(), now))
late = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("pipeline", "pandas", "numpy"))
print(json.dumps({"late": late, "rows": [len(frames.modifiers), len(frames.values)]}))
"""
    found = run_python(code)
    assert found["rows"] == [1, 1]
    assert found["late"] == []
