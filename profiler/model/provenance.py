"""Where a power or energy figure came from: `measured:<source>` or `estimated:<model>`.

docs/design.md#sensors-and-provenance. A `Provenance` is a `str` (so it stores, prints and
serialises as the provenance string it is) that knows whether it names a sensor or a
model; `is_estimate` is the one test of that for a plain string, used from the sensor to
the report.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["measured", "estimated"]


class Provenance(str):
    """A provenance string, checked on construction: `measured:<source>` or `estimated:<model>`.

    Raises:
        ValueError: the string is neither form (the message shows both).

    """

    __slots__ = ()

    def __new__(cls, text: str) -> Provenance:  # noqa: D102
        kind, sep, source = text.partition(":")
        if not sep or kind not in ("measured", "estimated") or not source:
            raise ValueError(
                f"{text!r} is not a provenance: use measured:<source> or estimated:<model>"
            )
        return super().__new__(cls, text)

    @property
    def kind(self) -> Kind:
        """Either "measured" or "estimated"."""
        return "estimated" if self.startswith("estimated:") else "measured"

    @property
    def source(self) -> str:
        """The sensor or model name after the colon (`rapl`, `linear-tdp`)."""
        return self.partition(":")[2]

    @property
    def is_estimate(self) -> bool:
        """True when the figure comes from a power model, not a sensor."""
        return self.kind == "estimated"


MEASURED_RAPL = Provenance("measured:rapl")
MEASURED_NVML_ENERGY = Provenance("measured:nvml-energy")
MEASURED_NVML_POWER = Provenance("measured:nvml-power")
ESTIMATED_LINEAR_TDP = Provenance("estimated:linear-tdp")
ESTIMATED_VCPU_AVERAGE = Provenance("estimated:vcpu-average")


def _parts(provenance: str | None) -> list[str]:
    return [part.strip() for part in (provenance or "").split(",") if part.strip()]


def _source_of(part: str) -> str:
    """Return the source inside `attributed:<method>(<source>)` (docs/attribution.md), else part."""
    if part.startswith("attributed:") and part.endswith(")") and "(" in part:
        return part[part.index("(") + 1 : -1]
    return part


def is_estimate(provenance: str | None) -> bool:
    """Return True when a provenance names a model rather than a sensor.

    A phase charged to several devices carries their provenances joined by commas
    (`measured:rapl,estimated:linear-tdp`); it is an estimate when any part is one.
    """
    return any(_source_of(part).startswith("estimated:") for part in _parts(provenance))


def is_measured(provenance: str | None) -> bool:
    """Return True when every part of a provenance names a sensor (None: False)."""
    parts = _parts(provenance)
    return bool(parts) and all(part.startswith("measured:") for part in parts)
