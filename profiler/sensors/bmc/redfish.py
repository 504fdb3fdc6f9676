"""Wall power of the node from its BMC over Redfish (HTTPS), provenance `measured:redfish`.

Source: the chassis of `[bmc] redfish_url` (the first chassis with power data, or
`[bmc] redfish_chassis`). Preferred: `PowerSubsystem/PowerSupplies/*/Metrics`
`InputPowerWatts.Reading`, summed over the supplies that are present (Redfish 2020.4 and
later); else the legacy `Power` resource, `PowerControl[0].PowerConsumedWatts`. The
averaging window is the `SensingInterval` of the sensor behind each supply's reading
(`DataSourceUri`) when the service publishes it. Check by hand:
`curl --cacert CA -u USER https://BMC/redfish/v1/Chassis/1U/Power`.

Transport: httpx with HTTP basic auth on a kept-alive connection; TLS is verified
(against `[bmc] redfish_ca_bundle` when given, else the system store) unless the user
turns it off with `redfish_verify_tls = false`. Plain `http://` is refused except to the
loopback address. Each request is bounded by `[bmc] timeout_s`. Links in the service's
answers (`@odata.id`, `DataSourceUri`) are followed only when they are paths on the BMC
(`/...`) or absolute URLs with the scheme, host and port of `redfish_url`: anything else is
a `SensorError` and no request, so the credentials never go to another host.

Hostile answers (docs/decisions.md#hostile-input): httpx times out per socket read, so a
BMC trickling a byte every 0.5 s would hold a poll for ever; each GET therefore runs on a
worker thread (as the Prometheus client's, `profiler.prometheus.api`) and the caller waits
at most the poll's one total deadline, `timeout_s`. A late worker is abandoned (it stops
at its next chunk, or at its own read timeout) and no second request starts while it is
open. An answer is read up to `MAX_ANSWER_BYTES`, uncompressed, parsed as JSON nested at
most `MAX_JSON_DEPTH` deep, and every value used is shape-checked (`Links` an object,
`Members` a list, ...): a bad answer is a `SensorError` (the node not found or degraded,
with the reason), never a traceback.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx

from profiler.model.provenance import Provenance
from profiler.sensors.base import Availability, FamilyState, SensorError
from profiler.sensors.bmc.config import BmcConfig, BmcConfigError
from profiler.sensors.bmc.poller import Discovery, PowerSample

MEASURED_REDFISH = Provenance("measured:redfish")
SERVICE_ROOT = "/redfish/v1/"

_PROPERTY = {
    "PowerSubsystem": "PowerSupplies/*/Metrics InputPowerWatts",
    "Power": "PowerControl[0].PowerConsumedWatts",
}
MAX_ANSWER_BYTES = 4 * 2**20
"""The largest Redfish answer read (4 MiB; a chassis or collection resource is kilobytes)."""
MAX_JSON_DEPTH = 32
"""The deepest nesting accepted in an answer (Redfish resources nest about six deep)."""
MAX_NAME_CHARS = 128
"""Names the service gives (chassis `Id`, `FirmwareVersion`) are kept to this length."""
_CHUNK_BYTES = 64 * 1024
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_DEFAULT_PORT = {"https": 443, "http": 80}
_DURATION = re.compile(
    r"^P(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_NOT_CONFIGURED_FIX = (
    'set [bmc] redfish_url = "https://<bmc>", redfish_user and redfish_password_file '
    "(or $FINWATT_BMC_PASSWORD)"
)
_TLS_FIX = (
    "give the BMC's CA certificate in [bmc] redfish_ca_bundle (verification stays on), "
    "or check the address"
)


def iso_duration_s(text: object) -> float | None:
    """Return an ISO 8601 time duration (`PT0.1S`, `PT1M`) in seconds, or None."""
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text)
    if match is None or not any(match.groupdict().values()):
        return None
    hours, minutes, seconds = (float(match[k] or 0) for k in ("h", "m", "s"))
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class _Plan:
    """How to read the chassis' power: the URIs and which property."""

    method: str  # "PowerSubsystem" or "Power"
    uris: tuple[str, ...]
    chassis: str
    manager: str | None = None  # the chassis' Links.ManagedBy[0], for the BMC's firmware


