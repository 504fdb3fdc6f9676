"""A small client of Prometheus's HTTP API, with auth, TLS and a total deadline.

The same client reads Prometheus, VictoriaMetrics, Thanos Query and Mimir: they serve the
same `/api/v1/query` and `/api/v1/query_range`. Requests are POSTed form-encoded (a
selector naming hundreds of hosts does not fit a URL), each with a timeout, and all of them
within one deadline. Credentials are never command-line values: `--prometheus-config FILE`
names a YAML file in Prometheus's own HTTP client format (the keys of a scrape config's
`authorization`, `basic_auth` and `tls_config`), and that file names the files that hold
the secrets:

    authorization:            # a bearer token, read from a file
      credentials_file: /etc/finwatt/prometheus-token
    basic_auth:               # or basic auth, the password read from a file
      username: finwatt
      password_file: /etc/finwatt/prometheus-password
    tls_config:
      ca_file: /etc/finwatt/ca.pem        # CA bundle to verify the server
      cert_file: /etc/finwatt/client.pem  # client certificate (mutual TLS)
      key_file: /etc/finwatt/client.key

Check by hand with
`curl --cacert ca.pem -H "Authorization: Bearer $(cat token)" URL/api/v1/query?query=up`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from profiler.model.errors import FinwattInputError, FinwattRuntimeError
from profiler.model.series import FloatArray

DEFAULT_TIMEOUT_S = 30.0
MAX_POINTS_PER_QUERY = 10_000
"""Prometheus refuses a query_range of more than 11,000 points per series."""
MAX_ANSWER_BYTES = 256 * 2**20
"""Largest answer read (256 MiB): a range query of a 50-host batch at the full 10,000 points
per series is ~300 kB a series (~30 bytes a point), so this holds ~850 series, 17 a host."""
_CHUNK_BYTES = 64 * 1024
_ERROR_BODY_BYTES = 64 * 1024
"""An HTTP refusal's body is read for its error message only: the rest is not read."""

UrlOpen = Callable[..., Any]

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
"""What a bearer token may hold (RFC 6750's b64token is a subset)."""


class FleetError(FinwattRuntimeError):
    """Prometheus is unreachable or answered with an error; the message says which."""


class FleetUsageError(FinwattInputError):
    """A bad URL, selector, window or client config; the message names the option."""


@dataclass(frozen=True)
class ClientConfig:
    """How to authenticate to Prometheus: paths of files, never the secrets themselves.

    Attributes:
        bearer_token_file: file holding a bearer token (`authorization.credentials_file`).
        username: basic-auth user name.
        password_file: file holding the basic-auth password.
        ca_file: CA bundle (PEM) that signs the server's certificate.
        cert_file: client certificate (PEM) for mutual TLS.
        key_file: the client certificate's private key (PEM).

    """

    bearer_token_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


_SECTIONS: dict[str, dict[str, str]] = {
    "authorization": {"credentials_file": "bearer_token_file", "type": ""},
    "basic_auth": {"username": "username", "password_file": "password_file"},
    "tls_config": {"ca_file": "ca_file", "cert_file": "cert_file", "key_file": "key_file"},
}


