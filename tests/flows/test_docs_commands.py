"""The README's "Prefect flows" section and docs/scale-out.md give only commands a test runs.

Every line of their `bash` blocks is either a command of tests/flows/operator_commands.py (which
test_operator_day.py runs against a real server) or a `make` target whose commands, as `make -n`
prints them, are such commands. No block chains commands with `&&` (a chain stops half way without
saying which half ran) or continues a line with a backslash.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.flows.operator_commands import COMMANDS

REPO = Path(__file__).resolve().parents[2]
OPERATOR_TEST = Path(__file__).with_name("test_operator_day.py")
ALLOWED = ("prefect ", "python -m flows.", "make prefect-")


def prefect_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Prefect flows")
    end = readme.index("\n## ", start)
    return readme[start:end]


def documents() -> dict[str, str]:
    return {"README.md (Prefect flows)": prefect_section(),
            "docs/scale-out.md": (REPO / "docs" / "scale-out.md").read_text(encoding="utf-8")}


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)


def command_lines(block: str) -> list[str]:
    """The block's commands without their trailing comments (two spaces, then #)."""
    lines = (re.split(r"\s{2,}#", line)[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def make_commands(line: str) -> list[str]:
    """What `make -n` would run for a documented `make` line, as documented commands: the virtualenv's
    path and PREFECT_API_URL dropped, the server's host and port as in COMMANDS."""
    printed = subprocess.run(["make", "-n", "-s", *shlex.split(line)[1:]], cwd=REPO, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    commands = []
    for recipe in printed.splitlines():
        if "/prefect " not in recipe:  # building .venv first (pip install, touch) is make's own business
            continue
        command = re.sub(r"^PREFECT_API_URL=\S+ ", "", recipe).replace(".venv/bin/prefect", "prefect")
        commands.append(re.sub(r"--host \S+ --port \S+", "--host 127.0.0.1 --port 4200", command))
    return commands


def test_the_documents_give_only_commands_the_operator_day_runs():
    if not shutil.which("make"):
        pytest.skip("make is not installed: the make targets cannot be expanded")
    documented = COMMANDS.values()
    seen = 0
    for name, text in documents().items():
        for block in bash_blocks(text):
            assert "&&" not in block and "\\\n" not in block, (name, block)
            for line in command_lines(block):
                assert line.startswith(ALLOWED), f"{name}: {line!r} is not a command a test runs"
                expanded = make_commands(line) if line.startswith("make ") else [line]
                assert expanded, f"{name}: {line!r} runs nothing"
                for command in expanded:
                    assert command in documented, f"{name}: {line!r} ({command!r}) is not in operator_commands.py"
                seen += 1
    assert seen >= 20


def test_the_operator_day_runs_every_command_of_the_table():
    source = OPERATOR_TEST.read_text(encoding="utf-8") + Path(__file__).with_name("conftest.py").read_text()
    missing = [key for key in COMMANDS if f'"{key}"' not in source]  # COMMANDS["key"], day.run("key"), names
    # the server command is started by the session fixture with the same words
    assert missing == ["server"] and "prefect server start --host 127.0.0.1 --port {port}" in source, missing
