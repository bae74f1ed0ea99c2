"""The no-batchnorm and mlp-generator experiments (WGAN Figs. 5-7) at their quick size on the built-in digits, and
how the image experiments read MNIST preset runs back instead of training them again."""

import json
import tempfile
from pathlib import Path

import pytest

import wgan
from wgan import plots
from wgan.config import make_config, to_toml
from wgan.errors import WganError
from wgan.experiments import EXPERIMENTS, generator_ablation, image_runs
from wgan.experiments.image_runs import ImageData, ImageRun, _budget_end, preset_name

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def no_batchnorm():
    return EXPERIMENTS["no-batchnorm"](quick=True, seed=0)


def test_each_generator_variant_has_its_mnist_presets():
    assert preset_name("wgan", "dcgan-constant") == preset_name("wgan", "dcgan-constant", "dcgan") == "mnist-wgan-nobn"
    assert preset_name("gan", "mlp", "dcgan") == "mnist-gan-mlp"
    assert preset_name("wgan", "mlp", "mlp") == preset_name("wgan", "mlp") == "mnist-wgan-mlp-critic"
    assert preset_name("wgan-gp", "dcgan") == "mnist-wgan-gp"
    with pytest.raises(ValueError, match="no MNIST preset"):
        preset_name("wgan-lp", "mlp")


def test_quick_no_batchnorm_trains_both_algorithms_and_wgans_fd_falls(no_batchnorm):
    numbers = no_batchnorm.numbers
    assert numbers["model"] == "dcgan-constant" and numbers["data"].startswith("digits")
    assert len(numbers["wgan_fd"]) == len(numbers["iterations"]) >= 6
    assert len(numbers["gan_fd"]) == len(numbers["gan_iterations"]) >= 6
    assert all(0 <= classes <= 10 for classes in numbers["wgan_classes_covered"] + numbers["gan_classes_covered"])
    assert no_batchnorm.all_hold, no_batchnorm.claims
    # evaluated every ceil(200 / 6) iterations: 198 and 200 were both evaluated before, a near-duplicate last point
    assert numbers["iterations"] == [34, 68, 102, 136, 170, 200]
    assert all(claim.text.startswith("quick size, a smoke test too short for the paper's claim: ")
               for claim in no_batchnorm.claims)  # the quick verdict read as the paper's claim holding
    json.dumps(no_batchnorm.to_dict(), allow_nan=False)


def test_the_page_quotes_the_paper_and_shows_the_figure(no_batchnorm, tmp_path):
    no_batchnorm.write(tmp_path / "no-batchnorm")
    page = (tmp_path / "no-batchnorm.md").read_text()
    assert "the standard GAN fails to learn, while WGAN still produces samples" in page
    assert (tmp_path / "no-batchnorm" / "figure.png").read_bytes().startswith(b"\x89PNG")


def test_a_digits_run_trains_in_memory_and_draws_its_last_evaluations_grid_alone(monkeypatch):
    # each digits run trained into a temporary folder: a figure at every evaluation, curves.png and progress.gif as
    # it ended, and its checkpoints, of which the experiments read the last grid alone (now drawn from the run)
    drawn = []

    def recording(name, draw):
        def recorded(*args, **kwargs):
            drawn.append(name)
            return draw(*args, **kwargs)
        return recorded

    for name in ("sample_grid", "training_curves", "progress_gif"):
        monkeypatch.setattr(plots, name, recording(name, getattr(plots, name)))
    size = image_runs.DigitsSize(iterations=4, width={"dcgan": 8}, evaluations=2, samples=200)
    run = image_runs._digits_run("gan", "dcgan", None, size, seed=3)
    assert drawn == []  # training drew nothing: it wrote no folder
    assert [row["iteration"] for row in run.evaluations] == [2, 4]
    with tempfile.TemporaryDirectory() as out:  # the grid that the same run written to a folder draws last
        wgan.train(data="digits", algorithm="gan", model="dcgan", generator_width=8, critic_width=8, iterations=4,
                   eval_every=2, eval_samples=200, seed=3, out=out, name="run", progress=False)
        written = (Path(out) / "run" / "samples" / "iter_000004.png").read_bytes()
    grids = [plots.untitled_sample_grid(png).astype(int) for png in (run.grid_png, written)]
    assert grids[0].shape == grids[1].shape and abs(grids[0] - grids[1]).max() <= 4  # rounding: other batches


