r"""Text from outside (labels, host names, device models, messages) made safe for a terminal.

A run's label, a host or instance name from Prometheus, a device model read from the
hardware and an error message quoting any of them can hold control characters. Printed
raw, ESC starts an escape sequence (`ESC ] 0 ; title BEL` retitles the window,
`ESC [ 2 J` clears the screen), so a hostile string could rewrite what the user sees.
`printable` shows every such character as a visible escape (`\x1b`) instead: C0
(U+0000-U+001F), DEL (U+007F), C1 (U+0080-U+009F, 8-bit CSI among them) and the
Unicode bidirectional overrides that reorder text on screen (U+202A-U+202E,
U+2066-U+2069, U+200E, U+200F, U+061C); so does a lone surrogate (a byte of a non-UTF-8
argument), which could not be written at all. A newline is kept only where the caller
says it is layout.

Pure: the standard library only, so every layer (the live view included) may use it.
"""

from __future__ import annotations

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_SURROGATES = range(0xD800, 0xE000)
"""Lone surrogates: bytes of a non-UTF-8 argument or file name (`surrogateescape`), which
no terminal encoding can write."""

_TABLE: dict[int, str] = {
    code: _escape(code) for code in (*range(0x20), *range(0x7F, 0xA0), *_BIDI, *_SURROGATES)
}
_TABLE_KEEP_NEWLINES = {code: text for code, text in _TABLE.items() if code != 0x0A}


def printable(text: str, *, keep_newlines: bool = False) -> str:
    r"""Return `text` with every control character shown as a visible escape.

    Args:
        text: text that may come from outside (a label, a host name, a message).
        keep_newlines: keep `\n` as a line break (it is layout, e.g. a table cell of
            several lines); otherwise it shows as `\x0a` too.

    Returns:
        `text` unchanged when it holds no control character, else with each one (C0,
        DEL, C1, bidirectional overrides) written as `\xNN` or `\uNNNN`.

    """
    if text.isprintable():  # the usual case: nothing to escape (fast path)
        return text
    return text.translate(_TABLE_KEEP_NEWLINES if keep_newlines else _TABLE)


def has_control(text: str) -> bool:
    """Return True when `text` holds a character `printable` would escape."""
    return printable(text) != text