def load_client_config(path: Path, option: str = "--prometheus-config") -> ClientConfig:
    """Read a client config file (Prometheus's `authorization`/`basic_auth`/`tls_config`).

    Raises:
        FleetUsageError: unreadable, not YAML, an unknown key, an inline secret, or a
            named file that does not exist.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise FleetUsageError(f"{option} {path}: cannot read it as YAML ({err})") from err
    if not isinstance(document, dict):
        raise FleetUsageError(f"{option} {path}: expected a mapping of sections")
    values: dict[str, Any] = {}
    for section, body in document.items():
        keys = _SECTIONS.get(str(section))
        if keys is None or not isinstance(body, dict):
            known = ", ".join(_SECTIONS)
            raise FleetUsageError(f"{option} {path}: unknown section {section!r}; use {known}")
        for key, value in body.items():
            if key in ("password", "credentials"):
                raise FleetUsageError(
                    f"{option} {path}: {section}.{key} inline; put the secret in a file "
                    f"and name it with {key}_file"
                )
            if key not in keys:
                raise FleetUsageError(f"{option} {path}: unknown key {section}.{key}")
            if key == "type" and str(value).lower() != "bearer":
                raise FleetUsageError(f"{option} {path}: authorization.type must be Bearer")
            if keys[key]:
                values[keys[key]] = value

    def path_of(name: str) -> Path | None:
        return Path(str(values[name])) if name in values else None

    config = ClientConfig(
        bearer_token_file=path_of("bearer_token_file"),
        username=str(values["username"]) if "username" in values else None,
        password_file=path_of("password_file"),
        ca_file=path_of("ca_file"),
        cert_file=path_of("cert_file"),
        key_file=path_of("key_file"),
    )
    for name in ("bearer_token_file", "password_file", "ca_file", "cert_file", "key_file"):
        file = getattr(config, name)
        if file is not None and not file.is_file():
            raise FleetUsageError(f"{option} {path}: {name} {file} does not exist")
    if (config.username is None) != (config.password_file is None):
        raise FleetUsageError(f"{option} {path}: basic_auth needs username and password_file")
    if config.bearer_token_file and config.username:
        raise FleetUsageError(f"{option} {path}: use authorization or basic_auth, not both")
    if config.key_file and not config.cert_file:
        raise FleetUsageError(f"{option} {path}: tls_config.key_file needs cert_file")
    return config


def _headers(config: ClientConfig) -> dict[str, str]:
    """Return the Authorization header; the secret files are read at each client start.

    Raises:
        FleetUsageError: a token with characters a header cannot carry (a line break,
            a control character), or a user name with a colon or control character.
        OSError, UnicodeDecodeError: a secret file cannot be read as UTF-8 text.
    """
    if config.bearer_token_file is not None:
        token = config.bearer_token_file.read_text(encoding="utf-8").strip()
        if not _VISIBLE_ASCII.fullmatch(token):
            raise FleetUsageError(
                f"--prometheus-config: the token in {config.bearer_token_file} has spaces, "
                "line breaks or non-ASCII characters; keep the token alone on one line"
            )
        return {"Authorization": f"Bearer {token}"}
    if config.username is not None and config.password_file is not None:
        if ":" in config.username or not config.username.isprintable():
            raise FleetUsageError(
                "--prometheus-config: basic_auth.username must not hold a colon or "
                "control characters"
            )
        password = config.password_file.read_text(encoding="utf-8").rstrip("\n")
        pair = base64.b64encode(f"{config.username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    return {}


def _tls_context(config: ClientConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.cert_file is not None:
        context.load_cert_chain(
            str(config.cert_file), str(config.key_file) if config.key_file else None
        )
    return context


class PrometheusApi:
    """A client of Prometheus's HTTP API (POST, JSON, a timeout per request, a deadline).

    Args:
        url: base URL (`http://host:9090`, optionally with a path prefix).
        timeout_s: seconds to wait for each answer.
        urlopen: `urllib.request.urlopen` or a stand-in with its signature.
        config: credentials and TLS files (none by default).
        deadline_s: seconds all requests of this client may take together (None: no limit).
        max_answer_bytes: the largest answer body read (`MAX_ANSWER_BYTES`).

    Raises:
        FleetUsageError: the URL is not http(s)://host[:port][/path], or a secret or
            certificate file cannot be read.

    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        urlopen: UrlOpen = urllib.request.urlopen,
        config: ClientConfig | None = None,
        deadline_s: float | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FleetUsageError(f"--prometheus {url!r}: use http://HOST:PORT (e.g. :9090)")
        self.url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._urlopen = urlopen
        self._deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self._deadline_s = deadline_s
        self._max_answer_bytes = max_answer_bytes
        config = config or ClientConfig()
        try:
            self._headers = _headers(config)
            self._context = _tls_context(config) if parts.scheme == "https" else None
        except UnicodeDecodeError as err:
            raise FleetUsageError(
                "--prometheus-config: a secret file is not UTF-8 text; write the token or "
                "password alone in it"
            ) from err
        except (OSError, ssl.SSLError) as err:
            raise FleetUsageError(f"--prometheus-config: {err}") from err

    def _timeout(self, endpoint: str) -> float:
        if self._deadline is None:
            return self._timeout_s
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise FleetError(
                f"Prometheus at {self.url}: {endpoint} not done within the "
                f"{self._deadline_s:g} s deadline; narrow --match or --since"
            )
        return min(self._timeout_s, left)

    def _post(self, endpoint: str, params: Mapping[str, str]) -> dict[str, Any]:
        """POST to `endpoint`; return the answer's `data` object.

        Raises:
            FleetError: unreachable, refused, late (the whole answer, headers and body,
                must arrive within the request's timeout), or not a Prometheus answer.
        """
        address = f"{self.url}/api/v1/{endpoint}"
        body = urllib.parse.urlencode(params).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self._headers}
        request = urllib.request.Request(address, data=body, headers=headers, method="POST")
        extra = {"context": self._context} if self._context is not None else {}
        timeout_s = self._timeout(endpoint)
        outcome = _fetch(self._urlopen, request, timeout_s, extra, self._max_answer_bytes)
        if isinstance(outcome, _TooLarge):
            raise FleetError(
                f"Prometheus at {self.url}: the answer to {endpoint} is larger than "
                f"{outcome.limit_bytes / 2**20:g} MiB; narrow --match or --since, or use a "
                "longer --step"
            )
        if outcome is None:
            raise FleetError(
                f"Prometheus at {self.url}: {endpoint} did not answer in full within "
                f"{timeout_s:g} s; check the server, or narrow --match or --since"
            )
        if isinstance(outcome, _HttpRefusal):
            message = _api_error(outcome.body) or f"HTTP {outcome.code} {outcome.reason}"
            raise FleetError(f"Prometheus at {self.url} refused {endpoint}: {message}")
        if isinstance(outcome, urllib.error.URLError | OSError):
            reason = outcome.reason if isinstance(outcome, urllib.error.URLError) else outcome
            raise FleetError(f"Prometheus at {self.url} is unreachable: {reason}") from outcome
        if isinstance(outcome, http.client.HTTPException):
            raise FleetError(
                f"Prometheus at {self.url} broke off its answer to {endpoint} "
                f"({type(outcome).__name__}); check the server and retry"
            ) from outcome
        if isinstance(outcome, BaseException):
            raise outcome  # not the network: a bug, shown as one
        try:
            document = json.loads(outcome)
        except ValueError as err:
            raise FleetError(f"{address} did not answer JSON: is {self.url} a Prometheus?") from err
        if not isinstance(document, dict) or document.get("status") != "success":
            message = _api_error(outcome) or "unexpected answer"
            raise FleetError(f"Prometheus at {self.url} refused {endpoint}: {message}")
        data = document.get("data", {})
        if not isinstance(data, dict) or not isinstance(data.get("result", []), list):
            raise self._malformed(endpoint, "`data` is not an object with a `result` list")
        return data

    def _malformed(self, endpoint: str, what: str) -> FleetError:
        return FleetError(
            f"Prometheus at {self.url} answered {endpoint} with a malformed result ({what}); "
            "is it a Prometheus-compatible API?"
        )

    def query(self, expr: str, at_s: float) -> list[tuple[dict[str, str], float]]:
        """Return an instant vector: (labels, value) per series at epoch seconds `at_s`.

        Raises:
            FleetError: as `_post`, or a series without labels or a numeric `value`.
        """
        data = self._post("query", {"query": expr, "time": f"{at_s:.3f}"})
        vector = []
        for item in data.get("result", []):
            try:
                vector.append((_labels(item), _number(item["value"][1])))
            except (AttributeError, KeyError, IndexError, TypeError, ValueError) as err:
                raise self._malformed("query", f"a series {_said(err)}") from err
        return vector

    def query_range(
        self,
        expr: str,
        start_s: float,
        end_s: float,
        step_s: float,
        *,
        max_points: int = MAX_POINTS_PER_QUERY,
    ) -> list[tuple[dict[str, str], FloatArray, FloatArray]]:
        """Return (labels, epoch times, values) per series, read `max_points` steps a request.

        A long range is several shorter requests (none near the timeout), each answer
        turned into arrays as it arrives.

        Raises:
            FleetError: as `_post`, or a series without labels or numeric `values`.
        """
        chunk_s = step_s * max(1, min(max_points, MAX_POINTS_PER_QUERY))
        found: dict[tuple[tuple[str, str], ...], list[FloatArray]] = {}
        chunk_start = start_s
        while chunk_start <= end_s:
            chunk_end = min(end_s, chunk_start + chunk_s - step_s)
            params = {
                "query": expr,
                "start": f"{chunk_start:.3f}",
                "end": f"{chunk_end:.3f}",
                "step": f"{step_s:g}",
            }
            for item in self._post("query_range", params).get("result", []):
                try:
                    key = tuple(sorted(_labels(item).items()))
                    found.setdefault(key, []).append(_points(item.get("values", [])))
                except (AttributeError, TypeError, ValueError) as err:
                    raise self._malformed("query_range", f"a series {_said(err)}") from err
            chunk_start = chunk_end + step_s
        series = []
        for key, parts in found.items():
            points = np.concatenate(parts) if len(parts) > 1 else parts[0]
            series.append((dict(key), points[:, 0].copy(), points[:, 1].copy()))
        return series


