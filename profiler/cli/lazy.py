"""The root command group that imports a command's module only when it is looked up.

Typer builds its click group from the commands registered so far. `LazyGroup` keeps
those in a `LazyCommands` mapping whose keys are every name of `COMMANDS`: looking one
up that is not built yet imports its module (which registers it on the app) and builds
it. So `finwatt runs` imports `profiler.cli.core` and nothing of `analyze`, `exec` or
`live`; `-h` formats the list from the table's summaries without importing any.
Anything that walks the whole mapping (shell completion, the tests' command walk) gets
every command, as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, ClassVar

import typer
import typer.core
import typer.main

from profiler.cli.commands import COMMANDS


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands: the built ones, plus every table name, built on first use.

    Args:
        built: the commands typer built from what was registered (name -> click command).
        build: returns the click command for a name once its module is imported.
    """

    def __init__(self, built: MutableMapping[str, Any], build: Callable[[str], Any]) -> None:
        self.built = built
        self._build = build

    def __getitem__(self, name: str) -> Any:
        """Return the command `name`, importing its module first if need be."""
        if name not in self.built:
            if name not in COMMANDS:
                raise KeyError(name)
            self.built[name] = self._build(name)
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        """Add a command (click's `add_command`)."""
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        """Remove a built command."""
        del self.built[name]

    def __iter__(self) -> Iterator[str]:
        """Every name: the table's, in its order, then any registered outside it."""
        yield from COMMANDS
        yield from (name for name in self.built if name not in COMMANDS)

    def __len__(self) -> int:
        """How many names `__iter__` gives."""
        return len(COMMANDS) + sum(1 for name in self.built if name not in COMMANDS)

    def __contains__(self, name: object) -> bool:
        """Whether `name` is a command, without importing anything."""
        return name in COMMANDS or name in self.built


def build_command(app: typer.Typer, name: str) -> Any:
    """Import the module that registers `name` on `app` and return its click command."""
    importlib.import_module(COMMANDS[name].module)
    group = typer.main.get_group(app)
    commands = group.commands
    built = commands.built if isinstance(commands, LazyCommands) else commands
    if name not in built:
        raise RuntimeError(f"{COMMANDS[name].module} does not register the command {name!r}")
    return built[name]


class LazyGroup(typer.core.TyperGroup):
    """The `finwatt` group: commands from `COMMANDS`, their modules imported on demand."""

    typer_app: ClassVar[typer.Typer | None] = None
    """The app the command modules register on (`profiler.cli.common` sets it)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands, self._build)

    def _build(self, name: str) -> Any:
        if self.typer_app is None:
            raise RuntimeError("LazyGroup.typer_app is not set")
        return build_command(self.typer_app, name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Write the command list from the table's summaries, importing no command."""
        built = self.commands.built if isinstance(self.commands, LazyCommands) else {}
        names = [n for n in COMMANDS if not (n in built and built[n].hidden)]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (n, typer.core.TyperCommand(name=n, help=COMMANDS[n].summary).get_short_help_str(limit))
            for n in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load_all() -> None:
    """Import every command module, so the app has every command registered."""
    for module in dict.fromkeys(c.module for c in COMMANDS.values()):
        importlib.import_module(module)
