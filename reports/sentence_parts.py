"""What every finding sentence builder shares: reading figures from a finding, formatting them.

A builder (`Builder`) returns its message (marked for the catalogue) and the figures that
fill it; a figure the finding lacks raises `MissingFigureError`, and the report falls
back to the rule's title and action (`reports.sentences.finding_sentence`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from profiler.model.errors import FinwattInputError
from reports import numbers
from reports.i18n import Language

Fields = dict[str, str]
Builder = Callable[[Mapping[str, Any], Language], tuple[str, Fields]]

T = TypeVar("T")


class MissingFigureError(FinwattInputError):
    """A figure the sentence needs is not in the finding (caught here: the report falls back)."""


def number_of(mapping: Mapping[str, Any] | None, key: str) -> float:
    """Return the number at `key`, raising MissingFigureError when it is not a number."""
    value = (mapping or {}).get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or numbers.missing(value):
        raise MissingFigureError(key)
    return float(value)


def text_of(mapping: Mapping[str, Any] | None, key: str) -> str:
    """Return the value at `key` as text, raising MissingFigureError when it is absent."""
    value = (mapping or {}).get(key)
    if value is None or isinstance(value, dict | list):
        raise MissingFigureError(key)
    return str(value)


def typed_of(mapping: Mapping[str, Any] | None, key: str, kind: type[T]) -> T:
    """Return the value at `key` when it is a `kind`, raising MissingFigureError otherwise."""
    value = (mapping or {}).get(key)
    if not isinstance(value, kind):
        raise MissingFigureError(key)
    return value


def count(value: float) -> str:
    """Return a whole count (cores, hosts) with thousands separators: 64 -> "64"."""
    return f"{round(value):,}"


def percent_of(share: float, decimals: int = 0) -> str:
    """Return a share 0..1 as the report writes it ("65 %")."""
    return numbers.percent(share, decimals)


def it_kwh_of(f: Mapping[str, Any]) -> float | None:
    """Return the finding's IT kWh per year saved (point), None when it saves none."""
    point = ((f.get("savings") or {}).get("it_kwh_per_year") or {}).get("point")
    return float(point) if isinstance(point, int | float) else None
