"""A finding: one rule's verdict about one device, and its JSON shape.

The analyzer makes them, the store keeps them (the `finding` table) and reports show
them; `Tier` and `Severity` are the words they are graded in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from profiler.model.savings import Savings

Tier = Literal["high", "medium", "low"]
"""Confidence of a finding: the lowest tier of the dimensions it rests on."""

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Finding:
    """One finding about one device.

    Attributes:
        rule: rule id, e.g. "IDLE_HOST".
        device: subject device id.
        severity: "info", "warning" or "critical".
        message: one sentence a platform engineer can act on.
        evidence: the figures the rule tested, in the units their names give.
        recommendation: what to change (e.g. {"cores": 16}), None when nothing specific.
        savings: annual savings, None where the rule saves nothing by itself.
        confidence: "high", "medium" or "low" (docs/methodology.md#confidence).
        assumptions: one line per assumption behind the figures.
    """

    rule: str
    device: str
    severity: Severity
    message: str
    evidence: dict[str, Any]
    recommendation: dict[str, Any] | None = None
    savings: Savings | None = None
    confidence: Tier = "low"
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of docs/design.md#findings."""
        # every field by name, in field order; savings and assumptions as JSON shapes
        return {
            **asdict(self),
            "savings": self.savings.as_dict() if self.savings else None,
            "assumptions": list(self.assumptions),
        }

    @property
    def saving_kwh(self) -> float:
        """Facility kWh per year saved (point), 0 without savings: the ranking key."""
        return self.savings.facility_kwh_per_year.point if self.savings else 0.0
