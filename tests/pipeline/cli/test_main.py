"""The command table: every command listed by `bcmod --help` loads, runs its own `--help`, and
says of itself what the list says (the list is written out so `--help` need not import it)."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import COMMANDS, app

NAMES = [command.name for command in COMMANDS]


def first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")
              and len(line.split()) > 1 and line.split()[1] in NAMES]
    assert listed == NAMES


@pytest.mark.parametrize("lazy", COMMANDS, ids=NAMES)
def test_the_listed_line_is_the_commands_own(lazy) -> None:
    command = lazy.load()
    assert command.name == lazy.name
    assert first_paragraph(command.help or "") == first_paragraph(lazy.help)


@pytest.mark.parametrize("name", NAMES)
def test_each_command_shows_its_own_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert re.search(rf"Usage: \S+ {name} \[OPTIONS\]", result.output), result.output


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"bcmod {version('bcmod')}"


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["exprot"])
    assert result.exit_code == 2
