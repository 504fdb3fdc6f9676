"""What the CLI prints through rich shows outside text inertly (issue 14, item 4).

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
The live view's frames are escaped by `profiler.live.terminal` (rich's `Live` adds its
frame after the hooks).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.segment import Segment

from profiler.model.text import printable


class Escaped:
    """A renderable that shows the control characters of another as visible escapes."""

    def __init__(self, renderable: ConsoleRenderable) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Render the wrapped renderable; escape the text of each (non-control) segment."""
        for segment in console.render(self.renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(printable(segment.text, keep_newlines=True), segment.style)


class EscapingHook(RenderHook):
    """Wraps everything a console prints in `Escaped`."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        """Return the renderables, each wrapped in `Escaped`."""
        return [Escaped(r) for r in renderables]


def safe_console(**options: Any) -> Console:
    """Return a rich Console that shows outside text inertly (see the module docstring).

    Args:
        **options: rich `Console` arguments (e.g. `stderr=True`, `file=`).

    """
    console = Console(markup=False, emoji=False, **options)
    console.push_render_hook(EscapingHook())
    return console