def test_a_digits_run_of_the_largest_seed_draws_its_grid_from_the_evaluation_streams_seed_0():
    # the grid's seed + 1 was refused after the training: seeds stay within torch's 32 bits
    size = image_runs.DigitsSize(iterations=1, width={"dcgan": 8}, evaluations=1, samples=200)
    run = image_runs._digits_run("gan", "dcgan", None, size, seed=2**32 - 1)
    assert run.grid_png.startswith(b"\x89PNG") and [row["iteration"] for row in run.evaluations] == [1]


def _fake_preset_run(folder, minutes_per_row, preset="mnist-wgan-nobn"):
    """A run folder as a 10-minute MNIST preset run leaves it: config, metrics and one grid per evaluation."""
    (folder / "samples").mkdir(parents=True)
    (folder / "config.toml").write_text(to_toml(make_config(preset=preset, data_dir="mnist-files")))
    rows = []
    for index, iteration in enumerate((150, 300, 450)):
        rows.append({"iteration": iteration, "time/train_minutes": minutes_per_row * (index + 1)})
        rows.append({"iteration": iteration, "eval/fd": 100.0 / (index + 1), "eval/estimate": 3.0 - index})
        (folder / "samples" / f"iter_{iteration:06d}.png").write_bytes(b"\x89PNG" + bytes([index]))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_a_preset_run_already_past_the_budget_is_read_back_up_to_it_and_not_trained(tmp_path, monkeypatch):
    _fake_preset_run(tmp_path / "mnist-wgan-nobn-fp32-s0", minutes_per_row=image_runs.PRESET_MINUTES / 2)
    monkeypatch.setattr(image_runs, "train", lambda **settings: pytest.fail("trained again"))
    monkeypatch.setattr(image_runs, "resume", lambda *args, **settings: pytest.fail("resumed"))
    run = image_runs.image_run("wgan", "dcgan-constant", quick=False, seed=0,
                               data=ImageData("mnist-files", tmp_path))
    assert [row["iteration"] for row in run.evaluations] == [150, 300]  # 300: where the budget was reached
    assert run.grid_png == b"\x89PNG\x01" and run.series("fd") == [100.0, 50.0]
    longer = image_runs.image_run("wgan", "dcgan-constant", quick=False, seed=0,
                                  data=ImageData("mnist-files", tmp_path, minutes=1.5 * image_runs.PRESET_MINUTES))
    assert [row["iteration"] for row in longer.evaluations] == [150, 300, 450]
    assert longer.data.endswith(f"{1.5 * image_runs.PRESET_MINUTES:g} min")


def test_a_preset_run_that_spent_the_budget_is_read_back_not_resumed(tmp_path, monkeypatch):
    spent = wgan.train(data="digits", model="mlp", algorithm="gan", iterations=2, width=8, batch_size=8,
                       log_every=1, eval_every=2, eval_samples=20, out=str(tmp_path), name="spent", progress=False)
    minutes = max(row["time/train_minutes"] for row in spent.history if "time/train_minutes" in row)
    monkeypatch.setattr(image_runs, "resume", lambda *args, **settings: pytest.fail("resumed"))
    run = image_runs.train_preset("mnist-gan-mlp-critic", tmp_path / "spent", minutes, "mnist-files")
    assert run.iteration == 2 and run.history == spent.history
    first_minutes = next(row["time/train_minutes"] for row in spent.history if "time/train_minutes" in row)
    with pytest.raises(WganError, match="went past"):  # only the state at iteration 2 is kept
        image_runs.train_preset("mnist-gan-mlp-critic", tmp_path / "spent", first_minutes, "mnist-files")


def test_a_run_folder_of_other_networks_than_its_preset_is_refused_not_read_back(tmp_path):
    _fake_preset_run(tmp_path / "mnist-wgan-mlp-fp32-s0", image_runs.PRESET_MINUTES, "mnist-wgan-mlp-critic")
    with pytest.raises(WganError, match="mlp generator and the mlp critic, not preset mnist-wgan-mlp's mlp and dcgan"):
        image_runs.image_run("wgan", "mlp", quick=False, seed=0, data=ImageData("mnist-files", tmp_path),
                             critic="dcgan")


def test_budget_end_is_the_first_iteration_at_the_budget_or_none():
    minutes = 30.0
    assert _budget_end([{"iteration": 5, "time/train_minutes": minutes - 1}], minutes) is None
    assert _budget_end([{"iteration": 5, "time/train_minutes": minutes - 1}, {"iteration": 9, "eval/fd": 1.0},
                        {"iteration": 9, "time/train_minutes": minutes + 0.01}], minutes) == 9


