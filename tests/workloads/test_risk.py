import math
import time
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.base import WorkloadError, resolve_backend
from workloads.risk import (
    DEFAULT_HORIZON_YEARS,
    RiskWorkload,
    block_rows,
    mc_var_es,
    random_portfolio,
    tail_counts,
)

N = NormalDist()
H = 10 / 252
DAILY_VOL_ANNUALISED = 0.01 * math.sqrt(252)


def _normal_se(s: float, n: int, a_var: float, a_es: float) -> tuple[float, float]:
    """Asymptotic standard errors of the VaR and ES estimators for losses ~ N(0, s^2).

    VaR: sqrt(a(1-a)/n) / f(q). ES: sqrt((Var(L | L > q) + a (ES - q)^2) / (n (1 - a))),
    the order-statistic variance of the tail mean (e.g. Yamai & Yoshiba 2002; Chen 2008).
    """
    z = N.inv_cdf(a_var)
    se_var = s * math.sqrt(a_var * (1 - a_var) / n) / N.pdf(z)
    q = N.inv_cdf(a_es)
    lam = N.pdf(q) / (1 - a_es)
    tail_var = 1 + q * lam - lam * lam
    se_es = s * math.sqrt((tail_var + a_es * (lam - q) ** 2) / (n * (1 - a_es)))
    return se_var, se_es


def test_closed_form_numbers_of_the_issue():
    s = 1e6 * 0.01 * math.sqrt(10)
    assert s * N.inv_cdf(0.99) == pytest.approx(73_565.58, abs=0.01)
    assert s * N.pdf(N.inv_cdf(0.975)) / 0.025 == pytest.approx(73_927.82, abs=0.01)


def test_normal_model_matches_closed_form_within_4_se():
    n = 200_000
    var, es = mc_var_es([1e6], [DAILY_VOL_ANNUALISED], [0.0], [[1.0]], H, n, seed=1, model="normal")
    se_var, se_es = _normal_se(1e6 * 0.01 * math.sqrt(10), n, 0.99, 0.975)
    assert abs(var - 73_565.58) < 4 * se_var
    assert abs(es - 73_927.82) < 4 * se_es


def test_normal_model_two_correlated_assets():
    w, vol, rho, n = np.array([2e6, -1e6]), np.array([0.2, 0.3]), 0.6, 200_000
    corr = np.array([[1.0, rho], [rho, 1.0]])
    v = w * vol * math.sqrt(H)
    s = math.sqrt(v @ corr @ v)
    var, es = mc_var_es(w, vol, [0.0, 0.0], corr, H, n, seed=3, model="normal")
    se_var, se_es = _normal_se(s, n, 0.99, 0.975)
    assert abs(var - s * N.inv_cdf(0.99)) < 4 * se_var
    assert abs(es - s * N.pdf(N.inv_cdf(0.975)) / 0.025) < 4 * se_es


def _gbm_closed_form(s0, mu, sigma, t, a_var, a_es):
    z_var, z_es = N.inv_cdf(a_var), N.inv_cdf(a_es)
    var = s0 * (1 - math.exp((mu - sigma**2 / 2) * t - sigma * math.sqrt(t) * z_var))
    es = s0 * (1 - math.exp(mu * t) * N.cdf(-z_es - sigma * math.sqrt(t)) / (1 - a_es))
    return var, es


def _gbm_se(s0, mu, sigma, t, n, a_var, a_es):
    # Loss L(x) = s0 (1 - exp(a + b x)), decreasing in x ~ N(0, 1); the tail is x < -z.
    a, b = (mu - sigma**2 / 2) * t, sigma * math.sqrt(t)
    x = -N.inv_cdf(a_var)
    density = N.pdf(x) / (s0 * b * math.exp(a + b * x))
    se_var = math.sqrt(a_var * (1 - a_var) / n) / density
    xq = -N.inv_cdf(a_es)
    grid = np.linspace(xq - 12, xq, 200_001)
    pdf = np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi)
    loss = s0 * (1 - np.exp(a + b * grid))
    mass = np.trapezoid(pdf, grid)
    mean = np.trapezoid(pdf * loss, grid) / mass
    tail_var = np.trapezoid(pdf * (loss - mean) ** 2, grid) / mass
    q = s0 * (1 - math.exp(a + b * xq))
    se_es = math.sqrt((tail_var + a_es * (mean - q) ** 2) / (n * (1 - a_es)))
    return se_var, se_es


@pytest.mark.parametrize(("mu", "sigma"), [(0.05, 0.3), (0.0, 0.6)])
def test_single_asset_gbm_matches_closed_form_within_4_se(mu, sigma):
    s0, n = 1e6, 200_000
    var, es = mc_var_es([s0], [sigma], [mu], [[1.0]], H, n, seed=7)
    cf_var, cf_es = _gbm_closed_form(s0, mu, sigma, H, 0.99, 0.975)
    se_var, se_es = _gbm_se(s0, mu, sigma, H, n, 0.99, 0.975)
    assert abs(var - cf_var) < 4 * se_var
    assert abs(es - cf_es) < 4 * se_es
    assert se_var / cf_var < 0.02


