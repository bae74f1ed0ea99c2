"""Distances checked against closed forms (point masses, disjoint supports, Example 1 of the WGAN paper) and
against independent implementations (scipy's wasserstein_distance and jensenshannon)."""

import math
import sys

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist, jensenshannon
from scipy.stats import wasserstein_distance

from wgan.distances import (
    ASSIGNMENT_MAX,
    ParallelLinesDistances,
    js,
    js_density,
    kl,
    kl_density,
    parallel_lines,
    parallel_lines_curves,
    sliced_w1,
    tv,
    tv_density,
    w1,
    w1_1d,
)
from wgan.errors import WganError

LOG2 = math.log(2.0)


def _random_prob(rng, n, zeros=()):
    p = rng.random(n)
    p[list(zeros)] = 0.0
    return p / p.sum()


# ------------------------------------------------------------------------------------------- TV, KL and JS
def test_tv_of_disjoint_supports_is_one():
    assert tv([0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.4, 0.6]) == pytest.approx(1.0, abs=1e-15)


def test_tv_is_half_the_l1_distance():
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert tv(p, q) == pytest.approx(0.3, abs=1e-15)


def test_kl_is_infinite_when_p_has_mass_where_q_has_none():
    assert kl([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_kl_ignores_bins_where_p_is_zero():
    # 0 log 0 = 0: q may have mass where p has none; KL(p||q) = log(1 / 0.5) = log 2.
    assert kl([1.0, 0.0], [0.5, 0.5]) == pytest.approx(LOG2, abs=1e-15)


def test_kl_matches_the_definition_and_is_not_symmetric():
    rng = np.random.default_rng(0)
    p, q = _random_prob(rng, 10), _random_prob(rng, 10)
    assert kl(p, q) == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-12)
    assert kl(p, q) != pytest.approx(kl(q, p), rel=1e-6)


def test_kl_of_a_distribution_with_itself_is_zero():
    p = _random_prob(np.random.default_rng(1), 7, zeros=(2,))
    assert kl(p, p) == 0.0
    assert js(p, p) == 0.0
    assert tv(p, p) == 0.0


def test_js_of_disjoint_supports_is_exactly_log_2():
    assert js([0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]) == LOG2
    rng = np.random.default_rng(2)
    p, q = np.zeros(20), np.zeros(20)
    p[:10], q[10:] = _random_prob(rng, 10), _random_prob(rng, 10)
    assert js(p, q) == pytest.approx(LOG2, rel=1e-14)


def test_js_is_the_square_of_scipy_jensenshannon_with_zero_mass_bins():
    rng = np.random.default_rng(3)
    for _ in range(5):
        p, q = _random_prob(rng, 12, zeros=(0, 5)), _random_prob(rng, 12, zeros=(5, 9))
        assert js(p, q) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-10)


def test_divergences_accept_any_shape_and_torch_tensors():
    rng = np.random.default_rng(4)
    p, q = _random_prob(rng, 12).reshape(3, 4), _random_prob(rng, 12).reshape(3, 4)
    tp, tq = torch.tensor(p, dtype=torch.float64, requires_grad=True), torch.tensor(q, dtype=torch.float64)
    for f in (tv, kl, js):
        assert f(tp, tq) == pytest.approx(f(p.ravel(), q.ravel()), rel=1e-12)
        assert isinstance(f(tp, tq), float)


def test_normalize_divides_by_the_sums():
    p, q = np.array([1.0, 3.0, 0.0]), np.array([2.0, 1.0, 1.0])
    for f in (tv, kl, js):
        assert f(p, q, normalize=True) == pytest.approx(f(p / 4, q / 4), rel=1e-14)


@pytest.mark.parametrize("f", [tv, kl, js])
@pytest.mark.parametrize(
    ("p", "q", "words"),
    [
        ([0.5, 0.5], [1.0, 0.0, 0.0], "shape"),
        ([1.5, -0.5], [0.5, 0.5], "negative"),
        ([np.nan, 1.0], [0.5, 0.5], "NaN"),
        ([0.5, 0.5], [np.inf, 0.5], "inf"),
        ([0.5, 0.6], [0.5, 0.5], "sum"),
        ([], [], "empty"),
    ],
)
def test_divergences_reject_invalid_probability_vectors(f, p, q, words):
    with pytest.raises(WganError, match=words):
        f(p, q)


@pytest.mark.parametrize("f", [tv, kl, js])
def test_normalize_still_rejects_an_all_zero_vector(f):
    with pytest.raises(WganError, match="p has sum 0"):
        f([0.0, 0.0], [1.0, 1.0], normalize=True)


