"""The fleet report of `finwatt analyze --prometheus`'s findings document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports import charts_summary
from reports.demand import pooled
from reports.renderers.base import Renderer, ranked, savings_point, top_actions


@dataclass(frozen=True)
class FleetReport:
    """What the fleet report shows.

    Attributes:
        source: the Prometheus the fleet was read from (its URL).
        document: the findings document of `finwatt analyze --prometheus`.
        assumptions: the assumption lines to list.
    """

    source: str
    document: dict[str, Any]
    assumptions: list[str]


@dataclass(frozen=True)
class FleetFigures:
    """How the fleet was read (`metrics.fleet` of the findings document).

    Attributes:
        hosts_read: hosts whose series were read in full, None when the document does
            not say (an older analyzer).
        hosts_screened: hosts settled by screening in PromQL, series not read.
        measured_curves: hosts with a measured power curve, None when not said.
    """

    hosts_read: int | None
    hosts_screened: int
    measured_curves: list[str] | None

    @classmethod
    def of(cls, fleet: dict[str, Any]) -> FleetFigures:
        """Return the figures of a document's `metrics.fleet` (empty when absent)."""
        read, screened = fleet.get("hosts_read"), fleet.get("hosts_screened")
        curves = fleet.get("measured_curves")
        return cls(
            read if isinstance(read, int) and isinstance(screened, int) else None,
            screened if isinstance(read, int) and isinstance(screened, int) else 0,
            [str(c) for c in curves] if isinstance(curves, list) else None,
        )


class FleetRenderer(Renderer[FleetReport]):
    """The fleet report (`templates/fleet.html`)."""

    template = "fleet.html"

    def render(self, record: FleetReport) -> str:
        """Return the fleet report as one HTML document."""
        document, site = record.document, self.site
        findings = ranked(list(document.get("findings") or []))
        metrics = document.get("metrics") or {}
        window = metrics.get("window") or {}
        by_host: dict[str, list[str]] = {}
        for f in findings:
            host = str(f.get("device", "")).split("/")[0]
            by_host.setdefault(host, []).append(str(f.get("rule")))

        def total(key: str) -> float:
            return sum(savings_point(f, key) or 0.0 for f in findings)

        return self.fill(
            source=record.source,
            window_start=window.get("start"),
            window_end=window.get("end"),
            hosts=sorted((metrics.get("hosts") or {}).keys()),
            by_host=by_host,
            fleet=FleetFigures.of(metrics.get("fleet") or {}),
            findings=findings,
            actions=top_actions(findings),
            total_kwh=total("facility_kwh_per_year"),
            total_co2e=total("co2e_kg_per_year"),
            total_cost=total("cost_per_year") if site.price_per_kwh is not None else None,
            assumptions=record.assumptions,
            site=site,
            missing=self.chart_note(),
            waterfall=charts_summary.savings_waterfall(findings, self.drawn),
            pooled=pooled(findings),
        )
