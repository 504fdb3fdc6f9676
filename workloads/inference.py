"""Batch scoring of a credit-default model (an MLP) over synthetic loan applications.

The standard model is an MLP 192 -> 512 -> 256 -> 128 -> 1 with ReLU hidden layers and a
sigmoid output, the shape of large consumer-credit scoring models. Its weights come from
a deterministic procedure (`planted_mlp`) so scores are meaningful without training:

1. Ground truth: applications have 192 standardised features x ~ N(0, I) and default
   with probability p(x) = sigmoid(b0 + beta . x), |beta| = 1.8, b0 = -3.0 (about 8%
   defaults; `ground_truth`).
2. Layer 1: He-initialised random weights N(0, 2 / fan_in), except hidden units 0 and 1,
   which compute relu(beta . x) and relu(-beta . x).
3. Hidden layers 2 and 3: He-initialised, except units 0 and 1, which copy units 0 and 1
   of the layer below (weight 1 on themselves, 0 elsewhere): ReLU leaves them unchanged
   because they are already non-negative.
4. Output: logit = b0 + h_0 - h_1 + sum_{j >= 2} v_j h_j with small random v_j
   (N(0, 0.01 / fan_in)), so h_0 - h_1 = beta . x carries the planted score and the
   random units add a little noise, as an imperfect trained model would.

The scores therefore rank defaults about as well as the true probability does (AUC near
0.84 for the default ground truth), while every layer still does its full GEMM.

Batch size: 2,048 rows at the standard size keep one CPU core busy for 10-20 ms. On a GPU
that is tens of microseconds and launch-bound, so on cupy and torch the rows per batch are
calibrated in `prepare()` by `workloads.batch_size`'s rule (double while throughput rises
by 10 % or more, within 50 ms per batch and the memory cap), and the applications are drawn
on the device, N(0, I) like the CPU's. The small size keeps its fixed batch everywhere.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from workloads.arrays import ArrayOps, array_ops
from workloads.base import GPU_BACKENDS, Backend, Size, Workload, WorkloadError, parse_size
from workloads.batch_size import BatchSizing, saturating_batch, timed_batches

__all__ = [
    "N_FEATURES",
    "WIDTHS",
    "Applications",
    "BatchScorer",
    "GroundTruth",
    "InferenceWorkload",
    "MLPWeights",
    "auc",
    "ground_truth",
    "planted_mlp",
    "reference_scores",
    "synthetic_applications",
]

F64 = npt.NDArray[np.float64]

N_FEATURES = 192

WIDTHS: dict[Size, tuple[int, ...]] = {
    Size.SMALL: (N_FEATURES, 64, 32, 16, 1),
    Size.STANDARD: (N_FEATURES, 512, 256, 128, 1),
    Size.LARGE: (N_FEATURES, 1024, 512, 256, 1),
}

# Rows per batch: about 10-20 ms of GEMM on one 2020s server core at the standard size.
_BATCH_ROWS = {Size.SMALL: 512, Size.STANDARD: 2048, Size.LARGE: 2048}
# Distinct batches of applications kept on the device and scored in turn.
_POOL_BATCHES = 8
# Largest rows per batch a GPU calibration may reach (small stays at its CPU size).
_GPU_MAX_ROWS = {Size.SMALL: _BATCH_ROWS[Size.SMALL], Size.STANDARD: 1 << 20, Size.LARGE: 1 << 20}
# The calibrated working set (pool, one probe batch, activations) may take this share of
# the device's free memory.
_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class GroundTruth:
    """The planted default model: p(x) = sigmoid(intercept + coef . x)."""

    coef: F64
    intercept: float


@dataclass(frozen=True)
class Applications:
    """Synthetic loan applications.

    Attributes:
        features: (n, 192) float32 standardised features.
        default_prob: (n,) true default probability of each application.
        defaulted: (n,) whether it defaulted (drawn from `default_prob`).

    """

    features: npt.NDArray[np.float32]
    default_prob: F64
    defaulted: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MLPWeights:
    """MLP parameters in float64: layer i maps h @ matrices[i] + biases[i] (ReLU but last)."""

    matrices: tuple[F64, ...]
    biases: tuple[F64, ...]

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths, input first."""
        return (self.matrices[0].shape[0], *(m.shape[1] for m in self.matrices))

    @property
    def flops_per_row(self) -> int:
        """Multiply-adds x 2 of the GEMMs for one row (bias and activations not counted)."""
        return sum(2 * m.shape[0] * m.shape[1] for m in self.matrices)


