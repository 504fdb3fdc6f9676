"""OVER_PROVISIONED_MEM savings: the labelled estimate `estimated:dram-per-gb`.

The figures are checked by hand: 512 GiB installed, daily peaks of 10 GiB, so 11.5 GiB
needed with the 15% margin, 16 GiB recommended and 496 GiB removed. IT power saved =
496 GB x 0.392 W/GB (Cloud Carbon Footprint) = 194.432 W, low x 0.3725 (Green
Algorithms) = 184.76 W, high x 0.625 (CodeCarbon's 5 W per 8-GB DIMM) = 310 W; a year is
8,760 h.
"""

from __future__ import annotations

import numpy as np
import pytest

from profiler.analysis.assess import assess_usage
from profiler.analysis.savings import DRAM_PROVENANCE, DRAM_W_PER_GB
from profiler.model.device import DeviceInfo
from profiler.model.savings import Site
from profiler.model.series import device_series
from profiler.model.units import GIB

SITE = Site(pue=1.5, pue_given=True, grid_g_per_kwh=475.0, grid_defaulted=False, grid_label="given")


def oversized_memory_host() -> object:
    t = np.arange(0.0, 8 * 86400.0, 300.0)
    return device_series(
        DeviceInfo(
            "host", "host", logical_cores=64, mem_total_bytes=512 * GIB, provenance="measured:rapl"
        ),
        t,
        util=np.full(t.size, 0.1),
        mem_used_bytes=np.full(t.size, 10.0 * GIB),
    )


def mem_finding():  # type: ignore[no-untyped-def]
    findings = assess_usage([oversized_memory_host()], SITE).findings  # type: ignore[list-item]
    return next(f for f in findings if f.rule == "OVER_PROVISIONED_MEM")


def test_the_coefficients_are_the_cited_ones() -> None:
    assert (DRAM_W_PER_GB.low, DRAM_W_PER_GB.point, DRAM_W_PER_GB.high) == (0.3725, 0.392, 0.625)
    assert DRAM_W_PER_GB.high == 5.0 / 8.0


def test_over_provisioned_memory_has_a_labelled_low_confidence_saving() -> None:
    finding = mem_finding()
    assert finding.recommendation == {"mem_bytes": 16 * GIB}
    assert finding.savings is not None
    it = finding.savings.it_kwh_per_year
    assert it.point == pytest.approx(496 * 0.392 * 8.76)
    assert it.low == pytest.approx(496 * 0.3725 * 8.76)
    assert it.high == pytest.approx(496 * 0.625 * 8.76)
    assert finding.savings.facility_kwh_per_year.point == pytest.approx(1.5 * it.point)
    assert finding.confidence == "low"
    joined = " | ".join(finding.assumptions)
    assert DRAM_PROVENANCE in joined and "docs/analyzer.md" in joined
    assert "496 GiB removed" in joined and "PUE 1.5 (given)" in joined
    assert "no energy savings claimed" not in joined