def test_gbm_se_helper_agrees_with_normal_limit():
    # For small sigma the GBM loss is nearly normal: the two SE formulas must agree.
    s0, sigma, n = 1e6, 0.01, 100_000
    se_var, se_es = _gbm_se(s0, 0.0, sigma, H, n, 0.99, 0.975)
    ref_var, ref_es = _normal_se(s0 * sigma * math.sqrt(H), n, 0.99, 0.975)
    assert se_var == pytest.approx(ref_var, rel=0.01)
    assert se_es == pytest.approx(ref_es, rel=0.01)


def test_es_at_least_var_for_defaults():
    p = random_portfolio(8, 11)
    corr = p.chol @ p.chol.T
    for model in ("gbm", "normal"):
        var, es = mc_var_es(p.notionals, p.vols, p.drifts, corr, n_scenarios=50_000, model=model)
        assert 0 < var <= es


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    alpha=st.floats(0.5, 0.999),
    n_assets=st.integers(1, 4),
)
def test_es_is_never_below_var_at_the_same_level(seed, n, alpha, n_assets):
    p = random_portfolio(n_assets, seed)
    corr = p.chol @ p.chol.T
    var, es = mc_var_es(
        p.notionals, p.vols, p.drifts, corr, H, n, seed=seed, alpha_var=alpha, alpha_es=alpha
    )
    assert es >= var


def _portfolio_40():
    p = random_portfolio(40, 5)
    return p.notionals, p.vols, p.drifts, p.chol @ p.chol.T


@settings(max_examples=6, deadline=None)
@given(batch=st.integers(1, 70_000))
def test_results_do_not_depend_on_batch_size(batch):
    args = _portfolio_40()
    assert block_rows(40, "numpy") == 16_384
    n = 40_000  # three RNG blocks, the last one partial
    reference = mc_var_es(*args, H, n, seed=9)
    assert mc_var_es(*args, H, n, seed=9, batch_scenarios=batch) == reference


def test_seed_determines_result():
    args = _portfolio_40()
    a = mc_var_es(*args, H, 20_000, seed=1)
    assert mc_var_es(*args, H, 20_000, seed=np.random.SeedSequence(1)) == a
    assert mc_var_es(*args, H, 20_000, seed=2) != a


def test_tail_counts_are_exact():
    assert tail_counts(100_000, 0.99, 0.975) == (1001, 2500)
    assert tail_counts(1, 0.99, 0.975) == (1, 1)
    assert tail_counts(7, 0.5, 0.5) == (4, 4)


def test_default_horizon():
    assert math.isclose(DEFAULT_HORIZON_YEARS, 10 / 252)


GOOD = {"notionals": [1e6, 2e6], "vols": [0.2, 0.3], "drifts": [0.0, 0.0]}
CORR = [[1.0, 0.5], [0.5, 1.0]]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"corr": [[1.0, 1.2], [1.2, 1.0]]}, "corr is not positive definite"),
        ({"corr": [[1.0, 0.5], [0.4, 1.0]]}, "corr must be a finite symmetric"),
        ({"corr": [[2.0, 0.5], [0.5, 1.0]]}, "corr must have a unit diagonal"),
        ({"corr": [[1.0]]}, "corr must be 2x2"),
        ({"alpha_var": 1.0}, "alpha_var must be in"),
        ({"alpha_var": 0.0}, "alpha_var must be in"),
        ({"alpha_es": 1.5}, "alpha_es must be in"),
        ({"n_scenarios": 0}, "n_scenarios must be >= 1"),
        ({"n_scenarios": 10.5}, "n_scenarios must be an integer"),
        ({"vols": [0.2]}, "notionals, vols and drifts"),
        ({"notionals": [[1e6, 2e6]]}, "notionals, vols and drifts"),
        ({"vols": [0.2, -0.1]}, "vols must be >= 0"),
        ({"drifts": [0.0, math.nan]}, "drifts must be finite"),
        ({"horizon_years": 0.0}, "horizon_years must be > 0"),
        ({"model": "t"}, "unknown model 't'"),
        ({"batch_scenarios": 0}, "batch_scenarios must be >= 1"),
    ],
)
def test_bad_input_names_the_parameter(change, needle):
    kwargs = {**GOOD, "corr": CORR, "n_scenarios": 100, **change}
    with pytest.raises(WorkloadError, match=needle):
        mc_var_es(**kwargs)


def test_risk_workload_small():
    workload = RiskWorkload()
    start = time.perf_counter()
    workload.prepare("small", 3, resolve_backend("numpy"))
    assert time.perf_counter() - start < 0.5
    units = workload.run_batch()
    assert units == block_rows(16, "numpy")
    assert workload.last_var_es is not None
    var, es = workload.last_var_es
    assert 0 < var <= es
    again = RiskWorkload()
    again.prepare("small", 3, resolve_backend("numpy"))
    again.run_batch()
    assert again.last_var_es == workload.last_var_es
    workload.run_batch()
    assert workload.last_var_es != again.last_var_es  # the stream moves on


def test_risk_workload_needs_prepare():
    with pytest.raises(WorkloadError, match="prepare"):
        RiskWorkload().run_batch()
