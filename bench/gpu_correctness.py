"""GPU check, stage 6: the GPU back ends compute what the CPU computes.

- risk: the `normal` model's Monte-Carlo VaR 99 % and ES 97.5 % within 4 standard errors
  of their closed forms, and the `gbm` model's within 1 % of numpy's on the same
  portfolio (different RNG streams, equal in distribution: at 2 million scenarios 1 % is
  about six standard errors of the difference);
- inference: float32 scores within 1e-5 of numpy's for the same applications;
- ledger: RFC 6962 Merkle roots bit-exact with hashlib's (CuPy only: torch has no SHA-256).

Run: python -m bench.gpu_correctness --out DIR [--backend auto] [--device gpu]
(writes DIR/correctness.json). Tests run every check with the numpy back end.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from workloads.arrays import array_ops
from workloads.base import Backend, Size, resolve_backend
from workloads.inference import (
    WIDTHS,
    BatchScorer,
    ground_truth,
    planted_mlp,
    synthetic_applications,
)
from workloads.ledger import merkle_root, synthetic_records, tree_root_lanes
from workloads.risk import DEFAULT_HORIZON_YEARS, mc_var_es, random_portfolio

N = NormalDist()
A_VAR, A_ES = 0.99, 0.975
SCORE_TOLERANCE = 1e-5
GBM_TOLERANCE = 0.01
MERKLE_SIZES = (1, 2, 3, 5, 1000, 2**14 + 3)

HashLanes = Callable[[int, Any], Any]


def normal_closed_form(s: float) -> tuple[float, float, float, float]:
    """(VaR, ES, SE of VaR, SE of ES) per scenario count 1, for losses ~ N(0, s^2).

    Standard errors of the order-statistic estimators (as tests/workloads/test_risk.py):
    VaR sqrt(a (1 - a)) / f(q); ES sqrt(Var(L | L > q) + a (ES - q)^2) / sqrt(1 - a).
    """
    z = N.inv_cdf(A_VAR)
    q = N.inv_cdf(A_ES)
    lam = N.pdf(q) / (1 - A_ES)
    se_var = s * math.sqrt(A_VAR * (1 - A_VAR)) / N.pdf(z)
    se_es = s * math.sqrt((1 + q * lam - lam * lam + A_ES * (lam - q) ** 2) / (1 - A_ES))
    return s * z, s * lam, se_var, se_es


def risk_checks(backend: Backend, n: int = 2_000_000, assets: int = 16) -> dict[str, Any]:
    """VaR/ES on `backend`: normal model vs closed form, gbm model vs numpy."""
    book = random_portfolio(assets, 7)
    corr = book.chol @ book.chol.T
    v = book.notionals * book.vols * math.sqrt(DEFAULT_HORIZON_YEARS)
    s = math.sqrt(float(v @ corr @ v))
    var_cf, es_cf, se_var, se_es = normal_closed_form(s)
    args = (book.notionals, book.vols, book.drifts, corr, DEFAULT_HORIZON_YEARS, n)
    var_n, es_n = mc_var_es(*args, seed=11, model="normal", backend=backend)
    var_g, es_g = mc_var_es(*args, seed=12, model="gbm", backend=backend)
    var_c, es_c = mc_var_es(*args, seed=13, model="gbm", backend="numpy")
    normal_se = (
        abs(var_n - var_cf) / (se_var / math.sqrt(n)),
        abs(es_n - es_cf) / (se_es / math.sqrt(n)),
    )
    gbm_rel = (abs(var_g - var_c) / var_c, abs(es_g - es_c) / es_c)
    return {
        "scenarios": n,
        "normal": {"var": var_n, "es": es_n, "var_closed": var_cf, "es_closed": es_cf,
                   "errors_in_se": normal_se, "ok": max(normal_se) < 4.0},
        "gbm": {"var": var_g, "es": es_g, "var_numpy": var_c, "es_numpy": es_c,
                "relative": gbm_rel, "ok": max(gbm_rel) < GBM_TOLERANCE},
    }  # fmt: skip


def inference_check(backend: Backend, rows: int = 8192) -> dict[str, Any]:
    """Scores of the standard MLP on `backend` against numpy's, same applications."""
    truth = ground_truth(1)
    weights = planted_mlp(WIDTHS[Size.STANDARD], truth, 2)
    features = synthetic_applications(rows, truth, 3).features
    cpu = BatchScorer(array_ops(resolve_backend("numpy")), weights, rows)
    expected = np.asarray(cpu.score(features), dtype=np.float64)
    ops = array_ops(backend)
    gpu = BatchScorer(ops, weights, rows)
    got = ops.to_numpy(gpu.score(ops.from_numpy(features)))
    diff = float(np.max(np.abs(got - expected)))
    return {"rows": rows, "max_abs_diff": diff, "ok": diff <= SCORE_TOLERANCE}


