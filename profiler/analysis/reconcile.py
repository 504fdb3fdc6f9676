"""Reconcile wall power with its parts: wall vs CPU packages + DRAM + GPUs, per interval.

Where a run has wall power (a `node` device: the BMC's DCMI or SDR reading, or Redfish),
the server's draw splits into what finwatt measures per component (CPU packages, DRAM,
GPUs) and an unexplained remainder: power-supply loss, fans, disks, NICs, the board. The
remainder is reported in watts and as a share of wall power, per interval and over the whole
window (docs/decisions.md#audit-trail). It is a difference of two figures, so it is only as
good as both: when a component's power is an estimate the remainder is one too, and a
negative remainder (parts above the wall) says a sensor or a model is wrong, not that power
was created.

Pure functions over `DeviceSeries` (the analyzer's columns): each entry's energy is spread
evenly over the seconds it covers, so an interval's mean power is its energy over the
seconds of it that the device's readings cover. An interval enters the reconciliation
only when the wall and every component cover at least `MIN_COVERAGE` of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from profiler.analysis.host_rules import IdlePower
from profiler.model.provenance import is_estimate, is_measured
from profiler.model.savings import Estimate
from profiler.model.series import DeviceSeries, FloatArray

WALL_KINDS = ("node",)
"""Device kinds whose power is the whole server's draw at the wall (BMC, Redfish)."""

COMPONENT_KINDS = ("cpu", "dram", "gpu")
"""Device kinds whose power is part of the wall figure, in the order they are shown."""

MIN_COVERAGE = 0.5
"""Share of an interval every device's readings must cover for the interval to count."""

DEFAULT_INTERVAL_S = 60.0
"""Shortest reconciliation interval when none is asked for, in seconds."""

MAX_INTERVALS = 240
"""Most intervals when none is asked for: long windows get longer whole-minute intervals."""


def interval_for_span(span_s: float) -> float:
    """Return the interval (s) for a window: 60 s, or whole minutes to stay within 240."""
    minutes = np.ceil(span_s / MAX_INTERVALS / DEFAULT_INTERVAL_S)
    return float(max(1.0, minutes) * DEFAULT_INTERVAL_S)


@dataclass(frozen=True)
class Balance:
    """Wall power and its parts over one interval, in watts (means over the interval).

    Attributes:
        t_start_s: start of the interval, on the series' time axis (seconds).
        t_end_s: end of the interval (seconds).
        wall_w: mean wall power.
        parts_w: mean power per component kind ("cpu", "dram", "gpu") present.
        components_w: the sum of `parts_w`.
        remainder_w: wall minus components: PSU loss, fans, disks, NICs, board.
        remainder_pct: the remainder as a percentage of wall power (None at 0 W wall).
    """

    t_start_s: float
    t_end_s: float
    wall_w: float
    parts_w: dict[str, float]
    components_w: float
    remainder_w: float
    remainder_pct: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of one interval."""
        return asdict(self)


@dataclass(frozen=True)
class Reconciliation:
    """A run's wall power reconciled with its measured (or estimated) parts.

    Attributes:
        wall_device: the device whose power is the wall figure ("node").
        wall_provenance: where the wall figure comes from (`measured:ipmi-dcmi`, ...).
        components: the component devices summed, e.g. ("cpu:0", "dram:0", "gpu:0").
        component_provenances: their provenances, one per component, same order.
        missing_kinds: "cpu" or "dram" when the run has no such device (e.g. no DRAM
            domain): their power is inside the remainder. (A server without GPUs has
            no GPU power to miss.)
        interval_s: the length of each interval, in seconds.
        intervals: one balance per interval every device covers well enough.
        total: the balance over all those intervals together (energy-weighted).
    """

    wall_device: str
    wall_provenance: str | None
    components: tuple[str, ...]
    component_provenances: tuple[str | None, ...]
    missing_kinds: tuple[str, ...]
    interval_s: float
    intervals: tuple[Balance, ...]
    total: Balance

    @property
    def estimated(self) -> bool:
        """True when the wall or any component figure is an estimate (so is the remainder)."""
        provenances = (self.wall_provenance, *self.component_provenances)
        return any(is_estimate(p) for p in provenances) or not is_measured(self.wall_provenance)

    @property
    def provenance(self) -> str:
        """The remainder's provenance: every part's provenance, comma-joined."""
        parts = [self.wall_provenance, *self.component_provenances]
        return ",".join(dict.fromkeys(p for p in parts if p))

    def notes(self) -> list[str]:
        """Return the lines that qualify the remainder (estimates, missing parts, sign)."""
        notes = [
            f"{device} power is {p}: a model, not a measurement, so the remainder is an estimate"
            for device, p in zip(self.components, self.component_provenances, strict=True)
            if is_estimate(p)
        ]
        if self.missing_kinds:
            notes.append(
                "no " + ", ".join(self.missing_kinds) + " device: its power is in the remainder"
            )
        if self.total.remainder_w < 0:
            notes.append(
                "components exceed wall power: a sensor or power model overstates; "
                "check `finwatt doctor`"
            )
        return notes

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of `finwatt analyze --json` `metrics.reconciliation`."""
        return {
            "wall_device": self.wall_device,
            "wall_provenance": self.wall_provenance,
            "components": list(self.components),
            "component_provenances": list(self.component_provenances),
            "missing_kinds": list(self.missing_kinds),
            "provenance": self.provenance,
            "estimated": self.estimated,
            "interval_s": self.interval_s,
            "total": self.total.as_dict(),
            "intervals": [b.as_dict() for b in self.intervals],
            "notes": self.notes(),
        }


