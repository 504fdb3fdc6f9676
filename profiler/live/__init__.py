"""Terminal live view (`finwatt live`, `finwatt run --live`): every device's power now.

Data flows one way: a `TickSource` hands each sampler tick to `LiveState.consume`,
`render` turns the state into one frame of a given size, and `run_live` (or
`live_display`, `show_once`) shows it. The view reads no sensors and stores nothing:
it imports only `profiler.model`, `profiler.analysis`, rich and the standard library;
the CLI resolves the site into `Rates` and wires the sampler, recording and profile
watcher in through the protocols of `live.sources`.

Modules: `state` (LiveState, DeviceView, Rates), `format` (figures as text), `lines`,
`device_rows`, `panels`, `profile_panel` and `layout` (the frame, pure), `sources`
(protocols for what feeds the view) and `terminal` (keys, signals, refresh thread).

The names below are imported from their modules on first use (PEP 562), so importing
one module of the package (`profiler.live.escaped`, `profiler.live.sources`) does not
load the whole view (rich's `Live`, the layout and its numpy).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from profiler.live.format import (
        fmt_duration,
        fmt_energy,
        fmt_idle,
        fmt_power,
        sparkline,
    )
    from profiler.live.layout import render
    from profiler.live.panels import live_notes
    from profiler.live.sources import ProfileSource, TickSource, UnrecordedSource
    from profiler.live.state import (
        HISTORY_S,
        IDLE_NOTE_AFTER_S,
        IDLE_UTIL,
        DeviceView,
        LiveState,
        Rates,
    )
    from profiler.live.terminal import (
        EXIT_INTERRUPTED,
        EXIT_OK,
        IDLE_REDRAW_S,
        MAX_REFRESH_HZ,
        live_display,
        run_live,
        show_once,
    )

_HOMES = {
    "DeviceView": "profiler.live.state",
    "EXIT_INTERRUPTED": "profiler.live.terminal",
    "EXIT_OK": "profiler.live.terminal",
    "HISTORY_S": "profiler.live.state",
    "IDLE_NOTE_AFTER_S": "profiler.live.state",
    "IDLE_REDRAW_S": "profiler.live.terminal",
    "IDLE_UTIL": "profiler.live.state",
    "LiveState": "profiler.live.state",
    "MAX_REFRESH_HZ": "profiler.live.terminal",
    "ProfileSource": "profiler.live.sources",
    "Rates": "profiler.live.state",
    "TickSource": "profiler.live.sources",
    "UnrecordedSource": "profiler.live.sources",
    "fmt_duration": "profiler.live.format",
    "fmt_energy": "profiler.live.format",
    "fmt_idle": "profiler.live.format",
    "fmt_power": "profiler.live.format",
    "live_display": "profiler.live.terminal",
    "live_notes": "profiler.live.panels",
    "render": "profiler.live.layout",
    "run_live": "profiler.live.terminal",
    "show_once": "profiler.live.terminal",
    "sparkline": "profiler.live.format",
}
"""Where each public name lives."""


def __getattr__(name: str) -> _Any:
    if name in _HOMES:
        return getattr(_importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'profiler.live' has no attribute {name!r}")


__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "HISTORY_S",
    "IDLE_NOTE_AFTER_S",
    "IDLE_REDRAW_S",
    "IDLE_UTIL",
    "MAX_REFRESH_HZ",
    "DeviceView",
    "LiveState",
    "ProfileSource",
    "Rates",
    "TickSource",
    "UnrecordedSource",
    "fmt_duration",
    "fmt_energy",
    "fmt_idle",
    "fmt_power",
    "live_display",
    "live_notes",
    "render",
    "run_live",
    "show_once",
    "sparkline",
]
