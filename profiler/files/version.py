"""finwatt's own version, read from its installed package metadata."""

from __future__ import annotations


def finwatt_version() -> str:
    """Return the installed finwatt version (`0+unknown` when not installed)."""
    # Imported here: importlib.metadata costs milliseconds that most commands never need.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finwatt")
    except PackageNotFoundError:
        return "0+unknown"