def _cumulative(series: DeviceSeries) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return knots x and cumulative (energy J, covered s) of a series, piecewise linear."""
    known = ~np.isnan(series.energy_delta_j) & (series.interval_s > 0)
    ends = series.t
    starts = series.t - series.interval_s
    energy = np.where(known, series.energy_delta_j, 0.0)
    covered = np.where(known, series.interval_s, 0.0)
    cum_e = np.cumsum(energy)
    cum_s = np.cumsum(covered)
    before_e = cum_e - energy
    before_s = cum_s - covered
    x = np.maximum.accumulate(np.column_stack((starts, ends)).ravel())
    return (
        x,
        np.column_stack((before_e, cum_e)).ravel(),
        np.column_stack((before_s, cum_s)).ravel(),
    )


def interval_power(series: DeviceSeries, bounds: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return each interval's mean power (W) and the share of it covered (0..1).

    Args:
        series: one device's entries (energy per entry, seconds each covers).
        bounds: sorted interval bounds in seconds on the series' axis (n + 1 for n).

    Mean power is the energy in the interval over the seconds of it covered (NaN where
    nothing is covered); an entry's energy is spread evenly over its interval.
    """
    n = max(bounds.size - 1, 0)
    if series.n == 0 or n == 0:
        return np.full(n, np.nan), np.zeros(n)
    x, cum_e, cum_s = _cumulative(series)
    energy = np.diff(np.interp(bounds, x, cum_e))
    seconds = np.diff(np.interp(bounds, x, cum_s))
    length = np.diff(bounds)
    with np.errstate(invalid="ignore", divide="ignore"):
        power = np.where(seconds > 0, energy / seconds, np.nan)
        share = np.where(length > 0, seconds / length, 0.0)
    return power, share


def _bounds(series: Sequence[DeviceSeries], interval_s: float) -> FloatArray:
    """Return interval bounds over the span every series covers (empty when none)."""
    t0 = max(float((s.t - s.interval_s).min()) for s in series)
    t1 = min(float(s.t.max()) for s in series)
    if t1 <= t0:
        return np.empty(0)
    bounds = np.arange(t0, t1, interval_s)
    if t1 - bounds[-1] < interval_s * MIN_COVERAGE and bounds.size > 1:
        bounds = bounds[:-1]  # a short tail joins the interval before it
    return np.append(bounds, t1)


def _balance(t0: float, t1: float, wall_w: float, parts_w: dict[str, float]) -> Balance:
    components_w = sum(parts_w.values())
    remainder_w = wall_w - components_w
    return Balance(
        t0,
        t1,
        wall_w,
        parts_w,
        components_w,
        remainder_w,
        100.0 * remainder_w / wall_w if wall_w else None,
    )


