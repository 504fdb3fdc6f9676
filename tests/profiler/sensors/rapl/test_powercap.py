from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.model.device import DeviceStatus
from profiler.model.provenance import MEASURED_RAPL
from profiler.model.samples import Reading
from profiler.sensors.base import FamilyState, SensorError, SensorFamily
from profiler.sensors.rapl.powercap import (
    CONSERVATIVE_MAX_POWER_W,
    RaplSensors,
    counter_delta_uj,
    sysfs_root_from_env,
    wrap_or_reset_uj,
)
from tests.fakes.powercap import (
    DEFAULT_MAX_ENERGY_RANGE_UJ,
    FakePowercap,
    SwitchableOpener,
    denying_opener,
)

RANGE_UJ = DEFAULT_MAX_ENERGY_RANGE_UJ


def no_sleep(_seconds: float) -> None:
    pass


def sensors(
    root: Path,
    opener: Callable[[Path], str] = Path.read_text,
    probe_sleep: Callable[[float], None] = no_sleep,
) -> RaplSensors:
    return RaplSensors(root, opener, probe_sleep=probe_sleep)


def by_device(readings: list[Reading]) -> dict[str, Reading]:
    return {r.device_id: r for r in readings}


def read_at_1_s(
    fake: FakePowercap, rapl: RaplSensors, advance_uj: dict[str, int]
) -> dict[str, Reading]:
    """Start `rapl` at 0 s, advance each zone's counter by its µJ, and read at 1 s."""
    rapl.start(0.0)
    for zone, uj in advance_uj.items():
        fake.advance(zone, uj)
    return by_device(rapl.read(1.0))


def two_socket_tree(root: Path) -> FakePowercap:
    fake = FakePowercap(root)
    fake.add_zone("intel-rapl:0", "package-0", 1_000_000, power_limit_uw=205_000_000)
    fake.add_zone("intel-rapl:0:0", "dram", 50_000)
    fake.add_zone("intel-rapl:0:1", "core", 70_000)
    fake.add_zone("intel-rapl:1", "package-1", 9_000_000, power_limit_uw=205_000_000)
    fake.add_zone("intel-rapl:1:0", "dram", 80_000)
    return fake


def test_implements_sensor_family(tmp_path: Path) -> None:
    assert isinstance(sensors(tmp_path), SensorFamily)
    assert sensors(tmp_path).name == "rapl"


def test_sysfs_root_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FINWATT_SYSFS_ROOT", raising=False)
    assert sysfs_root_from_env() == Path("/sys")
    monkeypatch.setenv("FINWATT_SYSFS_ROOT", str(tmp_path))
    assert sysfs_root_from_env() == tmp_path


def test_no_powercap_dir_is_not_found_with_reason(tmp_path: Path) -> None:
    rapl = sensors(tmp_path)
    availability = rapl.availability()
    assert availability.state is FamilyState.NOT_FOUND
    assert str(tmp_path / "class" / "powercap") in availability.reason
    assert availability.fix is not None
    assert rapl.devices() == []
    assert rapl.poll_interval_s is None
    with pytest.raises(SensorError, match="no powercap directory"):
        rapl.start(0.0)


def test_powercap_without_rapl_zones_is_not_found(tmp_path: Path) -> None:
    FakePowercap(tmp_path)
    availability = sensors(tmp_path).availability()
    assert availability.state is FamilyState.NOT_FOUND
    assert "no RAPL package zones" in availability.reason


def test_wrap_between_two_reads(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", RANGE_UJ - 1_000_000)
    rapl = sensors(tmp_path)
    rapl.start(10.0)
    fake.set_energy("intel-rapl:0", 2_000_000)  # wrapped: 1 J to the top, 1 µJ to 0, 2 J
    reading = by_device(rapl.read(11.0))["cpu:0"]
    assert reading.energy_j == pytest.approx(3.000001)
    assert reading.power_w == pytest.approx(3.000001)
    assert reading.status is DeviceStatus.OK


def test_counter_reset_is_not_taken_for_a_wrap(tmp_path: Path) -> None:
    """docs/analyzer.md#data-truth: a 5 W package whose counter restarts must not gain 262 kJ."""
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 50_000_000, power_limit_uw=5_000_000)
    rapl = sensors(tmp_path)
    rapl.start(0.0)
    fake.advance("intel-rapl:0", 5_000_000)  # 5 J in 1 s: 5 W
    assert by_device(rapl.read(1.0))["cpu:0"].energy_j == pytest.approx(5.0)
    fake.set_energy("intel-rapl:0", 3_000_000)  # driver reload: the counter restarts low
    reset = by_device(rapl.read(2.0))["cpu:0"]
    assert reset.energy_j is None  # that interval is unknown: dropped, not +262 kJ nor 0 W
    assert reset.power_w is None
    assert reset.status is DeviceStatus.DEGRADED
    fake.advance("intel-rapl:0", 4_000_000)
    after = by_device(rapl.read(3.0))["cpu:0"]
    assert after.energy_j == pytest.approx(9.0)
    assert after.power_w == pytest.approx(4.0)
    assert after.status is DeviceStatus.OK
    assert "counter reset" in rapl.last_errors["intel-rapl:0"]


