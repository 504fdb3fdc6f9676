"""The analyzer's fixed English lines, translated: phase reasons, ladder notes, assumptions.

The analyzer writes some text for people into its records and JSON: why a phase is
invalid (`PhaseMetrics.invalid_reasons`, profiler/analysis/phases.py), why a ladder has
no metrics (`LadderSummary.note`), and the assumption lines of findings and reports.
Those strings stay English in the JSON (machines and older reports read them); a report
in another language recognises each known line by its English pattern and shows the
catalogue's translation, with the line's own figures and names put back in. A line no
pattern knows (a newer analyzer, an error message) is shown as it came, marked English.

Each pattern is the analyzer's sentence with its figures replaced by `%(name)s`
placeholders, so the same string is the catalogue's message id and, escaped, the
regular expression that recognises the line. Placeholder values that are themselves
known lines or vocabulary words (a power-curve label, "production") are translated too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from reports.i18n import N_, Language

PATTERNS = (
    # invalid-phase reasons (profiler/analysis/phases.py)
    N_("achieved load misses target by more than 5 points"),
    N_("only %(share)s of expected samples present (need 95%%)"),
    N_("no energy figure for the phase's device"),
    N_("energy counter reset %(n)s time(s) during the phase"),
    N_("disturbed: other processes used %(share)s of the host's CPU (limit %(limit)s)"),
    # ladder notes (profiler/analysis/profile.py)
    N_("no valid %(level)s level: ladder metrics not computed"),
    N_(
        "power is estimated (%(provenance)s): EP and IPR restate the power model, "
        "they are not a property of this hardware"
    ),
    N_(
        "no clean phase: other processes used %(share)s of the host's CPU in every phase "
        "(limit %(limit)s); EP and IPR come from clean phases only"
    ),
    N_(
        "no clean %(level)s level: other processes used %(share)s of the host's CPU in it "
        "(limit %(limit)s); EP and IPR come from clean phases only"
    ),
    N_(
        "shared host: %(n)s of %(total)s phases disturbed (other processes used %(share)s of "
        "the host's CPU); their energy is the workload's own by CPU time (%(sources)s, idle "
        "share %(policy)s)"
    ),
    # site assumptions: every savings figure (profiler/analysis/savings.py)
    N_("annualised from mean power x 8,760 h/yr"),
    N_("PUE %(pue)s (given)"),
    N_("PUE %(pue)s (defaulted: facility energy = IT energy; pass --pue)"),
    N_("tariff %(price)s per kWh (given; no currency conversion)"),
    N_("no tariff given: cost not computed (pass --price-per-kwh)"),
    N_(
        "grid %(intensity)s g %(gas)s/kWh: %(label)s (CO2 only, as the source publishes it: "
        "not CO2e; emissions figures count CO2 alone)"
    ),
    N_("grid %(intensity)s g %(gas)s/kWh: %(label)s"),
    # window notes and eligibility (profiler/analysis/assess.py)
    N_(
        "eligibility lowered to %(span)s s span and %(hours)s h of data "
        "(methodology: 7 days and 30 h): findings are indicative"
    ),
    N_("%(device)s power is %(provenance)s: a model, not a measurement"),
    N_(
        "%(device)s energy covers %(share)s of the window (gaps: a reading stands for at most "
        "%(n)s sample intervals); mean power is over the covered time"
    ),
    N_(
        "eligibility: >= 7 days span and >= 30 h of valid data "
        "(AWS Compute Optimizer, Azure Advisor)"
    ),
    N_("indicative observations are not recommendations"),
    # host rules (profiler/analysis/host_rules.py) and their power figures
    N_("idle test: 30-min windows of the max of 1-min mean CPU utilisation (Azure Advisor)"),
    N_("idle power of %(name)s: %(label)s"),
    N_("idle power %(watts)s W: %(label)s"),
    N_("active idle of %(label)s"),
    N_("mean measured power of %(devices)s"),
    N_("linear model %(idle)s-%(peak)s W over %(n)s CPU package(s)"),
    N_("GPU power is counted in the GPU findings, not here"),
    N_("no power figure for the host: savings not computed"),
    N_("5-min mean windows; nearest-rank percentiles"),
    N_("%(mode)s mode: needed = %(quantile)s busy cores / %(target)s target utilisation"),
    N_("size catalogue %(sizes)s cores"),
    N_("host power curve: measured, %(label)s"),
    N_("host power curve: %(label)s (no measured curve)"),
    N_("host power curve: %(label)s"),
    N_("savings cover the CPU packages' power only, not the whole server"),
    N_("no host power curve (no ladder, no CPU power limit): savings not computed"),
    N_("needed = max daily peak x 1.15 (Kubernetes VPA margin)"),
    N_("memory power is not modelled: no energy savings claimed"),
    N_(
        "savings %(provenance)s: %(gib)s GiB removed x %(point)s W/GB (Cloud Carbon Footprint); "
        "low %(low)s W/GB (Green Algorithms), high %(high)s W/GB (CodeCarbon's 5 W per DIMM, "
        "8 GB DIMMs); docs/analyzer.md"
    ),
    N_(
        "savings assume the removed modules draw their power all year (idle DRAM still "
        "refreshes); no memory power was measured"
    ),
    # GPU rules (profiler/analysis/gpu_rules.py)
    N_("SM activity not available: GPU utilisation used instead"),
    N_("idle energy: the GPU's mean power over a window in which it was idle throughout"),
    N_("no power figure for the GPU: savings not computed"),
    # ladder rules (profiler/analysis/ladder_rules.py, ladder_data.py)
    N_("EP per Ryckbosch et al. 2011; IPR = P_idle / P_100"),
    N_("rel_eff(u) = u / p(u) on the measured ladder (Barroso & Hoelzle 2007)"),
    N_("observed mean utilisation taken as the ladder's load level u"),
    N_("units/J compared at the same target load; GPU figures include host CPU"),
    N_("a power figure is estimated: the comparison restates a model"),
    N_("phase figures are computed from the samples, not read from the document"),
    # fleet rules (profiler/analysis/fleet_rules.py)
    N_("similar hosts: same provisioned cores (%(cores)s) and CPU model (%(model)s)"),
    N_(
        "M = max(%(min)s, ceil(N x %(quantile)s of the group's mean utilisation / %(target)s)) "
        "(methodology section 6); at least %(kept)s hosts kept for redundancy"
    ),
    N_("hosts with their own IDLE_HOST or CPU right-sizing finding are not counted here"),
    N_("resolution: Prometheus query_range means per step"),
    N_("savings on the measured curve; low and high vary the target only"),
    N_("no host power curve (no CPU power limit exported): savings not computed"),
    N_("idle: a step's mean host utilisation below 3%% (the IDLE_HOST P95 bound)"),
    N_("energy of the hosts' CPU/DRAM devices; GPUs are in their own findings"),
    N_("an observation, not a saving by itself"),
    # rules that see time (profiler/analysis/demand_rules.py, complementary.py, host_rules.py)
    N_(
        "busy hour: a 5-min mean at or above %(level)s in local time; a window recurs when "
        "busy in >= %(share)s of its weeks"
    ),
    N_(
        "off spans contain no hour any observed week found busy, nor any hour observed idle "
        "in fewer than %(weeks)s weeks"
    ),
    N_(
        "wake %(minutes)s min before each window; each off span costs %(seconds)s s of idle "
        "power (shutdown, boot/resume)"
    ),
    N_("off hours per year = off hours per week x 8,760 / 168"),
    N_("no power figure for the device: savings not computed"),
    N_("mean measured power (%(provenance)s) in the %(n)s idle hours of the week"),
    N_("%(weeks)s weeks of history (< %(full)s): confidence low"),
    N_(
        "packed first-fit by peak: no pool above %(target)s of one device's capacity at any "
        "observed step; steps any device missed are left out"
    ),
    N_("pool size: %(quantile)s of the summed demand / %(target)s"),
    N_(
        "saving: each freed device's idle power all year (its work's dynamic power moves "
        "with the work on a linear power curve)"
    ),
    N_("a freed device has no idle power figure: savings not computed"),
    N_("hot hour: a 5-min mean at or above %(level)s (20%% headroom) in local time"),
    # the SPECpower curve model's savings notes (profiler/analysis/curve.py)
    N_("SPECpower curve of %(group)s over %(n)s CPU package(s)"),
    N_("savings cover the CPU packages' share of the server's wall power (SPECpower curve)"),
    # market-based Scope 2 beside the grid line (profiler/model/savings.py)
    N_("market-based Scope 2 beside it: %(label)s"),
)
"""Every known line, most specific first (the first pattern that matches wins)."""

WORDS = (N_("active-idle"), N_("production"), N_("conservative"), N_("unknown"))
"""Placeholder values that are words, not names: translated where they stand."""

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class LineText:
    """One line as a report shows it.

    Attributes:
        text: the line in the report's language, or the English line as it came.
        english: True when `text` is the English original (mark it `lang="en"`).
    """

    text: str
    english: bool


def _regex(pattern: str) -> re.Pattern[str]:
    """Return the regular expression that recognises the lines of `pattern`."""
    parts = _PLACEHOLDER.split(pattern)
    out = []
    for i, part in enumerate(parts):
        out.append(f"(?P<{part}>.+?)" if i % 2 else re.escape(part.replace("%%", "%")))
    return re.compile("".join(out), re.DOTALL)


@cache
def _compiled() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((p, _regex(p)) for p in PATTERNS)


def _value(value: str, lang: Language) -> str:
    """Return a placeholder's value translated where it is a known word or line."""
    if value in WORDS:
        return lang.gettext(value)
    inner = translate_line(value, lang)
    return inner if inner is not None else value


def translate_line(line: str, lang: Language) -> str | None:
    """Return a known analyzer line in `lang`, None when no pattern knows it.

    English returns the line unchanged.
    """
    if lang.tag == "en":
        return line
    for pattern, regex in _compiled():
        match = regex.fullmatch(line)
        if match is not None:
            fields = {k: _value(v, lang) for k, v in match.groupdict().items()}
            return lang.gettext(pattern) % fields
    return None


def line_text(line: str, lang: Language) -> LineText:
    """Return what a report shows for an analyzer line (translated, else marked English)."""
    translated = lang.gettext(line) if line in WORDS else translate_line(line, lang)
    if translated is None:
        return LineText(line, lang.tag != "en")
    return LineText(translated, False)
