"""Tests for sk_ieg.noise: synthetic label noise and trusted subsets."""

from __future__ import annotations

import numpy as np
import pytest

from sk_ieg.noise import (
    CIFAR10_ASYMMETRIC_MAP,
    NOISE_TYPES,
    make_noisy_labels,
    noise_rate,
    split_trusted,
    transition_matrix,
)

K = 10


def _balanced_labels(n: int, n_classes: int = K, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, n_classes, size=n)


def _empirical_matrix(y: np.ndarray, y_noisy: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(y * n_classes + y_noisy, minlength=n_classes**2)
    counts = counts.reshape(n_classes, n_classes).astype(float)
    return counts / counts.sum(axis=1, keepdims=True)


EXPECTED_RATE = {
    "uniform": 0.4 * (1 - 1 / K),
    "symmetric": 0.4,
    "pairflip": 0.4,
    # 5 of the 10 CIFAR-10 classes are mapped, with balanced classes.
    "asymmetric": 0.4 * len(CIFAR10_ASYMMETRIC_MAP) / K,
}


# --------------------------------------------------------------------------- #
# make_noisy_labels: rates and transition matrices
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("noise", NOISE_TYPES)
def test_realised_rate_matches_expectation(noise: str) -> None:
    y = _balanced_labels(100_000)
    y_noisy = make_noisy_labels(y, noise, 0.4, random_state=1)
    assert y_noisy.dtype == np.int64
    assert y_noisy.shape == y.shape
    assert abs(noise_rate(y, y_noisy) - EXPECTED_RATE[noise]) < 0.02


@pytest.mark.parametrize("noise", NOISE_TYPES)
def test_empirical_transition_matrix(noise: str) -> None:
    # 50k rows per class: sd of each entry <= 0.0023, so 0.01 is > 4 sd.
    y = _balanced_labels(500_000)
    y_noisy = make_noisy_labels(y, noise, 0.4, n_classes=K, random_state=2)
    T = transition_matrix(noise, 0.4, K)
    np.testing.assert_allclose(T.sum(axis=1), 1.0)
    assert np.all(T >= 0)
    np.testing.assert_allclose(_empirical_matrix(y, y_noisy, K), T, atol=0.01)


def test_transition_matrix_exact_values() -> None:
    T = transition_matrix("uniform", 0.5, 4)
    np.testing.assert_allclose(np.diag(T), 0.5 + 0.5 / 4)
    np.testing.assert_allclose(T[0, 1], 0.5 / 4)
    T = transition_matrix("symmetric", 0.3, 4)
    np.testing.assert_allclose(np.diag(T), 0.7)
    np.testing.assert_allclose(T[2, 0], 0.1)
    T = transition_matrix("pairflip", 0.2, 3)
    np.testing.assert_allclose(T, [[0.8, 0.2, 0], [0, 0.8, 0.2], [0.2, 0, 0.8]])
    T = transition_matrix("asymmetric", 0.3, 3, mapping={0: 2})
    np.testing.assert_allclose(T, [[0.7, 0, 0.3], [0, 1, 0], [0, 0, 1]])
    T = transition_matrix("asymmetric", 0.4, 10)
    assert T[9, 1] == pytest.approx(0.4) and T[3, 5] == pytest.approx(0.4)
    assert T[5, 3] == pytest.approx(0.4) and T[0, 0] == 1.0


def test_cifar10_map_is_the_semantic_one() -> None:
    assert dict(CIFAR10_ASYMMETRIC_MAP) == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def test_pairflip_only_goes_to_next_class() -> None:
    y = _balanced_labels(20_000)
    y_noisy = make_noisy_labels(y, "pairflip", 0.5, random_state=0)
    changed = y_noisy != y
    assert changed.any()
    np.testing.assert_array_equal(y_noisy[changed], (y[changed] + 1) % K)


def test_symmetric_never_keeps_a_flipped_label() -> None:
    y = _balanced_labels(20_000)
    # rate=1: every label is flipped, to another class.
    y_noisy = make_noisy_labels(y, "symmetric", 1.0, random_state=0)
    assert np.all(y_noisy != y)
    assert set(np.unique(y_noisy)) == set(range(K))


def test_uniform_can_keep_the_true_class() -> None:
    y = _balanced_labels(20_000)
    y_noisy = make_noisy_labels(y, "uniform", 1.0, random_state=0)
    assert noise_rate(y, y_noisy) == pytest.approx(1 - 1 / K, abs=0.02)


def test_asymmetric_only_uses_the_map() -> None:
    y = _balanced_labels(20_000)
    y_noisy = make_noisy_labels(y, "asymmetric", 0.5, random_state=0)
    changed = y_noisy != y
    assert changed.any()
    expected = np.array([CIFAR10_ASYMMETRIC_MAP[c] for c in y[changed]])
    np.testing.assert_array_equal(y_noisy[changed], expected)
    unmapped = ~np.isin(y, list(CIFAR10_ASYMMETRIC_MAP))
    np.testing.assert_array_equal(y_noisy[unmapped], y[unmapped])


def test_asymmetric_custom_mapping() -> None:
    y = np.repeat(np.arange(4), 1000)
    y_noisy = make_noisy_labels(y, "asymmetric", 1.0, mapping={0: 3, 1: 2}, random_state=0)
    np.testing.assert_array_equal(y_noisy[y == 0], 3)
    np.testing.assert_array_equal(y_noisy[y == 1], 2)
    np.testing.assert_array_equal(y_noisy[y >= 2], y[y >= 2])


def test_custom_matrix() -> None:
    T = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.1, 0.2, 0.7]])
    y = _balanced_labels(300_000, n_classes=3)
    # rate is ignored for a matrix.
    y_noisy = make_noisy_labels(y, T, rate=0.0, random_state=0)
    np.testing.assert_allclose(_empirical_matrix(y, y_noisy, 3), T, atol=0.01)
    np.testing.assert_array_equal(y_noisy[y == 1], 1)
    np.testing.assert_array_equal(transition_matrix(T, 0.9, 3), T)
    # A list of lists works too, and n_classes defaults to T.shape[0].
    y_small = np.zeros(10, dtype=int)
    out = make_noisy_labels(y_small, np.eye(3)[[2, 0, 1]].tolist(), random_state=0)
    np.testing.assert_array_equal(out, 2)