def _total(intervals: Sequence[Balance]) -> Balance:
    """The time-weighted mean balance over all intervals."""
    seconds = np.array([b.t_end_s - b.t_start_s for b in intervals])
    weight = seconds / seconds.sum()
    kinds = list(dict.fromkeys(k for b in intervals for k in b.parts_w))
    parts = {
        k: float(sum(w * b.parts_w.get(k, 0.0) for w, b in zip(weight, intervals, strict=True)))
        for k in kinds
    }
    wall = float(sum(w * b.wall_w for w, b in zip(weight, intervals, strict=True)))
    return _balance(intervals[0].t_start_s, intervals[-1].t_end_s, wall, parts)


def reconcile(
    series: Sequence[DeviceSeries], interval_s: float | None = None
) -> Reconciliation | None:
    """Reconcile the wall device's power with the component devices', per interval.

    Args:
        series: every device of the run or window; the first `node` device with energy
            figures is the wall, `cpu`, `dram` and `gpu` devices are its parts.
        interval_s: length of each interval in seconds (the last may be up to 1.5x);
            None: `interval_for_span` of the wall's span.

    Returns:
        None when there is no wall device, no component, or no interval covered by all.

    Raises:
        ValueError: `interval_s` is not positive.
    """
    if interval_s is not None and interval_s <= 0:
        raise ValueError(f"interval_s must be positive, not {interval_s}")
    walls = [s for s in series if s.spec.kind in WALL_KINDS and (~np.isnan(s.energy_delta_j)).any()]
    parts = [
        s for s in series if s.spec.kind in COMPONENT_KINDS and (~np.isnan(s.energy_delta_j)).any()
    ]
    if not walls or not parts:
        return None
    wall = walls[0]
    if interval_s is None:
        interval_s = interval_for_span(float(wall.t[-1] - wall.t[0]))
    bounds = _bounds([wall, *parts], interval_s)
    if bounds.size < 2:
        return None
    wall_w, wall_cover = interval_power(wall, bounds)
    good = wall_cover >= MIN_COVERAGE
    per_kind: dict[str, FloatArray] = {}
    for part in parts:
        power, cover = interval_power(part, bounds)
        good &= cover >= MIN_COVERAGE
        kind = part.spec.kind
        per_kind[kind] = per_kind.get(kind, np.zeros(power.size)) + np.nan_to_num(power)
    kinds = [k for k in COMPONENT_KINDS if k in per_kind]
    balances = tuple(
        _balance(
            float(bounds[i]),
            float(bounds[i + 1]),
            float(wall_w[i]),
            {k: float(per_kind[k][i]) for k in kinds},
        )
        for i in np.flatnonzero(good)
    )
    if not balances:
        return None
    return Reconciliation(
        wall_device=wall.spec.device_id,
        wall_provenance=wall.spec.provenance,
        components=tuple(p.spec.device_id for p in parts),
        component_provenances=tuple(p.spec.provenance for p in parts),
        missing_kinds=tuple(k for k in ("cpu", "dram") if k not in per_kind),
        interval_s=interval_s,
        intervals=balances,
        total=_total(balances),
    )


def _mean_power_w(series: DeviceSeries) -> float | None:
    known = ~np.isnan(series.energy_delta_j)
    seconds = float(series.interval_s[known].sum())
    return float(series.energy_delta_j[known].sum()) / seconds if seconds > 0 else None


def wall_idle_power(series: Sequence[DeviceSeries]) -> IdlePower | None:
    """Return the whole server's mean measured wall power, less its GPUs', for IDLE_HOST.

    Host-level savings use wall power where a measured `node` device exists: powering a
    host off saves its fans, disks and PSU loss too, not only its CPU packages. GPU power
    is taken out because the GPU findings count it. None without a measured wall figure.
    """
    walls = [s for s in series if s.spec.kind in WALL_KINDS and s.spec.measured]
    wall_w = _mean_power_w(walls[0]) if walls else None
    if wall_w is None:
        return None
    gpu_w = [_mean_power_w(s) for s in series if s.spec.kind == "gpu"]
    less_w = sum(w for w in gpu_w if w is not None)
    watts = max(0.0, wall_w - less_w)
    label = f"mean wall power of {walls[0].spec.device_id} ({walls[0].spec.provenance})"
    if less_w:
        label += f" less the GPUs' {less_w:.1f} W (counted in the GPU findings)"
    return IdlePower(Estimate(watts, watts, watts), "measured", label)
