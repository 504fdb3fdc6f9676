"""Leave-one-out error of five CPU power models against published SPECpower results.

    python -m bench.specpower_error [--json out.json]

Each of the shipped results (profiler/sensors/specpower/data/specpower_results.csv) is
held out in turn and its published wall power at the 11 load levels predicted from its
CPU name, chips and hardware threads only (what a host or a VM can see), by:

- `specpower-curve`: finwatt's curve model, its group chosen without the held-out result
  (the first of model, generation, family, vendor, all with >= MIN_RESULTS results),
  its fit at the result's threads (`table.fit`); the band is the group's low/high;
- `linear-tdp`: finwatt's linear model, TDP from codecarbon's table x chips, idle 20 %;
- `ccf-vcpu`: Cloud Carbon Footprint's 0.74-3.5 W per vCPU, linear, x threads;
- `boavizta-tdp`: Boavizta's TDP ratios 0.12/0.32/0.75/1.02 at 0/10/50/100 % (linear
  between), x TDP x chips;
- `codecarbon`: codecarbon 3.3's CPU-load method, TDP x (0.1 + 0.9 u^3) for the machine
  (one CPU's TDP, as codecarbon does).

The TDP models need a TDP: the five-way table is over the results whose CPU name matches
codecarbon's table; `specpower-curve` and `ccf-vcpu` are also given over all results.
Errors are absolute, in % of the published power. docs/estimates.md records a run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from profiler.sensors.power_model import DEFAULT_IDLE_RATIO, VCPU_IDLE_W, VCPU_MAX_W, lookup_tdp
from profiler.sensors.specpower.groups import cpu_groups
from profiler.sensors.specpower.table import (
    LOADS,
    MIN_RESULTS,
    SpecResult,
    group_curve,
    parse_results,
)

Prediction = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]
BOAVIZTA = ((0.0, 0.1, 0.5, 1.0), (0.12, 0.32, 0.75, 1.02))
_U = np.asarray(LOADS)


def curve_loo(results: Sequence[SpecResult]) -> list[tuple[Prediction, str]]:
    """Predict each result from the others' group curve; returns (prediction, level)."""
    members: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        for g in cpu_groups(r.cpu):
            members.setdefault(g.key, []).append(i)
    out = []
    for i, r in enumerate(results):
        for g in cpu_groups(r.cpu):
            others = [results[j] for j in members[g.key] if j != i]
            if len(others) >= MIN_RESULTS or g.level == "all":
                row = group_curve(others, g.level)
                curves = (
                    row.watts(r.threads, c) for c in (row.ref_w, row.ref_low_w, row.ref_high_w)
                )
                out.append((tuple(curves), g.level))  # type: ignore[arg-type]
                break
    return out


def tdp_models(r: SpecResult, tdp: float) -> dict[str, np.ndarray]:
    """The three TDP-based models' predictions for one result."""
    peak = tdp * r.chips
    return {
        "linear-tdp": peak * (DEFAULT_IDLE_RATIO + (1 - DEFAULT_IDLE_RATIO) * _U),
        "boavizta-tdp": peak * np.interp(_U, *BOAVIZTA),
        "codecarbon": tdp * (0.1 + 0.9 * _U**3),
    }


def ccf(r: SpecResult) -> np.ndarray:
    """Cloud Carbon Footprint's per-vCPU linear model for one result."""
    return r.threads * (VCPU_IDLE_W + (VCPU_MAX_W - VCPU_IDLE_W) * _U)


def _stats(errors: list[np.ndarray]) -> dict[str, list[float]]:
    table = np.array(errors)
    return {
        "median": np.median(table, axis=0).round(1).tolist(),
        "p90": np.percentile(table, 90, axis=0).round(1).tolist(),
    }


def evaluate(results: Sequence[SpecResult], tdp: Callable[[str], float | None]) -> dict[str, Any]:
    """Return per-level error statistics of the five models and the band's coverage."""
    curve = curve_loo(results)
    errors: dict[str, list[np.ndarray]] = {"specpower-curve (all)": [], "ccf-vcpu (all)": []}
    inside: list[np.ndarray] = []
    matched = 0
    for r, ((point, low, high), _level) in zip(results, curve, strict=True):
        truth = np.asarray(r.watts)
        rel: dict[str, np.ndarray] = {"specpower-curve": point, "ccf-vcpu": ccf(r)}
        errors["specpower-curve (all)"].append(np.abs(point - truth) / truth * 100)
        errors["ccf-vcpu (all)"].append(np.abs(ccf(r) - truth) / truth * 100)
        assert low is not None and high is not None
        inside.append((low <= truth) & (truth <= high))
        found = tdp(r.cpu)
        if found is None:
            continue
        matched += 1
        rel |= tdp_models(r, found)
        for name, pred in rel.items():
            errors.setdefault(name, []).append(np.abs(pred - truth) / truth * 100)
    levels: dict[str, int] = {}
    for _, level in curve:
        levels[level] = levels.get(level, 0) + 1
    return {
        "results": len(results),
        "tdp_matched": matched,
        "group_levels": levels,
        "loads": list(LOADS),
        "errors_pct": {name: _stats(e) for name, e in errors.items()},
        "band_coverage_pct": (np.mean(np.array(inside), axis=0) * 100).round(1).tolist(),
    }


def _tdp(cpu: str) -> float | None:
    found = lookup_tdp(cpu)
    return None if found is None else found[1]


def _print(report: dict[str, Any]) -> None:
    print(
        f"{report['results']} results, {report['tdp_matched']} with a codecarbon TDP; "
        f"groups used: {report['group_levels']}"
    )
    print("model".ljust(24) + "".join(f"{int(u * 100):>11}%" for u in report["loads"]))
    for name, stats in report["errors_pct"].items():
        for stat in ("median", "p90"):
            cells = "".join(f"{v:>12.1f}" for v in stats[stat])
            print(f"{name} {stat}".ljust(24) + cells)
    print("band coverage %".ljust(24) + "".join(f"{v:>12.1f}" for v in report["band_coverage_pct"]))


def main(argv: list[str] | None = None) -> int:
    """Run the leave-one-out comparison and print (and optionally save) its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    data = files("profiler.sensors.specpower") / "data" / "specpower_results.csv"
    report = evaluate(parse_results(data.read_text(encoding="utf-8")), _tdp)
    _print(report)
    if args.json:
        with Path(args.json).open("w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
