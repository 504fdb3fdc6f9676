"""Finding sentences in the report's language, built from a finding's machine-readable fields.

The analyzer's `message` is an English sentence and part of the JSON contract, so it is
not translated by parsing it. A report in another language builds its own sentence per
rule from the finding's `device`, `evidence`, `recommendation` and `savings`, with the
report's number formatting (`reports.numbers`). Where a figure the sentence needs is
missing from the evidence (an older analyzer, a hand-made document), the builder gives up
and the report shows the rule's title, action and figures table instead: a sentence never
carries a number the finding does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from profiler.analysis.ladder_data import STATED_TOLERANCE
from profiler.model.units import DAY_S, GIB, J_PER_KWH
from reports import numbers
from reports.i18n import N_, Language
from reports.sentence_parts import (
    Builder,
    Fields,
    MissingFigureError,
    count,
    it_kwh_of,
    number_of,
    percent_of,
    text_of,
    typed_of,
)
from reports.sentences_demand import DEMAND_BUILDERS, under_cpu_in_windows


def _gib(size_bytes: float) -> str:
    gib = size_bytes / GIB
    return f"{count(gib) if gib >= 1 and gib == round(gib) else numbers.sig(gib)} GiB"


def _quantile_key(evidence: Mapping[str, Any], suffix: str) -> tuple[str, float]:
    """Return ("P95", value) for an evidence key such as `p95_busy_cores` or `p99_5_...`."""
    for key in evidence:
        match = re.fullmatch(rf"p(\d+(?:_\d+)?)_{suffix}", key)
        if match:
            return f"P{match.group(1).replace('_', '.')}", number_of(evidence, key)
    raise MissingFigureError(suffix)


def _idle_host(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    fields = {
        "device": text_of(f, "device"),
        "p95": percent_of(number_of(ev, "p95_idle_test_util"), 1),
        "recent": percent_of(number_of(ev, "max_recent_30min_mean_util"), 1),
    }
    kwh = it_kwh_of(f)
    if kwh is None:
        return (
            N_(
                "%(device)s is idle: P95 of its 30-min peak CPU utilisation is %(p95)s and no "
                "30-min mean of the last 3 days exceeds %(recent)s; shut it down or reclaim it."
            ),
            fields,
        )
    return (
        N_(
            "%(device)s is idle: P95 of its 30-min peak CPU utilisation is %(p95)s and no "
            "30-min mean of the last 3 days exceeds %(recent)s; shut it down or reclaim it: "
            "powering it off saves about %(energy)s of IT energy per year."
        ),
        {**fields, "energy": numbers.energy_kwh(kwh)},
    )


def _under_cpu(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    if "hot_windows" in ev:
        return under_cpu_in_windows(f, lang)
    return (
        N_(
            "%(device)s runs hot: P99.5 of 5-min CPU use is %(busy)s of %(cores)s cores, "
            "leaving under %(headroom)s headroom; add capacity or spread the load."
        ),
        {
            "device": text_of(f, "device"),
            "busy": numbers.sig(number_of(ev, "p99_5_busy_cores")),
            "cores": count(number_of(ev, "provisioned_cores")),
            "headroom": percent_of(number_of(ev, "headroom")),
        },
    )


def _over_cpu(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    quantile, busy = _quantile_key(ev, "busy_cores")
    needed = number_of(ev, "needed_cores")
    return (
        N_(
            "%(device)s uses %(busy)s of %(cores)s cores at %(quantile)s (%(mode)s mode); "
            "%(size)s cores would serve it at %(target)s target utilisation."
        ),
        {
            "device": text_of(f, "device"),
            "busy": numbers.sig(busy),
            "cores": count(number_of(ev, "provisioned_cores")),
            "quantile": quantile,
            "mode": lang.gettext(text_of(ev, "mode")),
            "size": count(number_of(f.get("recommendation"), "cores")),
            # needed = busy / target, so the target is the evidence's own ratio
            "target": percent_of(busy / needed) if needed else numbers.NA,
        },
    )


def _over_mem(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    peak = number_of(ev, "max_daily_peak_bytes")
    return (
        N_(
            "%(device)s has %(installed)s of memory but its daily peak is %(peak)s; %(size)s "
            "would do with a %(margin)s margin."
        ),
        {
            "device": text_of(f, "device"),
            "installed": _gib(number_of(ev, "installed_bytes")),
            "peak": _gib(peak),
            "size": _gib(number_of(f.get("recommendation"), "mem_bytes")),
            "margin": percent_of(number_of(ev, "needed_bytes") / peak - 1) if peak else numbers.NA,
        },
    )


def _idle_gpu(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    fields = {"device": text_of(f, "device"), "days": numbers.sig(number_of(ev, "span_days"))}
    kwh = it_kwh_of(f)
    if kwh is None:
        return (
            N_(
                "%(device)s is idle: no utilisation and under 1 GiB used in %(days)s days; "
                "release it to the pool or power it down."
            ),
            fields,
        )
    return (
        N_(
            "%(device)s is idle: no utilisation and under 1 GiB used in %(days)s days; "
            "release it to the pool or power it down (%(energy)s of IT energy per year)."
        ),
        {**fields, "energy": numbers.energy_kwh(kwh)},
    )


def _allocated_idle_gpu(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    fields = {
        "device": text_of(f, "device"),
        "mem": _gib(number_of(ev, "max_mem_used_bytes")),
        "days": numbers.sig(number_of(ev, "span_days")),
    }
    kwh = it_kwh_of(f)
    if kwh is None:
        return (
            N_(
                "%(device)s is held but idle: %(mem)s allocated, no utilisation in %(days)s "
                "days; find and stop the process holding it."
            ),
            fields,
        )
    return (
        N_(
            "%(device)s is held but idle: %(mem)s allocated, no utilisation in %(days)s "
            "days; find and stop the process holding it (%(energy)s of IT energy per year)."
        ),
        {**fields, "energy": numbers.energy_kwh(kwh)},
    )


def _share_or_na(ev: Mapping[str, Any], key: str, lang: Language) -> str:
    if key not in ev:
        raise MissingFigureError(key)
    return lang.gettext(numbers.NA) if ev[key] is None else percent_of(number_of(ev, key), 1)


def _underused_gpu(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    return (
        N_(
            "%(device)s is underused: mean utilisation %(util)s, mean SM activity %(sm)s; "
            "batch more work onto it or move the job to a smaller GPU."
        ),
        {
            "device": text_of(f, "device"),
            "util": _share_or_na(ev, "mean_util", lang),
            "sm": _share_or_na(ev, "mean_sm_active", lang),
        },
    )


def _share_candidate(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    sm = ev.get("mean_sm_active")
    activity = number_of(ev, "mean_sm_active" if sm is not None else "mean_util")
    return (
        N_(
            "%(device)s does little (%(activity)s mean activity) in %(mem)s at most: a MIG "
            "slice or a shared GPU would serve it."
        ),
        {
            "device": text_of(f, "device"),
            "activity": percent_of(activity, 1),
            "mem": _gib(number_of(ev, "max_mem_used_bytes")),
        },
    )


def _poor_proportionality(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    estimated = typed_of(ev, "estimated", bool)
    fields = {
        "device": text_of(f, "device"),
        "workload": text_of(ev, "workload"),
        "ep": numbers.sig(number_of(ev, "ep")),
    }
    if estimated:
        return (
            N_(
                "the power model for %(device)s (%(provenance)s) gives EP %(ep)s and IPR "
                "%(ipr)s under %(workload)s: this restates the model, not the hardware; "
                "measure with RAPL or NVML before acting."
            ),
            {
                **fields,
                "ipr": numbers.sig(number_of(ev, "ipr")),
                "provenance": text_of(ev, "provenance"),
            },
        )
    return (
        N_(
            "%(device)s is poorly energy-proportional under %(workload)s: EP %(ep)s, idle "
            "draws %(ipr)s of peak power; consolidate load onto fewer, busier machines or "
            "enable deeper idle states."
        ),
        {**fields, "ipr": percent_of(number_of(ev, "ipr"))},
    )


def _low_efficiency(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    return (
        N_(
            "at its observed mean load of %(load)s this host does %(workload)s at %(rel_eff)s "
            "of its peak efficiency (units/J); consolidate work to run it busier or "
            "power-cap it."
        ),
        {
            "load": percent_of(number_of(ev, "observed_mean_util")),
            "workload": text_of(ev, "workload"),
            "rel_eff": percent_of(number_of(ev, "rel_eff")),
        },
    )


def _better_placement(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    return (
        N_(
            "%(workload)s does %(ratio)s\u00d7 the work per joule on %(other)s as on %(device)s at "
            "%(load)s load; run it on %(other)s."
        ),
        {
            "workload": text_of(ev, "workload"),
            "ratio": numbers.sig(number_of(ev, "ratio")),
            "other": text_of(ev, "other_device"),
            "device": text_of(f, "device"),
            "load": percent_of(number_of(ev, "target_load")),
        },
    )


def _consolidate(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    rec = f.get("recommendation")
    quantile, util = _quantile_key(ev, "group_util")
    hosts = typed_of(ev, "hosts", list)
    return (
        N_(
            "%(n)s similar hosts (%(hosts)s) together use %(util)s of their capacity at "
            "%(quantile)s; %(m)s of them would carry the load at %(target)s target "
            "utilisation, so %(free)s can be freed."
        ),
        {
            "n": count(number_of(ev, "n_hosts")),
            "hosts": ", ".join(str(h) for h in hosts),
            "util": percent_of(util, 1),
            "quantile": quantile,
            "m": count(number_of(rec, "hosts")),
            "target": percent_of(number_of(ev, "target_util")),
            "free": count(number_of(rec, "free_hosts")),
        },
    )


def _fleet_idle(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    by_host = typed_of(ev, "idle_energy_j_by_host", dict)
    return (
        N_(
            "%(n)s host(s) drew %(energy)s while idle in the window, about %(year)s of IT "
            "energy per year; see the IDLE_HOST and consolidation findings for what to "
            "switch off."
        ),
        {
            "n": count(len(by_host)),
            "energy": numbers.energy_kwh(number_of(ev, "idle_energy_j") / J_PER_KWH),
            "year": numbers.energy_kwh(number_of(ev, "idle_it_kwh_per_year")),
        },
    )


def _insufficient(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    ev = f.get("evidence") or {}
    text = lang.gettext(
        N_(
            "%(device)s: %(days)s days and %(hours)s h of data, below the %(need_days)s days "
            "and %(need_hours)s h needed for idle and right-sizing findings; keep monitoring."
        )
    ) % {
        "device": text_of(f, "device"),
        "days": numbers.sig(number_of(ev, "span_s") / DAY_S),
        "hours": numbers.sig(number_of(ev, "valid_hours")),
        "need_days": numbers.sig(number_of(ev, "required_span_s") / DAY_S),
        "need_hours": numbers.sig(number_of(ev, "required_hours")),
    }
    indicative = ev.get("indicative") or {}
    if numbers.missing(indicative.get("idle_share")):
        return "%(text)s", {"text": text}
    share = percent_of(number_of(indicative, "idle_share"))
    if numbers.missing(indicative.get("idle_energy_j")):
        extra = lang.gettext(
            N_("Indicative only, not a recommendation: idle in %(share)s of minutes.")
        ) % {"share": share}
    else:
        extra = lang.gettext(
            N_(
                "Indicative only, not a recommendation: idle in %(share)s of minutes, "
                "%(energy)s drawn while idle."
            )
        ) % {"share": share, "energy": numbers.energy_j(number_of(indicative, "idle_energy_j"))}
    return "%(text)s%(gap)s%(extra)s", {"text": text, "gap": _gap(lang), "extra": extra}


def _gap(lang: Language) -> str:
    """What separates two sentences: nothing after a CJK full stop, a space otherwise."""
    return "" if lang.is_cjk else " "


def _stated(f: Mapping[str, Any], lang: Language) -> tuple[str, Fields]:
    stated = (f.get("evidence") or {}).get("stated_figures")
    if not isinstance(stated, list) or not stated or not isinstance(stated[0], dict):
        raise MissingFigureError("stated_figures")
    first = stated[0]
    return (
        N_(
            "%(n)s figure(s) stated by the run differ from its samples by more than "
            "%(tolerance)s (e.g. %(workload)s at %(load)s: %(figure)s %(stated)s stated, "
            "%(seen)s from samples); the samples' figures are used."
        ),
        {
            "n": count(len(stated)),
            "tolerance": percent_of(STATED_TOLERANCE),
            "workload": text_of(first, "workload"),
            "load": percent_of(number_of(first, "target_load")),
            "figure": text_of(first, "figure"),
            "stated": numbers.sig(number_of(first, "stated"), 4),
            "seen": numbers.sig(number_of(first, "from_samples"), 4),
        },
    )


BUILDERS: dict[str, Builder] = {
    "IDLE_HOST": _idle_host,
    "UNDER_PROVISIONED_CPU": _under_cpu,
    "OVER_PROVISIONED_CPU": _over_cpu,
    "OVER_PROVISIONED_MEM": _over_mem,
    "IDLE_GPU": _idle_gpu,
    "ALLOCATED_IDLE_GPU": _allocated_idle_gpu,
    "UNDERUSED_GPU": _underused_gpu,
    "MIG_OR_SHARE_CANDIDATE": _share_candidate,
    "POOR_PROPORTIONALITY": _poor_proportionality,
    "LOW_EFFICIENCY_HOST": _low_efficiency,
    "BETTER_PLACEMENT": _better_placement,
    "CONSOLIDATE_HOSTS": _consolidate,
    "FLEET_IDLE_ENERGY": _fleet_idle,
    "INSUFFICIENT_DATA": _insufficient,
    "STATED_FIGURES_DISAGREE": _stated,
    **DEMAND_BUILDERS,
}
"""Rule id -> the builder of its sentence (one per rule the analyzer emits)."""


def finding_sentence(finding: Mapping[str, Any], lang: Language) -> str | None:
    """Return the finding's sentence in `lang`, None when its evidence lacks a figure.

    Args:
        finding: one finding, shaped as docs/design.md#findings.
        lang: the report language (English callers show the analyzer's message instead).
    """
    builder = BUILDERS.get(str(finding.get("rule", "")))
    if builder is None:
        return None
    try:
        message, fields = builder(finding, lang)
    except MissingFigureError:
        return None
    return lang.gettext(message) % fields