def test_quick_mlp_generator_trains_it_against_the_dcgan_critic_and_wgans_fd_falls():
    result = EXPERIMENTS["mlp-generator"](quick=True, seed=0)
    numbers = result.numbers
    assert (numbers["model"], numbers["critic"], numbers["failing_critic"]) == ("mlp", "dcgan", "mlp")
    assert len(numbers["gan_fd"]) >= 6 and "wgan_failing_critic_fd" not in numbers  # that case: full size only
    assert result.all_hold, result.claims


def test_an_mlp_critic_whose_estimate_ends_at_exactly_0_is_the_papers_constant_loss_and_a_live_one_is_not():
    dead = generator_ablation._constant_loss_claim(_evaluated([1200.0, 900.0, 880.0, 880.0], [0.4, 0.2, 0.0, 0.0]),
                                                   "WGAN (clipping), MLP critic: FD 1200.0 -> 880.0")
    assert dead.holds and "estimate exactly 0 from iteration 1500 on" in dead.measured
    live = generator_ablation._constant_loss_claim(_evaluated([1200.0, 900.0, 880.0], [0.4, 0.2, 0.1]), "")
    assert not live.holds and "last estimate 0.1" in live.measured


def _evaluated(fd: list[float], estimate: list[float]) -> ImageRun:
    rows = [{"iteration": 500 * (i + 1), "eval/fd": value, "eval/estimate": guess, "eval/classes_covered": 1}
            for i, (value, guess) in enumerate(zip(fd, estimate))]
    return ImageRun("MNIST, preset mnist-wgan-mlp, 10 min", rows, b"")


def test_a_critic_whose_estimate_is_exactly_0_at_the_end_is_reported_dead_from_that_evaluation():
    why = generator_ablation._why_not_learned(_evaluated([1200.0, 900.0, 860.0, 880.0, 880.0, 880.0],
                                                         [0.4, 0.2, 0.1, 0.0, 0.0, 0.0]))
    assert why.startswith("The critic died: from iteration 2000 on its estimate is exactly 0")
    assert "the FD stays at 880.0" in why and "from 1200.0 to 860.0" in why


def test_a_live_critic_that_has_not_learned_gets_the_fds_course_over_the_run():
    why = generator_ablation._why_not_learned(_evaluated([1100.0, 700.0, 1300.0, 950.0], [0.3, 0.2, 0.0, 0.1]))
    assert "2000 generator iterations" in why and "700.0 at its best (iteration 1000)" in why
    assert why.endswith("FD along the way: 1100, 700, 1300, 950.") and "died" not in why


def test_an_mlp_critic_dead_at_every_evaluation_is_dead_from_the_first_and_its_loss_constant():
    # estimates of exactly 0 from the first evaluation on were read as a live critic: "last estimate 0"
    dead_from_start = _evaluated([1200.0, 1190.0], [0.0, 0.0])  # the last two evaluations: the fewest that count
    assert generator_ablation._death(dead_from_start) == 0
    claim = generator_ablation._constant_loss_claim(dead_from_start, "")
    assert claim.holds and "estimate exactly 0 from iteration 500 on" in claim.measured
    assert generator_ablation._why_not_learned(dead_from_start).endswith(
        "the FD stays at 1190.0; it was dead at the first evaluation.")
    assert generator_ablation._death(_evaluated([1200.0], [0.0])) is None  # one evaluation is not yet constant


def test_a_preset_run_far_past_a_short_budget_is_labelled_with_the_minutes_it_trained(tmp_path, monkeypatch):
    # a run whose first logged row was at 0.651 min was labelled "0.01 min" when read back for --minutes 0.01
    _fake_preset_run(tmp_path / "mnist-wgan-nobn-fp32-s0", minutes_per_row=0.651)
    monkeypatch.setattr(image_runs, "train", lambda **settings: pytest.fail("trained again"))
    run = image_runs.image_run("wgan", "dcgan-constant", quick=False, seed=0,
                               data=ImageData("mnist-files", tmp_path, minutes=0.01))
    assert run.data == "MNIST, preset mnist-wgan-nobn, 0.651 min (budget 0.01)"
    assert [row["iteration"] for row in run.evaluations] == [150]
    _fake_preset_run(tmp_path / "near" / "mnist-wgan-nobn-fp32-s0", minutes_per_row=5.002)
    near = image_runs.image_run("wgan", "dcgan-constant", quick=False, seed=0,
                                data=ImageData("mnist-files", tmp_path / "near", minutes=10.0))
    assert near.data == "MNIST, preset mnist-wgan-nobn, 10 min"  # reached at 10.004: the budget, to 3 digits