def test_identity_matrix_and_rate_zero_return_y() -> None:
    y = _balanced_labels(1000)
    for noise in NOISE_TYPES:
        out = make_noisy_labels(y, noise, 0.0, random_state=0)
        np.testing.assert_array_equal(out, y)
        assert out is not y
    np.testing.assert_array_equal(make_noisy_labels(y, np.eye(K)), y)


def test_input_not_mutated_and_other_dtypes() -> None:
    y = _balanced_labels(1000).astype(np.int32)
    y_copy = y.copy()
    y.flags.writeable = False  # would raise if written to
    out = make_noisy_labels(y, "symmetric", 0.8, random_state=0)
    np.testing.assert_array_equal(y, y_copy)
    assert out.dtype == np.int64
    # Lists and integral floats are accepted.
    out_list = make_noisy_labels(y_copy.tolist(), "symmetric", 0.8, random_state=0)
    out_float = make_noisy_labels(y_copy.astype(float), "symmetric", 0.8, random_state=0)
    np.testing.assert_array_equal(out_list, out)
    np.testing.assert_array_equal(out_float, out)


def test_random_state_reproducibility() -> None:
    y = _balanced_labels(5000)
    for noise in NOISE_TYPES:
        a = make_noisy_labels(y, noise, 0.4, random_state=0)
        b = make_noisy_labels(y, noise, 0.4, random_state=0)
        c = make_noisy_labels(y, noise, 0.4, random_state=1)
        d = make_noisy_labels(y, noise, 0.4, random_state=np.random.RandomState(0))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, d)
        assert not np.array_equal(a, c)


def test_global_rng_untouched() -> None:
    state = np.random.get_state()
    make_noisy_labels(_balanced_labels(100), "uniform", 0.5, random_state=3)
    split_trusted(_balanced_labels(100), 2, random_state=3)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1])


