"""The library's functions refuse what numpy or torch would take silently or fail on deep inside: complex numbers,
seeds that are not whole numbers, results that overflow, work larger than the memory, matrices that are not
covariances; each with one WganError naming the argument."""

import math

import numpy as np
import pytest
import torch

from wgan.checks import check_flag, check_torch_seed, numpy_seed, real_array
from wgan.distances import js, kl, sliced_w1, w1, w1_1d
from wgan.errors import WganError
from wgan.metrics.feature_metrics import kid
from wgan.metrics.images import frechet_distance, pixel_distances
from wgan.metrics.modes import mode_coverage

POINTS = np.random.default_rng(0).random((40, 2))


@pytest.mark.parametrize("measure", [lambda x: w1(x, POINTS), lambda x: kid(x, POINTS),
                                     lambda x: mode_coverage(x, POINTS[:3], std=0.1)])
@pytest.mark.parametrize("make", [lambda: POINTS + 5j, lambda: torch.from_numpy(POINTS + 5j)])
def test_complex_samples_are_refused_not_cut_to_their_real_part(measure, make):
    with pytest.raises(WganError, match="holds complex numbers; expected real ones"):
        measure(make())  # w1 was 0 for x + 5j against x, with a ComplexWarning


def test_real_arrays_keep_their_values_from_any_source():
    assert real_array(torch.tensor([1.5, 2.0], dtype=torch.bfloat16), "x").tolist() == [1.5, 2.0]
    assert real_array([True, 2], "x").dtype == np.float64
    assert real_array(np.float32([1.0]), "x", keep_float32=True).dtype == np.float32
    with pytest.raises(WganError, match="x could not be read as numbers"):
        real_array([[1, 2], [3]], "x")


@pytest.mark.parametrize("seed", ["a", 1.5, None, True, 2**63])
def test_seeds_of_the_measures_are_whole_numbers(seed):
    for measure in (lambda: sliced_w1(POINTS, POINTS + 1, seed=seed), lambda: kid(POINTS, POINTS, seed=seed)):
        with pytest.raises(WganError, match=f"seed must be a whole number between -2\\*\\*62 and 2\\*\\*62, got "):
            measure()


def test_a_negative_seed_is_a_stream_of_its_own_and_seeds_from_zero_up_keep_theirs():
    assert numpy_seed(7) == 7
    other = POINTS + 1
    assert sliced_w1(POINTS, other, seed=-1) == sliced_w1(POINTS, other, seed=-1)
    assert sliced_w1(POINTS, other, seed=-1) != sliced_w1(POINTS, other, seed=1)
    images = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    assert pixel_distances(images, images.flip(0), n=10, seed=-3) == pixel_distances(images, images.flip(0), n=10,
                                                                                      seed=-3)


def test_seeds_that_go_to_torch_are_those_its_generator_tells_apart():
    # torch's CPU generator keeps a seed's low 32 bits: seeds 7 and 7 + 2**32 trained the same run
    def drawn(seed):
        return torch.rand(4, generator=torch.Generator().manual_seed(seed)).tolist()

    assert drawn(7) == drawn(7 + 2**32) and drawn(2**32 - 1) == drawn(-1)  # why the range is what it is
    assert check_torch_seed(0) == 0 and check_torch_seed(np.uint32(2**32 - 1)) == 2**32 - 1
    for seed in (2**32, -1, 2**62, 1.0, True, "7"):
        with pytest.raises(WganError, match=r"^--seed must be a whole number from 0 to 2\*\*32 - 1 \(torch's "):
            check_torch_seed(seed, "--seed")


def test_probabilities_whose_sum_overflows_are_normalised_as_the_same_distribution():
    # js([1e308, 1e308], [1, 0]) was js of [0, 0]-like masses: 0.347 instead of js([.5, .5], [1, 0])
    assert js([1e308, 1e308], [1, 0], normalize=True) == js([0.5, 0.5], [1, 0])
    assert kl([1, 0], [1e308, 1e308], normalize=True) == pytest.approx(math.log(2))


