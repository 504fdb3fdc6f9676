"""Monte-Carlo Value-at-Risk and Expected Shortfall of a multi-asset portfolio.

Full revaluation under correlated geometric Brownian motion: log-returns over a horizon
h are r_i = (mu_i - sigma_i^2 / 2) h + sigma_i sqrt(h) x_i with x = L z, L the Cholesky
factor of the correlation matrix and z iid N(0, 1); P&L = sum_i w_i (exp(r_i) - 1). The
`normal` model (linear P&L sum_i w_i sigma_i sqrt(h) x_i) has closed forms for tests.
VaR at 99% and ES at 97.5% follow Basel FRTB (BCBS d457, MAR33.2-33.3).

Estimators: VaR is the inverted-CDF quantile of the losses (the ceil(alpha n)-th
smallest, Hyndman & Fan 1996 definition 1); ES is the mean of the ceil((1 - alpha) n)
largest losses. Both are exact order statistics, kept by a streaming top-K selection so
memory stays O(K) and the device sends only K values per block back to the host.

Random numbers are streamed in blocks of scenarios; block j of a stream seeded by
SeedSequence s draws from SeedSequence(s.entropy, spawn_key=s.spawn_key + (j,)). A
block's scenarios therefore depend only on the seed, the block index and the block size
(fixed per back end and portfolio width), never on how blocks are grouped into batches:
results are bit-identical for any batch size.

Precision: scenarios, the Cholesky product and exp run in float32 (the hot loop); P&L
uses exp(x) weighted by w_i exp(d_i), with the drift term and the sum of notionals folded
into float64 constants, and the tail is accumulated in float64.

Batch size: a `RiskWorkload` batch is one RNG block on the CPU. On a GPU the number of
blocks per batch is calibrated in `prepare()` by `workloads.batch_size`'s rule (double
while throughput rises by 10 % or more, within 50 ms per batch); the block size itself
stays fixed per back end, so the scenarios and results do not depend on the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from workloads.arrays import ArrayOps, array_ops
from workloads.base import (
    GPU_BACKENDS,
    Backend,
    Size,
    Workload,
    WorkloadError,
    parse_size,
    resolve_backend,
)
from workloads.batch_size import BatchSizing, saturating_batch, timed_batches

__all__ = [
    "DEFAULT_HORIZON_YEARS",
    "MODELS",
    "Portfolio",
    "RiskWorkload",
    "block_rows",
    "mc_var_es",
    "random_portfolio",
    "tail_counts",
]

DEFAULT_HORIZON_YEARS = 10 / 252
"""Ten trading days in years: the FRTB liquidity horizon floor (MAR33.12)."""

MODELS = ("gbm", "normal")

F64 = npt.NDArray[np.float64]

# Scenario values per RNG block: about 4 MiB of float32 on the CPU (fits in L2/L3 beside
# the Cholesky factor); on a GPU, large enough that kernel launches are a small share.
_BLOCK_VALUES = {"numpy": 1 << 20, "cupy": 1 << 25, "torch": 1 << 25}
_MIN_BLOCK_ROWS = 256
_MAX_BLOCK_ROWS = {"numpy": 1 << 16, "cupy": 1 << 20, "torch": 1 << 20}

_ASSETS = {Size.SMALL: 16, Size.STANDARD: 256, Size.LARGE: 512}
# Most RNG blocks one GPU batch may hold (small stays at one block everywhere).
_MAX_BLOCKS_PER_BATCH = {Size.SMALL: 1, Size.STANDARD: 64, Size.LARGE: 64}


@dataclass(frozen=True)
class Portfolio:
    """A validated portfolio: positions and the Cholesky factor of their correlation.

    Attributes:
        notionals: current value w_i of each position (currency units; negative = short).
        vols: annualised volatility sigma_i.
        drifts: annualised drift mu_i.
        chol: lower-triangular L with L L^T = the correlation matrix.

    """

    notionals: F64
    vols: F64
    drifts: F64
    chol: F64

    @classmethod
    def from_inputs(
        cls,
        notionals: npt.ArrayLike,
        vols: npt.ArrayLike,
        drifts: npt.ArrayLike,
        corr: npt.ArrayLike,
    ) -> Portfolio:
        """Validate the inputs and factor the correlation matrix.

        Raises:
            WorkloadError: naming the parameter: mismatched shapes, non-finite values,
                negative vols, or a correlation matrix that is not symmetric with unit
                diagonal and positive definite.

        """
        w, s, m = (np.asarray(a, dtype=np.float64) for a in (notionals, vols, drifts))
        if not (w.ndim == s.ndim == m.ndim == 1 and w.shape == s.shape == m.shape and w.size):
            raise WorkloadError(
                "notionals, vols and drifts must be non-empty 1-D arrays of one length "
                f"(got shapes {w.shape}, {s.shape}, {m.shape})"
            )
        for name, a in (("notionals", w), ("vols", s), ("drifts", m)):
            if not np.all(np.isfinite(a)):
                raise WorkloadError(f"{name} must be finite")
        if np.any(s < 0):
            raise WorkloadError("vols must be >= 0")
        c = np.asarray(corr, dtype=np.float64)
        n = w.size
        if c.shape != (n, n):
            raise WorkloadError(f"corr must be {n}x{n} to match notionals (got shape {c.shape})")
        if not np.all(np.isfinite(c)) or not np.allclose(c, c.T, rtol=0, atol=1e-12):
            raise WorkloadError("corr must be a finite symmetric matrix")
        if not np.allclose(np.diag(c), 1.0, rtol=0, atol=1e-12):
            raise WorkloadError("corr must have a unit diagonal")
        try:
            chol = np.asarray(np.linalg.cholesky(c), dtype=np.float64)
        except np.linalg.LinAlgError as err:
            raise WorkloadError("corr is not positive definite (Cholesky failed)") from err
        return cls(w, s, m, chol)

    @property
    def n_assets(self) -> int:
        """Number of positions."""
        return int(self.notionals.size)


def random_portfolio(n_assets: int, seed: int | np.random.SeedSequence) -> Portfolio:
    """Build a reproducible bank-book-like portfolio of `n_assets` positions.

    Notionals are log-normal around 1,000,000 (10% short), vols uniform in [10%, 50%],
    drifts uniform in [0, 10%] a year; correlations come from a 4-factor model
    C = B B^T + diag(1 - |B_i|^2) with |B_i|^2 uniform in [0.2, 0.7], positive definite
    by construction.
    """
    rng = np.random.default_rng(seed)
    sign = np.where(rng.random(n_assets) < 0.1, -1.0, 1.0)
    notionals = sign * 1e6 * rng.lognormal(0.0, 0.5, n_assets)
    vols = rng.uniform(0.10, 0.50, n_assets)
    drifts = rng.uniform(0.0, 0.10, n_assets)
    b = rng.standard_normal((n_assets, 4))
    b *= np.sqrt(rng.uniform(0.2, 0.7, n_assets) / np.sum(b * b, axis=1))[:, None]
    corr = b @ b.T
    corr[np.diag_indices(n_assets)] = 1.0
    return Portfolio.from_inputs(notionals, vols, drifts, corr)


def block_rows(n_assets: int, backend_name: str) -> int:
    """Scenarios per RNG block for a portfolio of `n_assets` on `backend_name`.

    A power of two with about `_BLOCK_VALUES` normal draws per block; part of the RNG
    stream's definition, so results depend on it (and on nothing else about batching).
    """
    rows = _BLOCK_VALUES[backend_name] // max(n_assets, 1)
    rows = min(max(rows, _MIN_BLOCK_ROWS), _MAX_BLOCK_ROWS[backend_name])
    return 1 << (rows.bit_length() - 1)


def tail_counts(n: int, alpha_var: float, alpha_es: float) -> tuple[int, int]:
    """Return (k_var, k_es): VaR is the k_var-th largest loss, ES the mean of the k_es largest.

    k_var = n - ceil(alpha_var n) + 1 (inverted CDF) and k_es = ceil((1 - alpha_es) n).
    The alphas are read as the decimals they print as (0.975 is 39/40), so that
    (1 - 0.975) * 100,000 is 2,500 and not 2,500.0000000000023 rounded up to 2,501.
    """
    a_var, a_es = Fraction(str(float(alpha_var))), Fraction(str(float(alpha_es)))
    return n - math.ceil(a_var * n) + 1, math.ceil((1 - a_es) * n)


def _check_alpha(name: str, alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise WorkloadError(f"{name} must be in (0, 1) (got {alpha})")


class _Revaluer:
    """The hot loop: one block of scenarios to the largest losses of that block."""

    def __init__(
        self, ops: ArrayOps, portfolio: Portfolio, horizon_years: float, model: str
    ) -> None:
        self.ops = ops
        self.rows = block_rows(portfolio.n_assets, ops.backend.name)
        w, s, m = portfolio.notionals, portfolio.vols, portfolio.drifts
        # x = z L^T, then scaled by sigma_i sqrt(h): one GEMM with A = L^T diag(sigma sqrt h).
        a = portfolio.chol.T * (s * math.sqrt(horizon_years))[None, :]
        if model == "gbm":
            # sum_i w_i (exp(d_i + x_i) - 1) = sum_i w_i e^{d_i} e^{x_i} - sum_i w_i, so the
            # drift never needs its own pass over the block.
            d = (m - 0.5 * s * s) * horizon_years
            self.matrix = ops.from_numpy(a)
            self.weights = ops.from_numpy(w * np.exp(d))
            self.offset = math.fsum(w)
        else:
            # Linear P&L: a single GEMV with the collapsed weights A w; loss = -P&L.
            self.matrix = None
            self.weights = ops.from_numpy(a @ w)
            self.offset = 0.0
        self._z = ops.empty((self.rows, portfolio.n_assets))
        self._x = ops.empty((self.rows, portfolio.n_assets))
        self._g = ops.empty((self.rows,))
        self.model = model

    def block_tail(self, seed: np.random.SeedSequence, rows: int, k: int) -> F64:
        """Return the min(k, rows) largest losses of a block of `rows` scenarios."""
        ops = self.ops
        z = self._z[:rows]
        ops.standard_normal(seed, z)
        if self.matrix is None:
            g = ops.matmul(z, self.weights, out=self._g[:rows])
            return ops.largest(-g, min(k, rows))
        x = ops.matmul(z, self.matrix, out=self._x[:rows])
        ops.exp_(x)
        g = ops.matmul(x, self.weights, out=self._g[:rows])
        # Loss = offset - g: the k largest losses are the k smallest g, converted in
        # float64 so the offset does not cancel digits of g in float32.
        return self.offset + ops.largest(-g, min(k, rows))


def _block_seed(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, index), pool_size=root.pool_size
    )


def _as_seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


class _TailAccumulator:
    """The K largest values seen so far, merged lazily to keep merges O(K) amortised."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._parts: list[F64] = []
        self._size = 0

    def add(self, values: F64) -> None:
        self._parts.append(values)
        self._size += values.size
        if self._size > 4 * self.k:
            self._merge()

    def _merge(self) -> None:
        v = np.concatenate(self._parts)
        if v.size > self.k:
            v = np.partition(v, v.size - self.k)[v.size - self.k :]
        self._parts, self._size = [v], v.size

    def descending(self) -> F64:
        self._merge()
        return np.sort(self._parts[0])[::-1]


