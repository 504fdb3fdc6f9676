"""GPU check, stage 5 checks and the summary: what `docs/gpu-validation.md` records.

`run_checks` reads `finwatt run --device gpu --quick --json` and checks, per GPU phase:
the energy is measured by the NVML counter (`measured:nvml-energy`), sample coverage is at
least `MIN_COVERAGE`, the 50 % level was achieved within `LOAD_TOLERANCE` (the ladder's
+-5 points), and mean power rises with the load (0 % < 50 % < 100 %) per workload.

`summarise` turns the stage files of an output folder into `summary.md`.

Run: python -m bench.gpu_summary --out DIR   (reads DIR/*.json, writes DIR/summary.md)
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MIN_COVERAGE = 0.95
LOAD_TOLERANCE = 0.05
COUNTER = "measured:nvml-energy"


def run_checks(run: dict[str, Any]) -> dict[str, Any]:
    """Check a `finwatt run --json` document's GPU phases; each check says why it failed."""
    phases = [p for p in run.get("phases", []) if str(p.get("device", "")).startswith("gpu")]
    problems: dict[str, list[str]] = {
        "provenance": [],
        "coverage": [],
        "half_load": [],
        "power": [],
    }
    by_ladder: dict[tuple[str, str], dict[float, Any]] = {}
    for p in phases:
        name = f"{p['workload']} {p['device']} at {p['target_load']:.0%}"
        if p.get("provenance") != COUNTER:
            problems["provenance"].append(f"{name}: {p.get('provenance')}")
        coverage = p.get("coverage")
        if coverage is None or coverage < MIN_COVERAGE:
            problems["coverage"].append(f"{name}: {coverage}")
        if p["target_load"] == 0.5:
            achieved = p.get("achieved_load")
            if achieved is None or abs(achieved - 0.5) > LOAD_TOLERANCE:
                problems["half_load"].append(f"{name}: achieved {achieved}")
        ladder = by_ladder.setdefault((p["workload"], p["device"]), {})
        ladder[p["target_load"]] = p.get("mean_power_w")
    for (workload, device), powers in by_ladder.items():
        levels = sorted(powers)
        watts = [powers[level] for level in levels]
        known = all(w is not None for w in watts)
        if not (known and all(a < b for a, b in itertools.pairwise(watts))):
            steps = ", ".join(f"{lv:.0%} {w} W" for lv, w in zip(levels, watts, strict=True))
            problems["power"].append(f"{workload} {device}: {steps}")
    ok = bool(phases) and run.get("status") == "complete" and not any(problems.values())
    return {"gpu_phases": len(phases), "status": run.get("status"), "problems": problems, "ok": ok}


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _facts_lines(facts: dict[str, Any]) -> list[str]:
    lines = []
    env = facts.get("environment", {})
    for gpu in env.get("gpus", []):
        lines.append(
            f"- card: {gpu.get('name')} ({gpu.get('uuid')}), driver "
            f"{gpu.get('driver_version')}, MIG {gpu.get('mig.mode.current')}, "
            f"persistence {gpu.get('persistence_mode')}"
        )
    if env:
        unknown = ", ".join(env.get("fields_unknown", [])) or "none"
        lines.append(
            f"- nvidia-smi energy field: {env.get('energy_field')}; fields this driver "
            f"lacks: {unknown}"
        )
    for gpu in facts.get("nvml", {}).get("gpus", []):
        latency = gpu["latency"].items()
        lat = ", ".join(f"{k} {v['median_us']:.0f}" for k, v in latency if "median_us" in v)
        per = ", ".join(f"{k} {v.get('median_s')}" for k, v in gpu["update_period"].items())
        lines.append(f"- {gpu['device']} NVML latency (median us): {lat}")
        lines.append(f"- {gpu['device']} update periods (s): {per}")
    mapping = facts.get("nvml", {}).get("mapping")
    if mapping:
        lines.append(
            f"- CUDA ordinal by NVML index ({mapping.get('cuda_runtime')}): "
            f"{mapping.get('cuda_ordinal_by_nvml_index')}; PCI-order prediction matches: "
            f"{mapping.get('prediction_matches_runtime')}"
        )
    return lines


def _cell(name: str, cell: dict[str, Any]) -> str:
    vs = "" if cell["vs_counter"] is None else f" ({cell['vs_counter']:+.1%})"
    return f"{name} {cell['energy_j']:.0f}{vs}"


def _cross_lines(cross: dict[str, Any]) -> list[str]:
    lines = ["", "## Energy cross-check (J per window; vs counter)", ""]
    for row in cross.get("table", []):
        cells = [
            _cell(k, v)
            for k, v in row.items()
            if isinstance(v, dict) and v.get("energy_j") is not None
        ]
        lines.append(f"- {row['window']} ({row['seconds']:.1f} s): " + "; ".join(cells))
    return lines


def _run_lines(run: dict[str, Any]) -> list[str]:
    checks = run_checks(run)
    lines = ["", f"## finwatt run --device gpu --quick: ok={checks['ok']}", ""]
    for p in run.get("phases", []):
        lines.append(
            f"- {p['workload']} {p['device']} {p['target_load']:.0%}: achieved "
            f"{p.get('achieved_load')}, {p.get('mean_power_w')} W, "
            f"{p.get('j_per_1000_units')} J/1000 {p.get('unit')}, {p.get('provenance')}, "
            f"coverage {p.get('coverage')}"
        )
    for name, found in checks["problems"].items():
        if found:
            lines.append(f"- !! {name}: {'; '.join(found)}")
    return lines


def _correctness_lines(correct: dict[str, Any]) -> list[str]:
    lines = ["", "## Correctness vs CPU", ""]
    for name, r in correct.items():
        if "unavailable" in r:
            lines.append(f"- {name}: unavailable ({r['unavailable']})")
            continue
        lines.append(
            f"- {name}: ok={r['ok']}; normal VaR/ES off by {r['risk']['normal']['errors_in_se']}"
            f" SE; gbm vs numpy {r['risk']['gbm']['relative']}; scores max diff "
            f"{r['inference']['max_abs_diff']:.1e}; ledger {r['ledger']}"
        )
    return lines


def summarise(out: Path) -> str:
    """The markdown summary of every stage whose file is in `out`."""
    lines = ["# finwatt GPU check", ""]
    lines += _facts_lines(_load(out / "facts.json") or {})
    doctor = _load(out / "doctor.json") or {}
    for family in doctor.get("families", []):
        if family.get("family") == "nvml":
            lines.append(f"- doctor nvml: {family.get('state')}: {family.get('reason')}")
    cross = _load(out / "crosscheck.json")
    if cross:
        lines += _cross_lines(cross)
    run = _load(out / "run.json")
    if run:
        lines += _run_lines(run)
    correct = _load(out / "correctness.json")
    if correct:
        lines += _correctness_lines(correct)
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    text = summarise(args.out)
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