@pytest.mark.parametrize("distance", [lambda: w1([1e308], [-1e308]), lambda: w1_1d([1e308], [-1e308]),
                                      lambda: sliced_w1([[1.7e308, 1.7e308]], [[-1.7e308, -1.7e308]])])
def test_a_distance_that_overflows_float64_is_refused_not_returned_as_inf(distance):
    with pytest.raises(WganError, match="overflow float64: divide both sets by the same factor"):
        distance()


def test_work_larger_than_the_memory_is_refused_before_it_is_asked_for():
    huge = np.zeros((10**6, 1))
    with pytest.raises(WganError, match="the exact W1 between 1,000,000 and 1,000,000 samples needs about 48,000.0 GB"):
        w1(huge, huge)  # numpy asked for 7.3 TiB
    with pytest.raises(WganError, match="sliced_w1 with 1,000,000,000,000 projections needs about"):
        sliced_w1(POINTS, POINTS, n_projections=10**12)


def test_w1_1d_beyond_the_memory_is_refused_before_it_sorts(monkeypatch):
    # it had no check: about 3.5e8 samples ran out of memory on a 24 GB machine (found by the measuring hunt)
    monkeypatch.setattr("wgan.checks.free_memory", lambda device: 10**6)  # a machine with 1 MB free
    with pytest.raises(WganError, match=r"w1_1d of 10,000 and 10,000 samples needs about 0.0 GB and this machine "
                                        r"has 0.0 GB free: subsample both sets"):
        w1_1d(np.zeros(10_000), np.zeros(10_000))


@pytest.mark.parametrize("sigma, problem", [(-np.eye(3), "not positive semi-definite"),
                                            (np.array([[1, 0.5, 0], [0, 1, 0], [0, 0, 1]]), "not symmetric")])
def test_a_matrix_that_is_not_a_covariance_has_no_frechet_distance(sigma, problem):
    with pytest.raises(WganError, match=f"sigma1 is {problem}"):
        frechet_distance(np.zeros(3), sigma, np.zeros(3), np.eye(3))  # it returned 0.12 for -I
    features = np.random.default_rng(1).random((10, 30))  # fewer samples than features: singular, and accepted
    assert frechet_distance(features.mean(0), np.cov(features, rowvar=False), features.mean(0),
                            np.cov(features, rowvar=False)) == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("value", [0, 1, "no", "yes", None])
def test_a_switch_is_true_or_false(value):
    with pytest.raises(WganError, match=f"progress must be True or False, got {value!r}"):
        check_flag(value, "progress")
    if value is None:
        assert check_flag(value, "ema", none=True) is None
    assert check_flag(np.bool_(True), "progress") is True


@pytest.mark.parametrize("given, said", [(["1", "2"], "x holds text"), (None, "x is None"),
                                         (np.array([2**62 + 1, 2**62]), "x holds integers beyond 2.53"),
                                         (torch.zeros(2, device="meta"), "x is a meta tensor, which holds no values"),
                                         (np.ma.masked_array([1.0, 2.0, 99.0], mask=[0, 0, 1]),
                                          "x is a masked array, whose mask the measures would ignore")])
def test_text_none_and_masked_arrays_are_not_read_as_numbers(given, said):
    # text was read as numbers, None as NaN ("is nan"), a masked array's hidden 99 counted (W1 32.5, not 0), 2^62 + 1
    # was 2^62, and a meta tensor was torch's NotImplementedError
    with pytest.raises(WganError, match=said):
        w1(given, [1.0, 2.0])


def test_a_sparse_tensor_is_measured_by_its_values():
    assert w1(torch.eye(3).to_sparse(), torch.eye(3)) == 0.0  # torch's "can't convert Sparse layout tensor"
