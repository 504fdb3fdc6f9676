"""Review fix 10: the Prometheus client's request thread ends after its deadline and reads
no more than `max_answer_bytes`, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from profiler.prometheus.api import FleetError, PrometheusApi
from tests.robustness.contract import Handler, json_answer, trickle_answer


def _request_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "prometheus-request"}


def test_the_request_thread_ends_soon_after_the_deadline_of_a_trickling_server(
    http_server: Callable[[Handler], str],
) -> None:
    url = http_server(trickle_answer(seconds=30))
    before = _request_threads()
    with pytest.raises(FleetError, match="did not answer in full within 2 s"):
        PrometheusApi(url, timeout_s=2.0).query("up", 0.0)
    started = _request_threads() - before
    assert started, "the request ran in no thread of its own"
    for thread in started:  # a byte a second, within the 2 s read timeout: one read more
        thread.join(3.0)
    assert not any(t.is_alive() for t in started), "the worker kept reading the trickle"


def _answer_of(size_bytes: int) -> dict[str, object]:
    """A valid empty answer padded with a label to exactly `size_bytes` of JSON."""
    document: dict[str, object] = {"status": "success", "data": {"result": []}, "pad": ""}
    document["pad"] = "x" * (size_bytes - len(json.dumps(document)))
    assert len(json.dumps(document)) == size_bytes
    return document


def test_an_answer_larger_than_the_cap_is_a_one_line_error(
    http_server: Callable[[Handler], str],
) -> None:
    cap_bytes = 2**20
    url = http_server(json_answer(_answer_of(cap_bytes + 1)))
    with pytest.raises(FleetError, match=r"larger than 1 MiB; narrow --match") as caught:
        PrometheusApi(url, max_answer_bytes=cap_bytes).query("up", 0.0)
    assert "\n" not in str(caught.value)


def test_an_answer_of_exactly_the_cap_is_read(http_server: Callable[[Handler], str]) -> None:
    cap_bytes = 2**20
    url = http_server(json_answer(_answer_of(cap_bytes)))
    assert PrometheusApi(url, max_answer_bytes=cap_bytes).query("up", 0.0) == []


def test_a_refusal_still_names_prometheus_error(http_server: Callable[[Handler], str]) -> None:
    refusal = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    url = http_server(json_answer(refusal, status=400))
    with pytest.raises(FleetError, match="refused query: bad_data: parse error at char 3"):
        PrometheusApi(url).query("up", 0.0)
