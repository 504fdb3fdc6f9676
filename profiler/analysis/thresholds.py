"""Every threshold the analyzer applies, in one frozen object, each with its source.

Sources are docs/methodology.md (and the studies it cites). A user
changes one with `dataclasses.replace` (the CLI does so for `--mode`, `--min-span`,
`--min-hours` and `--sizes`); nothing else in the analyzer holds a number of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from profiler.model.units import DAY_S, GIB

Mode = Literal["production", "conservative"]


@dataclass(frozen=True)
class Thresholds:
    """The analyzer's configuration: windows, eligibility, rule thresholds, catalogues.

    Utilisation and activity are fractions (0..1); times in seconds; memory in bytes.
    """

    mode: Mode = "production"

    # --- windows and eligibility: docs/methodology.md#usage-statistics ---------------
    # 5-min mean windows for right-sizing; 30-min windows of the max of 1-min means for
    # the idle test (Azure Advisor's shutdown rule works on such a series).
    minute_s: float = 60.0
    sizing_window_s: float = 300.0
    idle_window_s: float = 1_800.0
    # AWS Compute Optimizer and Azure Advisor need >= 7 days and >= 30 h of data.
    min_span_s: float = 7 * DAY_S
    min_valid_hours: float = 30.0

    # --- IDLE_HOST: Azure Advisor shutdown rule (docs/methodology.md#rules) ---------
    idle_host_p95_util: float = 0.03  # P95 of the 30-min idle-test series < 3% CPU
    idle_host_recent_max_util: float = 0.02  # max 30-min mean over the last 3 days <= 2%
    idle_host_recent_s: float = 3 * DAY_S
    idle_host_gpu_activity: float = 0.01  # no GPU with mean SM/GPU activity >= 1%

    # --- CPU right-sizing: AWS Compute Optimizer; Kubecost targets 0.80/0.65/0.50 ----
    under_cpu_quantile: float = 0.995  # P99.5 busy cores ...
    under_cpu_headroom: float = 0.20  # ... / (1 - 0.20) > provisioned cores
    over_cpu_quantile_production: float = 0.95  # needed = P95 busy cores / 0.65
    over_cpu_target_production: float = 0.65
    over_cpu_quantile_conservative: float = 0.995  # needed = P99.5 busy cores / 0.8
    over_cpu_target_conservative: float = 0.80
    # Kubecost's target range bounds the savings range (low savings at 0.50, high at 0.80).
    cpu_target_low: float = 0.50
    cpu_target_high: float = 0.80
    over_cpu_flag_ratio: float = 0.5  # flag when the recommended size <= half provisioned
    cpu_sizes: tuple[int, ...] = (2, 4, 8, 16, 32, 48, 64, 96, 128, 192)

    # --- OVER_PROVISIONED_MEM: Kubernetes VPA margin, Google Autopilot ---------------
    mem_margin: float = 1.15  # needed = max of daily peaks x 1.15
    mem_min_days: float = 8.0  # ... over at least 8 days
    mem_flag_ratio: float = 2.0  # installed >= 2 x the next catalogue size >= needed
    mem_sizes_bytes: tuple[int, ...] = tuple(2**k * GIB for k in range(2, 13))  # 4 GiB-4 TiB

    # --- GPU rules: Princeton jobstats, NVIDIA DCGM guidance ------------------------
    gpu_idle_sm: float = 0.01  # IDLE_GPU: max util 0, mean SM activity < 1% ...
    gpu_idle_mem_bytes: int = GIB  # ... max memory used < 1 GiB (else ALLOCATED_IDLE_GPU)
    gpu_underused_util: float = 0.15  # UNDERUSED_GPU: mean util <= 15% ...
    gpu_underused_sm: float = 0.5  # ... or mean SM activity < 0.5 (DCGM guidance)
    gpu_share_activity: float = 0.15  # MIG_OR_SHARE_CANDIDATE: activity < 15% ...
    gpu_share_mem_bytes: int = 10 * GIB  # ... and max memory used < 10 GiB

    # --- ladder rules: Barroso & Hoelzle 2007; Ryckbosch et al. 2011 ----------------
    low_rel_eff: float = 0.5  # LOW_EFFICIENCY_HOST: rel_eff at observed mean util < 0.5
    poor_ep: float = 0.5  # POOR_PROPORTIONALITY: EP < 0.5 ...
    poor_ipr: float = 0.5  # ... or IPR > 0.5
    placement_ratio: float = 1.5  # BETTER_PLACEMENT: >= 1.5x units/J elsewhere (finwatt)

    # --- power models: docs/methodology.md#power-models (cloud SPECpower 2012-2021) --
    model_idle_ratio: float = 0.2
    model_idle_ratio_low: float = 0.14
    model_idle_ratio_high: float = 0.23

    # --- indicative observations for INSUFFICIENT_DATA (docs/methodology.md#eligibility)
    indicative_cpu_idle_util: float = 0.03  # a 1-min mean below the IDLE_HOST P95 bound
    indicative_gpu_idle_util: float = 0.01

    # --- demand profiles and power schedules: docs/analyzer.md#demand-and-power-schedules ----
    # An hour is busy when one of its 5-min means reaches the IDLE_HOST P95 bound (3%):
    # every hour a schedule switches off is then one the idle test would call idle.
    demand_busy_util: float = 0.03
    demand_busy_gpu: float = 0.01  # GPUs: the IDLE_GPU SM-activity bound
    # A weekday x hour cell recurs when busy in >= half of the weeks that observed it.
    demand_recurring_share: float = 0.5
    # A schedule needs >= 2 observed weeks (a window seen once does not recur) and every
    # hour it switches off observed idle in >= 2 weeks; below 4 weeks confidence is low.
    demand_min_weeks: float = 2.0
    demand_full_weeks: float = 4.0
    # Regular: >= 75% of observed weeks (3 of 4) show the same busy windows and no other.
    demand_regular_share: float = 0.75
    peak_sized_max_share: float = 0.25  # PEAK_SIZED_HOST: on-hours <= 25% of the week
    off_hours_min_daily_h: float = 6.0  # OFF_HOURS_IDLE: >= 6 h busy per working day
    # finwatt's choices, configurable: wake 15 min before each window (server POST and a
    # service start take minutes); each off span costs 5 min of idle power (shutdown and
    # boot or resume, not saving); an off span under 2 h is not worth the cycle.
    schedule_margin_s: float = 900.0
    schedule_transition_s: float = 300.0
    schedule_min_off_s: float = 7_200.0
    # COMPLEMENTARY_PEAKS: a pool is sized on the P99.5 of its summed busy cores (the
    # UNDER_PROVISIONED_CPU quantile) at the 0.8 target (20% headroom); the packing also
    # keeps every observed step at or under that target.
    pool_quantile: float = 0.995
    pool_target: float = 0.80

    # --- confidence: docs/methodology.md#confidence ------------------------------------
    high_history_s: float = 14 * DAY_S
    high_history_coverage: float = 0.90

    @property
    def over_cpu_quantile(self) -> float:
        """The busy-core percentile of the chosen mode (0.95 production, 0.995 conservative)."""
        if self.mode == "conservative":
            return self.over_cpu_quantile_conservative
        return self.over_cpu_quantile_production

    @property
    def over_cpu_target(self) -> float:
        """The target utilisation of the chosen mode (0.65 production, 0.80 conservative)."""
        if self.mode == "conservative":
            return self.over_cpu_target_conservative
        return self.over_cpu_target_production


COMPARE_TOLERANCE = 1e-9
"""Relative tolerance of every threshold comparison (of max(1, |bound|)).

Figures are means of binary floating-point values, so a value exactly at a bound can land
a few ulps either side of it (a 2.0 % window mean computes as 0.020000000000000007): a
value within this tolerance of the bound counts as *at* the bound. It is far below any
measurement's resolution (1e-9 of a 1 % threshold is 1e-11 points).
"""


def _slack(bound: float) -> float:
    return COMPARE_TOLERANCE * max(1.0, abs(bound))


def at_most(value: float, bound: float) -> bool:
    """Return value <= bound, a value within `COMPARE_TOLERANCE` of it counting as at it."""
    return value <= bound + _slack(bound)


def below(value: float, bound: float) -> bool:
    """Return value < bound, a value within `COMPARE_TOLERANCE` of it counting as at it."""
    return value < bound - _slack(bound)


def at_least(value: float, bound: float) -> bool:
    """Return value >= bound, a value within `COMPARE_TOLERANCE` of it counting as at it."""
    return value >= bound - _slack(bound)


def above(value: float, bound: float) -> bool:
    """Return value > bound, a value within `COMPARE_TOLERANCE` of it counting as at it."""
    return value > bound + _slack(bound)