class RedfishSource:
    """The node's power from a Redfish service (a `BmcSource`).

    Args:
        config: the `[bmc]` settings.
        transport: an httpx transport to use instead of the network (none in tests: they
            run a real server on 127.0.0.1).

    """

    name = "redfish"

    def __init__(self, config: BmcConfig, transport: httpx.BaseTransport | None = None) -> None:
        self._config = config
        self._transport = transport
        self._client: httpx.Client | None = None
        self._plan: _Plan | None = None
        self._worker: threading.Thread | None = None

    def discover(self) -> Discovery:
        """Find the chassis and its power figure; say why not, with the fix."""
        url = self._config.redfish_url
        if not url:
            return Discovery(
                Availability(
                    self.name, FamilyState.NOT_FOUND, "no [bmc] redfish_url", _NOT_CONFIGURED_FIX
                )
            )
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            return Discovery(
                self._unreadable(
                    f"{url} is not an https:// URL", "use https:// (Redfish requires TLS)"
                )
            )
        try:
            self._client = self._make_client(url)
            self._plan = self._find_plan()
            window_s = self._window_s()
            sample = self.fetch()
        except BmcConfigError as err:
            return Discovery(self._unreadable(str(err), _NOT_CONFIGURED_FIX))
        except SensorError as err:
            return Discovery(self._unreadable(str(err), self._fix_for(err)))
        plan = self._plan
        details = {
            "source": f"Redfish {url}",
            "method": f"{plan.method} ({_PROPERTY[plan.method]})",
            "chassis": plan.chassis,
            "tls_verified": self._config.redfish_verify_tls and parts.scheme == "https",
            "bmc_firmware": self._firmware(),
        }
        reason = f"chassis {plan.chassis} via {plan.method}, {url}"
        found = Availability(self.name, FamilyState.FOUND, reason)
        return Discovery(found, MEASURED_REDFISH, PowerSample(sample.power_w, window_s), details)

    def fetch(self) -> PowerSample:
        """Return the node's power now (one request per power supply, or one).

        Raises:
            SensorError: the service did not answer in time, refused, or gave no figure.

        """
        if self._plan is None:
            raise SensorError("Redfish fetch before discovery")
        deadline = time.monotonic() + self._config.timeout_s  # one deadline for the poll
        total_w = 0.0
        for uri in self._plan.uris:
            body = self._get(uri, deadline)
            if self._plan.method == "PowerSubsystem":
                value = _obj(body.get("InputPowerWatts")).get("Reading")
            else:
                controls = _list(body.get("PowerControl"))
                value = _obj(controls[0] if controls else None).get("PowerConsumedWatts")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise SensorError(f"{uri} has no power reading (got {value!r})")
            total_w += float(value)
        return PowerSample(total_w)

    def close(self) -> None:
        """Close the HTTP connection."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _make_client(self, url: str) -> httpx.Client:
        credentials = self._config.redfish_credentials
        verify: ssl.SSLContext | bool = self._config.redfish_verify_tls
        if verify and self._config.redfish_ca_bundle is not None:
            try:
                verify = ssl.create_default_context(cafile=str(self._config.redfish_ca_bundle))
            except (OSError, ssl.SSLError) as err:
                raise BmcConfigError(
                    f"cannot load [bmc] redfish_ca_bundle {self._config.redfish_ca_bundle}: {err}"
                ) from err
        auth = (credentials.user, credentials.password()) if credentials.user else None
        return httpx.Client(
            base_url=url.rstrip("/"),
            auth=auth,
            verify=verify,
            timeout=self._config.timeout_s,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "identity",  # the size cap counts what is parsed
                "OData-Version": "4.0",
            },
            transport=self._transport,
        )

    def _get(self, uri: object, deadline: float | None = None) -> dict[str, Any]:
        """GET one resource, whole within `deadline` (else `timeout_s` from now).

        Raises:
            SensorError: off the BMC, late, too large, refused, or not a JSON object.
        """
        assert self._client is not None
        if not isinstance(uri, str) or not _same_origin(uri, self._config.redfish_url or ""):
            raise SensorError(
                f"link {str(uri)[:120]!r} leads off the BMC {self._config.redfish_url} "
                "(not followed: the credentials go only to redfish_url)"
            )
        if self._worker is not None and self._worker.is_alive():
            raise SensorError(
                "the previous request to the BMC is still open past its deadline "
                "([bmc] timeout_s); check the BMC"
            )
        deadline = time.monotonic() + self._config.timeout_s if deadline is None else deadline
        outcome: list[tuple[int, bytes | None] | BaseException] = []
        self._worker = threading.Thread(
            target=_read_answer,
            args=(self._client, uri, deadline, outcome),
            name="finwatt-redfish",
            daemon=True,
        )
        self._worker.start()
        self._worker.join(max(deadline - time.monotonic(), 0.0))
        return self._body(uri, outcome[0] if outcome else None)

    def _body(
        self, uri: str, outcome: tuple[int, bytes | None] | BaseException | None
    ) -> dict[str, Any]:
        """Turn a worker's outcome into the resource, or the one-line `SensorError`."""
        if outcome is None or isinstance(outcome, httpx.TimeoutException):
            raise SensorError(
                f"GET {uri}: no whole answer within {self._config.timeout_s:g} s ([bmc] timeout_s)"
            )
        if isinstance(outcome, httpx.HTTPError):
            raise SensorError(f"GET {uri}: {_cause(outcome)}") from outcome
        if isinstance(outcome, BaseException):
            raise SensorError(f"GET {uri}: {type(outcome).__name__}: {outcome}") from outcome
        status, raw = outcome
        if status in (401, 403):
            raise SensorError(f"GET {uri}: HTTP {status} (credentials refused)")
        if status != 200:
            raise SensorError(f"GET {uri}: HTTP {status}")
        if raw is None:
            raise SensorError(f"GET {uri}: the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB")
        try:
            body = json.loads(raw)
        except RecursionError:
            body = None
        except ValueError as err:
            raise SensorError(f"GET {uri}: not JSON") from err
        if body is None or _too_deep(body, MAX_JSON_DEPTH):
            raise SensorError(f"GET {uri}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if not isinstance(body, dict):
            raise SensorError(f"GET {uri}: not a Redfish resource")
        return body

    def _find_plan(self) -> _Plan:
        root = self._get(SERVICE_ROOT)
        collection = _link(root, "Chassis")
        if collection is None:
            raise SensorError("the service root links no Chassis collection")
        members = [m for m in map(_link, _list(self._get(collection).get("Members"))) if m]
        wanted = self._config.redfish_chassis
        if wanted is not None:
            members = [m for m in members if m.rstrip("/").rsplit("/", 1)[-1] == wanted]
            if not members:
                raise SensorError(f"no chassis {wanted!r} ([bmc] redfish_chassis) at {collection}")
        for member in members:
            chassis = self._get(member)
            chassis_id = str(chassis.get("Id") or member.rsplit("/", 1)[-1])[:MAX_NAME_CHARS]
            managers = _list(_obj(chassis.get("Links")).get("ManagedBy"))
            manager = _link(managers[0]) if managers else None
            subsystem = _link(chassis, "PowerSubsystem")
            if subsystem is not None:
                metrics = self._supply_metrics(subsystem)
                if metrics:
                    return _Plan("PowerSubsystem", metrics, chassis_id, manager)
            power = _link(chassis, "Power")
            if power is not None:
                return _Plan("Power", (power,), chassis_id, manager)
        raise SensorError(f"no chassis under {collection} has PowerSubsystem or Power data")

    def _supply_metrics(self, subsystem: str) -> tuple[str, ...]:
        """Return the Metrics URI of every present supply; () when any lacks one."""
        supplies = _link(self._get(subsystem), "PowerSupplies")
        if supplies is None:
            return ()
        uris: list[str] = []
        for member in _list(self._get(supplies).get("Members")):
            uri = _link(member)
            supply = self._get(uri) if uri else {}
            if _obj(supply.get("Status")).get("State") == "Absent":
                continue
            metrics = _link(supply, "Metrics")
            if metrics is None:
                return ()
            uris.append(metrics)
        return tuple(uris)

    def _window_s(self) -> float | None:
        """The longest `SensingInterval` of the sensors behind the readings, if published."""
        assert self._plan is not None
        if self._plan.method != "PowerSubsystem":
            return None
        windows: list[float] = []
        for uri in self._plan.uris:
            source = _obj(self._get(uri).get("InputPowerWatts")).get("DataSourceUri")
            try:
                window = (
                    iso_duration_s(self._get(source).get("SensingInterval")) if source else None
                )
            except SensorError:
                window = None
            if window is None:
                return None
            windows.append(window)
        return max(windows, default=None)

    def _firmware(self) -> str | None:
        """The managing BMC's `FirmwareVersion` (for the run's inventory), or None."""
        if self._plan is None or self._plan.manager is None:
            return None
        try:
            version = self._get(self._plan.manager).get("FirmwareVersion")
        except SensorError:
            return None
        return str(version)[:MAX_NAME_CHARS] if version else None

    def _fix_for(self, err: SensorError) -> str:
        text = str(err)
        if "credentials" in text:
            return "check [bmc] redfish_user and the password (file or variable)"
        if "certificate" in text.lower() or "ssl" in text.lower():
            return _TLS_FIX
        return "check [bmc] redfish_url and that the BMC's Redfish service is enabled"

    def _unreadable(self, why: str, fix: str) -> Availability:
        return Availability(self.name, FamilyState.NOT_READABLE, why, fix)


def _read_answer(
    client: httpx.Client,
    uri: str,
    deadline: float,
    outcome: list[tuple[int, bytes | None] | BaseException],
) -> None:
    """GET `uri` on a worker thread; append (status, body or None when too large) or the error.

    The body is read in chunks, and reading stops at the deadline (nothing appended: the
    caller has given up by then) or past `MAX_ANSWER_BYTES` (body None).
    """
    try:
        with client.stream("GET", uri) as answer:
            chunks: list[bytes] = []
            size = 0
            for chunk in answer.iter_raw(_CHUNK_BYTES):
                if time.monotonic() >= deadline:
                    return
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    outcome.append((answer.status_code, None))
                    return
                chunks.append(chunk)
            outcome.append((answer.status_code, b"".join(chunks)))
    except Exception as err:  # noqa: BLE001 - handed to the caller, which names it
        outcome.append(err)


def _too_deep(document: object, limit: int) -> bool:
    """Whether `document` (parsed JSON) nests objects and arrays deeper than `limit`."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


def _obj(value: object) -> dict[str, Any]:
    """`value` when it is a JSON object, else {} (a property of the wrong shape is absent)."""
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    """`value` when it is a JSON array, else [] (a property of the wrong shape is absent)."""
    return value if isinstance(value, list) else []


def _link(resource: object, key: str | None = None) -> str | None:
    """Return `resource[key]["@odata.id"]` (or `resource["@odata.id"]`), else None."""
    if not isinstance(resource, dict):
        return None
    target = resource.get(key) if key is not None else resource
    if isinstance(target, dict) and isinstance(target.get("@odata.id"), str):
        return str(target["@odata.id"])
    return None


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    """The (scheme, host, port) of a split URL, the port defaulted from the scheme."""
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or _DEFAULT_PORT.get(scheme)


def _same_origin(uri: str, base_url: str) -> bool:
    """Whether `uri` is a path on the BMC or an absolute URL of `base_url`'s origin.

    A path must start with one `/` (`//host/...` names another host); an absolute URL
    must have the scheme, host and port of `base_url`. A malformed port is not the BMC's.
    """
    if "\\" in uri or not uri.isprintable():
        return False
    try:
        parts = urlsplit(uri)
        if not parts.scheme and not parts.netloc:
            return uri.startswith("/") and not uri.startswith("//")
        return _origin(parts) == _origin(urlsplit(base_url))
    except ValueError:
        return False


def _cause(err: BaseException) -> str:
    """The innermost cause of an httpx error, one line (a certificate error, a refusal)."""
    for _ in range(8):
        inner = err.__cause__ or err.__context__
        if inner is None:
            break
        err = inner
    return str(err) or type(err).__name__
