"""The paper experiments at their quick size, checked against what the papers state: JS is log 2 for disjoint
lines while a WGAN critic tracks |theta|; WGAN learns theta and the minimax GAN does not; the optimal
discriminator saturates while the critic keeps slope ~1; the minimax generator gradient vanishes; and a result
writes its figure, numbers and claims table."""

import json
import math
import pickle
import re

import numpy as np
import pytest

from wgan import distances
from wgan.errors import WganError
from wgan.experiments import (EXPERIMENTS, NO_WHY, Claim, ExperimentResult, meaningful_loss, optimal_critic,
                              parallel_lines, vanishing_gradients)

LOG2 = math.log(2.0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lines():
    return parallel_lines.run(quick=True, seed=0)


@pytest.fixture(scope="module")
def critic_vs_discriminator():
    return optimal_critic.run(quick=True, seed=0)


@pytest.fixture(scope="module")
def vanishing():
    return vanishing_gradients.run(quick=True, seed=0)


def test_registry_runs_each_experiment_by_its_name():
    assert EXPERIMENTS["parallel-lines"].__wrapped__ is parallel_lines.run
    assert EXPERIMENTS["optimal-critic"].__wrapped__ is optimal_critic.run
    assert EXPERIMENTS["vanishing-gradients"].__wrapped__ is vanishing_gradients.run
    assert EXPERIMENTS["meaningful-loss"].__wrapped__ is meaningful_loss.run
    assert {"clipping-vs-penalty", "lipschitz", "mode-collapse", "no-batchnorm", "mlp-generator"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("arguments, said", [
    (dict(seed=1.5), "seed must be a whole number"),  # torch's RuntimeError from manual_seed
    (dict(seed=None), "seed must be a whole number"),
    (dict(seed=2**32), "seed must be a whole number from 0 to 2**32 - 1"),  # the numbers of seed 0
    (dict(seed=-1), "seed must be a whole number from 0 to 2**32 - 1"),
    (dict(quick="yes"), "quick must be True or False, got 'yes'"),  # taken for True
])
def test_an_experiments_seed_and_size_are_checked_in_one_line(arguments, said):
    with pytest.raises(WganError, match=re.escape(said)):
        EXPERIMENTS["parallel-lines"](**arguments)


def test_the_registrys_entries_take_their_arguments_by_position_and_pickle():
    # the first checking wrapper took keywords alone, and could not be pickled for a pool of processes
    assert pickle.loads(pickle.dumps(EXPERIMENTS["parallel-lines"])) == EXPERIMENTS["parallel-lines"]
    assert repr(EXPERIMENTS["parallel-lines"]) == "CheckedRun(wgan.experiments.parallel_lines.run)"
    with pytest.raises(WganError, match="seed must be a whole number"):
        EXPERIMENTS["parallel-lines"](True, 0.5)


def test_an_experiments_result_prints_as_one_line(critic_vs_discriminator):
    shown = critic_vs_discriminator.shown_claims
    assert repr(critic_vs_discriminator) == f"ExperimentResult(optimal-critic: {sum(c.holds for c in shown)} of " \
        f"{len(shown)} claims hold)"  # 393,005 characters, the figure's bytes among them


# ------------------------------------------------------------------------------------------------- parallel lines
def test_closed_form_js_is_exactly_log2_for_every_nonzero_theta_and_0_at_0():
    curves = distances.parallel_lines_curves(np.linspace(-1.0, 1.0, 201))
    off = curves["theta"] != 0
    assert np.all(curves["js"][off] == LOG2)
    assert np.all(curves["tv"][off] == 1.0) and np.all(np.isinf(curves["kl"][off]))
    assert curves["js"][~off].tolist() == [0.0] and np.allclose(curves["w"], np.abs(curves["theta"]))


def test_exact_ot_w1_of_samples_follows_abs_theta_while_histogram_js_and_tv_jump(lines):
    thetas = np.array(lines.numbers["theta_grid"])
    assert np.max(np.abs(np.array(lines.numbers["w1_samples"]) - np.abs(thetas))) < 0.05
    off = thetas != 0
    assert np.allclose(np.array(lines.numbers["js_histogram"])[off], LOG2, rtol=0, atol=1e-12)
    assert np.allclose(np.array(lines.numbers["tv_histogram"])[off], 1.0, rtol=0, atol=1e-12)
    assert np.array(lines.numbers["js_histogram"])[~off][0] < 0.01


def test_wgan_critic_estimate_increases_with_abs_theta_and_fits_a_line(lines):
    thetas = np.array(lines.numbers["theta_grid"])
    estimate = np.array(lines.numbers["critic_estimate_wgan_gp"])
    by_distance = [estimate[np.isclose(np.abs(thetas), t)].mean() for t in np.unique(np.round(np.abs(thetas), 6))]
    assert np.all(np.diff(by_distance) > 0)
    assert lines.numbers["critic_fit_r2"] >= 0.95
    assert 0.8 <= lines.numbers["critic_fit_slope"] <= 1.2


def test_gan_discriminator_js_estimate_is_flat_at_log2_away_from_0(lines):
    thetas = np.array(lines.numbers["theta_grid"])
    estimate = np.array(lines.numbers["js_estimate_gan"])
    assert np.max(np.abs(estimate[thetas != 0] - LOG2)) < 0.05
    assert abs(estimate[thetas == 0][0]) < 0.05


def test_wgan_drives_theta_to_0_while_minimax_gan_leaves_it_near_1(lines):
    assert lines.numbers["theta_trajectory_wgan"][0] == lines.numbers["theta_trajectory_gan"][0] == 1.0
    assert abs(lines.numbers["theta_final_wgan"]) < 0.1
    assert abs(lines.numbers["theta_final_gan"]) > 0.9


# ------------------------------------------------------------------------------------------------ optimal critic
def test_optimal_critic_has_slope_about_1_at_fakes_while_discriminator_gradient_is_about_0(critic_vs_discriminator):
    numbers = critic_vs_discriminator.numbers
    assert 0.8 <= numbers["critic_slope_at_fakes"] <= 1.2
    assert numbers["minimax_gradient_at_fakes"] < 1e-3
    assert numbers["critic_slope_at_fakes"] / numbers["minimax_gradient_at_fakes"] >= 100


def test_clipped_critic_of_the_paper_is_linear_between_the_supports_with_a_slope_set_by_the_clip(
        critic_vs_discriminator):
    # the paper's Figure 2 shows the WGAN critic (weight clipping); the page measured a WGAN-GP critic alone
    numbers = critic_vs_discriminator.numbers
    x, slopes = np.array(numbers["x"]), np.array(numbers["clipped_critic_gradient"])
    gap = slopes[np.abs(x) <= 0.6]
    assert gap.max() - gap.min() < 0.1 * gap.mean() and numbers["clipped_critic_gap_slope"] == pytest.approx(gap.mean())
    assert 1e-4 < numbers["clipped_critic_gap_slope"] < 0.1  # K is set by c = 0.01, far below the penalty's 1
    assert numbers["clipped_critic_slope_at_fakes"] / numbers["minimax_gradient_at_fakes"] >= 100
    assert all(claim.holds for claim in critic_vs_discriminator.claims)
    assert "weight clipping" in critic_vs_discriminator.claims[1].text


# ---------------------------------------------------------------------------------------------- vanishing gradients
def test_minimax_generator_gradient_decays_by_orders_of_magnitude_while_wgan_gradient_does_not(vanishing):
    numbers = vanishing.numbers
    assert numbers["decay_minimax"] >= 100
    assert 0.1 <= numbers["decay_wgan_gp"] <= 10
    assert numbers["decay_non_saturating"] <= 1  # -log D grows instead (Arjovsky & Bottou 2017, Sec. 2.2.2)
    assert len(numbers["gradient_norm_minimax"]) == len(numbers["steps"]) == len(numbers["gradient_norm_wgan_gp"])


# ------------------------------------------------------------------------------------------------------ results
@pytest.mark.parametrize("name", ["lines", "critic_vs_discriminator", "vanishing"])
def test_every_claim_of_the_quick_runs_holds_and_the_numbers_are_plain_json(name, request):
    result = request.getfixturevalue(name)
    assert result.claims and result.all_hold, [claim for claim in result.claims if not claim.holds]
    written = result.to_dict()["numbers"]  # strict JSON: KL's infinities as "inf"
    assert json.loads(json.dumps(written, allow_nan=False)) == written
    assert result.figure_png.startswith(PNG_SIGNATURE)
    assert "(Arjovsky" in result.paper  # the paper's claim with its reference, for the page


def test_write_leaves_figure_png_results_json_and_a_claims_table(vanishing, tmp_path):
    out = vanishing.write(tmp_path / "vanishing")
    assert (out / "figure.png").read_bytes().startswith(PNG_SIGNATURE)
    saved = json.loads((out / "results.json").read_text())
    assert saved["name"] == "vanishing-gradients" and saved["numbers"] == vanishing.numbers
    assert saved["paper"] == vanishing.paper
    assert [claim["holds"] for claim in saved["claims"]] == [claim.holds for claim in vanishing.claims]
    readme = (out / "README.md").read_text()
    assert "| claim | measured | holds |" in readme and readme.count("\n| ") == 1 + len(vanishing.claims)
    assert sorted(path.name for path in out.iterdir()) == ["README.md", "figure.png", "results.json"]


def test_write_leaves_the_page_beside_the_folder_with_the_quote_figure_table_and_command(vanishing, tmp_path):
    out = vanishing.write(tmp_path / "vanishing-gradients")
    page = (tmp_path / "vanishing-gradients.md").read_text()
    assert f"> {vanishing.paper}" in page and "Theorem 2.4" in page
    assert "![vanishing-gradients](vanishing-gradients/figure.png)" in page
    assert "| claim | measured | holds |" in page and page.count("\n| ") == 1 + len(vanishing.claims)
    assert "wgan experiment vanishing-gradients --out docs/experiments" in page
    assert (out / "README.md").read_text() == page.replace("](vanishing-gradients/", "](")  # the same page


def test_a_page_explains_each_claim_that_does_not_hold_by_its_why_and_only_those(tmp_path):
    claims = [Claim("a holds", "1", True, "not shown"), Claim("b fails", "2", False, "The critic died."),
              Claim("c fails", "3", False)]
    page = ExperimentResult("demo", {}, claims, PNG_SIGNATURE).page()
    assert "## Where a claim does not hold" in page and "not shown" not in page
    assert "- *b fails*. The critic died." in page and f"- *c fails*. {NO_WHY}" in page
    assert page.index("| c fails |") < page.index("## Where a claim does not hold") < page.index("## The command")
    assert "Where a claim" not in ExperimentResult("demo", {}, claims[:1], PNG_SIGNATURE).page()


def test_write_marks_a_claim_that_does_not_hold_and_escapes_bars_in_the_table(tmp_path):
    result = ExperimentResult("demo", {"x": -1.0}, [Claim("|x| is 2", "|x| = 1.0", False)], PNG_SIGNATURE)
    readme = result.write(tmp_path).joinpath("README.md").read_text()
    assert "| \\|x\\| is 2 | \\|x\\| = 1.0 | **no** |" in readme and not result.all_hold


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".", ""])
def test_write_refuses_a_name_that_is_not_one_file_name_and_writes_nothing(tmp_path, name):
    # ExperimentResult("../evil", ...).write(tmp/x/y) wrote tmp/x/evil.md, outside the folder
    with pytest.raises(WganError, match=r"^experiment name .* is not a single file name: its page is written as "
                                        r"NAME\.md beside .*; give a name without '/' \(and not '\.' or '\.\.'\)$"):
        ExperimentResult(name, {}, [], b"", "").write(tmp_path / "x" / "y")
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize("place", ["a-file", "a-file/inside"])
def test_write_into_or_under_a_file_is_one_line_naming_the_file(tmp_path, place):
    # a raw FileExistsError (into the file) or NotADirectoryError (under it)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(WganError) as refused:
        ExperimentResult("demo", {}, [], b"", "").write(tmp_path / place)
    assert str(refused.value) == (f"cannot write '{tmp_path / place}': '{tmp_path / 'a-file'}' is a file, not a "
                                  "folder; choose another place")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]
