"""One screen line of the live view: styled parts cut to the terminal's width."""

from __future__ import annotations

from rich.text import Text

Part = str | tuple[str, str] | Text
"""A piece of a line: plain text, (text, rich style), or a styled `Text`."""


def line(width: int, *parts: Part) -> Text:
    """Join `parts` into one line that never wraps; cut with an ellipsis at `width`."""
    text = Text.assemble(*parts, no_wrap=True, overflow="ellipsis")
    text.truncate(width, overflow="ellipsis")
    return text


def heading(title: str, width: int) -> Text:
    """Return a section rule, "── title ─────", `width` characters wide."""
    label = f"── {title} "
    return line(width, (label + "─" * max(0, width - len(label)), "bold"))