def test_sum_tolerance_is_one_in_a_million():
    assert tv([0.5, 0.5 + 5e-7], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(WganError, match="expected 1 within"):
        tv([0.5, 0.5 + 5e-6], [0.5, 0.5])


# ------------------------------------------------------------------------------------- densities on a grid
def _uniform_density(grid, low, high):
    return np.where((grid >= low) & (grid < high), 1.0 / (high - low), 0.0)


def test_densities_of_disjoint_uniforms_give_tv_one_js_log_2_kl_inf():
    dx = 0.001
    grid = np.arange(0.0, 2.0, dx)
    f, g = _uniform_density(grid, 0.0, 1.0), _uniform_density(grid, 1.0, 2.0)
    assert tv_density(f, g, dx) == pytest.approx(1.0, abs=1e-12)
    assert js_density(f, g, dx) == pytest.approx(LOG2, rel=1e-12)
    assert kl_density(f, g, dx) == math.inf


def test_kl_density_of_nested_uniforms_is_log_of_the_length_ratio():
    # KL(U[0,1] || U[0,2]) = log 2; the reverse is infinite (U[0,2] has mass where U[0,1] has none).
    dx = 0.001
    grid = np.arange(0.0, 2.0, dx)
    f, g = _uniform_density(grid, 0.0, 1.0), _uniform_density(grid, 0.0, 2.0)
    assert kl_density(f, g, dx) == pytest.approx(LOG2, rel=1e-9)
    assert kl_density(g, f, dx) == math.inf
    assert tv_density(f, g, dx) == pytest.approx(0.5, abs=1e-9)


def test_kl_density_of_two_gaussians_matches_the_closed_form():
    # KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2.
    dx = 0.01
    t = np.arange(-15.0, 15.0, dx)
    m1, s1, m2, s2 = 0.0, 1.0, 1.0, 2.0

    def normal(m, s):
        return np.exp(-0.5 * ((t - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    exact = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    assert kl_density(normal(m1, s1), normal(m2, s2), dx) == pytest.approx(exact, rel=1e-6)


def test_densities_must_integrate_to_one_unless_normalized():
    grid = np.arange(0.0, 1.0, 0.01)
    f = np.ones_like(grid)
    with pytest.raises(WganError, match=r"f has integral sum\(f\)\*dx 0.5"):
        tv_density(f * 0.5, f, 0.01)
    assert tv_density(f * 0.5, f, 0.01, normalize=True) == pytest.approx(0.0, abs=1e-12)
    assert js_density(f * (1 + 5e-4), f, 0.01) == pytest.approx(0.0, abs=1e-12)  # within the 1e-3 tolerance


@pytest.mark.parametrize("dx", [0.0, -0.1, np.nan, [0.1, 0.1]])
def test_densities_reject_a_cell_volume_that_is_not_a_positive_number(dx):
    with pytest.raises(WganError, match="dx"):
        js_density(np.ones(10), np.ones(10), dx)


def test_a_density_whose_integral_is_at_the_tolerance_by_rounding_is_accepted():
    # 1001 grid points over [0, 1], both ends in: sum * dx = 1.0010000000000001, refused as "1.001, expected 1
    # within 0.001"
    x = np.linspace(0, 1, 1001)
    assert tv_density(np.ones(1001), np.ones(1001), x[1] - x[0]) == 0.0
    with pytest.raises(WganError, match="expected 1 within 0.001"):
        tv_density(np.ones(1002), np.ones(1002), x[1] - x[0])


def test_densities_reject_negative_values_naming_the_density():
    with pytest.raises(WganError, match="g has negative entries"):
        kl_density(np.ones(4) / 4, np.array([0.5, -0.25, 0.5, 0.25]), 1.0)


# ------------------------------------------------------------------------------------------------------- W1
def test_w1_between_two_point_masses_is_their_distance():
    x, y = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    assert w1(x, y) == pytest.approx(5.0, rel=1e-15)
    assert w1(x, y, metric="cityblock") == pytest.approx(7.0, rel=1e-15)


def test_w1_of_a_sample_with_itself_is_zero():
    x = np.random.default_rng(5).normal(size=(300, 3)) * 10 + 100
    assert w1(x, x) == 0.0


def test_a_ground_distance_given_where_the_weights_go_is_named():  # it said "a holds text"
    with pytest.raises(WganError, match=r"a \(the weights of x\) is 'cityblock', a ground distance: give it by name, "
                                        r"metric='cityblock'"):
        w1(np.zeros((2, 2)), np.ones((2, 2)), "cityblock")


def test_w1_keeps_its_digits_for_close_points_far_from_the_origin():
    x = np.random.default_rng(6).normal(size=(200, 3)) * 10 + 100
    shift = np.array([1e-5, -1e-5, 1e-5])
    assert w1(x, x + shift) == pytest.approx(math.sqrt(3) * 1e-5, rel=1e-8)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-15, 1e15, 1e200, 1e300])
def test_w1_scales_with_the_points_at_any_scale_float64_holds(scale):
    # the costs' squares underflowed at 1e-200 (W1 0) and overflowed at 1e200 ("infeasible"), and the simplex's
    # fixed tolerances made the points at 1e-15 37% farther apart
    generator = np.random.default_rng(0)
    x, y = generator.normal(size=(50, 2)), generator.normal(size=(60, 2)) + 1
    assert w1(x * scale, y * scale) / scale == pytest.approx(w1(x, y), rel=1e-12)
    assert w1(x * scale, y * scale, metric="cityblock") / scale == pytest.approx(w1(x, y, metric="cityblock"),
                                                                                 rel=1e-12)


def test_w1_leaves_points_of_no_weight_out_of_its_scale_and_keeps_the_digits_of_its_costs():
    # a far point of weight 0 set the scale, and the real costs fell below the simplex's tolerances: 1.0, not 0.5
    assert w1([[0.0], [1.0], [1e20]], [[0.5], [1.5]], a=[0.5, 0.5, 0.0]) == 0.5
    x = np.random.default_rng(3).normal(size=(40, 2)) * 10 + 1e6  # scaled by powers of two: no digit lost
    y = x + np.array([1e-7, -1e-7])
    assert w1(x, y) == np.diag(cdist(x, y)).mean()


def _simplex_w1(x: np.ndarray, y: np.ndarray, metric: str) -> float:
    """POT's network simplex on the plain cost matrix, uniform weights: the reference for the assignment solver."""
    import ot

    return ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cdist(x, y, metric), numItermax=10**7)


@pytest.mark.parametrize("n", [1, 2, 37, ASSIGNMENT_MAX])
@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
def test_w1_of_as_many_equal_weights_a_side_is_the_simplexs_value_from_the_assignment_solver(n, metric):
    rng = np.random.default_rng(n)
    modes = 2 * np.exp(2j * np.pi * rng.integers(0, 8, n) / 8)  # far clusters: many near-optimal matchings
    cases = {"spread": (rng.normal(size=(n, 3)), rng.normal(0.5, 2.0, size=(n, 3))),
             "clustered": (np.c_[modes.real, modes.imag] + 0.02 * rng.normal(size=(n, 2)), rng.normal(size=(n, 2))),
             "tied": (np.repeat(rng.normal(size=(max(1, n // 4), 2)), 4, axis=0)[:n], rng.integers(0, 3, (n, 2)))}
    for name, (x, y) in cases.items():
        x, y = x.astype(float), y.astype(float)
        assert w1(x, y, metric=metric) == pytest.approx(_simplex_w1(x, y, metric), rel=1e-12, abs=1e-15), name


def test_w1_of_small_equally_weighted_sets_does_not_need_pot(monkeypatch):
    # POT's import (scikit-learn with it) took 1.8 s of CPU in every short run that evaluated 500 samples
    rng = np.random.default_rng(11)
    monkeypatch.setitem(sys.modules, "ot", None)  # `import ot` now raises ImportError
    x, y = rng.normal(size=(ASSIGNMENT_MAX + 1, 2)), rng.normal(size=(ASSIGNMENT_MAX + 1, 2))
    assert w1(x[:-1], y[:-1]) > 0
    for larger_or_weighted in ((x, y), (x[:3], y[:3], [0.5, 0.25, 0.25]), (x[:3], y[:2])):
        with pytest.raises(ImportError):
            w1(*larger_or_weighted)


def test_w1_with_l1_cost_of_a_diagonal_shift_is_the_l1_norm_of_the_shift():
    x = np.random.default_rng(7).normal(size=(150, 2))
    shift = np.array([0.7, 0.7])
    # A translation moves every point by the same vector, and the identity coupling is optimal for any norm.
    assert w1(x, x + shift, metric="cityblock") == pytest.approx(1.4, rel=1e-12)
    assert w1(x, x + shift) == pytest.approx(0.7 * math.sqrt(2), rel=1e-12)


def test_w1_in_one_dimension_matches_scipy_for_unequal_sizes():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=80), rng.exponential(size=53)
    assert w1(x, y) == pytest.approx(wasserstein_distance(x, y), rel=1e-10)
    assert w1(x[:, None], y[:, None], metric="cityblock") == pytest.approx(wasserstein_distance(x, y), rel=1e-10)


def test_w1_with_weights_matches_scipy():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=40), rng.normal(1.0, 2.0, size=25)
    a, b = _random_prob(rng, 40, zeros=(3,)), _random_prob(rng, 25)
    assert w1(x, y, a, b) == pytest.approx(wasserstein_distance(x, y, a, b), rel=1e-10)
    assert w1(x, y, a=a) == pytest.approx(wasserstein_distance(x, y, u_weights=a), rel=1e-10)


def test_w1_accepts_torch_tensors_on_the_graph():
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)
    y = x.detach() + torch.tensor([0.0, 2.0])
    assert w1(x, y) == pytest.approx(2.0, rel=1e-6)  # float32 input, exact up to its rounding


def test_w1_is_symmetric_and_obeys_the_triangle_inequality():
    rng = np.random.default_rng(10)
    x, y, z = rng.normal(size=(60, 2)), rng.normal(1, 1, size=(50, 2)), rng.uniform(-2, 2, size=(40, 2))
    assert w1(x, y) == pytest.approx(w1(y, x), rel=1e-12)
    assert w1(x, z) <= w1(x, y) + w1(y, z) + 1e-12


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"x": np.zeros((3, 2)), "y": np.zeros((3, 2)), "metric": "sqeuclidean"}, "metric is 'sqeuclidean'"),
        ({"x": np.zeros((3, 2)), "y": np.zeros((3, 3))}, "dimension 2 but y of dimension 3"),
        ({"x": np.zeros((0, 2)), "y": np.zeros((3, 2))}, "x has shape"),
        ({"x": np.zeros((3, 2)), "y": np.full((3, 2), np.nan)}, "y contains NaN"),
        ({"x": np.zeros((3, 2, 1)), "y": np.zeros((3, 2))}, r"expected samples of shape \(n, d\)"),
        ({"x": np.zeros(3), "y": np.zeros(2), "a": [0.5, 0.5]}, r"a has shape \(2,\)"),
        ({"x": np.zeros(2), "y": np.zeros(2), "b": [1.5, -0.5]}, "b has negative"),
        ({"x": np.zeros(2), "y": np.zeros(2), "a": [0.5, 0.6]}, "a has sum 1.1"),
        ({"x": np.zeros(2), "y": np.zeros(2), "a": [np.nan, 1.0]}, "a contains NaN"),
    ],
)
def test_w1_rejects_invalid_input_with_a_message_naming_it(kwargs, words):
    with pytest.raises(WganError, match=words):
        w1(**kwargs)


