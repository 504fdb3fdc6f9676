"""`estimated:specpower-curve`: the shipped SPECpower table, its rebuild, and the model.

The three named results are SPEC's own disclosures, https://www.spec.org/power_ssj2008/
results/<quarter>/<file>.html; their figures below were typed from the pages' "Benchmark
Results Summary" tables (active idle first, then 10 % ... 100 %), the same pages as
tests/profiler/analysis/test_specpower_oracle.py.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from profiler.analysis.curve import model_curves
from profiler.analysis.thresholds import Thresholds
from profiler.sensors.cpu import CpuSensors
from profiler.sensors.probe import probe_sensors
from profiler.sensors.specpower.curve import (
    SpecpowerCurveModel,
    choose_group,
    describe,
    shipped_table,
)
from profiler.sensors.specpower.groups import cpu_groups
from profiler.sensors.specpower.table import (
    RESULT_FIELDS,
    SpecResult,
    SpecTableError,
    build_table,
    format_table,
    parse_results,
    parse_table,
)
from tests.fakes.cpu import scripted_cpu_sensors

SAMPLE = Path(__file__).parent / "data" / "specpower_sample.csv"
DATA = files("profiler.sensors.specpower") / "data"
SPEC = "https://www.spec.org/power_ssj2008/results"

NAMED = [
    (  # Fujitsu PRIMERGY RX350 S7, 2 x Intel Xeon E5-2660, 32 threads, published Jun 27, 2012
        f"{SPEC}/res2012q2/power_ssj2008-20120613-00501.html",
        "2012-06-27 Fujitsu PRIMERGY RX350 S7 (Intel Xeon E5-2660)",
        (52.3, 73.8, 83.6, 92.8, 103, 114, 129, 150, 180, 211, 240),
        "intel xeon e5-2660",
    ),
    (  # IBM System x3400 M2, 2 x Intel Xeon E5540, 16 threads, published Jun 3, 2009
        f"{SPEC}/res2009q2/power_ssj2008-20090519-00166.html",
        "2009-06-03 IBM Corporation IBM System x3400 M2",
        (70.9, 104, 121, 135, 148, 161, 173, 186, 199, 211, 223),
        "intel xeon nehalem",  # the only other E5540 result is too few: its generation
    ),
    (  # GIGA-BYTE R282-Z90, 2 x AMD EPYC 7773X, 256 threads, published Mar 24, 2022
        f"{SPEC}/res2022q1/power_ssj2008-20220215-01164.html",
        "2022-03-24 GIGA-BYTE TECHNOLOGY CO., LTD. R282-Z90",
        (156, 207, 245, 279, 312, 343, 368, 404, 437, 470, 501),
        "amd epyc 7773x",
    ),
]


def shipped_results() -> list[SpecResult]:
    return parse_results(DATA.joinpath("specpower_results.csv").read_text("utf-8"))


def test_the_sample_rebuilds_its_groups_rows_of_the_shipped_table_exactly() -> None:
    sample_text = SAMPLE.read_text("utf-8")
    shipped_lines = set(DATA.joinpath("specpower_results.csv").read_text("utf-8").splitlines())
    assert set(sample_text.splitlines()) <= shipped_lines  # the sample is shipped data
    rebuilt = format_table(build_table(parse_results(sample_text))).splitlines()[1:]
    shipped = DATA.joinpath("specpower_curves.csv").read_text("utf-8").splitlines()
    by_key = {
        row.group.key: line
        for row, line in zip(parse_table("\n".join(shipped)), shipped[1:], strict=True)
    }
    complete = {
        row.group.key
        for row in build_table(parse_results(sample_text))
        if row.results == shipped_table()[row.group.key].results
    }
    assert {"intel xeon kaby lake", "amd epyc zen (naples)", "amd epyc 7773x"} <= complete
    for line in rebuilt:
        key = line.split(",")[1].strip('"')
        if key in complete:
            assert line == by_key[key], key


def test_the_shipped_table_is_the_build_of_the_shipped_results() -> None:
    shipped = DATA.joinpath("specpower_curves.csv").read_text("utf-8")
    assert format_table(build_table(shipped_results())) == shipped


@pytest.mark.parametrize(("url", "name", "watts", "group"), NAMED, ids=[n[1][:10] for n in NAMED])
def test_three_published_results_are_predicted_within_their_band_when_held_out(
    url: str, name: str, watts: tuple[float, ...], group: str
) -> None:
    (result,) = [r for r in shipped_results() if r.result == name]
    assert result.watts == pytest.approx(watts), url  # parsed as SPEC published it
    others = [r for r in shipped_results() if r.result != name]
    row = choose_group(result.cpu, {r.group.key: r for r in build_table(others)})
    assert row.group.key == group
    truth = np.asarray(watts)
    assert (row.ref_threads, set(row.exponent)) == (1.0, {1.0})  # model/generation: per thread
    point = np.asarray(row.ref_w) * result.threads
    assert np.all(np.asarray(row.ref_low_w) * result.threads <= truth), url
    assert np.all(truth <= np.asarray(row.ref_high_w) * result.threads), url
    loaded = np.abs(point[1:] - truth[1:]) / truth[1:]
    assert loaded.max() < 0.11, url  # 10-100 %: within 11 % of the published power


@pytest.mark.parametrize(
    ("name", "levels"),
    [
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", ["model", "generation", "family"]),
        ("AMD EPYC 7763 64-Core Processor", ["model", "generation", "family"]),
        ("AMD EPYC", ["family"]),
        ("Intel Xeon Processor (Cascadelake)", ["generation", "family"]),  # a KVM model
        ("AMD EPYC-Rome Processor", ["generation", "family"]),
        ("Intel Xeon Processor", ["family"]),
        ("Neoverse-N1", []),
    ],
)
def test_a_cpu_name_has_its_groups_most_specific_first(name: str, levels: list[str]) -> None:
    groups = cpu_groups(name)
    assert [g.level for g in groups][: len(levels)] == levels
    assert groups[-1].key == "all"


def test_generations_follow_the_vendors_numbering() -> None:
    def generation(name: str) -> str:
        return next(g.label for g in cpu_groups(name) if g.level == "generation")

    assert generation("Intel Xeon Gold 6248R") == "Intel Xeon Cascade Lake"
    assert generation("Intel Xeon Platinum 8380HL") == "Intel Xeon Cooper Lake"
    assert generation("Intel Xeon E5-2686 v4") == "Intel Xeon Broadwell"
    assert generation("Intel Xeon X5670") == "Intel Xeon Westmere"
    assert generation("AMD EPYC 7742") == "AMD EPYC Zen 2 (Rome)"
    assert generation("AMD Opteron 6276") == "AMD Opteron Bulldozer"


def test_a_vm_without_a_model_number_gets_its_family_and_its_error() -> None:
    row = choose_group("AMD EPYC")
    assert (row.group.level, row.group.label) == ("family", "AMD EPYC")
    assert row.results >= 50
    text = describe(row)
    assert "AMD EPYC (family" in text and "leave-one-out error median" in text


def _cpu(root: Path, model: str, busy: float, n_cpus: int = 2) -> CpuSensors:
    return scripted_cpu_sensors(
        root,
        [[(busy * k, float(k))] * n_cpus for k in range(30)],
        memory=(8 * 2**30, 4 * 2**30),
        cpu_model=model,
    )


def test_a_family_is_a_power_law_in_threads_fitted_by_hand(tmp_path: Path) -> None:
    # By hand: a family's curve at t threads is W_ref x (t / t_ref) ^ b, fitted as log W
    # against log t by least squares at each level (t_ref the geometric mean).
    members = [r for r in shipped_results() if "amd epyc" in {g.key for g in cpu_groups(r.cpu)}]
    logt = np.log([m.threads for m in members])
    logw = np.log([m.watts[10] for m in members])  # 100 %
    slope, intercept = np.polyfit(logt, logw, 1)
    row = shipped_table()["amd epyc"]
    assert row.exponent[10] == pytest.approx(slope, rel=1e-3)
    assert row.ref_threads < 256  # above the reference size, the fit itself
    assert float(row.watts(256)[10]) == pytest.approx(np.exp(intercept) * 256**slope, rel=1e-3)
    at_ref = float(row.watts(row.ref_threads)[10])  # below it, a share of a reference server
    assert float(row.watts(2)[10]) == pytest.approx(2 / row.ref_threads * at_ref, rel=1e-9)


def test_the_model_is_the_groups_curve_at_the_packages_threads(tmp_path: Path) -> None:
    cpu = _cpu(tmp_path, "AMD EPYC", busy=0.25)
    model = SpecpowerCurveModel(cpu)
    row = choose_group("AMD EPYC")
    cpu.start(0.0)
    model.start(0.0)
    for t in range(1, 11):
        cpu.read(float(t))
        (reading,) = model.read(float(t))
    assert row.ref_threads > 2  # 2 vCPUs: their share of the group's reference server
    at_2 = np.asarray(row.ref_w) * 2 / row.ref_threads
    by_hand = (at_2[2] + at_2[3]) / 2  # u = 0.25: halfway between 20 % and 30 %
    assert reading.power_w == pytest.approx(by_hand)
    assert reading.energy_j == pytest.approx(10 * by_hand)
    (device,) = model.devices()
    assert device.provenance == "estimated:specpower-curve"
    assert device.details["specpower_group"] == "AMD EPYC"
    assert device.details["specpower_results"] == row.results
    assert device.details["model_error_p90_pct"] == pytest.approx(row.err_p90_pct)
    assert device.details["model_idle_w"] == pytest.approx(at_2[0])


def test_probe_without_sensor_or_tdp_setting_uses_the_curve_and_savings_use_its_band(
    tmp_path: Path,
) -> None:
    sensors = probe_sensors(sysfs_root=tmp_path, want_gpu=False)
    try:
        cpu0 = next(d for d in sensors.devices if d.device_id == "cpu:0")
        assert cpu0.provenance == "estimated:specpower-curve"
        model = next(a for a in sensors.availability if a.family == "model")
        assert "SPECpower group" in model.reason and "90th percentile" in model.reason
    finally:
        sensors.close()
    curves = model_curves([cpu0], Thresholds())
    assert curves is not None
    point, low, high = curves
    recorded = cpu0.details["model_curve_w"]
    assert [w for _, w in point.points] == pytest.approx([w for _, w in recorded])
    assert low.power_at(0.3) < point.power_at(0.3) < high.power_at(0.3)
    assert point.estimated and "SPECpower curve of" in point.label


def test_a_tdp_setting_keeps_the_linear_model(tmp_path: Path) -> None:
    sensors = probe_sensors(sysfs_root=tmp_path, want_gpu=False, cpu_tdp_w=120.0)
    try:
        cpu0 = next(d for d in sensors.devices if d.device_id == "cpu:0")
        assert cpu0.provenance == "estimated:linear-tdp"
    finally:
        sensors.close()


def test_a_malformed_results_row_names_its_line() -> None:
    header, first, second = SAMPLE.read_text("utf-8").splitlines()[:3]
    fields = second.split(",")
    fields[RESULT_FIELDS.index("chips")] = "0"
    with pytest.raises(SpecTableError, match="line 3: counts and watts must be > 0"):
        parse_results("\n".join([header, first, ",".join(fields)]))
    with pytest.raises(SpecTableError, match="line 2"):
        parse_results("\n".join([header, first.replace(",", ",x", 8)]))