def merkle_check(
    backend: Backend, hash_lanes: HashLanes | None = None, sizes: Sequence[int] = MERKLE_SIZES
) -> dict[str, Any]:
    """RFC 6962 roots through the lane kernel against hashlib's, bit for bit."""
    if hash_lanes is None:
        if backend.name != "cupy":
            return {"skipped": f"the ledger's GPU path needs CuPy, not {backend.name}"}
        from workloads.sha256_lanes import CupyLanes

        hash_lanes = CupyLanes(backend.module)
    xp = backend.module
    rng = np.random.default_rng(5)
    results = {}
    for n in sizes:
        records = synthetic_records(n, 256, rng)
        expected = merkle_root([row.tobytes() for row in records])
        got = tree_root_lanes(xp.asarray(records), hash_lanes, xp)
        results[str(n)] = got == expected
    return {"roots_equal": results, "ok": all(results.values())}


def correctness(
    backend: Backend, *, hash_lanes: HashLanes | None = None, scale: float = 1.0
) -> dict[str, Any]:
    """Every check on `backend`; `scale` shrinks the scenario counts (tests)."""
    result = {
        "backend": backend.name,
        "device": backend.device,
        "risk": risk_checks(backend, n=max(20_000, int(2_000_000 * scale))),
        "inference": inference_check(backend),
        "ledger": merkle_check(
            backend, hash_lanes, MERKLE_SIZES if scale >= 1.0 else MERKLE_SIZES[:5]
        ),
    }
    checks = [
        result["risk"]["normal"]["ok"],
        result["risk"]["gbm"]["ok"],
        result["inference"]["ok"],
    ]
    if "ok" in result["ledger"]:
        checks.append(result["ledger"]["ok"])
    result["ok"] = all(checks)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="gpu")
    args = parser.parse_args(argv)
    results = {}
    names = ("cupy", "torch") if args.backend == "auto" else (args.backend,)
    for name in names:
        try:
            backend = resolve_backend(name, args.device)
        except Exception as err:  # noqa: BLE001 - report every back end, usable or not
            results[name] = {"unavailable": str(err)}
            continue
        results[name] = correctness(backend)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "correctness.json").write_text(json.dumps(results, indent=2, default=str))
    for name, r in results.items():
        if "unavailable" in r:
            print(f"{name}: unavailable: {r['unavailable']}")
            continue
        risk = r["risk"]
        print(
            f"{name}: ok={r['ok']}; normal VaR/ES off by {risk['normal']['errors_in_se'][0]:.2f}/"
            f"{risk['normal']['errors_in_se'][1]:.2f} SE; gbm vs numpy "
            f"{risk['gbm']['relative'][0]:.3%}/{risk['gbm']['relative'][1]:.3%}; scores "
            f"max diff {r['inference']['max_abs_diff']:.2e}; merkle {r['ledger']}"
        )


if __name__ == "__main__":
    main()
