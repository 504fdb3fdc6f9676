"""What the CLI prints through rich shows outside text inertly (docs/decisions.md#hostile-input).

Labels, host names, Prometheus instance labels, device models and messages that quote
them reach tables and lines. Two things could act on them instead of showing them:

- control characters: ESC starts a terminal escape sequence (retitle the window, clear
  the screen, move the cursor), so a stored label could repaint the screen;
- rich's markup (`[bold]`, `[/]`, `[link=...]`) and emoji codes (`:fire:`), which a
  console with markup on would interpret, or fail on (`[/x]` raises).

`safe_console` returns a rich `Console` with markup and emoji off and a render hook that
passes every printed segment through `profiler.model.text.printable` (newlines kept: they
are layout). Commands still escape the outside strings they put in tables themselves
(so the columns are measured on what is shown); the hook is the net for what they miss.
It wraps each renderable in the live view's `EscapedFrame` (`profiler.live.escaped`),
which escapes the view's own frames too (rich's `Live` adds its frame after the hooks).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleRenderable, RenderHook

from profiler.live.escaped import EscapedFrame


class EscapingHook(RenderHook):
    """Wraps everything a console prints in `EscapedFrame`."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        """Return the renderables, each wrapped in `EscapedFrame`."""
        return [EscapedFrame(r) for r in renderables]


def safe_console(**options: Any) -> Console:
    """Return a rich Console that shows outside text inertly (see the module docstring).

    Args:
        **options: rich `Console` arguments (e.g. `stderr=True`, `file=`).

    """
    console = Console(markup=False, emoji=False, **options)
    console.push_render_hook(EscapingHook())
    return console
