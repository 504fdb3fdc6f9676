"""What feeds the live view, as protocols: ticks, and the profiling run in progress.

The view declares what it needs and imports no implementation: the CLI passes a
`capture.Recording` (`--record`) or a `capture.Sampler` wrapped in `UnrecordedSource`,
and a `workflows.profile_watch.ProfileWatch`.
"""

from __future__ import annotations

from typing import Protocol

from profiler.model.profile_status import ProfileStatus
from profiler.model.run import RunStatus


class TickSource(Protocol):
    """Starts and stops the sampling that feeds `LiveState.consume`."""

    def start(self) -> object:
        """Start sampling on a background thread."""
        ...

    def stop(self, status: RunStatus) -> None:
        """Stop sampling (a final tick is taken); `status` is how the view ended.

        `status` is `RunStatus.COMPLETE` or `RunStatus.INTERRUPTED`; a recording source
        closes its run with it.
        """
        ...


class PlainSource(Protocol):
    """A source that stores nothing, so its `stop` takes no status (a `Sampler`)."""

    def start(self) -> object:
        """Start sampling on a background thread."""
        ...

    def stop(self) -> None:
        """Stop sampling (a final tick is taken)."""
        ...


class UnrecordedSource:
    """A `TickSource` over a `PlainSource`: how the view ended is not recorded anywhere.

    Args:
        source: the sampler feeding the view.

    """

    def __init__(self, source: PlainSource) -> None:
        self.source = source

    def start(self) -> object:
        """Start the wrapped source."""
        return self.source.start()

    def stop(self, status: RunStatus) -> None:
        """Stop the wrapped source; `status` has nowhere to go."""
        del status
        self.source.stop()


class ProfileSource(Protocol):
    """What the profiling-run panel polls: the profiling run in progress, if any."""

    def poll(self) -> ProfileStatus | None:
        """Return the newest profiling run in progress, or None when there is none."""
        ...
