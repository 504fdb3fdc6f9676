"""Build finwatt's SPECpower tables: parsed results and the per-group curve table.

    python scripts/build_specpower_table.py --source spec_data.csv   # parse, then derive
    python scripts/build_specpower_table.py                          # derive again from
                                                                     # the shipped results

`--source` is a pipe-separated table of SPECpower_ssj2008 result pages, one row a page,
in the columns of `data/spec_data.csv` of github.com/delanoflipse/spec-power-model
(commit 71fed016f3d24fdd65885bb7be33a82655a889d4, 619 results published 2007-2022,
parsed from SPEC's pages): `Test_Sponsor`, `HW_Model`, `Publication`, `HW_CPUName`,
`HW_CPUsEnabled` ("12 cores, 2 chips, 6 cores/chip"), `HW_HardwareThreads`
("24 (2 / core)"), `HW_MemAmountGB`, `<N>_AvgPower` for N = 10 ... 100 and `ActiveIdle`.
Only those facts are kept (docs/estimates.md, "Sources and licences"). Writes
profiler/sensors/specpower/data/specpower_results.csv (from --source) and
specpower_curves.csv (always, from the results).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import re
import sys
from datetime import datetime
from pathlib import Path

from profiler.sensors.specpower.table import (
    SpecResult,
    build_table,
    format_results,
    format_table,
    parse_results,
)

DATA = Path(__file__).resolve().parent.parent / "profiler" / "sensors" / "specpower" / "data"
RESULTS = DATA / "specpower_results.csv"
CURVES = DATA / "specpower_curves.csv"


def _count(text: str, unit: str) -> int:
    match = re.search(rf"(\d+)\s*{unit}", text)
    if match is None:
        raise ValueError(f"no {unit} count in {text!r}")
    return int(match.group(1))


def _result(row: dict[str, str]) -> SpecResult:
    published = datetime.strptime(row["Publication"].strip(), "%b %d, %Y").date().isoformat()
    system = f"{row['Test_Sponsor'].strip()} {row['HW_Model'].strip()}"
    watts = [float(row["ActiveIdle"])] + [float(row[f"{p}_AvgPower"]) for p in range(10, 101, 10)]
    return SpecResult(
        f"{published} {system}",
        system,
        published,
        " ".join(row["HW_CPUName"].split()),
        _count(row["HW_CPUsEnabled"], "chips?"),
        _count(row["HW_CPUsEnabled"], "cores?"),
        int(row["HW_HardwareThreads"].split()[0]),
        float(row["HW_MemAmountGB"]),
        tuple(watts),
    )


def parse_source(path: Path) -> list[SpecResult]:
    """Parse the pipe-separated source table; duplicate names get " #2", " #3"."""
    seen: dict[str, int] = {}
    results = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="|"):
            if row["Publication"].strip() == "Unpublished":
                continue  # not a published result (one in the source, 2019): left out
            result = _result(row)
            seen[result.result] = seen.get(result.result, 0) + 1
            if seen[result.result] > 1:
                result = dataclasses.replace(
                    result, result=f"{result.result} #{seen[result.result]}"
                )
            results.append(result)
    return sorted(results, key=lambda r: r.result)


def main(argv: list[str] | None = None) -> int:
    """Parse --source (if given), then derive the curve table from the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", type=Path, help="pipe-separated parsed result pages")
    args = parser.parse_args(argv)
    if args.source is not None:
        RESULTS.write_text(format_results(parse_source(args.source)), encoding="utf-8")
    results = parse_results(RESULTS.read_text(encoding="utf-8"))
    rows = build_table(results)
    CURVES.write_text(format_table(rows), encoding="utf-8")
    print(f"{len(results)} results -> {len(rows)} groups in {CURVES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
