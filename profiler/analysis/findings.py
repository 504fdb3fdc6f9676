"""Which findings stand and in what order: precedence and ranking of `model.findings.Finding`.

Precedence (docs/methodology.md#rules): `UNDER_PROVISIONED_*` suppresses
`OVER_PROVISIONED_*` for that host; `IDLE_*` supersedes `UNDERUSED_*` and
`OVER_PROVISIONED_*` for that device. finwatt also lets `IDLE_*` supersede
`MIG_OR_SHARE_CANDIDATE`: an idle GPU is to be released, not shared, and lets
`PEAK_SIZED_HOST` and `OFF_HOURS_IDLE` supersede `IDLE_HOST` on that host: a job that
recurs in its windows is work to schedule around, not a host to shut down (docs/analyzer.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from profiler.model.findings import Finding

SCHEDULE_RULES = frozenset({"PEAK_SIZED_HOST", "OFF_HOURS_IDLE"})
"""A host's recurring busy windows: they supersede IDLE_HOST on it (docs/analyzer.md)."""


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
        if f.rule == "IDLE_HOST":
            return bool(rules & SCHEDULE_RULES)
        return False

    return [f for f in findings if not superseded(f)]


def ranked(findings: Sequence[Finding]) -> list[Finding]:
    """Return findings by facility kWh saved (largest first), then severity, rule, device."""
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (-f.saving_kwh, order[f.severity], f.rule, f.device))