# -------------------------------------------------------------------------------------------- W1 on the line
@pytest.mark.parametrize(("n", "m"), [(1, 1), (7, 7), (100, 37), (500, 1000), (64, 96)])
def test_w1_1d_matches_scipy_for_equal_and_unequal_sizes(n, m):
    rng = np.random.default_rng(n * 1000 + m)
    x, y = rng.normal(size=n), rng.standard_t(3, size=m) + 0.5
    assert w1_1d(x, y) == pytest.approx(wasserstein_distance(x, y), rel=1e-10)


def test_w1_1d_handles_ties_and_matches_the_exact_solver():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 3.0])
    y = np.array([1.0, 1.0, 2.0, 2.0])
    assert w1_1d(x, y) == pytest.approx(w1(x, y), rel=1e-12)
    assert w1_1d(x, y) == pytest.approx(wasserstein_distance(x, y), rel=1e-12)


def test_w1_1d_of_point_masses_is_their_distance():
    assert w1_1d([2.0], [-1.5]) == 3.5


def test_w1_1d_accepts_column_vectors_and_tensors():
    x = torch.linspace(0, 1, 11, dtype=torch.float64)
    assert w1_1d(x[:, None], x + 0.25) == pytest.approx(0.25, rel=1e-12)


def test_w1_1d_rejects_points_in_more_than_one_dimension():
    with pytest.raises(WganError, match=r"x has shape \(4, 2\); expected 1-D"):
        w1_1d(np.zeros((4, 2)), np.zeros(4))


