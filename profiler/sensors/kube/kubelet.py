"""Pod names from the kubelet's pod list: fetched with a service-account token, cached.

`KubeletPods` reads `GET <url>` (default the kubelet's `https://<node>:10250/pods`; the
API server's `/api/v1/pods?fieldSelector=spec.nodeName=<node>` returns the same shape)
with the bearer token read from a file at each fetch (a projected token rotates), never
from argv and never logged. A fetch is bounded in time (`timeout_s`) and size
(`max_bytes`). The list is cached for `ttl_s`; a pod UID not in the cache refetches at
most once per `retry_s`, so a new pod is named within seconds and a storm of unknown
pods costs one request. A lookup never waits on the network: it answers from the cache
and starts a background fetch (the sampler thread must not stall on a slow kubelet);
`refresh()` fetches in the caller's thread (at start, and in tests).

When the list cannot be fetched, `state` says so (`degraded: <why>`): pods known from an
earlier fetch keep their names, new ones stay `pod:<uid>` as the cgroup path names them.
Check by hand (inside the pod): `curl -sk -H "Authorization: Bearer $(cat
/var/run/secrets/kubernetes.io/serviceaccount/token)" https://$NODE_IP:10250/pods`.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.sensors.kube.pods import PodInfo, PodListError, parse_pod_list

log = logging.getLogger(__name__)

TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
CA_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
MAX_BYTES = 16 * 1024 * 1024
"""A node's pod list is ~20 KB a pod; 16 MiB holds several hundred."""

TOKEN_MAX_BYTES = 64 * 1024

OK = "ok"


@dataclass(frozen=True)
class KubeletConfig:
    """Where and how to read the pod list.

    Attributes:
        url: the pod list's URL.
        token_file: the bearer token's file (None: no Authorization header).
        ca_file: CA bundle for the server's certificate (None: the system's).
        verify_tls: False only where the kubelet's serving certificate is self-signed
            and no CA signs it (logged as a warning once).
        timeout_s: connect + read deadline of one fetch.
        max_bytes: the largest pod list accepted.
        ttl_s: how long a fetched list is used.
        retry_s: the least time between fetches for an unknown pod or after a failure.
    """

    url: str
    token_file: Path | None = TOKEN_FILE
    ca_file: Path | None = None
    verify_tls: bool = True
    timeout_s: float = 5.0
    max_bytes: int = MAX_BYTES
    ttl_s: float = 60.0
    retry_s: float = 10.0


def _context(config: KubeletConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(config.ca_file) if config.ca_file is not None else None
    )
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: the token must not follow one to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        """Return None: the 3xx is raised as an HTTP error."""
        return None


def fetch_pods(config: KubeletConfig) -> dict[str, PodInfo]:
    """Fetch and parse the pod list once.

    Raises:
        OSError: unreachable, refused, timed out, an HTTP error or an unreadable token.
        PodListError: too large, not JSON or not a PodList.
    """
    headers = {"Accept": "application/json"}
    if config.token_file is not None:
        token = read_small_text(config.token_file, max_bytes=TOKEN_MAX_BYTES).strip()
        headers["Authorization"] = f"Bearer {token}"
    if not config.url.startswith(("https://", "http://")):
        raise PodListError(f"pod list URL {config.url[:80]!r}: use https:// or http://")
    request = urllib.request.Request(config.url, headers=headers)
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if config.url.startswith("https://"):
        handlers.append(urllib.request.HTTPSHandler(context=_context(config)))
    opener = urllib.request.build_opener(*handlers)
    with opener.open(request, timeout=config.timeout_s) as response:
        body = response.read(config.max_bytes + 1)
    if len(body) > config.max_bytes:
        raise PodListError(f"pod list larger than {config.max_bytes} bytes; raise max_bytes")
    try:
        document = json.loads(body)
    except ValueError as err:
        raise PodListError(f"pod list is not JSON ({err})") from err
    return parse_pod_list(document)


def _reason(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        hint = (
            " (grant the service account nodes/pods or nodes/proxy get)"
            if err.code
            in (
                401,
                403,
            )
            else ""
        )
        return f"HTTP {err.code}{hint}"
    if isinstance(err, urllib.error.URLError):
        return f"unreachable ({err.reason})"
    return str(err) or type(err).__name__


class KubeletPods:
    """Pods by UID from the pod list, cached; thread-safe.

    Args:
        config: where and how to fetch.
        fetch: the fetcher (tests pass one; the default calls `fetch_pods`).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        config: KubeletConfig,
        fetch: Callable[[KubeletConfig], dict[str, PodInfo]] = fetch_pods,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._pods: dict[str, PodInfo] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._thread: threading.Thread | None = None
        self.state = "not fetched yet"
        self.fetches = 0
        if not config.verify_tls:
            log.warning("pod list %s: TLS certificate not verified (verify_tls off)", config.url)

    def pod(self, uid: str) -> PodInfo | None:
        """Return the pod with this UID from the cache; start a fetch when stale or missing."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.config.ttl_s
            missing = uid not in self._pods
            may_retry = self._tried_at is None or now - self._tried_at >= self.config.retry_s
            busy = self._thread is not None and self._thread.is_alive()
            if (stale or missing) and may_retry and not busy:
                self._tried_at = now
                self._thread = threading.Thread(
                    target=self.refresh, name="finwatt-kubelet", daemon=True
                )
                self._thread.start()
            return self._pods.get(uid)

    def refresh(self) -> str:
        """Fetch the pod list now (in this thread); return the state afterwards."""
        now = self._clock()
        try:
            pods = self._fetch(self.config)
        except (OSError, PodListError, SmallFileError) as err:
            state = f"degraded: pod list {_reason(err)}; pods stay pod:<uid>"
            with self._lock:
                self._tried_at = now
                self.fetches += 1
                if state != self.state:
                    log.warning("%s", state)
                self.state = state
            return state
        with self._lock:
            self._tried_at = now
            self.fetches += 1
            self._pods = pods
            self._fetched_at = now
            self.state = OK
        return OK

    @property
    def size(self) -> int:
        """How many pods the cached list holds."""
        with self._lock:
            return len(self._pods)

    def join(self, timeout_s: float = 10.0) -> None:
        """Wait for a background fetch to end (tests; shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
