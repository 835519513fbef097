"""import_ahead: modules load in a thread, a bad name is left to the caller, and the collector is
paused then frozen only when something was actually imported. Each case runs in a fresh
interpreter, so the modules are not loaded already and the test's own process is never frozen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_modules_load_in_the_thread_and_a_bad_name_does_not_stop_the_others() -> None:
    found = run_python("""
import gc, json, sys, threading
from pipeline.import_ahead import import_ahead
assert "pipeline.workbook.layout" not in sys.modules
frozen = gc.get_freeze_count()
seen = []
thread = import_ahead(["pipeline.no_such_module", "pipeline.workbook.layout"])
seen.append(thread.name != threading.current_thread().name and thread.daemon)
thread.join(60)
import pipeline.workbook.layout  # already there: the thread's import is the one the caller gets
try:
    import pipeline.no_such_module
except ModuleNotFoundError as exc:
    error = str(exc)
print(json.dumps({"loaded": "pipeline.workbook.layout" in sys.modules, "other_thread": seen[0],
                  "alive": thread.is_alive(), "error": error, "collecting": gc.isenabled(),
                  "froze": gc.get_freeze_count() > frozen}))
""")
    assert found == {"loaded": True, "other_thread": True, "alive": False,
                     "error": "No module named 'pipeline.no_such_module'", "collecting": True, "froze": True}


def test_nothing_to_import_touches_neither_the_collector_nor_the_frozen_set() -> None:
    found = run_python("""
import gc, json
import pipeline.workbook.layout
from pipeline.import_ahead import import_ahead
frozen = gc.get_freeze_count()
import_ahead(["pipeline.workbook.layout"]).join(60)
unchanged = gc.get_freeze_count() == frozen and gc.isenabled()
gc.disable()  # a caller that paused the collector keeps it paused
import_ahead(["pipeline.workbook.widths"]).join(60)
print(json.dumps({"unchanged": unchanged, "kept_paused": not gc.isenabled()}))
""")
    assert found == {"unchanged": True, "kept_paused": True}
