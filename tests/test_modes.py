"""Mode coverage on Gaussian-mixture centres, with sample sets whose answer is known by construction."""

import math

import numpy as np
import pytest
import torch

from wgan.errors import WganError
from wgan.metrics.modes import ModeCoverage, mode_coverage

STD = 0.02


def _ring(k=8, radius=2.0):
    angle = 2 * np.pi * np.arange(k) / k
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def test_samples_exactly_at_every_centre_cover_all_modes_with_full_quality():
    centres = _ring()
    samples = np.repeat(centres, 10, axis=0)
    result = mode_coverage(samples, centres, STD)
    assert isinstance(result, ModeCoverage)
    assert (result.covered, result.total, result.high_quality) == (8, 8, 1.0)
    np.testing.assert_array_equal(result.counts, np.full(8, 10))
    assert result.counts.dtype == np.int64


def test_samples_all_at_one_centre_cover_one_mode():
    centres = _ring()
    samples = np.repeat(centres[3:4], 80, axis=0)
    result = mode_coverage(samples, centres, STD)
    assert (result.covered, result.high_quality) == (1, 1.0)
    np.testing.assert_array_equal(result.counts, [0, 0, 0, 80, 0, 0, 0, 0])


def test_samples_far_from_every_centre_cover_nothing_and_have_no_quality():
    centres = _ring()
    samples = np.random.default_rng(0).normal(size=(100, 2)) * 0.1 + 10.0
    result = mode_coverage(samples, centres, STD)
    assert (result.covered, result.high_quality) == (0, 0.0)
    assert result.counts.sum() == 0


def test_a_mode_with_only_one_stray_sample_is_not_covered():
    centres = _ring()
    samples = np.concatenate([np.repeat(centres[:7], 20, axis=0), centres[7:8]])  # 141 samples, 1 on mode 7
    result = mode_coverage(samples, centres, STD)
    assert result.counts[7] == 1
    assert result.min_count == math.ceil(0.25 * 141 / 8) == 5
    assert result.covered == 7
    assert result.high_quality == 1.0


def test_a_mode_at_a_quarter_of_its_fair_share_is_covered():
    centres = _ring(k=4)
    samples = np.concatenate([np.repeat(centres[:3], 30, axis=0), np.repeat(centres[3:], 10, axis=0)])  # n = 100
    result = mode_coverage(samples, centres, STD)
    assert result.min_count == 7  # ceil(0.25 * 100 / 4) = ceil(6.25)
    assert result.covered == 4


def test_exact_fair_shares_are_not_rounded_up_by_floating_point():
    centres = _ring(k=7)
    samples = np.repeat(centres, 200 // 7 + 1, axis=0)[:200]  # 0.07 * 200 / 7 is 2.0000000000000004 in floats
    assert mode_coverage(samples, centres, STD, min_share=0.07).min_count == 2


def test_high_quality_is_a_ball_of_n_std_standard_deviations():
    centres = np.zeros((1, 2))
    samples = np.array([[2.9 * STD, 0.0], [0.0, -3.0 * STD], [2.2 * STD, 2.2 * STD], [3.1 * STD, 0.0]])
    # Distances 2.9, 3.0, 3.11, 3.1 standard deviations: the first two are inside the 3-sigma ball.
    result = mode_coverage(samples, centres, STD)
    assert result.high_quality == 0.5
    assert mode_coverage(samples, centres, STD, n_std=4.0).high_quality == 1.0


def test_real_mixture_samples_are_mostly_high_quality_and_cover_every_mode():
    # In 2-D a real sample lies within 3 sigma with probability 1 - exp(-9/2) = 0.989.
    rng = np.random.default_rng(1)
    centres = _ring()
    labels = rng.integers(0, 8, size=4000)
    samples = centres[labels] + rng.normal(size=(4000, 2)) * STD
    result = mode_coverage(torch.tensor(samples, dtype=torch.float32), torch.tensor(centres), STD)
    assert result.covered == 8
    assert result.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_samples_are_assigned_to_their_nearest_centre():
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    samples = np.array([[0.4, 0.0], [0.6, 0.0], [0.55, 0.0]])
    result = mode_coverage(samples, centres, 0.5)  # radius 1.5 covers both centres
    np.testing.assert_array_equal(result.counts, [1, 2])


@pytest.mark.parametrize(
    ("samples", "centres", "kwargs", "words"),
    [
        (np.zeros((0, 2)), _ring(), {}, "samples has shape"),
        (np.zeros((5, 3)), _ring(), {}, "dimension 3 but centres have dimension 2"),
        (np.zeros(5), _ring(), {}, r"expected a non-empty array of shape \(count, d\)"),
        (np.full((5, 2), np.nan), _ring(), {}, "samples contains NaN"),
        (np.zeros((5, 2)), _ring(), {"std": 0.0}, "std is 0"),
        (np.zeros((5, 2)), _ring(), {"std": "wide"}, "std is 'wide'"),
        (np.zeros((5, 2)), _ring(), {"n_std": -1.0}, "n_std is -1"),
        (np.zeros((5, 2)), _ring(), {"min_share": 1.5}, "min_share is 1.5"),
    ],
)
def test_mode_coverage_rejects_invalid_input_with_a_message_naming_it(samples, centres, kwargs, words):
    kwargs = {"std": STD, **kwargs}
    with pytest.raises(WganError, match=words):
        mode_coverage(samples, centres, **kwargs)


def test_a_centre_given_twice_and_a_switch_for_a_number_are_refused():
    # 4 samples on two identical centres counted for one: 1 of 2 modes covered; std=True read as 1
    with pytest.raises(WganError, match="centres 0 and 1 are the same point"):
        mode_coverage(np.zeros((4, 2)), np.zeros((2, 2)), 1.0)
    with pytest.raises(WganError, match="std is True; expected a positive standard deviation"):
        mode_coverage(np.zeros((4, 2)), np.zeros((1, 2)), True)