def test_a_wrap_at_plausible_power_is_still_a_wrap() -> None:
    # 3 J over 1 s across the top of the range on a 5 W part: a wrap, 3 W
    assert wrap_or_reset_uj(RANGE_UJ - 1_000_000, 2_000_000, RANGE_UJ, 1.0, 5.0) == 3_000_001
    # the same decrease read 1 ms later would be 3 kW: a reset
    assert wrap_or_reset_uj(RANGE_UJ - 1_000_000, 2_000_000, RANGE_UJ, 0.001, 5.0) is None
    # the case: 262 kJ in one tick on a 5 W CPU
    assert wrap_or_reset_uj(10_000_000, 9_000_000, RANGE_UJ, 1.0, 5.0) is None
    assert wrap_or_reset_uj(1, 2, RANGE_UJ, 1.0, 5.0) == 1  # an increase is an advance


def test_power_is_energy_over_time_between_last_two_reads(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 5_000_000)
    rapl = sensors(tmp_path)
    rapl.start(0.0)
    fake.advance("intel-rapl:0", 100_000_000)
    first = by_device(rapl.read(2.0))["cpu:0"]
    fake.advance("intel-rapl:0", 30_000_000)
    second = by_device(rapl.read(2.5))["cpu:0"]
    assert first.power_w == pytest.approx(50.0)
    assert second.energy_j == pytest.approx(130.0)
    assert second.power_w == pytest.approx(60.0)
    same_time = by_device(rapl.read(2.5))["cpu:0"]
    assert same_time.power_w is None
    assert same_time.energy_j == pytest.approx(130.0)


def test_several_sockets(tmp_path: Path) -> None:
    fake = two_socket_tree(tmp_path)
    rapl = sensors(tmp_path)
    availability = rapl.availability()
    assert availability.state is FamilyState.FOUND
    assert "2 package(s) and 2 DRAM zone(s)" in availability.reason
    assert "intel-rapl:0:1" in availability.reason  # core: named, not read
    devices = {d.device_id: d for d in rapl.devices()}
    assert list(devices) == ["cpu:0", "cpu:1", "dram:0", "dram:1"]
    assert {d.provenance for d in devices.values()} == {MEASURED_RAPL}
    assert devices["cpu:0"].kind == "cpu"
    assert devices["cpu:0"].model is None
    assert devices["cpu:0"].power_limit_w == pytest.approx(205.0)
    assert devices["dram:1"].kind == "dram"
    assert devices["dram:1"].details["zones"] == ["intel-rapl:1:0"]

    readings = read_at_1_s(
        fake,
        rapl,
        {
            "intel-rapl:0": 100_000_000,
            "intel-rapl:1": 200_000_000,
            "intel-rapl:0:0": 10_000_000,
            "intel-rapl:1:0": 20_000_000,
            "intel-rapl:0:1": 99_000_000,
        },
    )
    assert {k: r.energy_j for k, r in readings.items()} == {
        "cpu:0": pytest.approx(100.0),
        "cpu:1": pytest.approx(200.0),
        "dram:0": pytest.approx(10.0),
        "dram:1": pytest.approx(20.0),
    }


def test_subzones_found_when_only_nested_in_parent(tmp_path: Path) -> None:
    two_socket_tree_nested = FakePowercap(tmp_path, flat_subzones=False)
    two_socket_tree_nested.add_zone("intel-rapl:0", "package-0", 1)
    two_socket_tree_nested.add_zone("intel-rapl:0:0", "dram", 2)
    ids = [d.device_id for d in sensors(tmp_path).devices()]
    assert ids == ["cpu:0", "dram:0"]


def with_zones(tmp_path: Path, *zones: tuple[str, str, int]) -> tuple[FakePowercap, RaplSensors]:
    """Return a powercap tree of package 0 and `zones` ((zone, name, uJ)), and its sensors."""
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 1_000)
    for zone, name, energy_uj in zones:
        fake.add_zone(zone, name, energy_uj)
    return fake, sensors(tmp_path)


