"""Commands loaded when they run, so `bcmod --help` does not import what every command needs.

A command's module imports its whole stack (pandas, pandera, the apply machinery, the sandbox);
importing them all to print the list of commands made `bcmod --help` slower than importing
pandas. `LazyGroup` lists each command by name and one-line help from a table, and imports the
module only when the command is run (or its own `--help` is asked for). A test checks that the
table's lines are the commands' own first docstring paragraphs, so the two cannot drift.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import click
import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: `module:attr`, a typer command function, a `register(app)` function,
    or a `typer.Typer` mounted as a group; and the line `bcmod --help` shows for it."""

    name: str
    target: str
    help: str

    def load(self) -> click.Command:
        module_name, attr = self.target.split(":")
        target = getattr(importlib.import_module(module_name), attr)
        holder = typer.Typer(add_completion=False)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=self.name)
        elif attr == "register":
            target(holder)
        else:
            holder.command(name=self.name)(target)
        command = typer.main.get_group(holder).commands[self.name]
        return command


class LazyGroup(TyperGroup):
    """A typer group whose commands (`LAZY`, in the order `--help` lists them) load on first use."""

    LAZY: ClassVar[tuple[LazyCommand, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resolving = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(c.name for c in self.LAZY if c.name not in self.commands)]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                             list[str]]:
        self._resolving = True  # the command is about to run (or show its own help): load it
        try:
            return super().resolve_command(ctx, args)
        finally:
            self._resolving = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        lazy = next((c for c in self.LAZY if c.name == cmd_name), None)
        if lazy is None:
            return None
        if not self._resolving:  # listed in the group's help: the name and its line are enough
            return click.Command(cmd_name, help=lazy.help)
        command = lazy.load()
        self.add_command(command, cmd_name)
        return command
