"""`model.provenance`: the `Provenance` type and the one estimate/measured test."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiler.model.provenance import (
    ESTIMATED_LINEAR_TDP,
    ESTIMATED_VCPU_AVERAGE,
    MEASURED_NVML_ENERGY,
    MEASURED_NVML_POWER,
    MEASURED_RAPL,
    Provenance,
    is_estimate,
    is_measured,
)


def test_kind_and_source() -> None:
    assert (MEASURED_RAPL.kind, MEASURED_RAPL.source) == ("measured", "rapl")
    assert (ESTIMATED_LINEAR_TDP.kind, ESTIMATED_LINEAR_TDP.source) == (
        "estimated",
        "linear-tdp",
    )
    assert Provenance("estimated:model:v2").source == "model:v2"  # only the first colon splits
    for measured in (MEASURED_RAPL, MEASURED_NVML_ENERGY, MEASURED_NVML_POWER):
        assert not measured.is_estimate and is_measured(measured)
    for estimated in (ESTIMATED_LINEAR_TDP, ESTIMATED_VCPU_AVERAGE):
        assert estimated.is_estimate and not is_measured(estimated)


def test_a_provenance_is_the_string_it_names() -> None:
    provenance = Provenance("measured:rapl")
    assert provenance == "measured:rapl" and isinstance(provenance, str)
    assert json.dumps({"p": provenance}) == '{"p": "measured:rapl"}'
    assert f"{provenance}" == "measured:rapl"


@pytest.mark.parametrize(
    "text",
    ["", "rapl", "measured", "measured:", ":rapl", "guessed:rapl", "Measured:rapl", "estimated"],
)
def test_anything_else_is_refused_with_both_forms_named(text: str) -> None:
    with pytest.raises(ValueError, match="measured:<source> or estimated:<model>"):
        Provenance(text)


@pytest.mark.parametrize(
    ("provenance", "estimate", "measured"),
    [
        (None, False, False),
        ("", False, False),
        (" , ", False, False),
        ("measured:rapl", False, True),
        ("estimated:linear-tdp", True, False),
        ("measured:rapl,measured:nvml-energy", False, True),
        ("measured:rapl,estimated:linear-tdp", True, False),
        ("measured:rapl, estimated:linear-tdp", True, False),  # space after the comma
        ("estimated:linear-tdp,measured:rapl", True, False),
        ("estimated", False, False),  # no colon: not a model's name
        ("estimatedx:y", False, False),
    ],
)
def test_comma_joined_provenances(provenance: str | None, estimate: bool, measured: bool) -> None:
    assert is_estimate(provenance) is estimate
    assert is_measured(provenance) is measured


sources = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
parts = st.builds(
    lambda kind, source: Provenance(f"{kind}:{source}"),
    st.sampled_from(["measured", "estimated"]),
    sources,
)


@given(joined=st.lists(parts, max_size=5))
def test_a_joined_provenance_is_an_estimate_when_any_part_is(joined: list[Provenance]) -> None:
    text = ",".join(joined)
    assert is_estimate(text) is any(p.is_estimate for p in joined)
    assert is_measured(text) is (bool(joined) and all(p.kind == "measured" for p in joined))
