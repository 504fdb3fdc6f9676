"""Screen a fleet inside Prometheus: which hosts need their full series read at all.

At 1,000 hosts x 14 days, reading every host's series into Python is the cost. Most hosts
are busy and right-sized, and their usage rules can be settled by a handful of figures
that PromQL computes per host in one instant query each, over the same step means the
analyzer would read (`avg_over_time(util[step])` in a subquery on the step grid):

| figure | PromQL over the step means | settles |
| --- | --- | --- |
| `util_min` | `min_over_time` | no idle step: no IDLE_HOST, no FLEET_IDLE_ENERGY |
| `util_q` | `quantile_over_time(P95 or P99.5)` | OVER_PROVISIONED_CPU cannot fire |
| `util_q995` | `quantile_over_time(0.995)` | UNDER_PROVISIONED_CPU cannot fire |
| `steps` | `count_over_time` | enough valid hours |
| `first_s`, `last_s` | `min/max_over_time(timestamp)` | a long enough span |
| `mem_max_bytes` | `max_over_time(memory used)` | OVER_PROVISIONED_MEM cannot fire |

A host is *clear* when every figure is beyond its rule's bound by a margin (`MARGIN`, so
the 30-minute and 1-minute windows the rules also use cannot tip it over); it keeps a
per-host entry with these figures and joins the consolidation check (whose group means
are PromQL too), but its series never leave Prometheus. Every other host (near a bound,
short history, GPUs, no `host` device) is a *suspect* and is read in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from profiler.analysis.thresholds import Thresholds
from profiler.prometheus.api import PrometheusApi

MARGIN = 1.05
"""How far beyond a rule's bound a figure must be for the host to be clear (the figures
are the rules' own 5-minute means; the margin covers window anchoring and rounding)."""

UTIL = "finwatt_utilization_ratio"
MEM = "finwatt_memory_used_bytes"


@dataclass(frozen=True)
class Screen:
    """One host's screening figures (utilisation 0..1 over step means; bytes; epoch s)."""

    util_min: float | None = None
    util_q: float | None = None
    util_q995: float | None = None
    steps: float | None = None
    first_s: float | None = None
    last_s: float | None = None
    mem_max_bytes: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        """Return the figures for `metrics.hosts[instance].screened`."""
        return dict(self.__dict__)


def with_matchers(selector_text: str, *extra: str) -> str:
    """Return `metric{...}` with `extra` label matchers added inside the braces."""
    head, _, body = selector_text.partition("{")
    inner = body.rstrip("}").strip()
    parts = [p for p in (inner, *extra) if p]
    return f"{head}{{{','.join(parts)}}}"


def screen_hosts(
    api: PrometheusApi,
    util_selector: str,
    mem_selector: str,
    span: ScreenSpan,
    *,
    batches: Sequence[str] = ("",),
    concurrency: int = 1,
) -> dict[str, Screen]:
    """Return each host's screening figures (instance -> Screen), seven instant queries a batch.

    Args:
        api: the Prometheus client.
        util_selector: `finwatt_utilization_ratio{...}` of the hosts' `host` devices.
        mem_selector: `finwatt_memory_used_bytes{...}` of the same.
        span: window, step and the quantile of the right-sizing mode.
        batches: extra label matchers, one per batch of hosts (an `instance_matcher`), so
            no one query evaluates the subqueries of the whole fleet; `""`: every host.
        concurrency: queries in flight at once.
    """
    tasks = [
        (name, expr)
        for matcher in batches
        for name, expr in _figure_exprs(
            with_matchers(util_selector, matcher), with_matchers(mem_selector, matcher), span
        ).items()
    ]

    def run(task: tuple[str, str]) -> tuple[str, list[tuple[dict[str, str], float]]]:
        name, expr = task
        return name, api.query(f"max by (instance) ({expr})", span.end_s)

    figures: dict[str, dict[str, float]] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for name, vector in pool.map(run, tasks):
            for labels, value in vector:
                instance = labels.get("instance")
                if instance:
                    figures.setdefault(instance, {})[name] = value
    return {instance: Screen(**values) for instance, values in figures.items()}


def _figure_exprs(util_selector: str, mem_selector: str, span: ScreenSpan) -> dict[str, str]:
    """Return the PromQL of each screening figure over the step means of the window."""
    step_ms = round(span.step_s * 1000)
    means = f"avg_over_time({util_selector}[{step_ms - 1}ms])"
    sub = f"[{round(span.since_s)}s:{step_ms}ms]"
    return {
        "util_min": f"min_over_time({means}{sub})",
        "util_q": f"quantile_over_time({span.quantile:g}, {means}{sub})",
        "util_q995": f"quantile_over_time(0.995, {means}{sub})",
        "steps": f"count_over_time({means}{sub})",
        "first_s": f"min_over_time(timestamp({means}){sub})",
        "last_s": f"max_over_time(timestamp({means}){sub})",
        "mem_max_bytes": f"max_over_time({mem_selector}[{round(span.since_s)}s])",
    }


@dataclass(frozen=True)
class ScreenSpan:
    """The window screened: its end (epoch s), length, step and right-sizing quantile."""

    end_s: float
    since_s: float
    step_s: float
    quantile: float


def is_clear(
    screen: Screen, mem_total_bytes: float | None, thresholds: Thresholds, step_s: float
) -> bool:
    """True when no usage rule can fire on this host: its series need not be read.

    Bounds (each with `MARGIN`): every step mean at or above the idle bound (3%); the
    mode's quantile above what OVER_PROVISIONED_CPU needs (target x flag ratio); P99.5
    below UNDER_PROVISIONED_CPU's (1 - headroom); span and valid hours above eligibility;
    peak memory x margin x flag ratio above the installed memory.
    """
    values = (screen.util_min, screen.util_q, screen.util_q995, screen.steps)
    if any(v is None for v in values) or screen.first_s is None or screen.last_s is None:
        return False
    util_min, util_q, util_q995, steps = (float(v or 0.0) for v in values)
    over_bound = thresholds.over_cpu_target * thresholds.over_cpu_flag_ratio
    checks = (
        util_min >= thresholds.idle_host_p95_util * MARGIN,
        util_q >= over_bound * MARGIN,
        util_q995 * MARGIN < 1.0 - thresholds.under_cpu_headroom,
        screen.last_s - screen.first_s + step_s >= thresholds.min_span_s * MARGIN,
        steps * step_s / 3600.0 >= thresholds.min_valid_hours * MARGIN,
        _memory_clear(screen.mem_max_bytes, mem_total_bytes, thresholds),
    )
    return all(checks)


def _memory_clear(
    mem_max_bytes: float | None, mem_total_bytes: float | None, thresholds: Thresholds
) -> bool:
    if mem_total_bytes is None:
        return True  # OVER_PROVISIONED_MEM needs the installed memory
    if mem_max_bytes is None:
        return False
    needed = mem_max_bytes * thresholds.mem_margin * thresholds.mem_flag_ratio
    return needed > mem_total_bytes * MARGIN


def split_hosts(
    screens: Mapping[str, Screen],
    mem_totals: Mapping[str, float],
    suspects_anyway: set[str],
    thresholds: Thresholds,
    step_s: float,
) -> tuple[set[str], set[str]]:
    """Return (clear, suspect) instances; `suspects_anyway` (GPUs, no host device) are suspect."""
    clear = {
        instance
        for instance, screen in screens.items()
        if instance not in suspects_anyway
        and is_clear(screen, mem_totals.get(instance), thresholds, step_s)
    }
    return clear, set(screens) - clear