# ------------------------------------------------------------------------------------------------- sliced W1
def test_sliced_w1_of_a_shifted_gaussian_cloud_is_shift_times_mean_abs_cosine():
    # In 2-D, E|cos| over uniform directions is 2/pi, and each projection of the shift is |s| |cos|.
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2)) + np.array([3.0, 4.0])
    assert sliced_w1(x, y, n_projections=1000) == pytest.approx(5.0 * 2 / math.pi, rel=0.04)


def test_sliced_w1_is_at_most_w1():
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(200, 3)), rng.uniform(-1, 2, size=(150, 3))
    assert sliced_w1(x, y) <= w1(x, y)


def test_sliced_w1_in_one_dimension_is_w1_1d():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=50), rng.normal(size=70)
    assert sliced_w1(x, y, n_projections=3) == pytest.approx(w1_1d(x, y), rel=1e-12)


def test_sliced_w1_is_reproducible_with_its_seed():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(100, 4))
    assert sliced_w1(x, y, seed=3) == sliced_w1(torch.tensor(x), torch.tensor(y), seed=3)
    assert sliced_w1(x, y, seed=3) != sliced_w1(x, y, seed=4)


@pytest.mark.parametrize("n_projections", [0, -3, 2.5, True])
def test_sliced_w1_rejects_a_bad_number_of_projections(n_projections):
    with pytest.raises(WganError, match="n_projections"):
        sliced_w1(np.zeros((3, 2)), np.ones((3, 2)), n_projections=n_projections)


