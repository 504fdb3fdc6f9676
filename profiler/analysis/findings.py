"""A finding (docs/design.md#findings), its JSON shape, precedence and ranking.

Precedence (docs/methodology.md#rules): `UNDER_PROVISIONED_*` suppresses
`OVER_PROVISIONED_*` for that host; `IDLE_*` supersedes `UNDERUSED_*` and
`OVER_PROVISIONED_*` for that device. finwatt also lets `IDLE_*` supersede
`MIG_OR_SHARE_CANDIDATE`: an idle GPU is to be released, not shared (docs/analyzer.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from profiler.analysis.confidence import Tier
from profiler.analysis.savings import Savings

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
        return {
            "rule": self.rule,
            "device": self.device,
            "severity": self.severity,
            "message": self.message,
            "evidence": self.evidence,
            "recommendation": self.recommendation,
            "savings": self.savings.as_dict() if self.savings else None,
            "confidence": self.confidence,
            "assumptions": list(self.assumptions),
        }

    @property
    def saving_kwh(self) -> float:
        """Facility kWh per year saved (point), 0 without savings: the ranking key."""
        return self.savings.facility_kwh_per_year.point if self.savings else 0.0


def apply_precedence(findings: Sequence[Finding]) -> list[Finding]:
    """Drop the findings that a stronger finding on the same device supersedes."""
    rules_by_device: dict[str, set[str]] = {}
    for f in findings:
        rules_by_device.setdefault(f.device, set()).add(f.rule)

    def superseded(f: Finding) -> bool:
        rules = rules_by_device[f.device]
        idle = any(r.startswith("IDLE_") or r == "ALLOCATED_IDLE_GPU" for r in rules)
        under = any(r.startswith("UNDER_PROVISIONED_") for r in rules)
        if f.rule.startswith("OVER_PROVISIONED_"):
            return idle or under
        if f.rule.startswith("UNDERUSED_") or f.rule == "MIG_OR_SHARE_CANDIDATE":
            return idle
        return False

    return [f for f in findings if not superseded(f)]


def ranked(findings: Sequence[Finding]) -> list[Finding]:
    """Return findings by facility kWh saved (largest first), then severity, rule, device."""
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (-f.saving_kwh, order[f.severity], f.rule, f.device))