def _points(values: Any) -> FloatArray:
    """Return `values` ([[time, "number"], ...]) as (n, 2) floats; the error names a bad one."""
    if isinstance(values, list):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            points: FloatArray = np.asarray(values, dtype=np.float64).reshape(-1, 2)
            if points.shape[0] == len(values):
                return points
    checked = [(_number(t), _number(v)) for t, v in values]
    return np.asarray(checked, dtype=np.float64).reshape(-1, 2)


@dataclass(frozen=True)
class _TooLarge:
    """An answer body longer than the limit (reading stopped there)."""

    limit_bytes: int


@dataclass(frozen=True)
class _HttpRefusal:
    """An HTTP error status with its body, read in the request's thread."""

    code: int
    reason: str
    body: bytes


def _fetch(
    urlopen: UrlOpen,
    request: urllib.request.Request,
    timeout_s: float,
    extra: dict[str, Any],
    max_bytes: int = MAX_ANSWER_BYTES,
) -> bytes | _HttpRefusal | _TooLarge | BaseException | None:
    """Send `request` and read the whole answer within `timeout_s` seconds in total.

    urllib's timeout bounds each socket read, so a server that trickles its answer (a
    byte a second) would hold a plain `read()` forever. The request runs in a daemon
    thread and the caller waits for it at most `timeout_s`; the thread reads the body in
    chunks and checks the same deadline between them, so a late thread ends by itself at
    most one read timeout after the deadline, and it stops at `max_bytes`.

    Returns:
        The body; an HTTP refusal; `_TooLarge`; the exception that ended the request; or
        None when the answer was not complete in time.
    """
    outcome: list[bytes | _HttpRefusal | _TooLarge | BaseException] = []
    deadline = time.monotonic() + timeout_s

    def work() -> None:
        try:
            with urlopen(request, timeout=timeout_s, **extra) as answer:
                body = _read_within(answer, deadline, max_bytes)
            if body is not None:
                outcome.append(_TooLarge(max_bytes) if len(body) > max_bytes else body)
        except urllib.error.HTTPError as err:
            try:
                text = _read_within(err, deadline, _ERROR_BODY_BYTES) or b""
            except (OSError, ValueError, http.client.HTTPException):
                text = b""
            outcome.append(_HttpRefusal(err.code, str(err.reason), text[:_ERROR_BODY_BYTES]))
        except Exception as err:  # noqa: BLE001 - handed to the caller, which names it
            outcome.append(err)

    thread = threading.Thread(target=work, name="prometheus-request", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return outcome[0] if outcome else None


def _read_within(answer: Any, deadline: float, max_bytes: int) -> bytes | None:
    """Read `answer` in chunks until its end, the deadline (None) or past `max_bytes`.

    Returns at most `max_bytes + 1` bytes (more than the limit means the answer is too
    long). An answer without `read1` (a stand-in for urlopen's) is read whole.
    """
    read1 = getattr(answer, "read1", None)
    if read1 is None:
        whole = answer.read()
        return bytes(whole[: max_bytes + 1])
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        if time.monotonic() >= deadline:
            return None
        chunk = read1(min(_CHUNK_BYTES, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _labels(item: Any) -> dict[str, str]:
    """Return a series' labels: an object of strings (Prometheus's `metric`)."""
    labels = item.get("metric", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise TypeError("whose `metric` is not an object of string labels")
    return dict(labels)


def _number(value: Any) -> float:
    """Return a sample's value or time: a number, or a string of one ("NaN", "+Inf" too)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"with a value {str(value)[:40]!r} that is not a number")
    try:
        return float(value)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"with a value {str(value)[:40]!r} that is not a number") from err


def _said(err: BaseException) -> str:
    """Return what was wrong with a series, from the error that `_labels`/`_number` raised."""
    if isinstance(err, AttributeError):
        return "that is not an object"
    if isinstance(err, KeyError | IndexError):
        return "without a `value` [time, number] pair"
    text = str(err)
    return text if text.startswith(("with", "whose")) else "not shaped [time, number]"


def _api_error(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None
