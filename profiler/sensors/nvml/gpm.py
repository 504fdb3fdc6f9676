"""SM activity from NVML's GPU Performance Monitoring (GPM), Hopper and later.

NVML's `utilization.gpu` is busy time: the share of a period in which any kernel ran,
so one tiny kernel on one SM reads 100 %. SM activity is the share of SMs busy
(DCGM's `DCGM_FI_PROF_SM_ACTIVE`); GPM exposes it as `NVML_GPM_METRIC_SM_UTIL`,
computed by `nvmlGpmMetricsGet` from two samples taken with `nvmlGpmSampleGet` (or, for
one MIG GPU instance, `nvmlGpmMigSampleGet`). GPUs before Hopper do not support GPM
(`nvmlGpmQueryDeviceSupport`); there `sm_active` stays absent and the GPU rules fall back
to busy-time utilisation with lower confidence.

Two samples closer than `MIN_GPM_INTERVAL_S` give a noisy ratio, so at faster sampling
intervals the previous figure is repeated until a full interval has passed.

Check by hand: `nvidia-smi dmon -s u` (busy time) against `dcgmi dmon -e 1002` (SM active)
where DCGM is installed.
"""

from __future__ import annotations

from typing import Any

from profiler.sensors.nvml.library import NvmlError, NvmlLibrary

#: Shortest span between the two GPM samples of one figure, in seconds.
MIN_GPM_INTERVAL_S = 0.1

SOURCE = "nvml-gpm:NVML_GPM_METRIC_SM_UTIL"


def gpm_supported(lib: NvmlLibrary, handle: Any) -> bool:
    """Say whether the GPU supports GPM metrics (False on errors and before Hopper)."""
    try:
        support = lib.call("nvmlGpmQueryDeviceSupport", handle)
    except NvmlError:
        return False
    return bool(support.isSupportedDevice)


class GpmSmActivity:
    """SM activity (0..1) of one GPU, or of one MIG GPU instance, between GPM samples.

    Only ever used from the GPU's NVML worker thread (see `deadline`), so its two
    sample buffers need no lock.

    Args:
        lib: the NVML boundary.
        handle: the (whole) GPU's handle.
        gpu_instance_id: the MIG GPU instance to sample, None for the whole GPU.

    """

    def __init__(self, lib: NvmlLibrary, handle: Any, gpu_instance_id: int | None = None) -> None:
        self._lib = lib
        self._handle = handle
        self._gi = gpu_instance_id
        self._samples: list[Any] = []
        self._previous: tuple[float, Any] | None = None  # (t_mono, sample)
        self._last: float | None = None

    def read(self, t_mono: float) -> float | None:
        """Take a sample at `t_mono` and return SM activity since the previous one.

        Returns None on the first call (nothing to compare yet).

        Raises:
            NvmlError: a GPM call failed.

        """
        if not self._samples:
            self._samples = [self._lib.call("nvmlGpmSampleAlloc") for _ in range(2)]
        if self._previous is not None and t_mono - self._previous[0] < MIN_GPM_INTERVAL_S:
            return self._last
        spare = self._samples[0] if self._previous is None else self._spare()
        self._take(spare)
        if self._previous is None:
            self._previous = (t_mono, spare)
            return None
        value = self._metric(self._previous[1], spare)
        self._previous = (t_mono, spare)
        self._last = value
        return value

    def reset(self) -> None:
        """Forget the previous sample: the next `read` starts a new span (run start)."""
        self._previous = None
        self._last = None

    def close(self) -> None:
        """Free the GPM sample buffers (a failing free is ignored: NVML may be gone)."""
        for sample in self._samples:
            try:
                self._lib.call("nvmlGpmSampleFree", sample)
            except NvmlError:
                continue
        self._samples = []
        self._previous = None

    def _spare(self) -> Any:
        assert self._previous is not None
        first, second = self._samples
        return second if self._previous[1] is first else first

    def _take(self, sample: Any) -> None:
        if self._gi is None:
            self._lib.call("nvmlGpmSampleGet", self._handle, sample)
        else:
            self._lib.call("nvmlGpmMigSampleGet", self._handle, self._gi, sample)

    def _metric(self, sample1: Any, sample2: Any) -> float:
        request = self._lib.struct("c_nvmlGpmMetricsGet_t")()
        request.version = self._lib.constant("NVML_GPM_METRICS_GET_VERSION")
        request.numMetrics = 1
        request.sample1 = sample1
        request.sample2 = sample2
        request.metrics[0].metricId = self._lib.constant("NVML_GPM_METRIC_SM_UTIL")
        self._lib.call("nvmlGpmMetricsGet", request)
        metric = request.metrics[0]
        self._lib.check("nvmlGpmMetricsGet", metric.nvmlReturn)
        # NVML reports a percentage; rounding can put it a hair outside 0..100.
        return min(1.0, max(0.0, float(metric.value) / 100.0))