def test_sliced_w1_rejects_mismatched_dimensions():
    with pytest.raises(WganError, match="dimension"):
        sliced_w1(np.zeros((3, 2)), np.ones((3, 3)))


# --------------------------------------------------------------------------- parallel lines (WGAN Example 1)
@pytest.mark.parametrize("theta", [-1.0, -0.3, 0.5])
def test_parallel_lines_away_from_zero_only_w_is_informative(theta):
    d = parallel_lines(theta)
    assert d == ParallelLinesDistances(w=abs(theta), js=LOG2, kl=math.inf, tv=1.0)


def test_parallel_lines_at_zero_are_all_zero():
    assert parallel_lines(0.0) == ParallelLinesDistances(w=0.0, js=0.0, kl=0.0, tv=0.0)


def test_parallel_lines_w_matches_the_exact_w1_of_samples_of_the_two_lines():
    z = np.linspace(0.0, 1.0, 101)
    theta = 0.5
    p0, pt = np.stack([np.zeros_like(z), z], axis=1), np.stack([np.full_like(z, theta), z], axis=1)
    assert w1(p0, pt) == pytest.approx(parallel_lines(theta).w, rel=1e-12)


def test_a_theta_that_is_not_a_number_is_named_by_its_place_among_the_thetas():  # "theta is nan"
    with pytest.raises(WganError, match=r"^thetas\[1\] is nan; expected a finite number$"):
        parallel_lines_curves([0.0, np.nan, 1.0])


def test_parallel_lines_curves_give_the_four_curves_of_figure_1():
    curves = parallel_lines_curves(np.array([-1.0, -0.3, 0.0, 0.5]))
    np.testing.assert_array_equal(curves["w"], [1.0, 0.3, 0.0, 0.5])
    np.testing.assert_array_equal(curves["js"], [LOG2, LOG2, 0.0, LOG2])
    np.testing.assert_array_equal(curves["kl"], [math.inf, math.inf, 0.0, math.inf])
    np.testing.assert_array_equal(curves["tv"], [1.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("theta", [math.nan, math.inf, [0.1, 0.2], "a", True, np.bool_(False)])  # True was 1
def test_parallel_lines_rejects_a_theta_that_is_not_a_finite_number(theta):
    with pytest.raises(WganError, match="theta"):
        parallel_lines(theta)


def test_parallel_lines_curves_refuse_a_grid_of_thetas_they_would_flatten():
    with pytest.raises(WganError, match=r"thetas has shape \(2, 2\); expected a 1-D array"):
        parallel_lines_curves([[0, 1], [2, 3]])


def test_the_measures_hold_at_the_edges_of_float64():
    # (found by the measuring hunt) JS of a mass of 5e-324 was infinite, its mixture halved to 0; a coordinate of
    # 1e308 made the exact W1's scale infinite; an integer beyond float64 was an OverflowError's traceback
    assert js([1, 5e-324], [1, 0]) == 0.0 and js([2, 1e-323], [1, 0], normalize=True) == 0.0
    assert js([1, 0], [0, 1]) == math.log(2)
    assert w1([1e308], [1e308]) == 0.0 and w1([[1e308], [0.0]], [[1e308], [1e307]]) == pytest.approx(5e306)
    assert sliced_w1([[1.5e308, 1.5e308]], [[1.5e308, 1.5e308]]) == 0.0 and sliced_w1([1e308, 0], [-1e308, 0]) == 1e308
    with pytest.raises(WganError, match="x could not be read as numbers .int too large to convert to float."):
        w1([10**400], [0])
    with pytest.raises(WganError, match="normalize must be True or False, got 'no'"):  # it normalised: a true string
        js([1, 2], [2, 1], normalize="no")