def test_dram_zone_missing(tmp_path: Path) -> None:
    _, rapl = with_zones(
        tmp_path, ("intel-rapl:0:0", "core", 2_000), ("intel-rapl:0:1", "uncore", 3_000)
    )
    assert [d.device_id for d in rapl.devices()] == ["cpu:0"]
    assert "0 DRAM zone(s)" in rapl.availability().reason
    rapl.start(0.0)
    assert list(by_device(rapl.read(1.0))) == ["cpu:0"]


def test_psys_is_not_a_device_and_top_level_dram_is(tmp_path: Path) -> None:
    fake, rapl = with_zones(
        tmp_path, ("intel-rapl:1", "psys", 5_000), ("intel-rapl:2", "dram", 7_000)
    )
    assert [d.device_id for d in rapl.devices()] == ["cpu:0", "dram:0"]
    assert "intel-rapl:1" in rapl.availability().reason
    readings = read_at_1_s(fake, rapl, {"intel-rapl:2": 4_000_000, "intel-rapl:1": 9_000_000})
    assert readings["dram:0"].energy_j == pytest.approx(4.0)


def test_device_number_is_the_package_id_from_the_zone_name(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-1", 1_000)
    fake.add_zone("intel-rapl:0:0", "dram", 1_000)
    fake.add_zone("intel-rapl:1", "package-0", 2_000)
    assert [d.device_id for d in sensors(tmp_path).devices()] == ["cpu:0", "cpu:1", "dram:1"]


def test_mirrored_amd_dies_counted_once(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    # One socket, four dies: the kernel makes a zone per die, all reading one counter.
    for die in range(4):
        fake.add_zone(f"intel-rapl:{die}", f"package-0-die-{die}", 123_456_789)

    def mirror_hardware(_seconds: float) -> None:
        for die in range(4):
            fake.advance(f"intel-rapl:{die}", 5_000)

    rapl = sensors(tmp_path, probe_sleep=mirror_hardware)
    devices = rapl.devices()
    assert [d.device_id for d in devices] == ["cpu:0"]
    details = devices[0].details
    assert details["zones"] == ["intel-rapl:0"]
    assert details["mirrors"] == ["intel-rapl:1", "intel-rapl:2", "intel-rapl:3"]
    assert "counted once" in details["mirror_note"]
    assert "mirrored zones counted once" in rapl.availability().reason

    readings = read_at_1_s(fake, rapl, {f"intel-rapl:{die}": 80_000_000 for die in range(4)})
    assert readings["cpu:0"].energy_j == pytest.approx(80.0)


def test_two_sockets_of_mirrored_dies(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    for zone, (pkg, die) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        fake.add_zone(f"intel-rapl:{zone}", f"package-{pkg}-die-{die}", 1_000 + 7 * pkg)
    devices = {d.device_id: d for d in sensors(tmp_path).devices()}
    assert list(devices) == ["cpu:0", "cpu:1"]
    assert devices["cpu:0"].details["mirrors"] == ["intel-rapl:1"]
    assert devices["cpu:1"].details["mirrors"] == ["intel-rapl:3"]


def test_same_value_but_different_change_is_not_a_mirror(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0-die-0", 42_000)
    fake.add_zone("intel-rapl:1", "package-0-die-1", 42_000)

    def distinct_dies(_seconds: float) -> None:
        fake.advance("intel-rapl:0", 1_000)
        fake.advance("intel-rapl:1", 2_000)

    rapl = sensors(tmp_path, probe_sleep=distinct_dies)
    devices = rapl.devices()
    # Two real dies of one package (Cascade Lake-AP style): both read, summed into cpu:0.
    assert [d.device_id for d in devices] == ["cpu:0"]
    assert devices[0].details["zones"] == ["intel-rapl:0", "intel-rapl:1"]
    assert "mirrors" not in devices[0].details
    readings = read_at_1_s(fake, rapl, {"intel-rapl:0": 3_000_000, "intel-rapl:1": 4_000_000})
    assert readings["cpu:0"].energy_j == pytest.approx(7.0)


def test_unreadable_energy_uj_is_not_readable_with_the_file_named(tmp_path: Path) -> None:
    fake = two_socket_tree(tmp_path)
    denied = fake.energy_path("intel-rapl:0")
    rapl = sensors(tmp_path, opener=denying_opener(denied))
    availability = rapl.availability()
    assert availability.state is FamilyState.NOT_READABLE
    assert availability.reason == f"not readable: {denied}"
    assert availability.fix is not None
    assert "run as root" in availability.fix
    assert "CVE-2020-8694" in availability.fix
    assert "docs/permissions.md" in availability.fix and "\n" not in availability.fix
    assert rapl.devices() == []
    with pytest.raises(SensorError, match="not readable"):
        rapl.start(0.0)


def test_unreadable_on_single_package_machine(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 1)
    fake.add_zone("intel-rapl:0:0", "dram", 1)
    denied = fake.energy_path("intel-rapl:0:0")
    availability = sensors(tmp_path, opener=denying_opener(denied)).availability()
    assert availability.state is FamilyState.NOT_READABLE
    assert str(denied) in availability.reason


def test_mid_run_read_failure_degrades_that_device_only_never_zero(tmp_path: Path) -> None:
    fake = two_socket_tree(tmp_path)
    opener = SwitchableOpener()
    rapl = sensors(tmp_path, opener=opener)
    rapl.start(0.0)
    fake.advance("intel-rapl:0", 10_000_000)
    fake.advance("intel-rapl:1", 20_000_000)
    opener.fail_on = {fake.energy_path("intel-rapl:1")}
    failed = by_device(rapl.read(1.0))
    assert failed["cpu:1"].status is DeviceStatus.DEGRADED
    assert failed["cpu:1"].energy_j is None and failed["cpu:1"].power_w is None
    assert failed["cpu:0"].status is DeviceStatus.OK
    assert failed["cpu:0"].energy_j == pytest.approx(10.0)
    assert str(fake.energy_path("intel-rapl:1")) in rapl.last_errors["intel-rapl:1"]
    opener.fail_on = set()
    fake.advance("intel-rapl:0", 10_000_000)
    fake.advance("intel-rapl:1", 20_000_000)
    readings = by_device(rapl.read(2.0))
    # Nothing lost across the failed tick, and power spans both seconds.
    assert readings["cpu:0"].energy_j == pytest.approx(20.0)
    assert readings["cpu:1"].energy_j == pytest.approx(40.0)
    assert readings["cpu:1"].power_w == pytest.approx(20.0)


def test_garbage_counter_degrades_and_names_the_problem(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 1)
    rapl = sensors(tmp_path)
    rapl.start(0.0)
    fake.energy_path("intel-rapl:0").write_text("\n")
    (reading,) = rapl.read(1.0)
    assert reading.status is DeviceStatus.DEGRADED and reading.energy_j is None
    assert "not a counter value" in rapl.last_errors["intel-rapl:0"]
    fake.set_energy("intel-rapl:0", RANGE_UJ + 5)
    (reading,) = rapl.read(2.0)
    assert reading.status is DeviceStatus.DEGRADED and reading.energy_j is None
    assert "outside" in rapl.last_errors["intel-rapl:0"]


def test_read_before_start_raises(tmp_path: Path) -> None:
    FakePowercap(tmp_path).add_zone("intel-rapl:0", "package-0", 1)
    with pytest.raises(SensorError, match="before start"):
        sensors(tmp_path).read(0.0)


@pytest.mark.parametrize(
    ("max_power_uw", "power_w"),
    [(None, CONSERVATIVE_MAX_POWER_W), (400_000_000, 400.0), (0, CONSERVATIVE_MAX_POWER_W)],
)
def test_poll_interval_makes_two_wraps_impossible(
    tmp_path: Path, max_power_uw: int | None, power_w: float
) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 0, max_power_uw=max_power_uw)
    rapl = sensors(tmp_path)
    poll_s = rapl.poll_interval_s
    assert poll_s is not None
    assert poll_s == pytest.approx(RANGE_UJ / (power_w * 1e6) / 2)
    max_advance_uj = power_w * 1e6 * poll_s
    assert max_advance_uj < RANGE_UJ + 1  # at most one wrap between reads
    assert max_advance_uj <= (RANGE_UJ + 1) / 2

    # Reading at that cadence at full power counts every joule, wraps included.
    rapl.start(0.0)
    step_uj = int(max_advance_uj)
    for k in range(1, 6):
        fake.advance("intel-rapl:0", step_uj)
        reading = by_device(rapl.read(k * poll_s))["cpu:0"]
        assert reading.status is DeviceStatus.OK
    assert reading.energy_j == pytest.approx(5 * step_uj / 1e6)


def test_poll_interval_is_the_tightest_zone(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 0, max_power_uw=200_000_000)
    fake.add_zone(
        "intel-rapl:0:0", "dram", 0, max_energy_range_uj=65_712_999_613, max_power_uw=None
    )
    poll_s = sensors(tmp_path).poll_interval_s
    assert poll_s == pytest.approx(65_712_999_613 / 500e6 / 2)


def test_gap_longer_than_wrap_period_is_degraded(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 0, max_power_uw=100_000_000)
    rapl = sensors(tmp_path)
    rapl.start(0.0)
    fake.advance("intel-rapl:0", 1_000_000)
    wrap_period_s = RANGE_UJ / 100e6
    late = by_device(rapl.read(wrap_period_s + 1.0))["cpu:0"]
    assert late.status is DeviceStatus.DEGRADED
    assert late.power_w is None
    assert late.energy_j == pytest.approx(1.0)  # a lower bound, not a guess
    fake.advance("intel-rapl:0", 1_000_000)
    on_time = by_device(rapl.read(wrap_period_s + 2.0))["cpu:0"]
    assert on_time.status is DeviceStatus.OK
    assert on_time.power_w == pytest.approx(1.0)


def test_power_limit_falls_back_to_max_power(tmp_path: Path) -> None:
    fake = FakePowercap(tmp_path)
    fake.add_zone("intel-rapl:0", "package-0", 0, max_power_uw=280_000_000)
    fake.add_zone("intel-rapl:1", "package-1", 5)
    devices = {d.device_id: d for d in sensors(tmp_path).devices()}
    assert devices["cpu:0"].power_limit_w == pytest.approx(280.0)
    assert devices["cpu:1"].power_limit_w is None


def test_counter_delta_rejects_values_outside_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        counter_delta_uj(0, 11, 10)
    with pytest.raises(ValueError, match="positive"):
        counter_delta_uj(0, 0, 0)
    assert counter_delta_uj(10, 0, 10) == 1
    assert counter_delta_uj(3, 3, 10) == 0


ranges = st.integers(min_value=1, max_value=2**40)


@given(data=st.data(), max_range_uj=ranges)
def test_wrap_deltas_never_negative_and_sum_to_true_energy(
    data: st.DataObject, max_range_uj: int
) -> None:
    start_uj = data.draw(st.integers(min_value=0, max_value=max_range_uj))
    # Any advance up to the full range is at most one wrap between reads.
    advances_uj = data.draw(st.lists(st.integers(min_value=0, max_value=max_range_uj)))
    counter_uj = start_uj
    total_uj = 0
    for advance_uj in advances_uj:
        now_uj = (counter_uj + advance_uj) % (max_range_uj + 1)
        delta_uj = counter_delta_uj(counter_uj, now_uj, max_range_uj)
        assert delta_uj >= 0
        total_uj += delta_uj
        counter_uj = now_uj
    assert total_uj == sum(advances_uj)


@given(data=st.data())
def test_energy_of_a_window_equals_the_sum_over_any_split(data: st.DataObject) -> None:
    max_range_uj = data.draw(st.integers(min_value=1_000, max_value=10**12), label="range")
    start_uj = data.draw(st.integers(min_value=0, max_value=max_range_uj), label="start")
    # Steps small enough that even the coarsest split below reads before a second wrap.
    steps_uj = data.draw(
        st.lists(st.integers(min_value=0, max_value=max_range_uj // 4), max_size=12),
        label="steps",
    )
    split = sorted(
        data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(steps_uj)))), "split")
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fake = FakePowercap(root)
        fake.add_zone("intel-rapl:0", "package-0", start_uj, max_energy_range_uj=max_range_uj)
        fine = sensors(root)  # reads after every step
        coarse = sensors(root)  # reads only at the split points (every 4th at least)
        fine.start(0.0)
        coarse.start(0.0)
        coarse_points = {k for k in split if k <= len(steps_uj)} | set(
            range(4, len(steps_uj) + 1, 4)
        )
        coarse_points.add(len(steps_uj))
        fine_energy_j = coarse_energy_j = 0.0
        for k, step_uj in enumerate(steps_uj, start=1):
            fake.advance("intel-rapl:0", step_uj)
            fine_reading = by_device(fine.read(float(k)))["cpu:0"]
            assert fine_reading.energy_j is not None
            fine_energy_j = fine_reading.energy_j
            if k in coarse_points:
                coarse_reading = by_device(coarse.read(float(k)))["cpu:0"]
                assert coarse_reading.energy_j is not None
                coarse_energy_j = coarse_reading.energy_j
        true_energy_j = sum(steps_uj) / 1e6
        assert fine_energy_j == pytest.approx(true_energy_j)
        assert coarse_energy_j == pytest.approx(true_energy_j)
