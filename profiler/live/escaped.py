"""`EscapedFrame`: a renderable whose control characters show as escapes.

Its own module, light (rich's console and segments, `profiler.model.text`): the CLI's
consoles wrap everything they print in it (`profiler.cli.terminal_text`) without
importing the live view.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment

from profiler.model.text import printable


class EscapedFrame:
    """A renderable whose control characters show as escapes (docs/decisions.md#hostile-input).

    A device model, a host name or a profiling run's label could hold ESC; rich's `Live`
    draws its frame after the console's render hooks, so the view escapes its own
    frames. `profiler.cli.terminal_text`'s render hook wraps everything else the CLI
    prints in it too.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Render the frame; escape the text of each (non-control) segment."""
        for segment in console.render(self.renderable, options):
            if segment.control or segment.text.isprintable():
                yield segment
            else:
                yield Segment(printable(segment.text, keep_newlines=True), segment.style)
