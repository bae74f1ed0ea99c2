"""The meaningful-loss experiment: at its quick size the WGAN-GP critic's estimate falls with sample quality's
scores (exact W1 on 25 Gaussians, the classifier's FD on the built-in digits)."""

import math

import pytest

from wgan.experiments import meaningful_loss

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def result():
    return meaningful_loss.run(quick=True, seed=0)


def test_every_run_logs_an_estimate_and_a_quality_score_at_each_evaluation_point(result):
    for data, runs in result.numbers["histories"].items():
        assert set(runs) == set(meaningful_loss.QUICK_ALGORITHMS), data
        for algorithm, history in runs.items():
            assert len(history["estimate"]) == len(history["quality"]) >= 6
            assert all(math.isfinite(value) and value >= 0 for value in history["quality"]), (data, algorithm)


def test_spearman_correlations_are_correlations(result):
    for data, rho in result.numbers["spearman"].items():
        assert all(-1 <= value <= 1 for value in rho.values()), data


def test_quick_claims_hold_in_direction_on_both_kinds_of_data(result):
    assert len(result.claims) == 2 and result.all_hold, result.claims


def test_the_page_quotes_figure_3(result, tmp_path):
    result.write(tmp_path / "meaningful-loss")
    page = (tmp_path / "meaningful-loss.md").read_text()
    assert "clear correlation between lower error and better sample quality" in page
    assert (tmp_path / "meaningful-loss" / "figure.png").stat().st_size > 0


def test_the_why_of_a_low_spearman_names_the_successive_points_where_estimate_and_quality_part():
    history = {"iteration": [100, 200, 300, 400], "estimate": [0.5, 0.3, 0.35, 0.1], "quality": [9.0, 7.0, 5.0, 4.0]}
    why = meaningful_loss._out_of_order(history, "FD")
    assert why.startswith("Over 4 evaluation points, the estimate moves against the FD between 1 of the 3 pairs")
    assert "iterations 200 -> 300: estimate 0.3 -> 0.35, FD 7 -> 5" in why and "100 -> 200" not in why


def test_the_why_of_a_low_spearman_without_such_points_has_no_empty_list():
    # "between 0 of the 5 pairs of successive points ()."
    history = {"iteration": [100, 200, 300], "estimate": [0.5, 0.5, 0.5], "quality": [9.0, 7.0, 5.0]}
    why = meaningful_loss._out_of_order(history, "FD")
    assert why.endswith("between 0 of the 2 pairs of successive points.")