def test_n_classes_larger_than_observed() -> None:
    y = np.zeros(10_000, dtype=int)
    y_noisy = make_noisy_labels(y, "uniform", 1.0, n_classes=5, random_state=0)
    assert set(np.unique(y_noisy)) == set(range(5))


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 1.5}, r"rate must be in \[0, 1\], got 1.5"),
        ({"rate": -0.1}, r"rate must be in \[0, 1\], got -0.1"),
        ({"rate": float("nan")}, r"rate must be in \[0, 1\], got nan"),
        ({"rate": "0.4"}, r"rate must be a real number"),
        ({"noise": "gaussian"}, r"noise must be one of .*got 'gaussian'"),
        ({"n_classes": 0}, r"n_classes must be a positive int, got 0"),
        ({"n_classes": 2}, r"class indices < n_classes=2, got label 3"),
        ({"noise": "uniform", "mapping": {0: 1}}, r"mapping is only used"),
        ({"noise": "asymmetric", "mapping": {0: 7}}, r"mapping entries .*\[0, 4\)"),
        ({"noise": "asymmetric", "mapping": [1, 2]}, r"mapping must be a dict"),
        ({"noise": "asymmetric"}, r"mapping .* is required .*n_classes=4"),
        ({"noise": np.ones((3, 3)) / 3, "n_classes": 4}, r"expected shape \(4, 4\)"),
        ({"noise": np.ones((3, 3)) / 3}, r"< n_classes=3, got label 3"),
    ],
)
def test_make_noisy_labels_bad_arguments(kwargs: dict, match: str) -> None:
    y = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(y, **kwargs)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        ([0, -1, 2], r"negative label -1"),
        ([0.0, 0.5, 1.0], r"non-integer label 0.5"),
        (["a", "b"], r"integer class indices"),
        ([[0, 1]], r"1-D"),
        ([], r"empty y; pass n_classes"),
    ],
)
def test_bad_labels(y: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(y, "uniform", 0.2)


@pytest.mark.parametrize(
    ("T", "match"),
    [
        (np.ones((2, 3)) / 3, r"square .*got shape \(2, 3\)"),
        ([[1.2, -0.2], [0.0, 1.0]], r"non-negative entries, got T\[0, 1\] = -0.2"),
        ([[0.5, 0.4], [0.0, 1.0]], r"row 0 summing to 0.9"),
        ([[np.nan, 1.0], [0.0, 1.0]], r"NaN"),
    ],
)
def test_bad_transition_matrix(T: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_noisy_labels([0, 1, 1], T)
    with pytest.raises(ValueError, match=match):
        transition_matrix(T, 0.0, np.shape(T)[0])


def test_row_sum_tolerance() -> None:
    T = np.array([[0.5, 0.5 + 1e-9], [0.0, 1.0]])
    make_noisy_labels([0, 1], T, random_state=0)  # within 1e-6: accepted


def test_symmetric_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="n_classes >= 2, got 1"):
        make_noisy_labels([0, 0], "symmetric", 0.5)


def test_empty_y_with_n_classes() -> None:
    out = make_noisy_labels(np.array([], dtype=int), "uniform", 0.5, n_classes=3)
    assert out.shape == (0,) and out.dtype == np.int64


# --------------------------------------------------------------------------- #
# noise_rate
# --------------------------------------------------------------------------- #
def test_noise_rate() -> None:
    assert noise_rate([0, 1, 2, 3], [0, 1, 0, 0]) == 0.5
    assert noise_rate(["a", "b"], ["a", "b"]) == 0.0
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        noise_rate([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        noise_rate([], [])


# --------------------------------------------------------------------------- #
# split_trusted
# --------------------------------------------------------------------------- #
def test_split_trusted_counts() -> None:
    y = _balanced_labels(5000)
    idx = split_trusted(y, 10, random_state=0)
    assert idx.dtype == np.int64
    assert idx.shape == (10 * K,)
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates
    np.testing.assert_array_equal(np.bincount(y[idx], minlength=K), 10)


def test_split_trusted_string_labels_and_determinism() -> None:
    y = np.array(["cat", "dog", "bird"] * 20 + ["dog"] * 15)
    a = split_trusted(y, 7, random_state=42)
    b = split_trusted(list(y), 7, random_state=42)
    c = split_trusted(y, 7, random_state=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    values, counts = np.unique(y[a], return_counts=True)
    assert list(values) == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(counts, 7)
    # Taking every row of each class is allowed.
    full = split_trusted(y[:60], 20, random_state=0)
    np.testing.assert_array_equal(full, np.arange(60))


def test_split_trusted_errors() -> None:
    y = np.array(["cat"] * 5 + ["dog"] * 3)
    with pytest.raises(ValueError, match=r"class 'dog' has only 3 rows.*n_per_class=4"):
        split_trusted(y, 4)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_per_class must be a positive int"):
            split_trusted(y, bad)
    with pytest.raises(ValueError, match="1-D"):
        split_trusted(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="empty"):
        split_trusted([], 1)