def _sigmoid64(z: F64) -> F64:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ground_truth(
    seed: int | np.random.SeedSequence,
    n_features: int = N_FEATURES,
    *,
    coef_norm: float = 1.8,
    intercept: float = -3.0,
) -> GroundTruth:
    """Draw a planted logistic default model: coefficients uniform on the sphere of `coef_norm`."""
    coef = np.random.default_rng(seed).standard_normal(n_features)
    return GroundTruth(coef * (coef_norm / np.linalg.norm(coef)), intercept)


def synthetic_applications(
    n: int, truth: GroundTruth, seed: int | np.random.SeedSequence
) -> Applications:
    """Draw `n` applications with features N(0, I) and defaults from `truth`."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, truth.coef.size), dtype=np.float32)
    prob = _sigmoid64(truth.intercept + features.astype(np.float64) @ truth.coef)
    return Applications(features, prob, rng.random(n) < prob)


def planted_mlp(
    widths: tuple[int, ...], truth: GroundTruth, seed: int | np.random.SeedSequence
) -> MLPWeights:
    """Build MLP weights with `truth` planted in hidden units 0 and 1 (see module doc).

    Raises:
        WorkloadError: `widths` does not start at the truth's feature count, end at 1, or
            has a hidden layer narrower than 2.

    """
    if len(widths) < 3 or widths[0] != truth.coef.size or widths[-1] != 1 or min(widths[1:-1]) < 2:
        raise WorkloadError(
            f"widths must be ({truth.coef.size}, hidden >= 2 ..., 1) (got {widths})"
        )
    rng = np.random.default_rng(seed)
    matrices: list[F64] = []
    biases: list[F64] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        last = i == len(widths) - 2
        scale = np.sqrt((0.01 if last else 2.0) / fan_in)
        w = rng.standard_normal((fan_in, fan_out)) * scale
        b = np.zeros(fan_out)
        if i == 0:
            w[:, 0], w[:, 1] = truth.coef, -truth.coef
        elif not last:
            w[:, :2] = 0.0
            w[0, 0] = w[1, 1] = 1.0
        else:
            w[0, 0], w[1, 0] = 1.0, -1.0
            b[0] = truth.intercept
        matrices.append(w)
        biases.append(b)
    return MLPWeights(tuple(matrices), tuple(biases))


def reference_scores(weights: MLPWeights, features: npt.ArrayLike) -> F64:
    """Score applications one row at a time in float64: the reference for the fast path."""
    rows = np.asarray(features, dtype=np.float64)
    out = np.empty(rows.shape[0])
    n_layers = len(weights.matrices)
    for r, row in enumerate(rows):
        h = row
        for i, (w, b) in enumerate(zip(weights.matrices, weights.biases, strict=True)):
            h = h @ w + b
            if i < n_layers - 1:
                h = np.maximum(h, 0.0)
        out[r] = _sigmoid64(h)[0]
    return out


class BatchScorer:
    """Float32 batched forward pass of an MLP on one array back end."""

    def __init__(self, ops: ArrayOps, weights: MLPWeights, max_rows: int) -> None:
        """Copy `weights` to the device and allocate activations for up to `max_rows` rows."""
        self.ops = ops
        self._matrices = [ops.from_numpy(w) for w in weights.matrices]
        self._biases = [ops.from_numpy(b) for b in weights.biases[:-1]]
        self._out_bias = float(weights.biases[-1][0])
        self._buffers = [ops.empty((max_rows, w.shape[1])) for w in weights.matrices]
        self.max_rows = max_rows

    def score(self, features: Any) -> Any:
        """Return the default scores in (0, 1) of the device array `features` (rows, 192)."""
        rows = features.shape[0]
        if rows > self.max_rows:
            raise WorkloadError(f"features has {rows} rows; this scorer takes <= {self.max_rows}")
        h = features
        for w, b, buf in zip(self._matrices[:-1], self._biases, self._buffers, strict=False):
            h = self.ops.matmul(h, w, out=buf[:rows])
            self.ops.add_relu_(h, b)
        logit = self.ops.matmul(h, self._matrices[-1], out=self._buffers[-1][:rows])
        return self.ops.sigmoid(logit[:, 0] + self._out_bias)


def auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Area under the ROC curve: P(score of a default > score of a non-default), ties 1/2.

    Computed from the Mann-Whitney U statistic with mid-ranks for ties.

    Raises:
        WorkloadError: shapes differ, or the labels do not contain both classes.

    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise WorkloadError(f"scores and labels must have one length ({s.size} vs {y.size})")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise WorkloadError("labels must contain both defaults and non-defaults")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Mid-rank of each distinct value: ranks before it + (count + 1) / 2.
    mid = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = float(mid[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


class InferenceWorkload(Workload):
    """Credit-default scoring; one unit is one application (row) scored.

    A batch scores 2,048 rows at the standard size on the CPU (about 1 GFLOP), cycling
    over eight distinct batches of synthetic applications held on the device; on a GPU
    the rows per batch are calibrated (module docstring). After each batch, `last_scores`
    holds that batch's scores (a device array).

    Args:
        calibrate: calibrate the batch size; None does so on GPU back ends only.
        max_batch_rows: the calibration's cap on rows per batch; None uses the size's
            (1,048,576 rows), lowered to fit a quarter of the device's free memory.

    """

    name: ClassVar[str] = "inference"
    unit: ClassVar[str] = "row"

    def __init__(self, *, calibrate: bool | None = None, max_batch_rows: int | None = None) -> None:
        """Create an unprepared workload; call `prepare` before `run_batch`."""
        self._calibrate = calibrate
        self._max_batch_rows = max_batch_rows
        self._scorer: BatchScorer | None = None
        self._batches: list[Any] = []
        self._next = 0
        self.weights: MLPWeights | None = None
        self.last_scores: Any = None
        self.batch_sizing: BatchSizing | None = None

    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        """Build the model and the applications for `size` from `seed` on `backend`."""
        size = parse_size(size)
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        truth_seed, weights_seed, data_seed = root.spawn(3)
        truth = ground_truth(truth_seed)
        self.weights = planted_mlp(WIDTHS[size], truth, weights_seed)
        rows = _BATCH_ROWS[size]
        ops = array_ops(backend)
        self._next = 0
        self.batch_sizing = None
        calibrate = backend.name in GPU_BACKENDS if self._calibrate is None else self._calibrate
        if calibrate:
            self._prepare_calibrated(ops, size, data_seed)
            return
        self._scorer = BatchScorer(ops, self.weights, rows)
        apps = synthetic_applications(rows * _POOL_BATCHES, truth, data_seed)
        self._batches = [
            ops.from_numpy(apps.features[i * rows : (i + 1) * rows]) for i in range(_POOL_BATCHES)
        ]

    def _prepare_calibrated(self, ops: ArrayOps, size: Size, seed: np.random.SeedSequence) -> None:
        """Size the batch for this device, then draw the pool on the device."""
        assert self.weights is not None
        start = _BATCH_ROWS[size]
        cap = self._cap_rows(ops, start, self._max_batch_rows or _GPU_MAX_ROWS[size])
        scorer = BatchScorer(ops, self.weights, cap)
        probe_seed, *pool_seeds = seed.spawn(1 + _POOL_BATCHES)
        probe = ops.empty((cap, N_FEATURES))
        ops.standard_normal(probe_seed, probe)
        self.batch_sizing = saturating_batch(
            timed_batches(lambda n: scorer.score(probe[:n]), ops.synchronize), start, cap
        )
        rows = self.batch_sizing.units
        self._scorer = scorer
        self._batches = []
        for pool_seed in pool_seeds:
            batch = ops.empty((rows, N_FEATURES))
            ops.standard_normal(pool_seed, batch)
            self._batches.append(batch)

    def _cap_rows(self, ops: ArrayOps, start: int, cap: int) -> int:
        """The largest batch (start x a power of two) within `cap` and the memory share."""
        assert self.weights is not None
        free = ops.free_memory_bytes()
        if free is not None:
            floats_per_row = N_FEATURES * (_POOL_BATCHES + 1) + sum(self.weights.widths[1:])
            cap = min(cap, int(free * _MEMORY_SHARE) // (4 * floats_per_row))
        rows = start
        while rows * 2 <= cap:
            rows *= 2
        return rows

    def run_batch(self) -> int:
        """Score one batch of applications and return the number of rows scored."""
        if self._scorer is None:
            raise WorkloadError("inference workload: call prepare() before run_batch()")
        features = self._batches[self._next]
        self._next = (self._next + 1) % len(self._batches)
        self.last_scores = self._scorer.score(features)
        self._scorer.ops.synchronize()
        return int(features.shape[0])
