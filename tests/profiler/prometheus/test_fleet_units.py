"""The fleet loader's small parts: deadline, instance selectors, the screening bounds."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from profiler.analysis.thresholds import Thresholds
from profiler.prometheus.api import FleetError, PrometheusApi
from profiler.prometheus.query import FleetOptions, FleetUsageError, check_options, instance_matcher
from profiler.prometheus.screen import MARGIN, Screen, is_clear, with_matchers

DAY_S = 86_400.0
CLEAR = Screen(
    util_min=0.2,
    util_q=0.7,
    util_q995=0.72,
    steps=4000.0,
    first_s=0.0,
    last_s=14 * DAY_S,
    mem_max_bytes=40 * 2**30,
)


def test_the_deadline_covers_every_request() -> None:
    def urlopen(request: urllib.request.Request, timeout: float) -> object:
        raise AssertionError("no request may start after the deadline")

    api = PrometheusApi("http://prom:9090", urlopen=urlopen, deadline_s=0.01)
    time.sleep(0.02)
    with pytest.raises(FleetError, match="deadline"):
        api.query("up", 0.0)


def test_instance_matcher_matches_exactly_the_instances() -> None:
    names = ["risk-01.example.net:9464", "10.0.0.7:9464", "a+b:1"]
    matcher = instance_matcher(names)
    quoted = matcher.removeprefix('instance=~"').removesuffix('"')
    pattern = quoted.replace("\\\\", "\\")  # undo the PromQL string escaping
    assert all(re.fullmatch(pattern, name) for name in names)
    assert not re.fullmatch(pattern, "risk-01Xexample.net:9464")
    assert with_matchers('m{job="x"}', matcher) == f'm{{job="x",{matcher}}}'
    assert with_matchers("m{}", 'kind="host"') == 'm{kind="host"}'


def test_too_many_points_per_series_is_a_usage_error() -> None:
    with pytest.raises(FleetUsageError, match="--step"):
        check_options(FleetOptions(url="http://p:9090", since_s=30 * DAY_S, step_s=10.0))


@pytest.mark.parametrize(
    ("change", "clear"),
    [
        ({}, True),
        ({"util_min": 0.03 * MARGIN * 0.99}, False),  # an idle step is possible
        ({"util_q": 0.65 * 0.5 * MARGIN * 0.99}, False),  # could be over-provisioned
        ({"util_q995": 0.8 / MARGIN * 1.01}, False),  # could be under-provisioned
        ({"last_s": 7 * DAY_S}, False),  # span too short to be sure
        ({"steps": 30 * 12 * MARGIN * 0.99}, False),  # too few valid hours to be sure
        ({"mem_max_bytes": 10 * 2**30}, False),  # memory could be over-provisioned
        ({"util_q": None}, False),  # a figure missing
    ],
)
def test_a_host_is_clear_only_beyond_every_bound(change: dict[str, float], clear: bool) -> None:
    screen = Screen(**{**CLEAR.as_dict(), **change})
    assert is_clear(screen, 64 * 2**30, Thresholds(), 300.0) is clear
