import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.arrays import array_ops
from workloads.base import Size, WorkloadError, resolve_backend
from workloads.inference import (
    WIDTHS,
    BatchScorer,
    InferenceWorkload,
    auc,
    ground_truth,
    planted_mlp,
    reference_scores,
    synthetic_applications,
)


@pytest.fixture(scope="module")
def model():
    truth = ground_truth(1)
    weights = planted_mlp(WIDTHS[Size.STANDARD], truth, 2)
    apps = synthetic_applications(20_000, truth, 3)
    scorer = BatchScorer(array_ops(resolve_backend("numpy")), weights, 2048)
    scores = np.concatenate(
        [scorer.score(apps.features[i : i + 2048]) for i in range(0, 20_000, 2048)]
    )
    return weights, apps, scores


def test_standard_shape():
    weights = planted_mlp(WIDTHS[Size.STANDARD], ground_truth(0), 0)
    assert weights.widths == (192, 512, 256, 128, 1)
    assert weights.flops_per_row == 2 * (192 * 512 + 512 * 256 + 256 * 128 + 128)


def test_float32_batched_equals_float64_per_row(model):
    weights, apps, scores = model
    reference = reference_scores(weights, apps.features[:300])
    np.testing.assert_allclose(scores[:300], reference, rtol=1e-4)


def test_scores_in_open_unit_interval(model):
    _, _, scores = model
    assert scores.dtype == np.float32
    assert np.all(scores > 0) and np.all(scores < 1)


def test_scores_rank_defaults(model):
    _, apps, scores = model
    assert auc(scores, apps.defaulted) >= 0.75
    # The model ranks nearly as well as the true probabilities it was planted from.
    assert auc(scores, apps.defaulted) > auc(apps.default_prob, apps.defaulted) - 0.02


def test_weights_are_deterministic():
    a = planted_mlp(WIDTHS[Size.SMALL], ground_truth(4), 5)
    b = planted_mlp(WIDTHS[Size.SMALL], ground_truth(4), 5)
    for x, y in zip(a.matrices + a.biases, b.matrices + b.biases, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("widths", [(191, 8, 1), (192, 8, 2), (192, 1, 1), (192, 1)])
def test_bad_widths(widths):
    with pytest.raises(WorkloadError, match="widths"):
        planted_mlp(widths, ground_truth(0), 0)


def test_auc_known_values():
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auc([0.5, 0.5, 0.5], [0, 1, 0]) == 0.5
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=30).filter(
        lambda rows: 0 < sum(y for _, y in rows) < len(rows)
    )
)
def test_auc_equals_pairwise_definition(rows):
    scores = [float(s) for s, _ in rows]
    labels = [y for _, y in rows]
    pos = [s for s, y in rows if y]
    neg = [s for s, y in rows if not y]
    pairs = [(p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg)]
    assert auc(scores, labels) == pytest.approx(sum(pairs) / len(pairs))
    assert auc([-s for s in scores], labels) == pytest.approx(1 - sum(pairs) / len(pairs))


def test_auc_bad_input():
    with pytest.raises(WorkloadError, match="both"):
        auc([0.1, 0.2], [1, 1])
    with pytest.raises(WorkloadError, match="one length"):
        auc([0.1, 0.2], [1])


def test_inference_workload_small():
    workload = InferenceWorkload()
    start = time.perf_counter()
    workload.prepare("small", 1, resolve_backend("numpy"))
    assert time.perf_counter() - start < 0.5
    assert workload.run_batch() == 512
    first = np.array(workload.last_scores)
    assert first.shape == (512,) and np.all((first > 0) & (first < 1))
    workload.run_batch()
    assert not np.array_equal(first, workload.last_scores)  # a different batch of rows


def test_inference_workload_needs_prepare():
    with pytest.raises(WorkloadError, match="prepare"):
        InferenceWorkload().run_batch()


def test_scorer_rejects_oversized_batch():
    weights = planted_mlp(WIDTHS[Size.SMALL], ground_truth(0), 0)
    scorer = BatchScorer(array_ops(resolve_backend("numpy")), weights, 4)
    with pytest.raises(WorkloadError, match="rows"):
        scorer.score(np.zeros((5, 192), np.float32))
