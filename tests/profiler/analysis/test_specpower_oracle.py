"""An independent oracle: published SPECpower_ssj2008 results, reproduced from their ladders.

Each result below is SPEC's own disclosure: the "Benchmark Results Summary" table of the
result page (target load, ssj_ops, average active power in W, and active idle), and the
page's headline "SPECpower_ssj2008 = N overall ssj_ops/watt". The ladder is imported in
the design's plain phase shape (`ladders.ladder_doc`: phases with units, samples with
power; no achieved load, no validity, no per-phase figure) and finwatt must compute the
overall figure, sum of ssj_ops / (sum of power + active idle), within 0.5 % of SPEC's.

Sources. The result pages are at https://www.spec.org/power_ssj2008/results/ under the
file names given (each page's quarter directory `resYYYYqN` is its submission and
publication quarter, which agree for every result chosen). The figures were read from
copies of those pages in delanoflipse/spec-power-model, commit
b3ec30a183c6875fee68b43eeee98adef350b144, `raw/html/<file name>` (619 SPEC result
pages; 618 of them reproduce their overall figure within 0.5 % from their own tables,
the headline of the other, power_ssj2008-20120611-00495, did not parse).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.model.savings import Site
from profiler.store.database import Store
from profiler.store.interchange import import_run
from profiler.workflows.analyze import analyze_run
from tests.profiler.analysis.ladders import ladder_doc

SPEC_RESULTS = "https://www.spec.org/power_ssj2008/results"

# (url, published overall ssj_ops/watt, [(target load, ssj_ops, average active power W)]),
# the ten loaded levels from 100 % down, then active idle (0 ssj_ops) as SPEC lists them.
RESULTS: list[tuple[str, float, list[tuple[float, float, float]]]] = [
    (
        # Fujitsu Siemens Computers PRIMERGY RX300 S3 (Intel Xeon L5335), published Dec 11, 2007
        f"{SPEC_RESULTS}/res2007q4/power_ssj2008-20071128-00001.html",
        446,
        [
            (1.0, 201_689, 260), (0.9, 183_027, 256), (0.8, 163_381, 250),
            (0.7, 144_116, 245), (0.6, 122_114, 238), (0.5, 101_408, 231),
            (0.4, 81_694, 224), (0.3, 60_513, 215), (0.2, 41_040, 207),
            (0.1, 20_240, 197), (0.0, 0, 187),
        ],
    ),
    (
        # IBM Corporation IBM System x3400 M2, published Jun 3, 2009
        f"{SPEC_RESULTS}/res2009q2/power_ssj2008-20090519-00166.html",
        1_750,
        [
            (1.0, 548_091, 223), (0.9, 496_282, 211), (0.8, 441_866, 199),
            (0.7, 387_041, 186), (0.6, 329_878, 173), (0.5, 276_523, 161),
            (0.4, 220_639, 148), (0.3, 164_754, 135), (0.2, 110_104, 121),
            (0.1, 55_235, 104), (0.0, 0, 70.9),
        ],
    ),
    (
        # Fujitsu PRIMERGY RX350 S7 (Intel Xeon E5-2660), published Jun 27, 2012
        f"{SPEC_RESULTS}/res2012q2/power_ssj2008-20120613-00501.html",
        5_035,
        [
            (1.0, 1_306_867, 240), (0.9, 1_178_671, 211), (0.8, 1_046_716, 180),
            (0.7, 914_857, 150), (0.6, 785_258, 129), (0.5, 653_195, 114),
            (0.4, 524_106, 103), (0.3, 391_081, 92.8), (0.2, 262_259, 83.6),
            (0.1, 131_064, 73.8), (0.0, 0, 52.3),
        ],
    ),
    (
        # GIGA-BYTE TECHNOLOGY CO., LTD. R282-Z90, published Mar 24, 2022
        f"{SPEC_RESULTS}/res2022q1/power_ssj2008-20220215-01164.html",
        18_692,
        [
            (1.0, 12_617_831, 501), (0.9, 11_401_635, 470), (0.8, 10_148_526, 437),
            (0.7, 8_871_263, 404), (0.6, 7_538_009, 368), (0.5, 6_335_173, 343),
            (0.4, 5_064_767, 312), (0.3, 3_798_503, 279), (0.2, 2_543_240, 245),
            (0.1, 1_269_773, 207), (0.0, 0, 156),
        ],
    ),
]  # fmt: skip


def analysed_workload(path: Path, run_id: str, levels: list[Any]) -> dict[str, Any]:
    with Store(path) as store:
        imported = import_run(store, ladder_doc(levels, run_id=run_id, host=run_id))
        run = store.runs.get(imported)
        assert run is not None
        doc = analyze_run(store, run, Site(), Thresholds()).as_dict()
    (workload,) = doc["metrics"]["workloads"]
    return workload


@pytest.mark.parametrize(
    ("url", "published", "levels"), RESULTS, ids=[r[0].rsplit("/", 1)[1] for r in RESULTS]
)
def test_published_specpower_overall_is_reproduced_from_the_plain_ladder(
    tmp_path: Path, url: str, published: float, levels: list[tuple[float, float, float]]
) -> None:
    workload = analysed_workload(tmp_path / "f.db", url.rsplit("/", 1)[1][:-5], levels)
    assert workload["note"] is None, url  # every level valid, derived from the data alone
    assert workload["overall_units_per_j"] == pytest.approx(published, rel=0.005), url
