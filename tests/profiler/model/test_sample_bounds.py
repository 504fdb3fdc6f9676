"""One definition of the physical bounds: what the sampler keeps is what `import` accepts."""

from __future__ import annotations

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from profiler.model import samples
from profiler.model.samples import METRICS, SAMPLE_BOUNDS, Reading, SampleRow
from profiler.store import interchange_schema
from profiler.store.interchange_schema import SampleDoc

SAMPLE_DOC = TypeAdapter(SampleDoc)


def test_the_bounds_are_the_import_bounds() -> None:
    assert samples.MAX_POWER_W == interchange_schema.MAX_POWER_W
    assert samples.MAX_ENERGY_J == interchange_schema.MAX_ENERGY_J
    assert set(SAMPLE_BOUNDS) == set(METRICS)


def doc(reading: Reading) -> dict[str, object]:
    row = SampleRow.from_reading(1.0, reading)
    values = {name: getattr(row, name) for name in METRICS}
    return {"t": row.t, "device": row.device_id, **values}


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("power_w", math.inf),
        ("power_w", 1e308),
        ("power_w", -5000.0),
        ("power_w", math.nan),
        ("energy_j", 1e17),
        ("util", 1.5),
        ("sm_active", -0.1),
        ("clock_mhz", 2e6),
        ("temperature_c", math.inf),
        ("mem_used_bytes", 2**64),
    ],
)
def test_a_kept_reading_is_importable_and_a_dropped_one_would_not_be(
    metric: str, value: float
) -> None:
    reading = Reading("node", **{metric: value})
    with pytest.raises(ValidationError):
        SAMPLE_DOC.validate_python(doc(reading))
    assert reading.drop_out_of_bounds() == [metric]
    assert getattr(reading, metric) is None and reading.status == "degraded"
    SAMPLE_DOC.validate_python(doc(reading))


def test_readings_at_the_bounds_are_kept() -> None:
    edge = Reading("node", util=1.0, power_w=samples.MAX_POWER_W, energy_j=0.0)
    assert edge.drop_out_of_bounds() == [] and edge.status == "ok"
    SAMPLE_DOC.validate_python(doc(edge))