def _var_es(tail_desc: F64, k_var: int, k_es: int) -> tuple[float, float]:
    return float(tail_desc[k_var - 1]), math.fsum(tail_desc[:k_es]) / k_es


def mc_var_es(
    notionals: npt.ArrayLike,
    vols: npt.ArrayLike,
    drifts: npt.ArrayLike,
    corr: npt.ArrayLike,
    horizon_years: float = DEFAULT_HORIZON_YEARS,
    n_scenarios: int = 100_000,
    *,
    seed: int | np.random.SeedSequence = 0,
    model: str = "gbm",
    alpha_var: float = 0.99,
    alpha_es: float = 0.975,
    backend: str | Backend = "numpy",
    batch_scenarios: int | None = None,
) -> tuple[float, float]:
    """Estimate VaR and ES of a portfolio by Monte Carlo, as positive loss amounts.

    Args:
        notionals: position values w_i (currency units).
        vols: annualised volatilities sigma_i.
        drifts: annualised drifts mu_i (ignored by the `normal` model).
        corr: correlation matrix of the log-returns (symmetric positive definite).
        horizon_years: risk horizon h in years (default 10/252).
        n_scenarios: number of Monte-Carlo scenarios.
        seed: seed or SeedSequence of the scenario stream.
        model: "gbm" (full revaluation) or "normal" (linear P&L, for closed forms).
        alpha_var: VaR confidence level.
        alpha_es: ES confidence level.
        backend: "numpy", "cupy", "torch" or a resolved `Backend`.
        batch_scenarios: scenarios per batch (rounded up to whole RNG blocks); the
            result does not depend on it.

    Returns:
        (VaR, ES) in the currency units of `notionals`.

    Raises:
        WorkloadError: a bad input, naming the parameter.
        BackendUnavailable: the back end cannot run here.

    """
    portfolio = Portfolio.from_inputs(notionals, vols, drifts, corr)
    if not (math.isfinite(horizon_years) and horizon_years > 0):
        raise WorkloadError(f"horizon_years must be > 0 (got {horizon_years})")
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, int | np.integer):
        raise WorkloadError(f"n_scenarios must be an integer (got {n_scenarios!r})")
    if n_scenarios < 1:
        raise WorkloadError(f"n_scenarios must be >= 1 (got {n_scenarios})")
    _check_alpha("alpha_var", alpha_var)
    _check_alpha("alpha_es", alpha_es)
    if model not in MODELS:
        raise WorkloadError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    if batch_scenarios is not None and batch_scenarios < 1:
        raise WorkloadError(f"batch_scenarios must be >= 1 (got {batch_scenarios})")
    if isinstance(backend, str):
        backend = resolve_backend(backend, "cpu" if backend == "numpy" else "gpu")

    revaluer = _Revaluer(array_ops(backend), portfolio, horizon_years, model)
    n = int(n_scenarios)
    k_var, k_es = tail_counts(n, alpha_var, alpha_es)
    k = max(k_var, k_es)
    rows = revaluer.rows
    per_batch = -(-(batch_scenarios or rows) // rows)
    root = _as_seed_sequence(seed)
    tail = _TailAccumulator(k)
    n_blocks = -(-n // rows)
    for first in range(0, n_blocks, per_batch):
        batch = [
            revaluer.block_tail(_block_seed(root, j), min(rows, n - j * rows), k)
            for j in range(first, min(first + per_batch, n_blocks))
        ]
        tail.add(np.concatenate(batch))
    return _var_es(tail.descending(), k_var, k_es)


class RiskWorkload(Workload):
    """Monte-Carlo VaR/ES of a random multi-asset book; one unit is one scenario revalued.

    Sizes: 16 assets (small), 256 (standard), 512 (large); a batch is one RNG block on the
    CPU (4,096 scenarios at the standard size, about 20 ms on one core) and a calibrated
    number of blocks on a GPU. After each batch, `last_var_es` holds that batch's
    (VaR 99%, ES 97.5%).

    Args:
        calibrate: calibrate the blocks per batch; None does so on GPU back ends only.
        max_blocks_per_batch: the calibration's cap; None uses the size's (64).

    """

    name: ClassVar[str] = "risk"
    unit: ClassVar[str] = "scenario"

    def __init__(
        self, *, calibrate: bool | None = None, max_blocks_per_batch: int | None = None
    ) -> None:
        """Create an unprepared workload; call `prepare` before `run_batch`."""
        self._calibrate = calibrate
        self._max_blocks = max_blocks_per_batch
        self._revaluer: _Revaluer | None = None
        self._root = np.random.SeedSequence(0)
        self._next_block = 0
        self.blocks_per_batch = 1
        self.batch_sizing: BatchSizing | None = None
        self.last_var_es: tuple[float, float] | None = None
        self.portfolio: Portfolio | None = None

    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        """Build the portfolio for `size` and the scenario stream from `seed`."""
        size = parse_size(size)
        portfolio_seed, self._root = _as_seed_sequence(seed).spawn(2)
        self.portfolio = random_portfolio(_ASSETS[size], portfolio_seed)
        self._revaluer = _Revaluer(array_ops(backend), self.portfolio, DEFAULT_HORIZON_YEARS, "gbm")
        self._next_block = 0
        self.blocks_per_batch = 1
        self.batch_sizing = None
        calibrate = backend.name in GPU_BACKENDS if self._calibrate is None else self._calibrate
        if calibrate:
            rows = self._revaluer.rows
            cap = rows * (self._max_blocks or _MAX_BLOCKS_PER_BATCH[size])
            self.batch_sizing = saturating_batch(
                timed_batches(self._blocks, self._revaluer.ops.synchronize), rows, cap
            )
            self.blocks_per_batch = self.batch_sizing.units // rows

    def _blocks(self, scenarios: int) -> list[F64]:
        """Revalue the next `scenarios` // rows blocks; their tails for the batch's VaR/ES."""
        assert self._revaluer is not None
        rows = self._revaluer.rows
        blocks = max(1, scenarios // rows)
        k_var, k_es = tail_counts(blocks * rows, 0.99, 0.975)
        return [
            self._revaluer.block_tail(_block_seed(self._root, j), rows, max(k_var, k_es))
            for j in range(blocks)
        ]

    def run_batch(self) -> int:
        """Revalue one batch of scenarios (whole RNG blocks) and return the number revalued."""
        if self._revaluer is None:
            raise WorkloadError("risk workload: call prepare() before run_batch()")
        rows = self._revaluer.rows
        n = rows * self.blocks_per_batch
        k_var, k_es = tail_counts(n, 0.99, 0.975)
        tails = [
            self._revaluer.block_tail(
                _block_seed(self._root, self._next_block + j), rows, max(k_var, k_es)
            )
            for j in range(self.blocks_per_batch)
        ]
        self._revaluer.ops.synchronize()
        self._next_block += self.blocks_per_batch
        self.last_var_es = _var_es(np.sort(np.concatenate(tails))[::-1], k_var, k_es)
        return n
