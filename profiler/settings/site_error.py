"""`SiteError`: a site input (grid, PUE, tariff, a grid file) is unusable (exit 2)."""

from __future__ import annotations

from profiler.model.errors import FinwattInputError


class SiteError(FinwattInputError):
    """A site input is unusable; the message names it and what is allowed (exit 2)."""
