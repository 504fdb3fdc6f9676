"""A broken or slow Prometheus gives one line, exit 1, in bounded time.

The servers are real HTTP servers on 127.0.0.1 (`tests.robustness.contract.http_server`)
that answer `finwatt analyze --prometheus` the way a broken proxy or a wrong endpoint
would: `data` a list, a series without `value`, values that are not numbers, and an
answer trickled one byte a second (urllib's timeout is per read, so only a total deadline
per request ends it).
"""

from __future__ import annotations

import http.server
import time
from collections.abc import Callable
from typing import Any

import pytest

from profiler.prometheus.api import FleetError, PrometheusApi
from tests.fakes.cli import run_finwatt
from tests.robustness.contract import (
    Handler,
    Home,
    assert_one_line_error,
    json_answer,
    row_counts,
    trickle_answer,
)

HOST_LABELS = {"instance": "a:9464", "device": "host", "kind": "host", "job": "finwatt"}


def _success(data: object) -> dict[str, Any]:
    return {"status": "success", "data": data}


def _vector(*items: object) -> dict[str, Any]:
    return _success({"resultType": "vector", "result": list(items)})


def _routed(query: dict[str, Any], query_range: dict[str, Any]) -> Handler:
    """Answer instant queries with `query`, range queries with `query_range`."""
    instant, ranged = json_answer(query), json_answer(query_range)

    def answer(request: http.server.BaseHTTPRequestHandler) -> None:
        (ranged if request.path.endswith("/query_range") else instant)(request)

    return answer


GOOD_VECTOR = _vector({"metric": HOST_LABELS, "value": [1.0, "1"]})


@pytest.mark.parametrize(
    ("handler", "words"),
    [
        (json_answer(_success([])), ("malformed", "`data`")),
        (json_answer(_success({"result": "x"})), ("malformed", "`result`")),
        (json_answer(_vector({"metric": HOST_LABELS})), ("malformed", "`value`")),
        (json_answer(_vector({"metric": HOST_LABELS, "value": [1]})), ("malformed", "`value`")),
        (
            json_answer(_vector({"metric": HOST_LABELS, "value": [1.0, "abc"]})),
            ("malformed", "'abc'", "not a number"),
        ),
        (
            json_answer(_vector({"metric": HOST_LABELS, "value": [1.0, {"x": 1}]})),
            ("malformed", "not a number"),
        ),
        (json_answer(_vector({"metric": ["a"], "value": [1.0, "1"]})), ("malformed", "labels")),
        (json_answer(_vector("x")), ("malformed", "not an object")),
        (
            _routed(
                GOOD_VECTOR,
                _success(
                    {"resultType": "matrix", "result": [{"metric": HOST_LABELS, "values": "ab"}]}
                ),
            ),
            ("malformed", "query_range"),
        ),
        (
            _routed(
                GOOD_VECTOR,
                _success(
                    {
                        "resultType": "matrix",
                        "result": [{"metric": HOST_LABELS, "values": [[1.0, "x1"]]}],
                    }
                ),
            ),
            ("malformed", "query_range", "'x1'"),
        ),
        (json_answer({"status": "success", "data": "x"}), ("malformed",)),
        (json_answer([1, 2]), ("refused",)),
    ],
    ids=[
        "data-a-list",
        "result-not-a-list",
        "missing-value",
        "value-too-short",
        "value-not-numeric",
        "value-an-object",
        "labels-a-list",
        "series-a-string",
        "values-a-string",
        "values-not-numeric",
        "data-a-string",
        "answer-a-list",
    ],
)
def test_a_malformed_prometheus_answer_is_one_line_exit_1(
    home: Home,
    http_server: Callable[[Handler], str],
    handler: Handler,
    words: tuple[str, ...],
) -> None:
    url = http_server(handler)
    result = run_finwatt("analyze", "--prometheus", url, env=home.env, timeout=60)
    assert_one_line_error(result, 1, url, *words)
    assert row_counts(home.db) == {}


def test_a_trickling_server_is_cut_off_at_the_request_deadline(
    http_server: Callable[[Handler], str],
) -> None:
    url = http_server(trickle_answer(seconds=30))
    api = PrometheusApi(url, timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(FleetError, match="did not answer in full within 2 s"):
        api.query("up", 0.0)
    took_s = time.monotonic() - started
    # a byte a second never trips urllib's per-read timeout: without the total deadline
    # this waits the server's 30 s
    assert took_s < 6.0, f"took {took_s:.1f} s"


def test_an_answer_arriving_in_time_is_read_in_full(http_server: Callable[[Handler], str]) -> None:
    url = http_server(json_answer(GOOD_VECTOR))
    api = PrometheusApi(url, timeout_s=5.0)
    assert api.query("up", 0.0) == [(HOST_LABELS, 1.0)]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (b"\xff\xfe" + bytes(range(256)), ("cannot read it as YAML",)),
        (b"authorization:\n  credentials_file: TOKEN\n", ("token", "one line")),
        (b"authorization:\n  credentials_file: BINARY\n", ("not UTF-8",)),
    ],
    ids=["binary-config", "token-with-a-header-in-it", "binary-token"],
)
def test_a_bad_client_config_is_one_line_exit_2(
    home: Home, config: bytes, words: tuple[str, ...]
) -> None:
    token = home.root / "token"
    token.write_bytes(b"abc\r\nX-Injected: 1\n")
    binary = home.root / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    path = home.root / "client.yml"
    path.write_bytes(config.replace(b"TOKEN", bytes(token)).replace(b"BINARY", bytes(binary)))
    result = run_finwatt(
        "analyze",
        "--prometheus",
        "http://127.0.0.1:1",
        "--prometheus-config",
        str(path),
        env=home.env,
    )
    assert_one_line_error(result, 2, "--prometheus-config", *words)
